"""Writing the trail: one transaction with the caller, append-only in the database itself."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from apps.audit import chain, services, triggers
from apps.audit.models import AuditEvent
from tests.factories import UserFactory
from tests.support import worker
from tests.support.services import require_postgres

pytestmark = pytest.mark.django_db


def test_events_link_to_the_one_before():
    user = UserFactory(username="alice")
    first = services.record(user, "model.updated", user, after={"a": 1})
    second = services.record(user, "model.updated", user, before={"a": 1}, after={"a": 2})
    assert first.prev_hash == chain.GENESIS
    assert second.prev_hash == first.hash
    assert (first.seq, second.seq) == (1, 2) and second.key_id == "k1"
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
            services.record(user, "model.updated", user)
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        failing_action()
    assert not AuditEvent.objects.filter(action="model.updated").exists()


def test_the_orm_refuses_to_change_or_delete_events():
    event = services.record(None, "model.updated", object_type="x", object_id="1")
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
        "UPDATE audit_auditevent SET action = 'model.shared' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_the_database_refuses_update_and_delete(statement):
    event = services.record(None, "model.updated", object_type="x", object_id="1")
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "model.updated"


def _replacing_statements(vendor: str) -> dict[str, str]:
    """Statements that would put a forged row in the place of event %s."""

    def copy(columns: list[str]) -> str:
        forged = ", ".join("'forged'" if c == "action" else c for c in columns)
        return f"({', '.join(columns)}) SELECT {forged} FROM audit_auditevent WHERE id = %s"  # noqa: S608

    with_id = copy([field.column for field in AuditEvent._meta.concrete_fields])
    new_id = copy(
        [field.column for field in AuditEvent._meta.concrete_fields if field.column != "id"]
    )
    statements = {
        "upsert on its id": f"INSERT INTO audit_auditevent {with_id} "
        "ON CONFLICT (id) DO UPDATE SET action = 'model.shared'",
        "upsert on its hash": f"INSERT INTO audit_auditevent {new_id} "
        "ON CONFLICT (hash) DO UPDATE SET action = 'model.shared'",
    }
    if vendor == "sqlite":  # deletes the clashing row without firing a DELETE trigger
        statements["INSERT OR REPLACE of its id"] = (
            f"INSERT OR REPLACE INTO audit_auditevent {with_id}"
        )
        statements["REPLACE clashing on its hash"] = f"REPLACE INTO audit_auditevent {new_id}"
    return statements


def test_an_insert_cannot_replace_an_event():
    """SQLite's REPLACE and both databases' upserts are refused; nothing changes."""
    event = services.record(None, "model.updated", object_type="x", object_id="1")
    services.record(None, "model.updated", object_type="x", object_id="2")
    stored = list(AuditEvent.objects.order_by("id").values_list("id", "action", "hash"))
    statements = _replacing_statements(connection.vendor)
    for name, statement in statements.items():
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.pk])
        assert list(AuditEvent.objects.order_by("id").values_list("id", "action", "hash")) == (
            stored
        ), name
    assert len(statements) == (4 if connection.vendor == "sqlite" else 2)


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


def test_audit_verify_names_a_row_edited_in_the_database(
    capsys,
):
    user = UserFactory()
    events = [services.record(user, "model.updated", user, after={"n": i}) for i in range(4)]
    call_command("audit_verify", "--no-record")
    assert "chain intact: 4 events verified" in capsys.readouterr().out

    _tamper(events[2].pk)

    with pytest.raises(CommandError) as failure:
        call_command("audit_verify")
    assert f"chain broken at event #{events[2].pk}" in str(failure.value)
    assert "edited" in str(failure.value)
    recorded = AuditEvent.objects.filter(action=services.VERIFIED).get()
    assert recorded.after["first_bad_id"] == events[2].pk
    latest = services.latest_verification()
    assert latest is not None and latest.where == f"at event #{events[2].pk}"


def test_each_verification_writes_a_signed_checkpoint_outside_the_database(checkpoint_file, caplog):
    """The checkpoint vouches for the chain up to the audit.verified event itself; it is logged."""
    user = UserFactory()
    last = [services.record(user, "model.updated", user, after={"n": i}) for i in range(3)][-1]
    with caplog.at_level("INFO"):
        call_command("audit_verify")
    verified = AuditEvent.objects.get(action=services.VERIFIED)
    assert verified.after["checked"] == 3 and verified.after["last_hash"] == last.hash
    [line] = [json.loads(text) for text in checkpoint_file.read_text().splitlines()]
    assert (line["count"], line["last_id"], line["last_hash"]) == (4, verified.pk, verified.hash)
    assert line["outcome"]["intact"] and line["key_id"] == "k1" and len(line["mac"]) == 64
    assert f'"last_id":{verified.pk}' in caplog.text
    # Only reading: --no-record appends neither an event nor a checkpoint.
    call_command("audit_verify", "--no-record")
    assert len(checkpoint_file.read_text().splitlines()) == 1


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (
            lambda lines: [lines[0].replace('"by":""', '"by":"carl"'), *lines[1:]],
            "line 1 is not signed with the audit key (it was edited or forged",
        ),
        (lambda lines: lines[1:], "line 1 does not follow the line before it: lines were removed"),
        (lambda lines: lines[:2], "it ends before the verification of "),
    ],
    ids=["line edited", "line removed", "last line cut"],
)
def test_an_edited_checkpoint_file_is_named(checkpoint_file, edit, named):
    """Edited, removed or cut lines; the file is kept by someone other than the DBA."""
    for _ in range(3):
        services.record(None, "model.updated", object_type="x", object_id="1")
        assert services.verify_and_record(None).intact
    lines = checkpoint_file.read_text().splitlines()
    checkpoint_file.write_text("\n".join(edit(lines)) + "\n")
    result = services.verify_chain()
    assert not result.intact
    assert result.describe().startswith(
        f"chain broken in the checkpoint file {checkpoint_file}: {named}"
    )
    if "cut" in named:
        last = AuditEvent.objects.filter(action=services.VERIFIED).order_by("-id")[0]
        assert f"(event #{last.pk}), whose checkpoint is missing" in result.problem


def test_rotating_the_key_keeps_older_events_verifiable(
    settings,
):
    first = services.record(None, "model.updated", object_type="x", object_id="1")
    assert services.verify_and_record(None).intact
    old = dict(settings.PORTAL_AUDIT_KEYS)
    settings.PORTAL_AUDIT_KEYS = {**old, "k2": "n" * 40}
    later = services.record(None, "model.updated", object_type="x", object_id="2")
    assert (first.key_id, later.key_id) == ("k1", "k2")
    result = services.verify_and_record(None)
    assert result.intact and result.checked == 3
    assert result.describe() == "chain intact: 3 events verified, consistent with 1 checkpoint"
    settings.PORTAL_AUDIT_KEYS = {"k2": "n" * 40}
    assert (
        services.verify_chain()
        .describe()
        .startswith(
            f"chain broken at event #{first.pk}: it names audit key 'k1', which is not in "
            "PORTAL_AUDIT_KEYS"
        )
    )


def test_ids_skipped_by_rolled_back_events_are_not_gaps():
    """PostgreSQL does not hand a rolled-back id out again; the chain's numbers have no gap."""
    services.record(None, "model.updated", object_type="x", object_id="1")
    with contextlib.suppress(RuntimeError), transaction.atomic():
        services.record(None, "model.updated", object_type="x", object_id="2")
        raise RuntimeError("the action failed")
    after = services.record(None, "model.updated", object_type="x", object_id="3")
    assert after.seq == 2
    assert services.verify_and_record(None).intact


def test_a_row_slipped_into_an_id_gap_is_named():
    require_postgres()
    first = services.record(None, "model.updated", object_type="x", object_id="1")
    with contextlib.suppress(RuntimeError), transaction.atomic():
        services.record(None, "model.updated", object_type="x", object_id="2")
        raise RuntimeError("the action failed")
    last = services.record(None, "model.updated", object_type="x", object_id="3")
    assert last.pk == first.pk + 2
    row = AuditEvent.objects.filter(pk=first.pk).values(*chain.HASHED_FIELDS, "seq", "key_id")[0]
    forged = {**row, "action": "model.approved", "prev_hash": first.hash, "seq": 2}
    forged["hash"] = chain.compute_hash(forged)
    changed = ("action", "prev_hash", "seq", "hash")
    columns = [f.column for f in AuditEvent._meta.concrete_fields if f.column != "id"]
    values = ", ".join("%s" if c in changed else c for c in columns)
    with transaction.atomic(), triggers.suspended(connection), connection.cursor() as cursor:
        # The forger renumbers the later event so that the numbers show no gap either.
        cursor.execute("UPDATE audit_auditevent SET seq = 3 WHERE id = %s", [last.pk])
        cursor.execute(
            f"INSERT INTO audit_auditevent (id, {', '.join(columns)}) "  # noqa: S608
            f"SELECT %s, {values} FROM audit_auditevent WHERE id = %s",
            [first.pk + 1, *(forged[c] for c in columns if c in changed), first.pk],
        )
    assert (
        services.verify_chain()
        .describe()
        .startswith(
            f"chain broken at event #{first.pk + 1}: its content does not match its signature"
        )
    )


def _manage(env: dict[str, str], *args: str) -> str:
    """Run manage.py in a process of its own, as an operator would; its output."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(settings.BASE_DIR),
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _installation(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The environment of an installation of its own: database, key and checkpoint file."""
    env = {**os.environ, "DATABASE_URL": database_url, "PORTAL_VAR_DIR": str(tmp_path)}
    env.pop("PYTEST_VERSION", None)
    return env


_TRY_WRITES = (
    "from django.db import connection, transaction\n"
    "for sql in WRITES:\n"
    "    try:\n"
    "        with transaction.atomic(), connection.cursor() as c: c.execute(sql)\n"
    "        print('ALLOWED', sql)\n"
    "    except Exception as exc:\n"
    "        print('REFUSED', type(exc).__name__, exc)\n"
)


def _outcomes(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("REFUSED", "ALLOWED"))]


def test_a_fresh_sqlite_database_is_append_only_too(tmp_path):
    """Whatever database the suite runs on, the SQLite triggers are checked on a migrated file."""
    env = _installation(tmp_path, f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    _manage(env, "migrate", "--noinput")
    script = "".join(
        [
            "from apps.audit import services\n",
            "e = services.record(None, 'model.updated', object_type='x', object_id='1')\n",
            "WRITES = ('UPDATE audit_auditevent SET action=1', 'DELETE FROM audit_auditevent',\n",
            "    'REPLACE INTO audit_auditevent SELECT * FROM audit_auditevent')\n",
            _TRY_WRITES,
        ]
    )
    assert _outcomes(_manage(env, "shell", "-c", script)) == [
        "REFUSED IntegrityError audit events are append-only: UPDATE refused",
        "REFUSED IntegrityError audit events are append-only: DELETE refused",
        "REFUSED IntegrityError audit events are append-only: INSERT replacing or below an event "
        "refused",
    ]


@contextlib.contextmanager
def _scratch_database(vendor: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of the given kind, dropped afterwards."""
    if vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgraded.sqlite3'}"
        return
    require_postgres()
    import psycopg

    db = connection.settings_dict
    name = f"{db['NAME']}_upgrade"
    server = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"]}
    with psycopg.connect(
        dbname="postgres", autocommit=True, password=db["PASSWORD"], **server
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield worker.test_database_url().rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Events as the portal wrote them before the chain was keyed: plain SHA-256, no key id, no number.
_LEGACY_EVENTS = """
from datetime import UTC, datetime, timedelta
from django.db import connection
from apps.audit import chain
prev = chain.GENESIS
for i in range(1, 4):
    row = {"occurred_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i),
        "actor_id": None, "actor_username": "", "action": "legacy.event", "object_type": "x",
        "object_id": str(i), "object_repr": "", "before": None, "after": None, "request_id": "",
        "ip": "", "user_agent": "", "prev_hash": prev}
    row["hash"] = prev = chain.compute_hash(row)
    row["occurred_at"] = connection.ops.adapt_datetimefield_value(row["occurred_at"])
    columns, values = ", ".join(row), ", ".join(["%s"] * len(row))
    sql = f"INSERT INTO audit_auditevent ({columns}) VALUES ({values})"
    with connection.cursor() as cursor:
        cursor.execute(sql, list(row.values()))
"""

_AFTER_THE_UPGRADE = """
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from apps.audit import chain, services, triggers
from apps.audit.models import AuditEvent
event = services.record(None, "model.updated", object_type="x", object_id="4")
print("SIGNED", event.seq, event.key_id)
call_command("audit_verify")
WRITES = ("UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent")
exec(TRY_WRITES)
# The database's administrator turns the signed event into a fourth unsigned one.
row = AuditEvent.objects.filter(pk=event.pk).values(*chain.HASHED_FIELDS)[0]
with transaction.atomic(), triggers.suspended(connection), connection.cursor() as cursor:
    cursor.execute(
        "UPDATE audit_auditevent SET key_id = '', seq = NULL, hash = %s WHERE id = %s",
        [chain.compute_hash(row), event.pk],
    )
try:
    call_command("audit_verify", "--no-record")
except CommandError as exc:
    print("BROKEN", exc)
"""


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql"])
def test_upgrading_keys_the_chain_and_vouches_for_the_events_before(tmp_path, vendor):
    """Migration 0003 on a trail written before the chain was keyed: the old events still verify,
    the triggers survive SQLite's table rebuild, and no signed event can pass for an old one."""
    with _scratch_database(vendor, tmp_path) as url:
        env = _installation(tmp_path, url)
        _manage(env, "migrate", "audit", "0002", "--noinput")
        _manage(env, "shell", "-c", _LEGACY_EVENTS)
        _manage(env, "migrate", "--noinput")
        [vouched] = [json.loads(line) for line in (tmp_path / "audit-checkpoints.jsonl").open()]
        assert (vouched["count"], vouched["last_id"], vouched["legacy"]) == (3, 3, 3)
        script = f"TRY_WRITES = {_TRY_WRITES!r}\n{_AFTER_THE_UPGRADE}"
        output = _manage(env, "shell", "-c", script)
    assert "SIGNED 4 k1" in output
    assert "Audit trail chain intact: 4 events verified, consistent with 1 checkpoint" in output
    assert [line.split(":")[0] for line in _outcomes(output)] == [
        "REFUSED IntegrityError audit events are append-only"
    ] * 2
    assert (
        "BROKEN Audit trail chain broken at event #4: it is not signed with the audit key" in output
    )


def test_an_action_the_enum_does_not_know_is_refused(people):
    """One enum names every action: a misspelt one must not reach the trail."""
    with pytest.raises(ValueError, match="policy_changed"):
        services.record(people.alice, "policy_changed", object_type="x", object_id="1")
    assert not AuditEvent.objects.filter(action="policy_changed").exists()
