"""The health of every live deployment over the last 24 hours, from hourly buckets.

Drift is judged at the levels of the model's tier's monitoring policy (``policies.py``; by
default PSI 0.1 is a warning and 0.25 an alert, for any feature and for the score), once a
window holds ``MIN_ROWS`` rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.deployments.models import Deployment
from apps.monitoring import alerts, performance, policies
from apps.monitoring.models import Bucket, Health
from apps.monitoring.rollup import add_counts, bucket_start, latency_percentile
from apps.validation import evidence
from apps.validation.engine import metrics

WINDOW = timedelta(hours=24)
# Outcomes come late: performance is measured on the predictions of the last 30 days.
PERFORMANCE_WINDOW = timedelta(days=30)
PRIMARY = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}
PSI_WARNING = 0.1
PSI_ALERT = 0.25
MIN_ROWS = 100
_RANK = {state: i for i, state in enumerate(Health.State.values)}


def window_sums(buckets: list[Bucket]) -> dict[str, Any]:
    total: dict[str, Any] = {"requests": 0, "rows": 0, "latency": [], "features": {}, "score": []}
    total["refused"] = 0
    for bucket in buckets:
        total["refused"] += sum(bucket.refused.values())
        total["requests"] += bucket.requests
        total["rows"] += bucket.rows
        total["latency"] = add_counts(total["latency"], bucket.latency_counts)
        for name, counts in bucket.feature_counts.items():
            total["features"][name] = add_counts(total["features"].get(name, []), counts)
        if bucket.score_counts:
            total["score"] = add_counts(total["score"], bucket.score_counts)
    return total


def judge(
    baseline: dict[str, Any] | None,
    sums: dict[str, Any],
    warning: float | None = PSI_WARNING,
    alert: float | None = PSI_ALERT,
) -> dict[str, Any]:
    """A deployment's health fields from its window's sums and its version's baseline, drift
    judged at the policy's PSI levels (None: not judged)."""
    asked = sums["requests"] + sums.get("refused", 0)
    figures: dict[str, Any] = {
        "requests": sums["requests"],
        "rows": sums["rows"],
        "refused": sums.get("refused", 0),
        "error_rate": sums.get("refused", 0) / asked if asked else None,
        "latency_p95_ms": latency_percentile(sums["latency"], 0.95) if sums["latency"] else None,
        "drifted_feature": "",
        "drifted_psi": None,
        "score_psi": None,
    }
    if not sums["requests"]:
        return {**figures, "state": Health.State.NO_TRAFFIC, "reason": "No requests in 24 hours."}
    if baseline is None:
        reason = (
            "Its validation fixed no baseline to compare with (validated before baselines "
            "existed): model operations re-run it with “manage.py fix_baselines”."
        )
        return {**figures, "state": Health.State.WAITING, "reason": reason}
    if sums["rows"] < MIN_ROWS:
        reason = f"{sums['rows']} rows in 24 hours; drift is judged from {MIN_ROWS}."
        return {**figures, "state": Health.State.WAITING, "reason": reason}
    drift = [
        (metrics.psi_of_counts(spec["counts"], counted), spec["feature"])
        for spec in baseline["features"]
        if (counted := sums["features"].get(spec["feature"]))
    ]
    drift = [(value, name) for value, name in drift if value is not None]
    if drift:
        figures["drifted_psi"], figures["drifted_feature"] = max(drift)
    if sums["score"]:
        figures["score_psi"] = metrics.psi_of_counts(baseline["score"]["counts"], sums["score"])
    worst = max(v for v in (figures["drifted_psi"], figures["score_psi"], 0.0) if v is not None)
    what = (
        f"the score (PSI {figures['score_psi']:.2f})"
        if figures["score_psi"] is not None and worst == figures["score_psi"]
        else f"{figures['drifted_feature']} (PSI {figures['drifted_psi']:.2f})"
    )
    if alert is not None and worst >= alert:
        return {**figures, "state": Health.State.ALERT, "reason": f"Drift in {what}."}
    if warning is not None and worst >= warning:
        return {**figures, "state": Health.State.WARNING, "reason": f"Some drift in {what}."}
    return {**figures, "state": Health.State.HEALTHY, "reason": ""}


def evaluate(now: datetime | None = None) -> int:
    """Judge every live deployment over the last 24 hours; return how many."""
    now = now or timezone.now()
    live = list(
        Deployment.objects.filter(status=Deployment.Status.LIVE).select_related(
            "model__team", "model__risk_owner", "environment"
        )
    )
    since = bucket_start(now - WINDOW, 3600)
    by_deployment: dict[int, list[Bucket]] = defaultdict(list)
    for bucket in Bucket.objects.filter(
        span=Bucket.Span.HOUR, start__gt=since, start__lte=now, deployment__in=live
    ):
        by_deployment[bucket.deployment_id].append(bucket)
    baselines = evidence.baselines_of([d.version_id for d in live])
    measured = _measured(live, now)
    last_seen = _last_requests(live, now)
    tiers, own = policies.current_by_tier(), policies.current_by_model()
    with transaction.atomic():
        for deployment in live:
            applied = policies.applied(deployment.model, tiers, own)
            judged = judge(
                baselines.get(deployment.version_id),
                window_sums(by_deployment.get(deployment.pk, [])),
                applied.levels["psi_warning"],
                applied.levels["psi_alert"],
            )
            found, _ = Health.objects.update_or_create(
                deployment=deployment,
                defaults={
                    **judged,
                    **measured[deployment.pk],
                    "last_request_at": last_seen.get(deployment.pk),
                    "rank": _RANK[judged["state"]],
                    "evaluated_at": now,
                },
            )
            alerts.record(deployment, alerts.breaches(found, applied), now)
        Health.objects.exclude(deployment__in=live).delete()
    return len(live)


def _last_requests(live: list[Deployment], now: datetime) -> dict[int, datetime | None]:
    """When each deployment was last called: its last 5-minute bucket with a request in the
    window, else what the previous evaluation found (buckets older than the window are not
    scanned every minute)."""
    recent = (
        Bucket.objects.filter(
            span=Bucket.Span.FIVE_MINUTES,
            start__gt=now - WINDOW,
            requests__gt=0,
            deployment__in=live,
        )
        .values("deployment_id")
        .annotate(last=Max("start"))
        .values_list("deployment_id", "last")
    )
    before = Health.objects.filter(deployment__in=live).values_list(
        "deployment_id", "last_request_at"
    )
    return {**dict(before), **dict(recent)}


def _measured(live: list[Deployment], now: datetime) -> dict[int, dict[str, Any]]:
    """Per deployment, its primary metric from the outcomes of the last 30 days' predictions,
    the same metric at validation, and the share of those rows with an outcome."""
    since = bucket_start(now - PERFORMANCE_WINDOW, Bucket.Span.DAY)
    sums: dict[int, dict[str, Any]] = defaultdict(dict)
    rows: dict[int, int] = defaultdict(int)
    for bucket in Bucket.objects.filter(
        span=Bucket.Span.DAY, start__gte=since, deployment__in=live
    ).only("deployment_id", "rows", "performance"):
        rows[bucket.deployment_id] += bucket.rows
        if bucket.performance:
            sums[bucket.deployment_id] = performance.add_performance(
                sums[bucket.deployment_id], bucket.performance
            )
    found: dict[int, dict[str, Any]] = {}
    for deployment in live:
        signature = evidence.signature_of(deployment.version) or {}
        metric = PRIMARY.get(signature.get("task", ""), "")
        counted = sums.get(deployment.pk, {})
        labelled = counted.get("labelled", 0)
        figures = performance.figures(counted, signature.get("task", "")) if labelled else {}
        found[deployment.pk] = {
            "performance_metric": metric,
            "performance": figures.get(metric),
            "validated": evidence.validated_metrics(deployment.version_id).get(metric),
            "labelled_share": labelled / rows[deployment.pk] if rows[deployment.pk] else None,
            "labelled": labelled,
        }
    return found
