"""Plotly figures of a deployment's series (drawn by plotly.js from our own static files)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.monitoring.health import PSI_ALERT, PSI_WARNING
from apps.validation.charts import TOP, laid_out, short_labels

Figure = dict[str, Any]

# Above the plot, room for the markers' names (up to two lines: every other one sits higher).
_MARKER_NAMES = 14
# plotly.js's default colours, set by hand where a metric's lines share one colour.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _figure(
    title: str,
    data: list[dict[str, Any]],
    markers: list[dict[str, Any]],
    *,
    detail: str | None = None,
    height: int = 340,
    **layout: Any,
) -> Figure:
    """The shared layout of every monitoring chart: a short title with its details in a subtitle,
    ``automargin`` on every axis, the legend below, and the window's switches drawn as dashed
    vertical lines named above the plot."""
    middle = _middle(data)
    shapes = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": m["at"],
            "x1": m["at"],
            "y0": 0,
            "y1": 1,
            "line": {"dash": "dash", "color": "#6b7785", "width": 1},
        }
        for m in markers
    ]
    notes = [
        {
            "x": m["at"],
            "y": 1,
            "xref": "x",
            "yref": "paper",
            "text": m["label"],
            "showarrow": False,
            "yanchor": "bottom",
            # Named towards the middle of the plot, so a switch near an edge keeps its name
            # inside the figure.
            "xanchor": "right" if middle and datetime.fromisoformat(m["at"]) > middle else "left",
            "font": {"size": 10},
            # Every other name one line higher, so two switches close in time stay legible.
            "yshift": _MARKER_NAMES * (i % 2),
        }
        for i, m in enumerate(markers)
    ]
    return laid_out(
        title,
        data,
        detail=detail,
        height=height,
        extra_top=_MARKER_NAMES * min(len(markers), 2),
        shapes=shapes,
        annotations=notes,
        **layout,
    )


def _middle(data: list[dict[str, Any]]) -> datetime | None:
    """The moment halfway along the time axis, or None when the x axis is not time."""
    for trace in data:
        times = trace.get("x") or []
        if times and isinstance(times[0], str):
            first, last = datetime.fromisoformat(times[0]), datetime.fromisoformat(times[-1])
            return first + (last - first) / 2
    return None


def _levels(times: list[str]) -> list[dict[str, Any]]:
    if not times:
        return []
    return [
        {
            "x": [times[0], times[-1]],
            "y": [level, level],
            "mode": "lines",
            "name": name,
            "line": {"dash": "dot", "color": color},
            "hoverinfo": "skip",
        }
        for level, name, color in (
            (PSI_WARNING, "warning", "#8a5a00"),
            (PSI_ALERT, "alert", "#b3261e"),
        )
    ]


def _performance(
    found: dict[str, Any], markers: list[dict[str, Any]], validated: dict[str, Any]
) -> Figure | None:
    t, measured = found["t"], found["performance"]
    names = [n for n in measured if n not in ("labelled_share", "label_delay_hours")]
    if not names or not any(v is not None for n in names for v in measured[n]):
        return None
    # One legend entry per metric: its estimate (dashed) and its figure at validation (dotted)
    # share its colour and its legend group, so the legend stays a few lines long on a phone
    # instead of pushing the plot into a sliver. The hover names each line.
    metrics = list(dict.fromkeys(n.removeprefix("estimated_") for n in names))
    colour = {m: COLOURS[i % len(COLOURS)] for i, m in enumerate(metrics)}
    shown: set[str] = set()
    data: list[dict[str, Any]] = []
    for name in names:
        metric = name.removeprefix("estimated_")
        estimated = name != metric
        data.append(
            {
                "x": t,
                "y": measured[name],
                "mode": "lines" if estimated else "lines+markers",
                "name": f"{metric} (estimated)" if estimated else metric,
                "legendgroup": metric,
                "showlegend": metric not in shown,
                "line": {"color": colour[metric], **({"dash": "dash"} if estimated else {})},
            }
        )
        shown.add(metric)
    data += [
        {
            "x": [t[0], t[-1]],
            "y": [validated[metric]] * 2,
            "mode": "lines",
            "name": f"{metric} at validation",
            "legendgroup": metric,
            "showlegend": False,
            "line": {"dash": "dot", "color": colour[metric]},
            "hovertemplate": f"{metric} at validation: %{{y:.3f}}<extra></extra>",
        }
        for metric in metrics
        if metric in validated
    ]
    data.append(
        {
            "x": t,
            "y": measured["labelled_share"],
            "type": "bar",
            "name": "labelled share",
            "yaxis": "y2",
            "opacity": 0.25,
            "marker": {"color": "#7f7f7f"},
        }
    )
    return _figure(
        "Performance over time",
        data,
        markers,
        detail="solid: measured, dashed: estimated, dotted: validation",
        height=TOP + 300 + 22 * ((len(metrics) + 2) // 2),
        yaxis={"title": {"text": "metric"}},
        yaxis2={
            "title": {"text": "labelled share"},
            "overlaying": "y",
            "side": "right",
            "range": [0, 1],
            "tickformat": ".0%",
            "showgrid": False,
        },
    )


def figures(
    found: dict[str, Any], markers: list[dict[str, Any]], validated: dict[str, Any] | None = None
) -> list[tuple[str, Figure]]:
    t = found["t"]
    charts = [
        (
            "traffic",
            _figure(
                "Requests and rows",
                [
                    {"x": t, "y": found["requests"], "type": "bar", "name": "requests"},
                    {"x": t, "y": found["rows"], "mode": "lines", "name": "rows", "yaxis": "y2"},
                ],
                markers,
                yaxis={"title": {"text": "requests"}, "rangemode": "tozero"},
                yaxis2={
                    "title": {"text": "rows"},
                    "overlaying": "y",
                    "side": "right",
                    "rangemode": "tozero",
                    "showgrid": False,
                },
            ),
        ),
        (
            "refused",
            _figure(
                "Refused requests and errors",
                [
                    {"x": t, "y": counts, "type": "bar", "name": kind.replace("_", " ")}
                    for kind, counts in found["refused"].items()
                ],
                markers,
                height=380,
                barmode="stack",
                yaxis={"title": {"text": "requests"}, "rangemode": "tozero"},
            ),
        ),
        (
            "latency",
            _figure(
                "Latency (ms)",
                [
                    {"x": t, "y": found[f"latency_p{q}"], "mode": "lines", "name": f"p{q}"}
                    for q in (50, 95, 99)
                ],
                markers,
                detail="at most 9 % above the true value",
                yaxis={"title": {"text": "ms"}, "rangemode": "tozero"},
            ),
        ),
        (
            "score-drift",
            _figure(
                "Score drift (PSI)",
                [
                    {"x": t, "y": found["score_psi"], "mode": "lines+markers", "name": "score PSI"},
                    *_levels(t),
                ],
                markers,
                detail="against the validation holdout",
                yaxis={"title": {"text": "PSI"}, "rangemode": "tozero"},
            ),
        ),
    ]
    measured = _performance(found, markers, validated or {})
    if measured is not None:
        charts.append(("performance", measured))
    if found["psi"]:
        names = list(found["psi"])
        charts.append(
            (
                "feature-drift",
                _figure(
                    "Feature drift (PSI)",
                    [
                        {
                            "type": "heatmap",
                            "x": t,
                            "y": names,
                            "z": [found["psi"][name] for name in names],
                            "zmin": 0,
                            "zmax": max(PSI_ALERT * 2, 0.5),
                            "colorscale": [
                                [0, "#f4f7fa"],
                                [0.2, "#f2d88a"],
                                [0.5, "#d9822b"],
                                [1, "#b3261e"],
                            ],
                            # Under the plot, not beside it: at 390 px a bar on the right takes
                            # the room of the hours.
                            "colorbar": {
                                "title": {"text": "PSI", "side": "right"},
                                "orientation": "h",
                                "thickness": 10,
                                "len": 160,
                                "lenmode": "pixels",
                                "x": 0,
                                "xref": "container",
                                "xanchor": "left",
                                "xpad": 8,
                                "y": 0,
                                "yref": "container",
                                "yanchor": "bottom",
                                "ypad": 4,
                            },
                            "hoverongaps": False,
                            "hovertemplate": "%{y}, %{x}: PSI %{z:.3f}<extra></extra>",
                        }
                    ],
                    markers,
                    detail="per feature, against the baseline",
                    height=max(280, TOP + 120 + 24 * len(names)),
                    yaxis=_feature_axis(names),
                ),
            )
        )
    return charts


def _feature_axis(names: list[str]) -> dict[str, Any]:
    """Feature names stay the categories (hover shows them whole); ticks show them cut."""
    return {
        "type": "category",
        "tickmode": "array",
        "tickvals": names,
        "ticktext": short_labels(names),
    }


def score_comparison(histograms: dict[str, list[float]]) -> Figure:
    """A live version's and its challenger's score distributions, in the same 100 bins."""
    centres = [(k + 0.5) / 100 for k in range(100)]
    return _figure(
        "Score distribution",
        [
            {"x": centres, "y": shares, "type": "bar", "name": name, "opacity": 0.6}
            for name, shares in histograms.items()
            if shares
        ],
        [],
        detail="live version and challenger, same 100 bins",
        barmode="overlay",
        xaxis={"title": {"text": "score (probability of the positive class)"}, "range": [0, 1]},
        yaxis={"title": {"text": "share of rows"}, "rangemode": "tozero"},
    )
