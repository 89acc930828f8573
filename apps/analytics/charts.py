"""Plotly figures of the analytics pages, built as dicts and drawn by static/js/portal.js."""

from __future__ import annotations

from typing import Any

from apps.analytics.changes import ChangeAnalytics


def changes_over_time(found: ChangeAnalytics) -> dict[str, Any]:
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
    per = "week (starting Monday)" if found.bucket == "week" else "day"
    return {
        "data": traces,
        "layout": {
            "title": {"text": f"Changes per {per}, by kind of action"},
            "barmode": "stack",
            "xaxis": {"type": "date", "title": {"text": per.capitalize()}},
            "yaxis": {"title": {"text": "Changes"}, "rangemode": "tozero"},
            "legend": {"orientation": "h"},
            "margin": {"t": 48, "r": 16, "b": 48, "l": 56},
        },
    }
