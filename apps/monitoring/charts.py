"""Plotly figures of a deployment's series (drawn by plotly.js from our own static files)."""

from __future__ import annotations

from typing import Any

from apps.monitoring.health import PSI_ALERT, PSI_WARNING

Figure = dict[str, Any]

_LAYOUT = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "height": 320,
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "#fbfcfd",
    "legend": {"orientation": "h", "y": -0.25},
}


def _figure(
    title: str, data: list[dict[str, Any]], markers: list[dict[str, Any]], **layout: Any
) -> Figure:
    """A figure with the window's switches drawn as dashed vertical lines, named on hover."""
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
            "font": {"size": 10},
        }
        for m in markers
    ]
    return {
        "data": data,
        "layout": {
            **_LAYOUT,
            "title": {"text": title, "x": 0},
            "shapes": shapes,
            "annotations": notes,
            **layout,
        },
    }


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
    data: list[dict[str, Any]] = [
        {
            "x": t,
            "y": measured[name],
            "mode": "lines+markers" if not name.startswith("estimated_") else "lines",
            "name": name.replace("estimated_", "") + " (estimated)"
            if name.startswith("estimated_")
            else name,
            **({"line": {"dash": "dash"}} if name.startswith("estimated_") else {}),
        }
        for name in names
    ]
    data += [
        {
            "x": [t[0], t[-1]],
            "y": [validated[name]] * 2,
            "mode": "lines",
            "name": f"{name} at validation",
            "line": {"dash": "dot"},
            "hoverinfo": "skip",
        }
        for name in names
        if name in validated
    ]
    data.append(
        {
            "x": t,
            "y": measured["labelled_share"],
            "type": "bar",
            "name": "labelled share",
            "yaxis": "y2",
            "opacity": 0.25,
        }
    )
    return _figure(
        "Performance by time of prediction: measured from outcomes, estimated from scores",
        data,
        markers,
        yaxis={"title": {"text": "metric"}},
        yaxis2={
            "title": {"text": "labelled share"},
            "overlaying": "y",
            "side": "right",
            "range": [0, 1],
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
                yaxis={"title": {"text": "requests"}},
                yaxis2={"title": {"text": "rows"}, "overlaying": "y", "side": "right"},
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
                barmode="stack",
                yaxis={"title": {"text": "requests"}, "rangemode": "tozero"},
            ),
        ),
        (
            "latency",
            _figure(
                "Latency (ms, at most 9 % above the true value)",
                [
                    {"x": t, "y": found[f"latency_p{q}"], "mode": "lines", "name": f"p{q}"}
                    for q in (50, 95, 99)
                ],
                markers,
                yaxis={"title": {"text": "ms"}, "rangemode": "tozero"},
            ),
        ),
        (
            "score-drift",
            _figure(
                "Score drift (PSI against the validation holdout)",
                [
                    {"x": t, "y": found["score_psi"], "mode": "lines+markers", "name": "score PSI"},
                    *_levels(t),
                ],
                markers,
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
                    "Feature drift (PSI per feature against the baseline)",
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
                            "colorbar": {"title": {"text": "PSI"}},
                            "hoverongaps": False,
                        }
                    ],
                    markers,
                    height=max(260, 40 + 26 * len(names)),
                    margin={"l": 140, "r": 20, "t": 40, "b": 50},
                ),
            )
        )
    return charts


def score_comparison(histograms: dict[str, list[float]]) -> Figure:
    """A live version's and its challenger's score distributions, in the same 100 bins."""
    centres = [(k + 0.5) / 100 for k in range(100)]
    return _figure(
        "Score distribution, live version and challenger",
        [
            {"x": centres, "y": shares, "type": "bar", "name": name, "opacity": 0.6}
            for name, shares in histograms.items()
            if shares
        ],
        [],
        barmode="overlay",
        xaxis={"title": {"text": "score (probability of the positive class)"}, "range": [0, 1]},
        yaxis={"title": {"text": "share of rows"}, "rangemode": "tozero"},
    )
