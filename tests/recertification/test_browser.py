"""In Chromium: carl finds the overdue model on the calendar and opens its periodic review; rita
and ivan attest; the model leaves the overdue list, due again a year ahead."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.recertification import services
from tests.conftest import confirm, sign_in
from tests.recertification.conftest import approved_long_ago

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def attest(page, outcome: str, statement: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label(outcome, exact=True).check()
    page.get_by_label("Statement").fill(statement)
    page.get_by_role("button", name="Attest").click()
    confirm(page)


def test_an_overdue_model_is_recertified_and_leaves_the_overdue_list(people, live, new_page):
    approved_long_ago(live, 400)
    services.sweep()  # the beat's sweep: the model is overdue, its review opened
    carl, rita, ivan = new_page(), new_page(), new_page()
    for page, name in ((carl, "carl"), (rita, "rita"), (ivan, "ivan")):
        sign_in(page, name)

    carl.goto("/reviews/calendar/?state=overdue")
    row = carl.get_by_role("row", name=re.compile("Loan default"))
    expect(row).to_contain_text("Overdue")
    row.get_by_role("link", name="Open the review").click()
    expect(carl.get_by_role("heading", name=re.compile("Periodic review 1"))).to_contain_text(
        "Open"
    )
    expect(carl.get_by_text("Nobody has attested yet")).to_be_visible()

    rita.goto("/")
    rita.get_by_role("link", name="Loan default, periodic review 1").click()
    attest(rita, "Re-certify", "Decisions still match the credit policy; drift within bounds.")
    expect(rita.get_by_text("Attestation recorded.")).to_be_visible()
    ivan.goto("/")
    ivan.get_by_role("link", name="Loan default, periodic review 1").click()
    attest(ivan, "Re-certify", "Latency and errors within the service levels all year.")
    expect(ivan.get_by_text("The review is closed: re-certified.")).to_be_visible()

    carl.goto("/reviews/calendar/?state=overdue")
    expect(carl.get_by_text("No model live in production matches these filters")).to_be_visible()
    carl.goto("/reviews/calendar/")
    next_due = services.add_months(timezone.localdate(), 12)
    row = carl.get_by_role("row", name=re.compile("Loan default"))
    expect(row).to_contain_text(f"{next_due.day} {next_due:%b %Y}")
    expect(row).to_contain_text("re-certification 1")
