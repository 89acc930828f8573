"""Findings: raised by those who check a model, answered by its team, verified by the raiser;
an open high or critical finding blocks approval, carries over, and is seen only by those who
see the model."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict
from apps.findings import services
from apps.findings.models import Finding
from apps.notifications.models import Notification
from apps.registry.models import ModelVersion
from apps.reviews import services as reviews
from tests.reviews.conftest import new_version

pytestmark = pytest.mark.django_db

DUE = timezone.localdate() + timedelta(days=30)


def raise_on(version, actor, severity="high", **more):  # type: ignore[no-untyped-def]
    fields = {
        "title": "Holdout overlaps the training period",
        "severity": severity,
        "category": "data",
        "description": "Rows from **March** are in both.",
        "owner": version.model.owner if "owner" not in more else more.pop("owner"),
        "due_date": DUE,
        **more,
    }
    return services.raise_finding(version.pk, actor=actor, **fields)


@pytest.fixture
def in_review(people, alices_model, files) -> ModelVersion:
    version = new_version(alices_model, people.alice, files)
    reviews.request_review(version.pk, actor=people.alice, summary="Ready")
    return version


def test_a_finding_goes_from_raised_to_remediated_to_closed_each_step_said_and_audited(
    people, in_review
):
    finding = raise_on(in_review, people.rita, owner=people.alice)
    assert (finding.state, finding.model, finding.raised_by) == (
        "open",
        in_review.model,
        people.rita,
    )
    told = Notification.objects.filter(event="findings.raised")
    assert {n.recipient.username for n in told} == {"alice", "rita"}
    with pytest.raises(PermissionDenied, match="Only the finding's owner, alice"):
        services.remediate(finding.pk, actor=people.bob, remediation="x")
    with pytest.raises(Conflict, match="verified once its owner has answered"):
        services.close(finding.pk, actor=people.rita, reason="x")
    services.remediate(finding.pk, actor=people.alice, remediation="Split by month; re-ran.")
    with pytest.raises(PermissionDenied, match="Only rita, who raised the finding"):
        services.close(finding.pk, actor=people.ivan, reason="Looks fine")
    services.reopen(finding.pk, actor=people.rita, reason="April still overlaps")
    finding.refresh_from_db()
    assert finding.state == "open" and finding.last_reason == "April still overlaps"
    services.remediate(finding.pk, actor=people.alice, remediation="April removed too.")
    services.close(finding.pk, actor=people.rita, reason="Checked the split")
    finding.refresh_from_db()
    assert finding.state == "closed" and finding.closed_at is not None
    assert list(
        AuditEvent.objects.filter(action__startswith="finding.")
        .order_by("id")
        .values_list("action", "actor_username")
    ) == [
        ("finding.raised", "rita"),
        ("finding.remediated", "alice"),
        ("finding.reopened", "rita"),
        ("finding.remediated", "alice"),
        ("finding.closed", "rita"),
    ]
    assert (
        Notification.objects.filter(recipient=people.rita, event="findings.remediated").count() == 2
    )
    assert Notification.objects.filter(recipient=people.alice, event="findings.closed").exists()


def test_bad_findings_are_refused_with_a_message(people, in_review):
    past = timezone.localdate() - timedelta(days=1)
    with pytest.raises(ValidationError, match="is in the past"):
        raise_on(in_review, people.rita, due_date=past)
    with pytest.raises(ValidationError, match="member of Retail credit"):
        raise_on(in_review, people.rita, owner=people.bob)
    with pytest.raises(ValidationError, match="Choose one of"):
        raise_on(in_review, people.rita, severity="urgent")
    with pytest.raises(ValidationError, match="title"):
        raise_on(in_review, people.rita, title="  ")
    for builder in (people.alice, people.bob):  # the team does not raise findings on itself
        with pytest.raises(PermissionDenied, match="Model operations, risk owners and compliance"):
            raise_on(in_review, builder)
    assert not Finding.objects.exists()


def test_an_open_high_finding_blocks_approval_until_closed_and_carries_over(
    people, alices_model, files, in_review
):
    minor = raise_on(in_review, people.ivan, severity="low", title="Typo in the notes")
    high = raise_on(in_review, people.rita)
    for reviewer in (people.ivan, people.rita):  # every approving sign-off is refused
        with pytest.raises(Conflict, match="High finding “Holdout overlaps the training period”"):
            reviews.decide(in_review.pk, actor=reviewer, verdict="approve", reason="Looks ok")
    services.remediate(high.pk, actor=people.alice, remediation="Fixed the split")
    with pytest.raises(Conflict, match="remediation to verify"):  # remediated is not closed
        reviews.decide(in_review.pk, actor=people.rita, verdict="approve", reason="Risk ok")
    services.close(high.pk, actor=people.rita, reason="Verified")
    reviews.decide(in_review.pk, actor=people.ivan, verdict="approve", reason="Infra ok")
    reviews.decide(in_review.pk, actor=people.rita, verdict="approve", reason="Risk ok")
    in_review.refresh_from_db()
    assert in_review.status == ModelVersion.Status.APPROVED
    assert minor.state == "open"  # a low finding never blocks

    # An open high finding of version 2 still stands against version 3.
    later = new_version(alices_model, people.alice, files)
    reviews.request_review(later.pk, actor=people.alice, summary="Next")
    carried = raise_on(in_review, people.carl, severity="critical", title="No sign-off record")
    assert services.blocking(later) == [carried]
    with pytest.raises(Conflict, match="raised on version 1"):
        reviews.decide(later.pk, actor=people.rita, verdict="approve", reason="Risk ok")
    reviews.decide(later.pk, actor=people.rita, verdict="reject", reason="Not with that open")


def test_a_policy_exception_review_proceeds_despite_open_findings(people, bobs_model, files):
    failed = new_version(
        bobs_model, people.bob, files, status=ModelVersion.Status.VALIDATION_FAILED
    )
    reviews.request_review(
        failed.pk, actor=people.bob, summary="Known gap", justification="Needed for the audit"
    )
    raise_on(failed, people.rita, owner=people.bob)
    reviews.decide(failed.pk, actor=people.ivan, verdict="approve", reason="Exception accepted")
    reviews.decide(failed.pk, actor=people.rita, verdict="approve", reason="Exception accepted")
    failed.refresh_from_db()
    assert failed.status == ModelVersion.Status.APPROVED


def test_the_findings_api_for_every_role(people, api, in_review, bobs_model, files):
    body = {
        "model": "loan-default",
        "version": in_review.number,
        "title": "Calibration drifts above 0.6",
        "severity": "high",
        "category": "performance",
        "description": "See the calibration chart.",
        "owner": "alice",
        "due_date": DUE.isoformat(),
    }
    for who, status in [("alice", 403), ("bob", 404)]:
        answer = api(getattr(people, who)).post("/api/v1/findings/", body, format="json")
        assert answer.status_code == status, (who, answer.content)
    raised = api(people.rita).post("/api/v1/findings/", body, format="json")
    assert raised.status_code == 201, raised.content
    finding = raised.json()
    assert (finding["state"], finding["owner"], finding["raised_by"]) == ("open", "alice", "rita")
    past = api(people.carl).post(
        "/api/v1/findings/", {**body, "due_date": "2020-01-01"}, format="json"
    )
    assert past.status_code == 400 and "in the past" in str(past.json())
    url = f"/api/v1/findings/{finding['id']}/"
    for who, status in [("alice", 200), ("rita", 200), ("carl", 200), ("ivan", 200), ("bob", 404)]:
        assert api(getattr(people, who)).get(url).status_code == status, who
    assert api(people.bob).get("/api/v1/findings/").json()["count"] == 0
    assert api(people.ivan).post(url + "close/", {"reason": "x"}, format="json").status_code == 403
    remediated = api(people.alice).post(
        url + "remediate/", {"remediation": "Recalibrated"}, format="json"
    )
    assert remediated.status_code == 200 and remediated.json()["state"] == "remediated"
    again = api(people.alice).post(url + "remediate/", {"remediation": "Again"}, format="json")
    assert again.status_code == 409
    closed = api(people.rita).post(url + "close/", {"reason": "Checked"}, format="json")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    listed = api(people.carl).get("/api/v1/findings/?state=closed&severity=high").json()
    assert [f["id"] for f in listed["results"]] == [finding["id"]]
    wrong = api(people.carl).get("/api/v1/findings/?severity=urgent")
    assert wrong.status_code == 400 and "severity" in str(wrong.json())


def test_the_register_filters_exports_and_shows_what_is_overdue(client, people, in_review):
    raise_on(in_review, people.rita, title='=HYPERLINK("x")')
    late = raise_on(in_review, people.carl, severity="medium", title="Docs missing")
    Finding.objects.filter(pk=late.pk).update(due_date=timezone.localdate() - timedelta(days=3))
    client.force_login(people.carl)
    page = client.get("/findings/?overdue=on").content.decode()
    assert "Docs missing" in page and "(overdue)" in page and "HYPERLINK" not in page
    exported = client.get("/findings/?format=csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert {r["title"] for r in rows} == {'\'=HYPERLINK("x")', "Docs missing"}
    assert {r["overdue"] for r in rows if r["title"] == "Docs missing"} == {"yes"}
    assert "Select a valid choice" in client.get("/findings/?severity=urgent").content.decode()
    client.force_login(people.bob)
    assert "No finding matches" in client.get("/findings/").content.decode()
    client.force_login(people.alice)
    dashboard = client.get("/").content.decode()
    assert "Docs missing" in dashboard and "yours to remediate" in dashboard


def test_the_pages_raise_answer_and_close_a_finding(client, people, in_review):
    page = f"/models/loan-default/versions/{in_review.number}/"
    client.force_login(people.alice)
    assert "Raise the finding" not in client.get(page).content.decode()
    client.force_login(people.rita)
    assert "Raise the finding" in client.get(page).content.decode()
    form = {
        "title": "Holdout overlaps training",
        "severity": "high",
        "category": "data",
        "description": "**March** is in both. <script>alert(1)</script>",
        "owner": "nobody",
        "due_date": DUE.isoformat(),
    }
    unknown = client.post(f"/findings/raise/loan-default/{in_review.number}/", form, follow=True)
    assert "There is no user named “nobody”." in unknown.content.decode()
    raised = client.post(
        f"/findings/raise/loan-default/{in_review.number}/", {**form, "owner": "alice"}, follow=True
    )
    shown = raised.content.decode()
    assert "Finding raised; alice is told and answers it." in shown
    assert "Approval is blocked until these are closed" in shown
    finding = Finding.objects.get()
    client.force_login(people.alice)
    detail = client.get(finding.get_absolute_url()).content.decode()
    assert "<strong>March</strong> is in both." in detail  # Markdown, sanitised
    assert "<script>alert(1)" not in detail
    assert "Send the remediation" in detail and "Verify and close" not in detail
    client.post(f"/findings/{finding.pk}/remediate/", {"remediation": "Split by month"})
    client.force_login(people.rita)
    detail = client.get(finding.get_absolute_url()).content.decode()
    assert "Verify and close" in detail and "Split by month" in detail
    client.post(f"/findings/{finding.pk}/close/", {"reason": "Checked the split"})
    finding.refresh_from_db()
    assert finding.state == "closed"
    assert "Approval is blocked" not in client.get(page).content.decode()
    client.force_login(people.bob)
    assert client.get(finding.get_absolute_url()).status_code == 404
    assert client.post(f"/findings/{finding.pk}/reopen/", {"reason": "x"}).status_code == 404
