"""Periodic review: every production model has a due date counted from its last approval or
re-certification, triggers bring it forward, reminders go once each, the risk owner and model
operations re-certify it, and everything is scoped and audited."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict
from apps.monitoring.models import Alert
from apps.notifications.models import Notification
from apps.recertification import services
from apps.recertification.models import PeriodicReview, Schedule
from apps.registry import services as registry
from apps.reviews.models import Review
from tests.recertification.conftest import approved_long_ago

pytestmark = pytest.mark.django_db


def at(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()).replace(hour=12))


def approved_on(version) -> date:  # type: ignore[no-untyped-def]
    return timezone.localdate(Review.objects.get(version=version).closed_at)


def told(event: str) -> list[str]:
    return sorted(
        Notification.objects.filter(event=event).values_list("recipient__username", flat=True)
    )


def test_the_due_date_counts_from_the_approval_and_follows_a_cadence_change(people, live):
    services.sweep()
    schedule = Schedule.objects.get(model=live.model)
    assert schedule.basis == "approval of version 1"
    assert schedule.due_on == services.add_months(approved_on(live), 12)
    services.update_cadence(
        actor=people.admin, risk_tier="high", months=6, note="Supervisor asked for twice a year"
    )
    services.sweep()
    schedule.refresh_from_db()
    assert schedule.due_on == services.add_months(approved_on(live), 6)
    assert schedule.cadence.number == 2
    with pytest.raises(ValidationError, match="between 1 and 120 months"):
        services.update_cadence(actor=people.admin, risk_tier="high", months=0, note="x")
    with pytest.raises(ValidationError, match="between 1 and 120 months"):
        services.update_cadence(actor=people.admin, risk_tier="high", months=-3, note="x")
    with pytest.raises(PermissionDenied):
        services.update_cadence(actor=people.carl, risk_tier="high", months=3, note="x")


def test_month_arithmetic_keeps_the_day_or_the_months_last():
    assert services.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert services.add_months(date(2026, 3, 15), 12) == date(2027, 3, 15)
    assert services.add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_reminders_go_once_each_then_compliance_hears_when_overdue(people, live):
    services.sweep()
    due = Schedule.objects.get(model=live.model).due_on
    for day in (due - timedelta(days=31), due - timedelta(days=30), due - timedelta(days=29)):
        services.sweep(now=at(day))
    assert told("review.periodic_due").count("alice") == 1  # the 30-day reminder, once
    assert "rita" in told("review.periodic_due") and "ivan" in told("review.periodic_due")
    services.sweep(now=at(due - timedelta(days=7)))
    services.sweep(now=at(due - timedelta(days=6)))
    assert told("review.periodic_due").count("alice") == 2
    report = services.sweep(now=at(due))
    assert told("review.periodic_due").count("alice") == 3  # due today
    assert report.opened == 1  # the calendar opens the review on the due date
    services.sweep(now=at(due + timedelta(days=1)))
    services.sweep(now=at(due + timedelta(days=2)))
    assert told("review.periodic_overdue").count("carl") == 1
    assert PeriodicReview.objects.filter(model=live.model).count() == 1
    schedule = Schedule.objects.get(model=live.model)
    assert services.state_of(schedule, True, now=at(due + timedelta(days=2))) == "overdue"


def test_triggers_bring_the_date_forward_once_each_and_are_audited(people, live):
    services.sweep()
    registry.update_model(live.model.pk, actor=people.alice, changes={"use_case": "Cards too"})
    services.sweep()
    services.sweep()
    schedule = Schedule.objects.get(model=live.model)
    assert schedule.due_on == timezone.localdate()
    assert [t["reason"] for t in schedule.triggers] == ["its use case changed"]
    assert AuditEvent.objects.filter(action="review.periodic_triggered").count() == 1
    assert PeriodicReview.objects.get(model=live.model).reason == "its use case changed"


def test_an_alert_accepted_for_longer_than_the_policy_allows_is_a_trigger(people, live):
    deployment = live.deployments.get()
    Alert.objects.create(
        deployment=deployment,
        check_name="drift:income",
        level=Alert.Level.ALERT,
        message="Drift in income: PSI 0.40",
        state=Alert.State.ACKNOWLEDGED,
        acknowledged_by=people.ivan,
        acknowledged_at=timezone.now() - timedelta(days=10),
        levels="default",
    )
    services.sweep()
    assert Schedule.objects.get(model=live.model).triggers == []  # 10 days: within the 30
    services.sweep(now=timezone.now() + timedelta(days=21))
    reasons = [t["reason"] for t in Schedule.objects.get(model=live.model).triggers]
    assert reasons == ["an alert (Drift in income: PSI 0.40) accepted for more than 30 days"]


def test_attestations_keep_segregation_of_duties_and_recertify(people, live):
    review = services.open_review(live.model.pk, actor=people.carl, reason="Annual cycle")
    with pytest.raises(Conflict, match="already open"):
        services.open_review(live.model.pk, actor=people.carl, reason="Again")
    with pytest.raises(PermissionDenied):
        services.open_review(live.model.pk, actor=people.alice, reason="Me")
    with pytest.raises(PermissionDenied, match="uploaded or submitted"):
        services.attest(review.pk, actor=people.alice, outcome="recertify", statement="Fine")
    with pytest.raises(PermissionDenied):
        services.attest(review.pk, actor=people.carl, outcome="recertify", statement="Fine")
    with pytest.raises(PermissionDenied):
        services.attest(review.pk, actor=people.bob, outcome="recertify", statement="Fine")
    with pytest.raises(ValidationError):
        services.attest(review.pk, actor=people.rita, outcome="recertify", statement=" ")
    with pytest.raises(ValidationError, match="deadline"):
        services.attest(review.pk, actor=people.rita, outcome="replace", statement="Old")
    services.attest(review.pk, actor=people.rita, outcome="recertify", statement="Still fits.")
    with pytest.raises(Conflict, match="one person, one attestation"):
        services.attest(review.pk, actor=people.rita, outcome="recertify", statement="Again")
    services.attest(
        review.pk, actor=people.ivan, outcome="recertify_with_findings", statement="Latency ok."
    )
    review.refresh_from_db()
    assert review.status == "recertified_with_findings"
    assert review.next_due_on == services.add_months(timezone.localdate(), 12)
    schedule = Schedule.objects.get(model=live.model)
    assert (schedule.due_on, schedule.triggers) == (review.next_due_on, [])
    assert [a.role for a in review.attestations.all()] == ["risk_owner", "model_ops"]
    assert list(
        AuditEvent.objects.filter(action__startswith="review.periodic")
        .order_by("id")
        .values_list("action", "actor_username")
    ) == [
        ("review.periodic_triggered", "carl"),
        ("review.periodic_opened", "carl"),
        ("review.periodic_attested", "rita"),
        ("review.periodic_attested", "ivan"),
        ("review.periodic_closed", "ivan"),
    ]
    services.sweep()
    schedule.refresh_from_db()
    assert schedule.basis == "re-certification 1"


def test_replace_asks_the_team_for_a_new_version_by_a_deadline(people, live):
    review = services.open_review(live.model.pk, actor=people.carl, reason="Drift")
    deadline = timezone.localdate() + timedelta(days=60)
    services.attest(
        review.pk,
        actor=people.rita,
        outcome="replace",
        statement="Out of date",
        replace_by=deadline,
    )
    services.attest(review.pk, actor=people.ivan, outcome="recertify", statement="Runs fine")
    review.refresh_from_db()
    assert (review.status, review.replace_by, review.next_due_on) == ("replace", deadline, None)
    closed = Notification.objects.filter(event="review.periodic_closed", recipient=people.alice)
    assert closed.get().title.startswith("Loan default is to be replaced by")


def test_the_evidence_pack_equals_the_records(people, live, files):
    from tests.findings.test_findings import raise_on
    from tests.reviews.conftest import new_version

    review = services.open_review(live.model.pk, actor=people.carl, reason="Check")
    new_version(live.model, people.alice, files)  # a version uploaded since
    finding = raise_on(live, people.rita, owner=people.alice)
    Alert.objects.create(
        deployment=live.deployments.get(),
        check_name="drift:x",
        level="warning",
        message="Drift in x",
        levels="default",
    )
    pack = services.evidence(review)
    assert (
        pack["changes"]["versions uploaded"]
        == AuditEvent.objects.filter(
            action="version.uploaded", occurred_at__gte=services.since_of(review)
        ).count()
        == 1
    )
    assert [f["id"] for f in pack["findings"]] == [finding.pk]
    assert pack["alerts"] == {"alert": 0, "warning": 1, "still_open": 1}
    assert pack["documentation"]["revision"] == 1  # frozen when v1 was approved
    assert pack["documentation"]["status"] == "Approved (frozen)"


def test_the_calendar_is_scoped_filtered_and_exported(people, live, bobs_model, client):
    approved_long_ago(live, 400)
    services.sweep()
    url = reverse("recertification:calendar")
    client.force_login(people.bob)
    assert "Loan default" not in client.get(url).content.decode()
    for who in (people.alice, people.carl, people.ivan, people.rita):
        client.force_login(who)
        page = client.get(url + "?state=overdue").content.decode()
        assert "Loan default" in page and "Overdue" in page, who
    client.force_login(people.carl)
    assert "Loan default" not in client.get(url + "?state=upcoming").content.decode()
    rows = list(csv.reader(io.StringIO(client.get(url + "?format=csv").content.decode())))
    assert rows[0][:3] == ["model", "team", "risk_tier"] and rows[1][0] == "loan-default"
    assert rows[1][6] == "in_review" or rows[1][6] == "overdue"
    inventory = client.get(reverse("registry:model-list")).content.decode()
    assert "Review overdue since" in inventory
    model_page = client.get(live.model.get_absolute_url()).content.decode()
    assert "Periodic review" in model_page and "Overdue" in model_page
    dashboard = client.get("/").content.decode()
    assert "Periodic reviews" in dashboard


def test_the_documentation_lists_the_periodic_reviews(people, live):
    from apps.documentation import services as documentation

    review = services.open_review(live.model.pk, actor=people.carl, reason="Check")
    services.attest(review.pk, actor=people.rita, outcome="recertify", statement="Still fits.")
    services.attest(review.pk, actor=people.ivan, outcome="recertify", statement="Sound.")
    documentation.save_narrative(live.pk, actor=people.alice, sections={"intended_use": "x"})
    sign_offs = next(p for p in documentation.document_of(live).parts if p.key == "sign_offs")
    history = sign_offs.tables[-1]
    assert history.caption == "Periodic reviews and their attestations"
    assert [(row[0], row[3], row[4]) for row in history.rows] == [
        ("Periodic review 1", "Rita", "Still fits."),
        ("Periodic review 1", "Ivan", "Sound."),
    ]


def test_a_model_leaves_the_schedule_when_nothing_is_live_in_production(people, live):
    from apps.deployments.models import Placement

    services.sweep()
    Placement.objects.filter(model=live.model).delete()
    assert services.sweep().removed == 1
    assert not Schedule.objects.exists()


def test_a_model_cadence_replaces_its_tiers_and_is_set_on_the_page(people, live, client):
    services.sweep()
    client.force_login(people.admin)
    url = reverse("recertification:cadences")
    form = {
        "tier": "model",
        "own-model": "loan-default",
        "own-months": "3",
        "own-accepted_alert_days": "14",
        "own-note": "Used for margin calls",
    }
    assert client.post(url, form).status_code == 302
    services.sweep()
    assert Schedule.objects.get(model=live.model).due_on == services.add_months(
        approved_on(live), 3
    )
    refused = client.post(url, {**form, "own-months": "0"}).content.decode()
    assert "Ensure this value is greater than or equal to 1" in refused
    unknown = client.post(url, {**form, "own-model": "nope"}).content.decode()
    assert "There is no model with that slug that you can see" in unknown
    client.force_login(people.carl)
    assert client.post(url, form).status_code == 403
