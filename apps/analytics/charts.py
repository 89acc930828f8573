"""Plotly figures of the analytics pages, built as dicts and drawn by static/js/portal.js."""

from __future__ import annotations

from typing import Any

from apps.analytics.changes import ChangeAnalytics

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
    """The layout of the analytics charts, read at 1366 px and 390 px alike: a short title with
    its details in a subtitle, ``automargin`` on the axes so tick labels and titles push the
    margins instead of being cut, and the legend at the bottom of the figure (container
    coordinates), where plotly.js reserves room for it below the x axis title. The height grows
    with the number of kinds, so that a legend wrapping to several lines on a phone does not
    squeeze the bars."""
    axes = {
        k: {**v, "automargin": True} for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))
    }
    return {
        "data": data,
        "layout": {
            "title": {
                "text": title,
                "x": 0,
                "xref": "container",
                "xanchor": "left",
                "y": 1,
                "yref": "container",
                "yanchor": "top",
                "pad": {"l": 8, "t": 10},
                "font": {"size": 15},
                "subtitle": {"text": detail, "font": {"size": 11, "color": "#52606d"}},
            },
            "height": 360 + 18 * len(data),
            "legend": {
                "orientation": "h",
                "x": 0,
                "xanchor": "left",
                "y": 0,
                "yref": "container",
                "yanchor": "bottom",
                "font": {"size": 11},
            },
            **layout,
            **axes,
            "margin": {"t": 64, "r": 16, "b": 8, "l": 8},
        },
    }
