"""Each demo role signs in through Chromium and lands on a dashboard made for that role."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.audit.models import AuditEvent
from tests.conftest import open_nav, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECTED = {
    "alice": ["Data scientist", "Your jobs", "Your recent activity"],
    "bob": ["Data scientist", "Your jobs"],
    "ivan": ["Model operations", "Background work"],
    "rita": ["Risk owner", "Your recent activity"],
    "carl": ["Compliance", "Audit trail integrity", "Security events, last 24 hours"],
    "admin": ["Administrator", "Background work", "Audit trail integrity"],
}


@pytest.mark.parametrize("username", list(EXPECTED))
def test_each_role_signs_in_and_sees_its_dashboard(people, new_page, username):
    page = new_page()
    sign_in(page, username)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="My work")).to_be_visible()
    for text in EXPECTED[username]:
        expect(page.get_by_text(text, exact=True).first).to_be_visible()
    assert page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Audit"
    ).count() == (1 if username in ("carl", "admin") else 0)


def test_a_failed_sign_in_shows_an_error_and_is_audited(people, new_page):
    page = new_page()
    sign_in(page, "alice", "not-her-password")
    expect(page.get_by_role("alert")).to_contain_text("did not match")
    expect(page).to_have_url(re.compile(r"/login/$"))
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.after == {"username": "alice"} and event.user_agent.startswith("Mozilla")


def test_an_operator_watches_a_diagnostic_job_and_compliance_sees_it_in_the_trail(
    people, new_page, worker
):
    ivan = new_page()
    sign_in(ivan, "ivan")
    open_nav(ivan, "Jobs")
    ivan.get_by_label("Diagnostic job steps").fill("3")
    ivan.get_by_role("button", name="Run a diagnostic job").click()
    expect(ivan.get_by_text("Diagnostic job queued")).to_be_visible()
    # The page polls the server; the badge turns to Succeeded without a reload.
    expect(ivan.locator(".badge").first).to_have_text("Succeeded", timeout=30_000)
    expect(ivan.get_by_text("Step 3 of 3").first).to_be_visible()

    carl = new_page()
    sign_in(carl, "carl")
    open_nav(carl, "Audit")
    carl.get_by_label("Action").select_option("job.")
    carl.get_by_role("button", name="Apply").click()
    expect(carl.get_by_role("cell", name="A job succeeded").first).to_be_visible()
    carl.get_by_role("button", name="Verify the whole chain now").click()
    expect(carl.get_by_text("Integrity check passed")).to_be_visible()
