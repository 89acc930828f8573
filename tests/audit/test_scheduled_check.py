"""The scheduled audit check: what beat runs every hour, and what compliance sees afterwards.

The task function is called directly: it is exactly what a worker runs when beat's message
arrives, so no worker is needed to know what the check records.
"""

from __future__ import annotations

import html
import re

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from apps.audit import services, tasks, triggers
from apps.audit.models import AuditEvent
from mlops_portal.celery import app

pytestmark = pytest.mark.django_db


def _shown_to(user, page: str) -> str:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    # The page's text, as read: tags dropped, white space collapsed.
    text = re.sub(r"<[^>]+>", " ", client.get(reverse(page)).content.decode())
    return " ".join(html.unescape(text).split())


def _events(people) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return [
        services.record(people.alice, "model.updated", object_type="x", object_id=str(i))
        for i in range(3)
    ]


def test_an_intact_chain_is_shown_intact_with_its_count_by_the_scheduled_check(people):
    _events(people)
    before = AuditEvent.objects.count()

    said = tasks.verify_chain()

    # The check's own audit.verified event is part of what the next check verifies, not this one.
    assert said.startswith(f"chain intact: {before} events verified")
    verdict = AuditEvent.objects.get(action=services.VERIFIED)
    assert verdict.actor is None and verdict.after["intact"] is True
    for page in ("dashboard", "audit:list"):
        shown = _shown_to(people.carl, page)
        assert f"Intact. {before} events verified" in shown, page
        assert "by the scheduled check" in shown and "Broken" not in shown


def test_a_row_edited_behind_the_portals_back_makes_the_scheduled_check_report_it(people):
    events = _events(people)
    tasks.verify_chain()
    # An attacker with database access lifts the append-only triggers, as the table's owner
    # could, and rewrites who did something.
    with transaction.atomic(), triggers.suspended(connection), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET actor_username = 'mallory' WHERE id = %s", [events[1].pk]
        )

    said = tasks.verify_chain()

    assert said.startswith(f"chain broken at event #{events[1].pk}")
    verdict = AuditEvent.objects.filter(action=services.VERIFIED).latest("id")
    assert verdict.actor is None and verdict.after["intact"] is False
    assert verdict.after["first_bad_id"] == events[1].pk
    for who in (people.carl, people.admin):
        for page in ("dashboard", "audit:list"):
            shown = _shown_to(who, page)
            assert f"Broken at event #{events[1].pk}:" in shown, page
            assert "Intact." not in shown
    # The panel is for those who read the trail; a data scientist sees none of it.
    assert "Audit trail integrity" not in _shown_to(people.alice, "dashboard")


def test_beat_runs_the_check_hourly_by_default():
    entry = settings.CELERY_BEAT_SCHEDULE["verify-audit-chain"]
    # docs/operations.md: PORTAL_AUDIT_VERIFY_SECONDS, 3600 by default.
    assert entry["task"] == "audit.verify_chain" and entry["schedule"] == 3600.0
    assert app.tasks[entry["task"]].run == tasks.verify_chain.run
