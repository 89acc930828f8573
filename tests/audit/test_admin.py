"""The audit trail's admin is read-only: the trail is written by services only."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.audit import services as audit
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_audit_events_cannot_be_added_edited_or_deleted_in_the_admin(people):
    client = Client()
    client.force_login(people.admin)
    event = audit.record(people.admin, "model.updated", people.alice, after={"x": 1})
    path = f"/admin/audit/auditevent/{event.pk}/"
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert client.post(f"{path}change/", {"action": "test.rewritten"}).status_code == 403
    assert client.post(f"{path}delete/", {"post": "yes"}).status_code == 403
    listed = client.get("/admin/audit/auditevent/")
    assert listed.status_code == 200 and "Delete selected" not in listed.content.decode()
    event.refresh_from_db()
    assert event.action == "model.updated" and AuditEvent.objects.count() >= 1
