"""Performance estimated before outcomes arrive, from the scores alone.

Confidence-based performance estimation (as NannyML's CBPE describes it): if a binary
classifier's probabilities are calibrated, a row scored p is positive with probability p. So
the expected share of correct answers is the mean, over rows, of p where the model answered
the positive class and 1 - p where it answered the negative one; and the expected ROC AUC is the
AUC of the score distribution with each row counted as p of a positive and 1 - p of a negative.
Both need calibration: the estimate is shown as untrustworthy when the validation holdout's
expected calibration error (the count-weighted mean gap between predicted and observed positive
rates over the calibration curve's bins) is above ``MAX_CALIBRATION_ERROR``.

A bucket keeps ``n``, ``correct`` (the sum of expected correctness), and ``pos`` / ``neg`` (Σp
and Σ(1 - p) of the rows in each of ``AUC_BINS`` uniform score bins).
"""

from __future__ import annotations

from typing import Any

# Uniform bins of [0, 1] for the scores behind a ROC AUC (estimated here, measured from outcomes
# in performance.py).
AUC_BINS = 100
MAX_CALIBRATION_ERROR = 0.05


def empty() -> dict[str, Any]:
    return {"n": 0, "correct": 0.0, "pos": [0.0] * AUC_BINS, "neg": [0.0] * AUC_BINS}


def add(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    if not into:
        return {**more, "pos": list(more["pos"]), "neg": list(more["neg"])}
    return {
        "n": into["n"] + more["n"],
        "correct": into["correct"] + more["correct"],
        "pos": [a + b for a, b in zip(into["pos"], more["pos"], strict=True)],
        "neg": [a + b for a, b in zip(into["neg"], more["neg"], strict=True)],
    }


def count(into: dict[str, Any], answer: dict[str, Any], positive: str) -> None:
    """Add one logged answer of a binary classifier (``positive``: its second class)."""
    predictions = answer.get("predictions") or []
    for row, probabilities in enumerate(answer.get("probabilities") or []):
        if row >= len(predictions) or len(probabilities) < 2:
            continue
        p = float(probabilities[1])
        into["n"] += 1
        into["correct"] += p if str(predictions[row]) == positive else 1 - p
        at = min(int(p * AUC_BINS), AUC_BINS - 1) if p >= 0 else 0
        into["pos"][at] += p
        into["neg"][at] += 1 - p


def figures(counted: dict[str, Any]) -> dict[str, float | None]:
    """Estimated accuracy and ROC AUC of the counted rows (None for no rows)."""
    n = counted.get("n", 0) if counted else 0
    if not n:
        return {"estimated_accuracy": None, "estimated_roc_auc": None}
    positives, negatives = sum(counted["pos"]), sum(counted["neg"])
    auc = None
    if positives > 0 and negatives > 0:
        below = wins = 0.0
        for p, q in zip(counted["pos"], counted["neg"], strict=True):
            wins += p * (below + q / 2)
            below += q
        auc = wins / (positives * negatives)
    return {"estimated_accuracy": counted["correct"] / n, "estimated_roc_auc": auc}


def calibration_error(curve: dict[str, list[Any]] | None) -> float | None:
    """The expected calibration error of a validation report's calibration curve."""
    if not curve or not curve.get("count"):
        return None
    total = sum(curve["count"])
    return (
        sum(
            c * abs(m - f)
            for c, m, f in zip(
                curve["count"], curve["mean_predicted"], curve["fraction_positive"], strict=True
            )
        )
        / total
    )
