"""A live version and its challenger side by side, over the period they both served.

Everything but agreement is read from buckets, as every monitoring figure is: the buckets of
the span that fits the period, from the one holding the challenger's start. Agreement needs the
two answers to each request, so it is read from the raw logs of a shadow (which scores the same
requests), the latest ``AGREEMENT_REQUESTS`` of them; a canary answers other requests than its
live version, so it has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from apps.deployments.models import Deployment, PredictionLog
from apps.monitoring import estimate, health, performance
from apps.monitoring.models import Bucket
from apps.monitoring.rollup import latency_percentile
from apps.validation import evidence

AGREEMENT_REQUESTS = 10_000


@dataclass
class Side:
    deployment: Deployment
    figures: dict[str, Any]


@dataclass
class Comparison:
    champion: Side
    challenger: Side
    start: datetime
    end: datetime
    span: int
    agreement: dict[str, Any] | None  # None: a canary, whose requests differ
    score_histograms: dict[str, list[float]] | None  # binary classifiers: 100 bins of [0, 1]

    @property
    def running(self) -> bool:
        return self.challenger.deployment.live_until is None


def pair_of(deployment: Deployment) -> tuple[Deployment, Deployment] | None:
    """(live version, challenger) for a deployment's page: a challenger and what it challenged,
    or a live version and its latest challenger."""
    if deployment.is_challenger:
        if deployment.challenged is None or deployment.live_from is None:
            return None
        return deployment.challenged, deployment
    latest = (
        deployment.challengers.filter(live_from__isnull=False)
        .select_related("version", "model", "environment")
        .order_by("-live_from")
        .first()
    )
    return (deployment, latest) if latest is not None else None


def _span(start: datetime, end: datetime) -> int:
    if end - start <= timedelta(days=2):
        return Bucket.Span.FIVE_MINUTES
    if end - start <= timedelta(days=30):
        return Bucket.Span.HOUR
    return Bucket.Span.DAY


def compare(deployment: Deployment, now: datetime | None = None) -> Comparison | None:
    """The comparison a deployment's page shows, or None when it never had a challenger."""
    pair = pair_of(deployment)
    if pair is None:
        return None
    champion, challenger = pair
    assert challenger.live_from is not None
    end = challenger.live_until or now or timezone.now()
    span = _span(challenger.live_from, end)
    start = datetime.fromtimestamp(
        int(challenger.live_from.timestamp()) // span * span, tz=challenger.live_from.tzinfo
    )
    buckets: dict[int, list[Bucket]] = {champion.pk: [], challenger.pk: []}
    for bucket in Bucket.objects.filter(
        deployment__in=list(buckets), span=span, start__gte=start, start__lte=end
    ):
        buckets[bucket.deployment_id].append(bucket)
    sides = [Side(d, _figures(d, buckets[d.pk])) for d in (champion, challenger)]
    histograms = None
    if all(side.figures["task"] == "binary" for side in sides):
        histograms = {
            side.deployment.get_mode_display(): _score_histogram(buckets[side.deployment.pk])
            for side in sides
        }
    agreement = None
    if challenger.mode == Deployment.Mode.SHADOW:
        agreement = agreement_of(champion, challenger, start, end)
    return Comparison(sides[0], sides[1], start, end, span, agreement, histograms)


def _figures(deployment: Deployment, buckets: list[Bucket]) -> dict[str, Any]:
    vouched = evidence.of(deployment.version_id)
    task = (vouched.signature or {}).get("task", "")
    sums = health.window_sums(buckets)
    judged = health.judge(vouched.baseline, sums, warning=None, alert=None)
    counted: dict[str, Any] = {}
    for bucket in buckets:
        if bucket.performance:
            counted = performance.add_performance(counted, bucket.performance)
    measured = performance.figures(counted, task) if counted else {"labelled": 0.0}
    metric = health.PRIMARY.get(task, "")
    server_errors = sum(int(b.refused.get("500", 0)) for b in buckets)
    return {
        "task": task,
        "requests": judged["requests"],
        "rows": judged["rows"],
        "server_errors": server_errors,
        "error_rate": judged["error_rate"],
        "latency_p50_ms": latency_percentile(sums["latency"], 0.5) if sums["latency"] else None,
        "latency_p95_ms": judged["latency_p95_ms"],
        "drifted_feature": judged["drifted_feature"],
        "drifted_psi": judged["drifted_psi"],
        "score_psi": judged["score_psi"],
        "metric": metric,
        "performance": measured.get(metric),
        "validated": vouched.metrics.get(metric),
        "labelled": int(measured.get("labelled") or 0),
        "positive_rate": measured.get("positive_rate"),
    }


def _score_histogram(buckets: list[Bucket]) -> list[float]:
    """Shares of a binary classifier's scores in 100 equal bins of [0, 1], from the sums the
    rollup keeps for estimation (each row adds p and 1 - p to its bin: they count it once)."""
    expected: dict[str, Any] = {}
    for bucket in buckets:
        if bucket.expected:
            expected = estimate.add(expected, bucket.expected)
    if not expected or not expected.get("n"):
        return []
    counts = [p + q for p, q in zip(expected["pos"], expected["neg"], strict=True)]
    total = sum(counts)
    return [c / total for c in counts]


def agreement_of(
    champion: Deployment, shadow: Deployment, start: datetime, end: datetime
) -> dict[str, Any]:
    """How often the shadow answered as the live version did, over the latest requests both
    answered: the share of rows with the same prediction (classifiers), or the mean absolute
    difference of the predictions (regressors)."""
    theirs = dict(
        PredictionLog.objects.filter(
            deployment=shadow, received_at__gte=start, received_at__lte=end
        )
        .order_by("-id")
        .values_list("request_id", "outputs")[:AGREEMENT_REQUESTS]
    )
    ours = dict(
        PredictionLog.objects.filter(deployment=champion, request_id__in=list(theirs)).values_list(
            "request_id", "outputs"
        )
    )
    task = (evidence.signature_of(champion.version) or {}).get("task", "")
    rows = same = 0
    difference = 0.0
    for request_id, answer in ours.items():
        a = (answer or {}).get("predictions") or []
        b = (theirs[request_id] or {}).get("predictions") or []
        if len(a) != len(b):
            continue
        rows += len(a)
        if task == "regression":
            difference += sum(abs(float(x) - float(y)) for x, y in zip(a, b, strict=True))
        else:
            same += sum(str(x) == str(y) for x, y in zip(a, b, strict=True))
    found: dict[str, Any] = {"requests": len(ours), "rows": rows, "task": task}
    if task == "regression":
        found["mean_absolute_difference"] = difference / rows if rows else None
    else:
        found["share"] = same / rows if rows else None
    return found
