"""Plotly figures of a validation report, as plain JSON (drawn in the page by plotly.js).

Each function takes the report's JSON and returns a figure dict, or None when the report has
nothing to draw for it (a regression model has no ROC curve).

Every figure goes through ``laid_out``, the one place that decides how a chart is laid out, so that
all of them read at 1366 px and at 390 px wide: a short title (details go to a subtitle),
``automargin`` on every axis so tick labels and axis titles push the margins instead of being
clipped, and the legend at the bottom of the figure (container coordinates), where plotly.js
reserves room for it below the x axis title instead of drawing over it.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

Figure = dict[str, Any]

_FONT = {"family": "system-ui, sans-serif", "size": 12, "color": "#1f2933"}
_MUTED = "#52606d"
# The top margin holds the title; a subtitle adds its line, and a caller may ask for more room
# above the plot (monitoring's marker names). The other margins are minimums that plotly.js
# widens for tick labels, axis titles and the legend (``automargin``).
TOP = 44
_SUBTITLE = 20
_MARGIN = {"l": 8, "r": 16, "b": 8}
_LEGEND = {
    "orientation": "h",
    "x": 0,
    "xanchor": "left",
    "y": 0,
    "yref": "container",
    "yanchor": "bottom",
    "font": {"size": 11},
}
# Feature names longer than this are cut on the axis (the bar's hover keeps the full name):
# a 60-character name would otherwise take the whole width of a phone.
LABEL_CHARS = 24
_DIAGONAL = {
    "x": [0, 1],
    "y": [0, 1],
    "mode": "lines",
    "name": "chance",
    "line": {"dash": "dot", "color": "#9aa5b1"},
    "hoverinfo": "skip",
}
# Confusion-matrix cells: white for no rows, the darkest blue for the largest count.
CONFUSION_SCALE: list[tuple[float, str]] = [
    (0.0, "#f7fbff"),
    (0.25, "#c6dbef"),
    (0.5, "#6baed6"),
    (0.75, "#2171b5"),
    (1.0, "#08306b"),
]
_DARK_TEXT = "#1f2933"
_LIGHT_TEXT = "#ffffff"


def laid_out(
    title: str,
    data: list[dict[str, Any]],
    *,
    detail: str | None = None,
    height: int = 340,
    extra_top: int = 0,
    **layout: Any,
) -> Figure:
    """The portal's chart layout (validation, monitoring and analytics charts all use it): title
    and subtitle, automargin on every axis, the legend below. Room for the subtitle and
    ``extra_top`` comes on top of the plot's ``height``, not out of it."""
    heading: dict[str, Any] = {
        "text": title,
        "x": 0,
        "xref": "container",
        "xanchor": "left",
        "y": 1,
        "yref": "container",
        "yanchor": "top",
        "pad": {"l": 8, "t": 10},
        "font": {"size": 15},
    }
    top = TOP + extra_top
    if detail:
        heading["subtitle"] = {"text": detail, "font": {"size": 11, "color": _MUTED}}
        top += _SUBTITLE
    axes = {
        key: {**spec, "automargin": True}
        for key, spec in layout.items()
        if key.startswith(("xaxis", "yaxis"))
    }
    for key in ("xaxis", "yaxis"):
        axes.setdefault(key, {"automargin": True})
    return {
        "data": data,
        "layout": {
            "height": height + top - TOP,
            "font": _FONT,
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "#fbfcfd",
            "legend": _LEGEND,
            "title": heading,
            **layout,
            **axes,
            "margin": {**_MARGIN, "t": top},
        },
    }


def short_labels(names: list[str]) -> list[str]:
    """Feature names cut to ``LABEL_CHARS`` for an axis, keeping the start and the end.

    Names that would be cut alike (``balance_sum_last_30_days_eur`` and ``..._90_days_eur``)
    keep, instead of their end, the part where they first differ.
    """
    keep = LABEL_CHARS - 1  # one character for the ellipsis
    head = keep // 3
    cut = {n: n if len(n) <= LABEL_CHARS else f"{n[:head]}…{n[-(keep - head) :]}" for n in names}
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(cut[name], []).append(name)
    for alike in groups.values():
        if len(alike) < 2:
            continue
        common = next(
            (i for i, chars in enumerate(zip(*alike, strict=False)) if len(set(chars)) > 1),
            min(len(n) for n in alike),
        )
        start = max(head, common - 4)
        for name in alike:
            middle = name[start : start + keep - head - 1]
            tail = "…" if start + len(middle) < len(name) else ""
            cut[name] = f"{name[:head]}…{middle}{tail}"
    return [cut[n] for n in names]


def _feature_axis(names: list[str]) -> dict[str, Any]:
    """A category axis of feature names: the full names stay the categories (so two names cut
    alike never merge, and the hover shows them whole), only the tick text is shortened."""
    return {
        "type": "category",
        "tickmode": "array",
        "tickvals": names,
        "ticktext": short_labels(names),
    }


def roc(report: dict[str, Any]) -> Figure | None:
    curve = report.get("metrics", {}).get("roc_curve")
    if not curve:
        return None
    auc = report["metrics"].get("roc_auc")
    return laid_out(
        f"ROC curve (AUC {auc:.3f})" if auc is not None else "ROC curve",
        [
            {"x": curve["fpr"], "y": curve["tpr"], "mode": "lines", "name": "this version"},
            _DIAGONAL,
        ],
        xaxis={"title": {"text": "false positive rate"}, "range": [0, 1]},
        yaxis={"title": {"text": "true positive rate"}, "range": [0, 1]},
    )


def precision_recall(report: dict[str, Any]) -> Figure | None:
    curve = report.get("metrics", {}).get("pr_curve")
    if not curve:
        return None
    return laid_out(
        "Precision-recall",
        [{"x": curve["recall"], "y": curve["precision"], "mode": "lines", "name": "this version"}],
        detail=f"average precision {report['metrics'].get('pr_auc', 0):.3f}",
        xaxis={"title": {"text": "recall"}, "range": [0, 1]},
        yaxis={"title": {"text": "precision"}, "range": [0, 1.02]},
    )


def calibration(report: dict[str, Any]) -> Figure | None:
    curve = report.get("metrics", {}).get("calibration")
    if not curve:
        return None
    return laid_out(
        "Calibration",
        [
            {
                "x": curve["mean_predicted"],
                "y": curve["fraction_positive"],
                "mode": "lines+markers",
                "name": "this version",
                "text": [f"{n} rows" for n in curve.get("count", [])],
            },
            {**_DIAGONAL, "name": "perfectly calibrated"},
        ],
        xaxis={"title": {"text": "mean predicted probability"}, "range": [0, 1]},
        yaxis={"title": {"text": "observed share of positives"}, "range": [0, 1]},
    )


def _scale_colour(share: float) -> str:
    """The colour ``CONFUSION_SCALE`` gives a cell at ``share`` (0..1) of the largest count."""
    for (lo, low), (hi, high) in pairwise(CONFUSION_SCALE):
        if share <= hi:
            t = 0.0 if hi == lo else (share - lo) / (hi - lo)
            a, b = _rgb(low), _rgb(high)
            return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))
    return CONFUSION_SCALE[-1][1]


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def luminance(colour: str) -> float:
    """WCAG relative luminance of "#rrggbb" (0 black, 1 white)."""

    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (4.5 is the floor for normal text)."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _text_on(background: str) -> str:
    """Dark or white text, whichever reads better on the cell."""
    dark, light = contrast(background, _DARK_TEXT), contrast(background, _LIGHT_TEXT)
    return _DARK_TEXT if dark >= light else _LIGHT_TEXT


def confusion(report: dict[str, Any]) -> Figure | None:
    matrix = report.get("metrics", {}).get("confusion_matrix")
    if not matrix:
        return None
    labels = [str(c) for c in report.get("classes") or range(len(matrix))]
    largest = max((v for row in matrix for v in row), default=0) or 1
    # The counts are written as annotations rather than heatmap text so that each one gets a
    # colour chosen against its own cell: dark text on light cells, white on dark ones.
    counts = [
        {
            "x": predicted,
            "y": actual,
            "xref": "x",
            "yref": "y",
            "text": f"{count:,}",
            "showarrow": False,
            "font": {"size": 13, "color": _text_on(_scale_colour(count / largest))},
        }
        for actual, row in zip(labels, matrix, strict=True)
        for predicted, count in zip(labels, row, strict=True)
    ]
    return laid_out(
        "Confusion matrix",
        [
            {
                "type": "heatmap",
                "z": matrix,
                "x": labels,
                "y": labels,
                "zmin": 0,
                "zmax": largest,
                "colorscale": CONFUSION_SCALE,
                "showscale": False,
                "xgap": 1,
                "ygap": 1,
                "hovertemplate": "actual %{y}, predicted %{x}: %{z} rows<extra></extra>",
            }
        ],
        detail="rows per actual and predicted class; darker = more",
        annotations=counts,
        xaxis={"title": {"text": "predicted"}, "type": "category"},
        yaxis={"title": {"text": "actual"}, "type": "category", "autorange": "reversed"},
    )


def lift(report: dict[str, Any]) -> Figure | None:
    data = report.get("metrics", {}).get("lift")
    if not data:
        return None
    shares = [round(100 * f, 1) for f in data["fraction"]]
    return laid_out(
        "Cumulative lift and gain",
        [
            {"type": "bar", "x": shares, "y": data["lift"], "name": "cumulative lift"},
            {
                "x": shares,
                "y": data["gain"],
                "mode": "lines+markers",
                "name": "gain (share of positives captured)",
                "yaxis": "y2",
            },
        ],
        detail="by score decile",
        height=360,
        xaxis={"title": {"text": "top share of rows by score"}, "ticksuffix": "%"},
        yaxis={"title": {"text": "lift"}, "rangemode": "tozero"},
        yaxis2={
            "title": {"text": "gain"},
            "overlaying": "y",
            "side": "right",
            "range": [0, 1],
            # No "0%": on a phone it runs into the x axis's last label; the baseline says 0.
            "tickvals": [0.25, 0.5, 0.75, 1],
            "tickformat": ".0%",
            "showgrid": False,
        },
    )


def _feature_height(count: int) -> int:
    return max(260, 22 * count + 110)


def importance(report: dict[str, Any]) -> Figure | None:
    rows = report.get("importance")
    if not rows:
        return None
    top = list(reversed(rows[:20]))
    names = [r["feature"] for r in top]
    return laid_out(
        "Permutation importance",
        [
            {
                "type": "bar",
                "orientation": "h",
                "x": [r["importance"] for r in top],
                "y": names,
                "error_x": {"type": "data", "array": [r["std"] for r in top]},
                "hovertemplate": "%{y}: %{x:.4f}<extra></extra>",
            }
        ],
        detail=f"drop in {report.get('primary_metric', 'score')} when a feature is shuffled",
        height=_feature_height(len(top)),
        yaxis=_feature_axis(names),
    )


def stability(report: dict[str, Any]) -> Figure | None:
    rows = [r for r in report.get("stability") or [] if r.get("psi") is not None]
    if not rows:
        return None
    # Horizontal bars, like importance: feature names read left to right on a phone instead of
    # being turned and cut off under the axis. The first feature on top.
    rows = list(reversed(rows))
    names = [r["feature"] for r in rows]
    colours = [
        "#1d7a3a" if r["psi"] < 0.1 else "#8a5a00" if r["psi"] < 0.25 else "#b3261e" for r in rows
    ]
    return laid_out(
        "Population stability index per feature",
        [
            {
                "type": "bar",
                "orientation": "h",
                "x": [r["psi"] for r in rows],
                "y": names,
                "marker": {"color": colours},
                "hovertemplate": "%{y}: PSI %{x:.3f}<extra></extra>",
            }
        ],
        detail="reference vs holdout; dashed line: 0.25, a shift",
        height=_feature_height(len(rows)),
        xaxis={"title": {"text": "PSI"}, "rangemode": "tozero"},
        yaxis=_feature_axis(names),
        shapes=[
            {
                "type": "line",
                "yref": "paper",
                "x0": 0.25,
                "x1": 0.25,
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dash", "color": "#b3261e"},
            }
        ],
    )


def champion(report: dict[str, Any]) -> Figure | None:
    data = report.get("champion") or {}
    if not data.get("comparable"):
        return None
    keys = list(data["metrics"])
    mine = report.get("metrics", {})
    return laid_out(
        "Champion vs this version",
        [
            {"type": "bar", "x": keys, "y": [data["metrics"][k] for k in keys], "name": "champion"},
            {"type": "bar", "x": keys, "y": [mine[k] for k in keys], "name": "this version"},
        ],
        barmode="group",
        xaxis={"type": "category"},
    )


def residuals(report: dict[str, Any]) -> Figure | None:
    data = report.get("metrics", {}).get("residuals")
    if not data:
        return None
    sample = data["sample"]
    return laid_out(
        "Residuals against predictions",
        [
            {
                "x": sample["predicted"],
                "y": sample["residual"],
                "mode": "markers",
                "marker": {"size": 4, "opacity": 0.6},
            }
        ],
        xaxis={"title": {"text": "predicted"}},
        yaxis={"title": {"text": "actual - predicted"}},
    )


ALL = [
    roc,
    precision_recall,
    calibration,
    confusion,
    lift,
    importance,
    stability,
    champion,
    residuals,
]


def figures(report: dict[str, Any]) -> list[tuple[str, Figure]]:
    """Every figure the report supports, with a stable id for the page."""
    found = []
    for build in ALL:
        figure = build(report)
        if figure is not None:
            found.append((f"chart-{build.__name__.replace('_', '-')}", figure))
    return found
