"""A deployment's figures over a window, read from its buckets: for the charts, the API and CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from apps.deployments.models import Deployment
from apps.monitoring import performance
from apps.monitoring.models import Bucket
from apps.monitoring.rollup import latency_percentiles

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
    against the baseline (None for a bucket with fewer than ``MIN_ROWS_PER_POINT`` rows).
    Drift and estimates come from each bucket's ``derived`` figures, not its bins."""
    buckets = list(
        Bucket.objects.filter(
            deployment=deployment, span=window.span, start__gte=window.start, start__lt=window.end
        )
        .order_by("start")
        .defer("feature_counts", "score_counts", "expected")
    )
    features = [spec["feature"] for spec in baseline["features"]] if baseline else []
    found: dict[str, Any] = {
        "t": [bucket.start.isoformat() for bucket in buckets],
        "requests": [bucket.requests for bucket in buckets],
        "rows": [bucket.rows for bucket in buckets],
        **latency_percentiles([bucket.latency_counts for bucket in buckets], (50, 95, 99)),
    }
    found["refused"] = {
        kind: [sum(bucket.refused.get(s, 0) for s in statuses) for bucket in buckets]
        for kind, statuses in REFUSALS.items()
    }
    enough = [baseline is not None and bucket.rows >= MIN_ROWS_PER_POINT for bucket in buckets]
    found["score_psi"] = [
        bucket.derived.get("score_psi") if ok else None
        for bucket, ok in zip(buckets, enough, strict=True)
    ]
    found["psi"] = {
        name: [
            bucket.derived.get("psi", {}).get(name) if ok else None
            for bucket, ok in zip(buckets, enough, strict=True)
        ]
        for name in features
    }
    measured = PERFORMANCE.get(task, ())
    estimated = ("estimated_accuracy", "estimated_roc_auc") if task == "binary" else ()
    found["performance"] = {
        name: [] for name in (*measured, *estimated, "labelled_share", "label_delay_hours")
    }
    for bucket in buckets:
        labelled = bucket.performance.get("labelled", 0) if bucket.performance else 0
        figures = performance.figures(bucket.performance, task) if labelled else {}
        for name in measured:
            found["performance"][name].append(
                figures.get(name) if labelled >= MIN_ROWS_PER_POINT else None
            )
        for name in estimated:
            found["performance"][name].append(
                bucket.derived.get(name) if bucket.rows >= MIN_ROWS_PER_POINT else None
            )
        found["performance"]["labelled_share"].append(
            labelled / bucket.rows if bucket.rows else None
        )
        found["performance"]["label_delay_hours"].append(figures.get("label_delay_hours"))
    return {
        "span_seconds": window.span,
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        **found,
    }
