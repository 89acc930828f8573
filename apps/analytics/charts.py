"""Plotly figures of the analytics pages, built as dicts and drawn by static/js/portal.js."""

from __future__ import annotations

from typing import Any

from apps.analytics.changes import ChangeAnalytics
from apps.validation.charts import laid_out

Figure = dict[str, Any]


def changes_over_time(found: ChangeAnalytics) -> Figure:
    """Stacked bars: changes per day (or week), one colour per kind of action."""
    buckets = found.buckets
    x = [b.isoformat() for b in buckets]
    counts: dict[str, dict[str, int]] = {}
    for when, kind, n in found.by_bucket:
        counts.setdefault(kind, {})[when.isoformat()] = n
    traces = [
        {
            "type": "bar",
            "name": found.kinds.get(kind, kind),
            "x": x,
            "y": [by_day.get(day, 0) for day in x],
            "hovertemplate": "%{x}: %{y} " + kind + "<extra></extra>",
        }
        for kind, by_day in sorted(counts.items(), key=lambda kv: -sum(kv[1].values()))
    ]
    weekly = found.bucket == "week"
    return _figure(
        f"Changes per {'week' if weekly else 'day'}",
        traces,
        detail="by kind of action; weeks start on Monday" if weekly else "by kind of action",
        barmode="stack",
        xaxis={"type": "date", "title": {"text": "Week" if weekly else "Day"}},
        yaxis={"title": {"text": "Changes"}, "rangemode": "tozero"},
    )


def _figure(title: str, data: list[dict[str, Any]], *, detail: str, **layout: Any) -> Figure:
    """The portal's chart layout (``laid_out``), its height growing with the number of kinds,
    so that a legend wrapping to several lines on a phone does not squeeze the bars."""
    return laid_out(title, data, detail=detail, height=340 + 18 * len(data), **layout)
