"""The change analytics chart reads at 1366 px and at 390 px: asserted on the figure dict the
page hands to plotly.js (drawn and checked in Chromium at both widths by hand)."""

from __future__ import annotations

from datetime import date, timedelta

from apps.analytics import charts
from apps.analytics.changes import KINDS, ChangeAnalytics


def _found(kinds: list[str], bucket: str = "day") -> ChangeAnalytics:
    days = [date(2026, 11, 2) + timedelta(days=i) for i in range(5)]
    return ChangeAnalytics(
        first=days[0],
        last=days[-1],
        bucket=bucket,
        total=5 * len(kinds),
        by_bucket=[(day, kind, 1) for day in days for kind in kinds],
        by_model=[],
        by_team=[],
        by_actor=[],
        unusual=[],
    )


def test_the_legend_has_room_of_its_own_below_the_axis_title():
    kinds = list(KINDS)
    figure = charts.changes_over_time(_found(kinds))
    layout = figure["layout"]
    assert [t["name"] for t in figure["data"]] == [KINDS[k] for k in kinds]
    legend = layout["legend"]
    assert (legend["yref"], legend["y"], legend["yanchor"]) == ("container", 0, "bottom")
    for key in ("xaxis", "yaxis"):
        assert layout[key]["automargin"] is True
    # On a phone each kind takes a legend line: the figure grows so the bars keep their room.
    assert layout["height"] > charts.changes_over_time(_found(kinds[:1]))["layout"]["height"]


def test_the_title_fits_a_phone_and_says_what_a_bar_is():
    weekly = charts.changes_over_time(_found([next(iter(KINDS))], bucket="week"))["layout"]
    assert weekly["title"]["text"] == "Changes per week"
    assert "weeks start on Monday" in weekly["title"]["subtitle"]["text"]
    daily = charts.changes_over_time(_found([next(iter(KINDS))]))["layout"]
    assert daily["title"]["text"] == "Changes per day"
    assert daily["xaxis"]["title"]["text"] == "Day"
