"""Three people in three browsers: Alice requests review, Ivan approves, Rita signs off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import confirm, sign_in
from tests.reviews.conftest import new_version

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def decide(page, verdict: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label(verdict).check()
    page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Record decision").click()
    confirm(page)  # "Record this decision?"


def test_alice_requests_review_ivan_approves_rita_signs_off(people, alices_model, files, new_page):
    new_version(alices_model, people.alice, files)
    alice, ivan, rita = new_page(), new_page(), new_page()
    for page, name in ((alice, "alice"), (ivan, "ivan"), (rita, "rita")):
        sign_in(page, name)

    alice.goto("/models/loan-default/versions/1/")
    alice.get_by_label("Summary").fill("AUC 0.81 on the holdout; latency 2 ms. Ready for IT.")
    alice.get_by_role("button", name="Request review").click()
    expect(alice.get_by_text("Review requested; the reviewers have been notified.")).to_be_visible()

    ivan.goto("/")
    expect(ivan.get_by_role("link", name=re.compile(r"Inbox 1"))).to_be_visible()
    ivan.get_by_role("link", name="Loan default v1").first.click()
    decide(ivan, "Approved", "Resources and monitoring are in place.")
    expect(ivan.get_by_text("Recorded: approved.")).to_be_visible()

    rita.goto("/reviews/")
    rita.get_by_role("link", name="Loan default v1").click()
    expect(rita.get_by_text("“Resources and monitoring are in place.”")).to_be_visible()
    decide(rita, "Approved", "Risk accepted for retail lending up to 50k.")
    expect(rita.get_by_text("Recorded: approved.")).to_be_visible()

    alice.goto("/models/loan-default/versions/1/")
    expect(alice.get_by_role("heading", name=re.compile("Version 1"))).to_contain_text("Approved")
    expect(alice.get_by_role("link", name=re.compile(r"Inbox 2"))).to_be_visible()
    alice.get_by_role("link", name=re.compile(r"Inbox")).click()
    expect(alice.get_by_text("Ivan signed off Loan default v1")).to_be_visible()
    expect(alice.get_by_text("Rita signed off Loan default v1")).to_be_visible()
