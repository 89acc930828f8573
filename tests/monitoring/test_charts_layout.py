"""A deployment's charts read at 1366 px and at 390 px: what a reader checks, asserted on the
figure dicts the monitoring page hands to plotly.js (the page itself: ``test_charts.py``).

The drawing (no chart wider than its box, no legend over an axis title, the right axis not cut)
was checked in Chromium at both widths; these tests hold the layout choices that make it so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apps.monitoring import charts

START = datetime(2026, 11, 28, tzinfo=UTC)
T = [(START + timedelta(hours=6 * i)).isoformat() for i in range(28)]
LONG_30 = "customer_balance_30_days_average_of_the_month"
LONG_90 = "customer_balance_90_days_average_of_the_month"
MEASURED = ("roc_auc", "accuracy", "precision", "recall", "brier", "positive_rate")


def _found() -> dict[str, Any]:
    n = len(T)
    performance: dict[str, list[float | None]] = {
        name: [0.8] * n for name in (*MEASURED, "estimated_accuracy", "estimated_roc_auc")
    }
    performance["labelled_share"] = [0.5] * n
    performance["label_delay_hours"] = [6.0] * n
    return {
        "t": T,
        "requests": [100] * n,
        "rows": [4800] * n,
        "latency_p50": [4.0] * n,
        "latency_p95": [9.0] * n,
        "latency_p99": [20.0] * n,
        "refused": {"malformed": [1] * n, "server_error": [0] * n},
        "score_psi": [0.05] * n,
        "psi": {name: [0.1] * n for name in ("age", LONG_30, LONG_90)},
        "performance": performance,
    }


MARKERS = [
    {"at": (START + timedelta(hours=10)).isoformat(), "label": "v2 live"},
    {"at": (START + timedelta(days=6, hours=14)).isoformat(), "label": "alert: drift:income"},
]


def _drawn() -> dict[str, dict[str, Any]]:
    drawn = dict(charts.figures(_found(), MARKERS, {"roc_auc": 0.82, "accuracy": 0.79}))
    drawn["compare-scores"] = charts.score_comparison(
        {"live": [0.01] * 100, "shadow": [0.01] * 100}
    )
    return drawn


def test_every_axis_pushes_its_margin_the_right_hand_ones_too():
    drawn = _drawn()
    assert set(drawn) == {
        "traffic",
        "refused",
        "latency",
        "score-drift",
        "performance",
        "feature-drift",
        "compare-scores",
    }
    for name, figure in drawn.items():
        layout = figure["layout"]
        axes = [key for key in layout if key.startswith(("xaxis", "yaxis"))]
        assert {"xaxis", "yaxis"} <= set(axes), name
        for key in axes:
            assert layout[key]["automargin"] is True, (name, key)
    for name in ("traffic", "performance"):  # rows and labelled share, on the right
        assert drawn[name]["layout"]["yaxis2"]["side"] == "right"


def test_legends_sit_below_the_axis_titles_in_room_of_their_own():
    for name, figure in _drawn().items():
        legend = figure["layout"]["legend"]
        # At paper y -0.25 the legend was drawn over the dates and the x axis title; in container
        # coordinates at the bottom, plotly.js reserves its height under them.
        assert (legend["yref"], legend["y"], legend["yanchor"]) == ("container", 0, "bottom"), name
    colourbar = _drawn()["feature-drift"]["data"][0]["colorbar"]
    assert (colourbar["orientation"], colourbar["yref"], colourbar["y"]) == ("h", "container", 0)


def test_the_performance_legend_names_each_metric_once():
    figure = _drawn()["performance"]
    listed = [t["name"] for t in figure["data"] if t.get("showlegend", True)]
    assert listed == [*MEASURED, "labelled share"]
    # Its estimate and its figure at validation share the metric's colour and legend group.
    auc = [t for t in figure["data"] if t.get("legendgroup") == "roc_auc"]
    assert [t["name"] for t in auc] == ["roc_auc", "roc_auc (estimated)", "roc_auc at validation"]
    assert len({t["line"]["color"] for t in auc}) == 1
    assert [t["line"].get("dash") for t in auc] == [None, "dash", "dot"]


def test_feature_names_are_cut_on_the_axis_and_whole_on_hover():
    figure = _drawn()["feature-drift"]
    axis, heatmap = figure["layout"]["yaxis"], figure["data"][0]
    assert axis["type"] == "category" and axis["automargin"] is True
    assert axis["tickvals"] == heatmap["y"] == ["age", LONG_30, LONG_90]
    assert "%{y}" in heatmap["hovertemplate"]
    shown = dict(zip(axis["tickvals"], axis["ticktext"], strict=True))
    assert shown["age"] == "age"
    assert len(shown[LONG_30]) <= 24 and shown[LONG_30] != shown[LONG_90]


def test_switches_are_named_inside_the_plot_and_apart():
    latency = _drawn()["latency"]
    notes = latency["layout"]["annotations"]
    assert [n["text"] for n in notes] == ["v2 live", "alert: drift:income"]
    # The early switch is named to its right, the late one to its left: both stay in the figure.
    assert [n["xanchor"] for n in notes] == ["left", "right"]
    assert notes[0]["yshift"] != notes[1]["yshift"]
    # The top margin holds the title and both rows of names.
    quiet = dict(charts.figures(_found(), []))["latency"]
    assert latency["layout"]["margin"]["t"] > quiet["layout"]["margin"]["t"]


def test_titles_are_short_enough_for_a_phone_and_keep_their_details_in_a_subtitle():
    for name, figure in _drawn().items():
        title = figure["layout"]["title"]
        assert len(title["text"]) <= 40, (name, title["text"])
        assert len(title.get("subtitle", {}).get("text", "")) <= 56, name
    # The page's browser tests and screen readers find the charts by these names.
    names = [f["layout"]["title"]["text"] for f in _drawn().values()]
    for wanted in ("Requests and rows", "Latency", "Score drift", "Feature drift"):
        assert any(n.startswith(wanted) for n in names), wanted
