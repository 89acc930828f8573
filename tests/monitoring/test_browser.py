"""Model operations open the portfolio in Chromium, see the drifting model, and read its charts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.monitoring import health, rollup
from tests.conftest import open_nav, sign_in
from tests.monitoring.test_portfolio import _requests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ivan_finds_the_drifting_model_and_its_charts_render(people, live, new_page):
    _requests(live, 40, income_mean=80)
    rollup.fold()
    health.evaluate()
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, "ivan")
    expect(page.get_by_text("Live models needing attention")).to_be_visible()

    open_nav(page, "Monitoring")
    row = page.get_by_role("row", name=re.compile("Loan default"))
    expect(row.get_by_text("Alert", exact=True)).to_be_visible()
    expect(row).to_contain_text("Drift in income")
    row.get_by_role("link", name="Charts").click()

    expect(page.get_by_role("heading", name="Loan default in Production")).to_be_visible()
    for name in ("Requests and rows", "Latency", "Score drift", "Feature drift"):
        chart = page.get_by_role("img", name=re.compile(name))
        expect(chart.locator("svg.main-svg").first).to_be_attached()
    assert errors == []
