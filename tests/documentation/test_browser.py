"""In Chromium: alice writes the documentation, rita's high finding blocks approval until it is
remediated and closed, carl downloads the approved PDF and finds its hash in the audit trail;
and the offline HTML export opens with the network off, drawing its charts from itself."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.documentation import services
from apps.documentation.models import Revision
from apps.registry import storage
from tests.conftest import confirm, sign_in
from tests.deployments.conftest import approved_version
from tests.documentation.test_documentation import export_now
from tests.reviews.conftest import new_version

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def decide(page, verdict: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label(verdict).check()
    page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Record decision").click()
    confirm(page)


def test_documentation_findings_and_the_audited_pdf_from_upload_to_approval(
    people, alices_model, files, new_page, worker, tmp_path
):
    services.update_policy(
        actor=people.admin,
        risk_tier="high",
        required=["intended_use", "methodology"],
        note="What supervisors ask",
    )
    new_version(alices_model, people.alice, files)
    alice, rita, ivan, carl = new_page(), new_page(), new_page(), new_page()
    for page, name in ((alice, "alice"), (rita, "rita"), (ivan, "ivan"), (carl, "carl")):
        sign_in(page, name)

    # Alice cannot send it to review undocumented; she writes the two required sections.
    alice.goto("/models/loan-default/versions/1/")
    alice.get_by_role("link", name="Documentation").click()
    expect(alice.get_by_role("note").filter(has_text="Required before review")).to_contain_text(
        "Intended use and users"
    )
    alice.get_by_role("link", name="Edit the narrative").click()
    alice.get_by_label(re.compile("Intended use and users")).fill(
        "Scores **retail loan applications** up to €50,000."
    )
    alice.get_by_label(re.compile("Methodology and alternatives")).fill(
        "Logistic regression; gradient boosting was considered."
    )
    alice.get_by_role("button", name="Save").click()
    expect(alice.get_by_text("Saved as revision 1.")).to_be_visible()
    expect(alice.locator("#part-intended_use .doc-narrative strong")).to_have_text(
        "retail loan applications"
    )
    alice.get_by_role("link", name="Overview").click()
    alice.get_by_label("Summary").fill("AUC 0.81; documentation written.")
    alice.get_by_role("button", name="Request review").click()
    expect(alice.get_by_text("Review requested; the reviewers have been notified.")).to_be_visible()

    # Rita raises a high finding; her approval is refused while it is open.
    rita.goto("/models/loan-default/versions/1/")
    rita.get_by_text("Raise a finding").click()
    rita.get_by_label("Title").fill("Holdout overlaps the training period")
    rita.get_by_label("Severity").select_option("high")
    rita.get_by_label("Category").select_option("data")
    rita.get_by_label("Description").fill("March 2024 is in both.")
    rita.get_by_label("Owner").fill("alice")
    rita.get_by_label("Due date").fill((timezone.localdate() + timedelta(days=14)).isoformat())
    rita.get_by_role("button", name="Raise the finding").click()
    decide(rita, "Approved", "Risk accepted.")
    expect(rita.get_by_text(re.compile("cannot be approved while these are open"))).to_be_visible()

    # Alice remediates; rita verifies and closes, then approves; ivan approves.
    alice.goto("/models/loan-default/versions/1/")
    alice.get_by_role("link", name="Holdout overlaps the training period").click()
    alice.get_by_label("What was done (Markdown)").fill("Re-split by month; March removed.")
    alice.get_by_role("button", name="Send the remediation").click()
    rita.goto("/models/loan-default/versions/1/")
    rita.get_by_role("link", name="Holdout overlaps the training period").click()
    rita.get_by_label("Reason").fill("Checked the new split.")
    rita.get_by_role("button", name="Verify and close").click()
    confirm(rita)
    expect(rita.get_by_text("Closed", exact=False).first).to_be_visible()
    rita.goto("/models/loan-default/versions/1/")
    decide(rita, "Approved", "Risk accepted.")
    expect(rita.get_by_text("Recorded: approved.")).to_be_visible()
    ivan.goto("/models/loan-default/versions/1/")
    decide(ivan, "Approved", "Runs within the latency policy.")
    expect(ivan.get_by_text("Recorded: approved.")).to_be_visible()

    # Carl exports the frozen documentation as a PDF and proves its hash in the audit trail.
    carl.goto("/models/loan-default/versions/1/documentation/")
    expect(carl.get_by_role("heading", level=2, name=re.compile("approved"))).to_be_visible()
    carl.get_by_label("Format").select_option("pdf")
    carl.get_by_role("button", name="Export").click()
    download_link = carl.get_by_role("link", name=re.compile(r"Download .*\.pdf"))
    expect(download_link).to_be_visible(timeout=30_000)
    shown = carl.locator("#export-sha256").inner_text()
    with carl.expect_download() as started:
        download_link.click()
    saved = tmp_path / "documentation.pdf"
    started.value.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == shown
    carl.goto("/audit/")
    carl.get_by_label("Action").select_option("documentation.exported")
    carl.get_by_role("button", name="Apply").click()
    expect(carl.get_by_text(shown).first).to_be_visible()


def test_the_offline_html_export_loads_nothing_from_the_network(
    people, alices_model, models, browser, tmp_path
):
    version = approved_version(people, alices_model, models.logistic, models.holdout)
    revision = Revision.objects.get(version=version)
    export = export_now(revision, people.carl, "html")
    path = Path(tmp_path) / "documentation.html"
    with storage.open_blob(export.key) as stored:
        path.write_bytes(stored.read())

    context = browser.new_context(offline=True)
    try:
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(path.as_uri())
        expect(page.get_by_role("heading", level=1)).to_contain_text("Loan default version 1")
        charts = page.locator("#part-validation .chart .main-svg")
        expect(charts.first).to_be_visible()
        assert charts.count() >= 2  # the report's curves, drawn by the plotly.js inside the file
        assert requested == [path.as_uri()], requested
    finally:
        context.close()
