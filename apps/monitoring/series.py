"""A deployment's figures over a window, read from its buckets: for the charts, the API and CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from apps.deployments.models import Deployment
from apps.monitoring import estimate, performance
from apps.monitoring.models import Bucket
from apps.monitoring.rollup import latency_percentile
from apps.validation.engine import metrics

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
WINDOWS["90d"] = timedelta(days=90)
LONGEST = timedelta(days=366)
# A bucket with fewer rows than this gets no drift figure: a handful of rows says nothing.
MIN_ROWS_PER_POINT = 30
METRICS = ("requests", "rows", "latency_p50", "latency_p95", "latency_p99", "score_psi", "psi")
# Refused requests by kind, as the chart and the API group the statuses.
REFUSALS = {
    "malformed": ("400",),
    "key": ("401",),
    "too_large": ("413",),
    "signature": ("422",),
    "other_4xx": ("404", "405", "409"),
    "server_error": ("500",),
}
# From outcomes, by task; a bucket with fewer labelled rows than MIN_ROWS_PER_POINT gets none.
PERFORMANCE = {
    "binary": ("roc_auc", "accuracy", "precision", "recall", "brier", "positive_rate"),
    "multiclass": ("accuracy",),
    "regression": ("rmse", "mae", "bias"),
}


class WindowError(ValueError):
    """A window someone asked for that cannot be shown; the message says why."""


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    label: str

    @property
    def span(self) -> int:
        """The finest bucket that keeps a chart to a few hundred points."""
        length = self.end - self.start
        if length <= timedelta(days=1):
            return Bucket.Span.FIVE_MINUTES
        if length <= timedelta(days=14):
            return Bucket.Span.HOUR
        return Bucket.Span.DAY


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise WindowError(f"Give “{name}” as a date, YYYY-MM-DD, not “{value}”.") from None


def window_from(params: Any, now: datetime | None = None) -> Window:
    """The window a page or API request asks for: ``window`` (24h, 7d, 30d, 90d; 24h by
    default), or ``from`` and ``to`` dates (whole days in the portal's time zone)."""
    now = now or timezone.now()
    start, end = params.get("from", ""), params.get("to", "")
    if start or end:
        if not (start and end):
            raise WindowError("Give both dates, “from” and “to”, or choose a window.")
        first, last = _day(start, "from"), _day(end, "to")
        if first > last:
            raise WindowError(f"“from” ({first}) comes after “to” ({last}).")
        begin = timezone.make_aware(datetime.combine(first, time.min))
        finish = timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min))
        if finish - begin > LONGEST:
            raise WindowError("A window is at most a year long; choose dates closer together.")
        return Window(begin, min(finish, now), f"{first} to {last}")
    name = params.get("window", "24h") or "24h"
    if name not in WINDOWS:
        raise WindowError(f"Choose a window of {', '.join(WINDOWS)}, not “{name}”.")
    return Window(now - WINDOWS[name], now, f"last {name}")


def series(
    deployment: Deployment, window: Window, baseline: dict[str, Any] | None, task: str = ""
) -> dict:
    """Per bucket of the window's span, oldest first: its start, requests, rows, latency
    percentiles (upper edges of their histogram bins), the score's PSI and each feature's PSI
    against the baseline (None for a bucket with fewer than ``MIN_ROWS_PER_POINT`` rows)."""
    buckets = Bucket.objects.filter(
        deployment=deployment, span=window.span, start__gte=window.start, start__lt=window.end
    ).order_by("start")
    features = [spec["feature"] for spec in baseline["features"]] if baseline else []
    found: dict[str, Any] = {name: [] for name in METRICS if name != "psi"}
    found["t"], found["psi"] = [], {name: [] for name in features}
    measured = PERFORMANCE.get(task, ())
    estimated = ("estimated_accuracy", "estimated_roc_auc") if task == "binary" else ()
    found["performance"] = {
        name: [] for name in (*measured, *estimated, "labelled_share", "label_delay_hours")
    }
    found["refused"] = {kind: [] for kind in REFUSALS}
    for bucket in buckets:
        found["t"].append(bucket.start.isoformat())
        found["requests"].append(bucket.requests)
        found["rows"].append(bucket.rows)
        for kind, statuses in REFUSALS.items():
            found["refused"][kind].append(sum(bucket.refused.get(s, 0) for s in statuses))
        for q in (50, 95, 99):
            found[f"latency_p{q}"].append(latency_percentile(bucket.latency_counts, q / 100))
        enough = baseline is not None and bucket.rows >= MIN_ROWS_PER_POINT
        score = bucket.score_counts if enough else []
        found["score_psi"].append(
            metrics.psi_of_counts(baseline["score"]["counts"], score)
            if baseline and score
            else None
        )
        labelled = bucket.performance.get("labelled", 0) if bucket.performance else 0
        figures = (
            performance.figures(bucket.performance, task) if labelled >= MIN_ROWS_PER_POINT else {}
        )
        for name in measured:
            found["performance"][name].append(figures.get(name))
        guessed = estimate.figures(bucket.expected) if bucket.rows >= MIN_ROWS_PER_POINT else {}
        for name in estimated:
            found["performance"][name].append(guessed.get(name))
        found["performance"]["labelled_share"].append(
            labelled / bucket.rows if bucket.rows else None
        )
        found["performance"]["label_delay_hours"].append(
            performance.figures(bucket.performance, task).get("label_delay_hours")
            if labelled
            else None
        )
        for spec in baseline["features"] if baseline else []:
            counts = bucket.feature_counts.get(spec["feature"]) if enough else None
            found["psi"][spec["feature"]].append(
                metrics.psi_of_counts(spec["counts"], counts) if counts else None
            )
    return {
        "span_seconds": window.span,
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        **found,
    }
