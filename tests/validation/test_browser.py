"""Alice uploads through the page, watches validation progress, and reads the report's charts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.registry import services as registry
from tests.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_alice_uploads_watches_progress_and_reads_the_report(people, new_page, worker, models):
    registry.register_model(
        actor=people.alice,
        name="Loan default",
        use_case="Decline loans",
        team=people.retail,
        risk_tier="high",
        risk_owner=people.rita,
    )
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, "alice")
    page.goto("/models/loan-default/versions/new/")
    page.get_by_label("Artifact").set_input_files(
        files=[{"name": "model.skops", "mimeType": "application/zip", "buffer": models.boosting}]
    )
    page.get_by_label("Holdout data").set_input_files(
        files=[{"name": "holdout.csv", "mimeType": "text/csv", "buffer": models.holdout}]
    )
    page.get_by_label("Reference sample (optional)").set_input_files(
        files=[{"name": "train.csv", "mimeType": "text/csv", "buffer": models.reference}]
    )
    page.get_by_label("Target column").fill("default")
    page.get_by_label("Sensitive column (optional)").fill("age_band")
    page.get_by_role("button", name="Upload").click()

    expect(page).to_have_url(re.compile(r"/models/loan-default/versions/1/$"))
    # The section follows the job live: a progress bar with the current step, then the report.
    expect(page.get_by_label("Validation progress")).to_be_visible(timeout=30_000)
    expect(page.locator(".verdict")).to_contain_text("Passed", timeout=90_000)
    for title in (
        "ROC curve",
        "Calibration",
        "Confusion matrix",
        "Permutation importance",
        "Population stability index per feature",
    ):
        expect(page.locator(".chart .main-svg").first).to_be_visible()
        expect(page.locator(".chart", has_text=title).first).to_be_visible()
    expect(page.get_by_role("heading", name="Fairness across “age_band”")).to_be_visible()
    assert page.locator(".chart .main-svg").count() >= 7
    assert errors == []
