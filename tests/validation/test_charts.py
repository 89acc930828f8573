"""The validation report's figures read at 1366 px and at 390 px: what a reader of the charts
checks, asserted on the figure dicts the page hands to plotly.js.

The drawing itself (no chart wider than its box, no legend over an axis title) was checked in
Chromium at both widths; these tests hold the layout choices that make it so."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from apps.documentation.chart_data import extract_chart
from apps.validation import charts

LONG_30 = "customer_balance_30_days_average_of_the_month"
LONG_90 = "customer_balance_90_days_average_of_the_month"


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _luminance(colour: str) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _hex(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _cell_colour(scale: list[list[Any]], share: float) -> str:
    """The colour plotly.js paints at ``share`` of a colour scale: linear between its stops."""
    for (lo, low), (hi, high) in pairwise(scale):
        if lo <= share <= hi:
            t = (share - lo) / (hi - lo)
            mixed = (round(a + (b - a) * t) for a, b in zip(_hex(low), _hex(high), strict=True))
            return "#" + "".join(f"{v:02x}" for v in mixed)
    raise AssertionError(f"{share} is outside the scale")


def _report(**extra: Any) -> dict[str, Any]:
    """A binary report with everything the charts draw, and two long feature names that differ
    only in their middle."""
    features = [LONG_30, LONG_90, "age", "income", "debt_to_income"]
    return {
        "task": "binary",
        "classes": ["good", "default"],
        "primary_metric": "roc_auc",
        "metrics": {
            "roc_auc": 0.81,
            "pr_auc": 0.6,
            "accuracy": 0.8,
            "confusion_matrix": [[1275, 94], [266, 165]],
            "roc_curve": {"fpr": [0, 0.2, 1], "tpr": [0, 0.7, 1]},
            "pr_curve": {"recall": [0, 0.5, 1], "precision": [1, 0.7, 0.3]},
            "calibration": {
                "mean_predicted": [0.1, 0.5, 0.9],
                "fraction_positive": [0.12, 0.48, 0.85],
                "count": [600, 600, 600],
            },
            "lift": {
                "fraction": [0.1 * k for k in range(1, 11)],
                "lift": [3.1, 2.5, 2.2, 1.9, 1.7, 1.5, 1.3, 1.2, 1.1, 1.0],
                "gain": [0.31, 0.5, 0.65, 0.76, 0.84, 0.9, 0.94, 0.97, 0.99, 1.0],
            },
            "residuals": {"sample": {"predicted": [1.0, 2.0], "residual": [0.1, -0.2]}},
        },
        "importance": [
            {"feature": name, "importance": 0.2 / (i + 1), "std": 0.01}
            for i, name in enumerate(features)
        ],
        "stability": [{"feature": name, "psi": 0.05 * (i + 1)} for i, name in enumerate(features)],
        "champion": {"comparable": True, "metrics": {"roc_auc": 0.79, "accuracy": 0.78}},
        **extra,
    }


def _drawn(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(charts.figures(report))


def test_the_confusion_matrix_is_coloured_by_its_counts_darker_for_more():
    figure = charts.confusion(_report())
    assert figure is not None
    heatmap = figure["data"][0]
    assert heatmap["type"] == "heatmap"
    assert heatmap["z"] == [[1275, 94], [266, 165]]
    assert (heatmap["x"], heatmap["y"]) == (["good", "default"], ["good", "default"])
    # The scale runs from no rows to the largest count, and every step along it is darker.
    assert (heatmap["zmin"], heatmap["zmax"]) == (0, 1275)
    scale = heatmap["colorscale"]
    assert [stop for stop, _ in scale] == sorted(stop for stop, _ in scale)
    shades = [_luminance(colour) for _, colour in scale]
    assert all(a > b for a, b in pairwise(shades)), shades
    assert heatmap.get("reversescale") is not True


def test_each_cell_shows_its_count_in_a_colour_that_reads_on_that_cell():
    matrix = [[812, 40, 3, 0], [55, 230, 31, 2], [4, 29, 150, 9], [0, 1, 12, 18]]
    classes = ["approve", "refer", "decline", "fraud review"]
    report = _report(classes=classes)
    report["metrics"]["confusion_matrix"] = matrix
    figure = charts.confusion(report)
    assert figure is not None
    scale = figure["data"][0]["colorscale"]
    written = {(a["y"], a["x"]): a for a in figure["layout"]["annotations"]}
    assert len(written) == 16
    for actual, row in zip(classes, matrix, strict=True):
        for predicted, count in zip(classes, row, strict=True):
            note = written[(actual, predicted)]
            assert note["text"].replace(",", "") == str(count)
            cell = _cell_colour(scale, count / 812)
            assert _contrast(note["font"]["color"], cell) >= 4.5, (actual, predicted, cell)
    # The darkest cell gets light text, an empty one dark text.
    assert _luminance(written[("approve", "approve")]["font"]["color"]) > 0.5
    assert _luminance(written[("approve", "fraud review")]["font"]["color"]) < 0.5


def test_every_axis_pushes_its_margin_instead_of_being_cut():
    drawn = _drawn(_report())
    assert set(drawn) == {
        "chart-roc",
        "chart-precision-recall",
        "chart-calibration",
        "chart-confusion",
        "chart-lift",
        "chart-importance",
        "chart-stability",
        "chart-champion",
        "chart-residuals",
    }
    for name, figure in drawn.items():
        layout = figure["layout"]
        axes = [key for key in layout if key.startswith(("xaxis", "yaxis"))]
        assert {"xaxis", "yaxis"} <= set(axes), name
        for key in axes:
            assert layout[key]["automargin"] is True, (name, key)
    # The lift chart's gain axis on the right is one of them.
    assert drawn["chart-lift"]["layout"]["yaxis2"]["side"] == "right"


@pytest.mark.parametrize(
    ("chart", "axis"),
    [("chart-importance", "yaxis"), ("chart-stability", "yaxis"), ("chart-confusion", "xaxis")],
)
def test_category_axes_carry_their_labels_with_automargin(chart, axis):
    layout = _drawn(_report())[chart]["layout"]
    assert layout[axis]["type"] == "category"
    assert layout[axis]["automargin"] is True


def test_legends_sit_below_the_axis_titles_in_room_of_their_own():
    for name, figure in _drawn(_report()).items():
        legend = figure["layout"]["legend"]
        # In container coordinates at the bottom, plotly.js reserves the legend's height under
        # the x axis title; at paper y -0.2 it drew the legend over that title.
        assert (legend["yref"], legend["y"], legend["yanchor"]) == ("container", 0, "bottom"), name
        assert legend["orientation"] == "h"


def test_long_feature_names_are_cut_on_the_axis_and_whole_on_hover():
    for chart in ("chart-importance", "chart-stability"):
        figure = _drawn(_report())[chart]
        axis, bars = figure["layout"]["yaxis"], figure["data"][0]
        assert bars["orientation"] == "h"  # names read left to right, also on a phone
        assert axis["tickvals"] == bars["y"]  # the full names stay the categories
        assert LONG_30 in bars["y"] and "%{y}" in bars["hovertemplate"]
        shown = dict(zip(axis["tickvals"], axis["ticktext"], strict=True))
        assert all(len(text) <= charts.LABEL_CHARS for text in shown.values())
        assert shown["age"] == "age" and shown["debt_to_income"] == "debt_to_income"
        # Two names that differ only in the middle stay told apart once cut.
        assert shown[LONG_30] != shown[LONG_90]
        assert "30" in shown[LONG_30] and "90" in shown[LONG_90]


def test_the_importance_chart_grows_with_its_features():
    few = charts.importance(_report())
    many = charts.importance(
        _report(importance=[{"feature": f"f{i}", "importance": 0.1, "std": 0} for i in range(20)])
    )
    assert few is not None and many is not None
    assert many["layout"]["height"] >= 20 * 20 > few["layout"]["height"]


def test_titles_are_short_enough_for_a_phone_and_keep_their_details_in_a_subtitle():
    for name, figure in _drawn(_report()).items():
        title = figure["layout"]["title"]
        # 15 px system-ui: about 40 characters fit the 316 px a 390 px screen leaves a chart.
        assert len(title["text"]) <= 40, (name, title["text"])
        assert len(title.get("subtitle", {}).get("text", "")) <= 56, name
    assert _drawn(_report())["chart-precision-recall"]["layout"]["title"]["subtitle"] == {
        "text": "average precision 0.600",
        "font": {"size": 11, "color": "#52606d"},
    }


def test_the_exports_keep_the_subtitle_with_the_title():
    figure = charts.precision_recall(_report())
    assert figure is not None
    assert extract_chart(figure).title == "Precision-recall, average precision 0.600"
