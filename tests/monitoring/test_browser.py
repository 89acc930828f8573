"""Model operations open the portfolio in Chromium, see the drifting model, and read its charts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.monitoring import health, rollup
from tests.conftest import confirm, open_nav, sign_in
from tests.monitoring.test_portfolio import _requests
from tests.validation.conftest import models

__all__ = ["models"]  # a fixture: the real models the rollback test uploads

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
        chart = page.get_by_role("figure", name=re.compile(name))
        expect(chart.locator("svg.main-svg").first).to_be_attached()
    assert errors == []


def test_ivan_rolls_the_drifting_version_back_and_rita_reads_the_decision(
    people, alices_model, models, new_page
):
    from datetime import timedelta

    import numpy as np
    from django.utils import timezone

    from apps.deployments import services as deployments
    from apps.deployments.models import Deployment
    from apps.monitoring.models import MonitoringReview
    from tests.deployments.conftest import approved_version, deploy_now
    from tests.monitoring.conftest import log

    v1 = approved_version(people, alices_model, models.logistic, models.holdout)
    v2 = approved_version(people, alices_model, models.boosting, models.holdout)
    for version in (v1, v2):
        for environment in ("staging", "production"):
            deploy_now(deployments.request_deployment(version.pk, environment, actor=people.ivan))
    current = Deployment.objects.get(version=v2, environment__slug="production")
    assert current.status == Deployment.Status.LIVE
    rng = np.random.default_rng(5)
    now = timezone.now()
    for i in range(40):  # incomes far above the holdout's (around 50)
        log(
            current,
            now - timedelta(minutes=i),
            {
                "income": rng.normal(90, 10, 5).tolist(),
                "debt": rng.normal(12, 4, 5).tolist(),
                "tenure": rng.integers(0, 30, 5).tolist(),
            },
            rng.random(5).tolist(),
        )
    rollup.fold()
    health.evaluate()
    assert MonitoringReview.objects.filter(deployment=current).exists()

    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, "ivan")
    open_nav(page, "Monitoring")
    row = page.get_by_role("row", name=re.compile("Loan default.*Production"))
    expect(row.get_by_text("Alert", exact=True)).to_be_visible()
    row.get_by_role("link", name="Charts").click()
    chart = page.get_by_role("figure", name=re.compile("Feature drift"))
    expect(chart.locator("svg.main-svg").first).to_be_attached()
    review = page.locator("#review li").filter(has_text="Drift in income")
    review.get_by_label("Decision").select_option(label="Roll back")
    review.get_by_label("Reason").fill("Incomes moved past what v2 was trained on; v1 holds up")
    review.get_by_role("button", name="Record the decision").click()
    confirm(page)  # "Record this decision?"
    expect(page.get_by_text("Decided: roll back.")).to_be_visible()
    assert errors == []
    restored = Deployment.objects.get(environment__slug="production", status="live")
    assert restored.version == v1 and restored.kind == Deployment.Kind.ROLLBACK
    # The rolled-back deployment's other reviews (its score drifted too) are answered with it.
    assert set(
        MonitoringReview.objects.filter(deployment=current).values_list("decision", flat=True)
    ) == {"rollback"}

    rita = new_page()
    sign_in(rita, "rita")
    rita.goto("/monitoring/alerts/")
    rita.get_by_role("link", name="Loan default in Production").first.click()
    decided = rita.locator("#review li").filter(
        has=rita.locator("strong", has_text="Drift in income")
    )
    expect(decided).to_contain_text("Decided by ivan")
    expect(decided).to_contain_text("Roll back")
    expect(decided).to_contain_text("Incomes moved past what v2 was trained on")
