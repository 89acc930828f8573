"""Performance from outcomes: feedback folded into the buckets of the predictions it is about.

Outcomes arrive late (a default is known months after the loan). Each feedback row is matched
with its prediction and counted in the bucket of the time the prediction was made, so a chart
shows how the model did on the traffic of each day, filling in as outcomes come. What a bucket
keeps (``Bucket.performance``), for the rows that have an outcome (null outcomes are "not known
yet" and are not counted):

- every model: ``labelled``, and ``delay_s``, the sum of the seconds from prediction to outcome;
- classifiers: ``correct`` (the prediction equals the outcome); binary ones also ``tp``, ``fp``,
  ``fn``, ``tn`` and ``positives`` for the positive class (the model's second class, as in
  validation), ``brier`` (the sum of (p - y)^2) and the positive-class probability of positives
  and negatives in ``AUC_BINS`` uniform bins of [0, 1] (``pos``, ``neg``), from which ROC AUC is
  computed with pairs in one bin counted as ties;
- regressors: ``err`` (sum of prediction - outcome), ``abs_err`` and ``sq_err``.

Feedback is folded once it is a minute old, so the prediction it answers has been written by the
serving process's buffer (flushed every second).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from apps.deployments.models import Deployment, Feedback, PredictionLog
from apps.monitoring.estimate import AUC_BINS
from apps.monitoring.models import Bucket
from apps.monitoring.rollup import BATCH, SPANS, Claim, add_to_buckets, bucket_start
from apps.validation import evidence

SOURCE = "feedback"
SETTLE = timedelta(seconds=60)
_COUNTERS = (
    *("labelled", "delay_s", "correct", "tp", "fp", "fn", "tn", "positives", "brier"),
    *("err", "abs_err", "sq_err"),
)


def _empty() -> dict[str, Any]:
    return dict.fromkeys(_COUNTERS, 0) | {"pos": [0] * AUC_BINS, "neg": [0] * AUC_BINS}


def add_performance(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Two buckets' performance counts added (an empty dict is nothing counted)."""
    if not into:
        return {**more, "pos": list(more["pos"]), "neg": list(more["neg"])}
    total = {name: into[name] + more[name] for name in _COUNTERS}
    total["pos"] = [a + b for a, b in zip(into["pos"], more["pos"], strict=True)]
    total["neg"] = [a + b for a, b in zip(into["neg"], more["neg"], strict=True)]
    return total


def _score_bin(p: float) -> int:
    return min(int(p * AUC_BINS), AUC_BINS - 1) if p >= 0 else 0


def _count(
    into: dict[str, Any],
    signature: dict[str, Any],
    answer: dict[str, Any],
    outcomes: list[Any],
    delay: float,
) -> None:
    predictions = answer.get("predictions") or []
    probabilities = answer.get("probabilities") or []
    task = signature.get("task")
    classes = [str(c) for c in signature.get("classes") or []]
    for row, outcome in enumerate(outcomes):
        if outcome is None or row >= len(predictions):
            continue
        predicted = predictions[row]
        if task == "regression":
            try:
                error = float(predicted) - float(outcome)
            except (TypeError, ValueError):
                continue
            into["err"] += error
            into["abs_err"] += abs(error)
            into["sq_err"] += error * error
        else:
            label = str(int(outcome) if isinstance(outcome, bool) else outcome)
            if label not in classes:
                continue  # not one of the model's classes: counted nowhere rather than wrongly
            into["correct"] += int(str(predicted) == label)
            if task == "binary" and row < len(probabilities):
                positive, p = label == classes[1], float(probabilities[row][1])
                predicted_positive = str(predicted) == classes[1]
                into["positives"] += int(positive)
                into["tp"] += int(positive and predicted_positive)
                into["fn"] += int(positive and not predicted_positive)
                into["fp"] += int(predicted_positive and not positive)
                into["tn"] += int(not positive and not predicted_positive)
                into["brier"] += (p - float(positive)) ** 2
                into["pos" if positive else "neg"][_score_bin(p)] += 1
        into["labelled"] += 1
        into["delay_s"] += delay


def fold(batch: int = BATCH, now: datetime | None = None) -> int:
    """Fold the next ``batch`` settled feedback rows into their predictions' buckets."""
    settled = Feedback.objects.filter(received_at__lt=(now or timezone.now()) - SETTLE)
    fields = ("deployment_id", "request_id", "outcomes", "received_at")
    with Claim(SOURCE, settled, fields, batch) as claim:
        predictions = _predictions({(row[1], row[2]) for row in claim.rows})
        deployments = Deployment.objects.in_bulk({row[1] for row in claim.rows})
        signatures = {pk: evidence.signature_of(d.version) or {} for pk, d in deployments.items()}
        partials: dict[tuple[int, int, datetime], dict[str, Any]] = defaultdict(_empty)
        for _id, deployment_id, request_id, outcomes, received_at in claim.rows:
            found = predictions.get((deployment_id, request_id))
            if found is None or not isinstance(outcomes, list):
                continue  # its prediction log is gone (retention): nothing to compare with
            predicted_at, answer = found
            delay = max((received_at - predicted_at).total_seconds(), 0.0)
            for span in SPANS:
                key = (deployment_id, span, bucket_start(predicted_at, span))
                _count(partials[key], signatures[deployment_id], answer, outcomes, delay)
        _store(partials)
        claim.done([row[0] for row in claim.rows])
    return len(claim.rows)


def _predictions(wanted: set[tuple[int, str]]) -> dict[tuple[int, str], tuple[datetime, Any]]:
    """(time, answer) of the logged predictions with these (deployment, request id) pairs."""
    found: dict[tuple[int, str], tuple[datetime, Any]] = {}
    request_ids = sorted({request_id for _, request_id in wanted})
    for start in range(0, len(request_ids), 500):
        logs = PredictionLog.objects.filter(
            request_id__in=request_ids[start : start + 500],
            deployment_id__in={deployment_id for deployment_id, _ in wanted},
        ).values_list("deployment_id", "request_id", "received_at", "outputs")
        for deployment_id, request_id, at, answer in logs:
            if (deployment_id, request_id) in wanted:
                found[(deployment_id, request_id)] = (at, answer)
    return found


def _store(partials: dict[tuple[int, int, datetime], dict[str, Any]]) -> None:
    add_to_buckets(partials, _add, ["performance"])


def _add(bucket: Bucket, counted: dict[str, Any]) -> None:
    bucket.performance = add_performance(bucket.performance, counted)


def _auc(pos: list[int], neg: list[int]) -> float | None:
    """P(a positive scores above a negative), a pair in one bin counting one half."""
    positives, negatives = sum(pos), sum(neg)
    if not positives or not negatives:
        return None
    below = 0  # negatives in lower bins than the current one
    wins = 0.0
    for p, n in zip(pos, neg, strict=True):
        wins += p * (below + n / 2)
        below += n
    return wins / (positives * negatives)


def figures(counted: dict[str, Any], task: str) -> dict[str, float | None]:
    """Performance of the counted rows: accuracy, precision, recall, ROC AUC, Brier score and
    the positive rate for binary classifiers; accuracy for multiclass; RMSE, MAE and bias for
    regressors. None where nothing (or too little) was counted."""
    n = counted.get("labelled", 0) if counted else 0
    out: dict[str, float | None] = {"labelled": float(n)}
    if not n:
        return out
    out["label_delay_hours"] = counted["delay_s"] / n / 3600
    if task == "regression":
        out["rmse"] = math.sqrt(counted["sq_err"] / n)
        out["mae"] = counted["abs_err"] / n
        out["bias"] = counted["err"] / n
        return out
    out["accuracy"] = counted["correct"] / n
    if task == "binary":
        tp, fp, fn = counted["tp"], counted["fp"], counted["fn"]
        out["precision"] = tp / (tp + fp) if tp + fp else 0.0
        out["recall"] = tp / (tp + fn) if tp + fn else 0.0
        out["brier"] = counted["brier"] / n
        out["positive_rate"] = counted["positives"] / n
        out["roc_auc"] = _auc(counted["pos"], counted["neg"])
    return out
