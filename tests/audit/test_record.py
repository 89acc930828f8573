"""Writing the trail: one transaction with the caller, append-only in the database itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from apps.audit import chain, services, triggers
from apps.audit.models import AuditEvent
from tests.factories import UserFactory
from tests.support.services import require_postgres

pytestmark = pytest.mark.django_db


def test_events_link_to_the_one_before():
    user = UserFactory(username="alice")
    first = services.record(user, "thing.created", user, after={"a": 1})
    second = services.record(user, "thing.updated", user, before={"a": 1}, after={"a": 2})
    assert first.prev_hash == chain.GENESIS
    assert second.prev_hash == first.hash
    assert second.actor_username == "alice"
    assert (second.object_type, second.object_id) == ("auth.user", str(user.pk))
    assert services.verify_chain().intact


def test_numbers_the_database_rewrites_still_verify():
    """PostgreSQL stores JSON numbers as decimals (1e+20 comes back as an integer, -0.0 as 0.0);
    a metric like that in an event must not look like tampering."""
    user = UserFactory()
    numbers = {"big": 1e20, "huge": 1.2345678901234567e23, "negative_zero": -0.0, "small": 1.5e-7}
    services.record(user, "validation.passed", user, after={"metrics": numbers, "n": 2**70})
    assert services.verify_chain().intact
    stored = AuditEvent.objects.get(action="validation.passed").after
    assert stored["metrics"]["big"] == 10**20 and stored["metrics"]["small"] == 1.5e-7


def test_an_event_rolls_back_with_the_callers_transaction():
    user = UserFactory()

    def failing_action() -> None:
        with transaction.atomic():
            services.record(user, "thing.created", user)
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        failing_action()
    assert not AuditEvent.objects.filter(action="thing.created").exists()


def test_the_orm_refuses_to_change_or_delete_events():
    event = services.record(None, "thing.created", object_type="x", object_id="1")
    event.action = "something.else"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.all().delete()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'forged' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_the_database_refuses_update_and_delete(statement):
    event = services.record(None, "thing.created", object_type="x", object_id="1")
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "thing.created"


def test_postgresql_refuses_truncate():
    require_postgres()
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE audit_auditevent")


def _tamper(event_id: int) -> None:
    """What someone with the table owner's rights could do behind the portal's back."""
    with transaction.atomic(), triggers.suspended(connection), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET after = %s WHERE id = %s",
            ['{"risk_tier": "low"}', event_id],
        )


def test_audit_verify_names_a_row_edited_in_the_database(capsys):
    user = UserFactory()
    events = [services.record(user, "model.updated", user, after={"n": i}) for i in range(4)]
    call_command("audit_verify", "--no-record")
    assert "chain intact: 4 events verified" in capsys.readouterr().out

    _tamper(events[2].pk)

    with pytest.raises(CommandError) as failure:
        call_command("audit_verify")
    assert f"chain broken at event #{events[2].pk}" in str(failure.value)
    assert "edited" in str(failure.value)
    recorded = services.latest_verification()
    assert recorded is not None and recorded.after["first_bad_id"] == events[2].pk


def test_each_verification_records_the_tip_it_verified():
    """Rows cut from the end of the chain break no link; the recorded tip and count show it."""
    user = UserFactory()
    last = [services.record(user, "model.updated", user, after={"n": i}) for i in range(3)][-1]
    call_command("audit_verify")
    recorded = services.latest_verification()
    assert recorded is not None
    assert recorded.after["checked"] == 3 and recorded.after["last_hash"] == last.hash


def test_a_fresh_sqlite_database_is_append_only_too(tmp_path):
    """Whatever database the suite runs on, the SQLite triggers are checked on a migrated file."""
    database = tmp_path / "fresh.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "PORTAL_VAR_DIR": str(tmp_path)}
    env.pop("PYTEST_VERSION", None)
    base = Path(settings.BASE_DIR)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=base,
        env=env,
        check=True,
        capture_output=True,
    )
    script = (
        "from django.db import connection, transaction\n"
        "from apps.audit import services\n"
        "e = services.record(None, 'thing.created', object_type='x', object_id='1')\n"
        "for sql in ('UPDATE audit_auditevent SET action=1', 'DELETE FROM audit_auditevent'):\n"
        "    try:\n"
        "        with transaction.atomic(), connection.cursor() as c: c.execute(sql)\n"
        "        print('ALLOWED', sql)\n"
        "    except Exception as exc:\n"
        "        print('REFUSED', type(exc).__name__, exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=base,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(("REFUSED", "ALLOWED"))]
    assert lines == [
        "REFUSED IntegrityError audit events are append-only: UPDATE refused",
        "REFUSED IntegrityError audit events are append-only: DELETE refused",
    ]
