"""Plotly figures of a validation report, as plain JSON (drawn in the page by plotly.js).

Each function takes the report's JSON and returns a figure dict, or None when the report has
nothing to draw for it (a regression model has no ROC curve).
"""

from __future__ import annotations

from typing import Any

Figure = dict[str, Any]

_MARGIN = {"l": 60, "r": 20, "t": 40, "b": 50}
_LAYOUT = {
    "margin": _MARGIN,
    "height": 340,
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "#fbfcfd",
    "legend": {"orientation": "h", "y": -0.2},
}
_DIAGONAL = {
    "x": [0, 1],
    "y": [0, 1],
    "mode": "lines",
    "name": "chance",
    "line": {"dash": "dot", "color": "#9aa5b1"},
    "hoverinfo": "skip",
}


def _figure(title: str, data: list[dict[str, Any]], **layout: Any) -> Figure:
    return {"data": data, "layout": {**_LAYOUT, "title": {"text": title, "x": 0}, **layout}}


def roc(report: dict[str, Any]) -> Figure | None:
    curve = report.get("metrics", {}).get("roc_curve")
    if not curve:
        return None
    auc = report["metrics"].get("roc_auc")
    return _figure(
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
    return _figure(
        f"Precision-recall (average precision {report['metrics'].get('pr_auc', 0):.3f})",
        [{"x": curve["recall"], "y": curve["precision"], "mode": "lines", "name": "this version"}],
        xaxis={"title": {"text": "recall"}, "range": [0, 1]},
        yaxis={"title": {"text": "precision"}, "range": [0, 1.02]},
    )


def calibration(report: dict[str, Any]) -> Figure | None:
    curve = report.get("metrics", {}).get("calibration")
    if not curve:
        return None
    return _figure(
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


def confusion(report: dict[str, Any]) -> Figure | None:
    matrix = report.get("metrics", {}).get("confusion_matrix")
    if not matrix:
        return None
    labels = report.get("classes") or [str(i) for i in range(len(matrix))]
    return _figure(
        "Confusion matrix",
        [
            {
                "type": "heatmap",
                "z": matrix,
                "x": labels,
                "y": labels,
                "colorscale": "Blues",
                "text": [[str(v) for v in row] for row in matrix],
                "texttemplate": "%{text}",
                "showscale": False,
            }
        ],
        xaxis={"title": {"text": "predicted"}, "type": "category"},
        yaxis={"title": {"text": "actual"}, "type": "category", "autorange": "reversed"},
    )


def lift(report: dict[str, Any]) -> Figure | None:
    data = report.get("metrics", {}).get("lift")
    if not data:
        return None
    shares = [f"{f:.0%}" for f in data["fraction"]]
    return _figure(
        "Cumulative lift and gain by score decile",
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
        xaxis={"title": {"text": "top share of rows by score"}},
        yaxis={"title": {"text": "lift"}},
        yaxis2={
            "title": {"text": "gain"},
            "overlaying": "y",
            "side": "right",
            "range": [0, 1],
            "tickformat": ".0%",
        },
    )


def importance(report: dict[str, Any]) -> Figure | None:
    rows = report.get("importance")
    if not rows:
        return None
    top = list(reversed(rows[:20]))
    return _figure(
        f"Permutation importance (drop in {report.get('primary_metric', 'score')})",
        [
            {
                "type": "bar",
                "orientation": "h",
                "x": [r["importance"] for r in top],
                "y": [r["feature"] for r in top],
                "error_x": {"type": "data", "array": [r["std"] for r in top]},
            }
        ],
        height=max(260, 24 * len(top) + 80),
        margin={**_MARGIN, "l": 160},
    )


def stability(report: dict[str, Any]) -> Figure | None:
    rows = [r for r in report.get("stability") or [] if r.get("psi") is not None]
    if not rows:
        return None
    colours = [
        "#1d7a3a" if r["psi"] < 0.1 else "#8a5a00" if r["psi"] < 0.25 else "#b3261e" for r in rows
    ]
    return _figure(
        "Population stability index per feature (reference vs holdout)",
        [
            {
                "type": "bar",
                "x": [r["feature"] for r in rows],
                "y": [r["psi"] for r in rows],
                "marker": {"color": colours},
            }
        ],
        yaxis={"title": {"text": "PSI"}},
        shapes=[
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": 0.25,
                "y1": 0.25,
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
    return _figure(
        "Champion vs this version",
        [
            {"type": "bar", "x": keys, "y": [data["metrics"][k] for k in keys], "name": "champion"},
            {"type": "bar", "x": keys, "y": [mine[k] for k in keys], "name": "this version"},
        ],
        barmode="group",
    )


def residuals(report: dict[str, Any]) -> Figure | None:
    data = report.get("metrics", {}).get("residuals")
    if not data:
        return None
    sample = data["sample"]
    return _figure(
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
