"""The compliance audit page: filters, paging, CSV export, integrity button, and who may see it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.audit import services, triggers
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("who", "status"),
    [("carl", 200), ("admin", 200), ("alice", 403), ("bob", 403), ("ivan", 403), ("rita", 403)],
)
def test_only_compliance_and_admins_read_the_trail(people, who, status):
    response = _client(getattr(people, who)).get(reverse("audit:list"))
    assert response.status_code == status


def test_a_refused_page_is_recorded_as_a_denial(people):
    _client(people.alice).get(reverse("audit:list"))
    event = AuditEvent.objects.get(action="permission.denied")
    assert event.actor == people.alice
    assert event.after == {
        "method": "GET",
        "path": "/audit/",
        "reason": "Reading the audit trail needs the compliance role.",
    }


def test_filters_by_actor_action_object_and_dates(people):
    services.record(
        people.alice,
        "model.updated",
        object_type="registry.registeredmodel",
        object_id="1",
        object_repr="loan default",
    )
    services.record(
        people.bob,
        "model.updated",
        object_type="registry.registeredmodel",
        object_id="2",
        object_repr="card fraud",
    )
    services.record(people.bob, "token.created", people.bob)
    client = _client(people.carl)

    def shown(**query) -> list[str]:
        page = client.get(reverse("audit:list"), query).context["page"]
        return [f"{e.actor_username}:{e.action}:{e.object_id}" for e in page.object_list]

    assert shown(actor="bob", action="model.updated") == ["bob:model.updated:2"]
    assert shown(object_type="registry.registeredmodel", object_id="1") == ["alice:model.updated:1"]
    assert len(shown(action="model.")) == 2
    today = AuditEvent.objects.first().occurred_at.date()
    assert len(shown(since=today.isoformat(), actor="bob")) == 2
    assert shown(until=(today - timedelta(days=1)).isoformat()) == []
    response = client.get(reverse("audit:list"), {"since": "2026-02-02", "until": "2026-01-01"})
    assert "must be on or before" in response.content.decode()


def test_the_page_is_paginated_with_a_constant_number_of_queries(people):
    client = _client(people.carl)
    client.get(reverse("audit:list"))  # the first request of a session also writes the session
    for i in range(5):
        services.record(people.alice, "model.updated", object_type="x", object_id=str(i))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("audit:list"))
    for i in range(120):
        services.record(people.alice, "model.updated", object_type="x", object_id=str(i))
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("audit:list"), {"page": 2})
    assert len(many) == len(few)
    assert len(response.context["page"].object_list) == 50
    assert "Page 2 of 3" in response.content.decode()


def test_csv_export_holds_the_filtered_events_and_is_audited(people):
    services.record(
        people.alice,
        "model.updated",
        object_type="m",
        object_id="1",
        object_repr='=HYPERLINK("http://evil")',
        after={"risk_tier": "high"},
    )
    services.record(people.bob, "token.created", people.bob)
    response = _client(people.carl).get(reverse("audit:export"), {"actor": "alice"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["model.updated"]
    assert rows[0]["object_repr"].startswith("'=HYPERLINK")  # not a live formula
    assert rows[0]["after"] == '{"risk_tier": "high"}'
    exported = AuditEvent.objects.get(action="audit.exported")
    assert exported.actor == people.carl and exported.after == {"filters": {"actor": "alice"}}


def test_a_csv_export_with_an_invalid_filter_is_refused_not_empty(people):
    services.record(people.alice, "model.updated", object_type="m", object_id="1")
    response = _client(people.carl).get(
        reverse("audit:export"), {"actor": "alice", "since": "2026-13-01"}
    )
    assert response.status_code == 400
    assert response.content.decode() == (
        "Nothing exported; correct the filters. From: Enter a valid date."
    )
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def _press_verify(client: Client) -> str:
    return client.post(reverse("audit:verify"), follow=True).content.decode()


def test_the_verify_button_reports_intact_then_the_first_edited_row(
    people,
):
    client = _client(people.carl)
    events = [
        services.record(people.alice, "model.updated", object_type="x", object_id=str(i))
        for i in range(3)
    ]
    page = _press_verify(client)
    assert "Integrity check passed" in page and "Intact." in page

    with transaction.atomic(), triggers.suspended(connection), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET actor_username = 'mallory' WHERE id = %s", [events[1].pk]
        )

    page = _press_verify(client)
    assert f"chain broken at event #{events[1].pk}" in page
    assert f"Broken at event #{events[1].pk}" in page


def test_the_compliance_panel_keeps_a_failed_check_whose_record_was_cut(
    people,
):
    """The verdict shown comes from the signed checkpoint file: deleting the audit.verified
    events that said "broken" does not bring back the older "intact"."""
    client = _client(people.carl)
    event = services.record(people.alice, "model.updated", object_type="x", object_id="1")
    _press_verify(client)
    with transaction.atomic(), triggers.suspended(connection), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET actor_username = 'mallory' WHERE id = %s", [event.pk]
        )
    _press_verify(client)
    last_verdict = AuditEvent.objects.filter(action=services.VERIFIED).order_by("-id")[0]
    with transaction.atomic(), triggers.suspended(connection), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id >= %s", [last_verdict.pk])

    for page in (reverse("dashboard"), reverse("audit:list")):
        shown = client.get(page).content.decode()
        assert f"Broken at event #{event.pk}:" in shown and "Intact." not in shown


def test_verifying_needs_a_post_and_the_right(people):
    assert _client(people.carl).get(reverse("audit:verify")).status_code == 405
    assert _client(people.ivan).post(reverse("audit:verify")).status_code == 403
