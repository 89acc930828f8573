"""A database administrator forging the trail with direct SQL: every forgery is named.

Each test plays someone with full rights on the database but neither the audit key nor the
checkpoint file: they may lift the append-only triggers (``triggers.suspended``), rewrite, insert,
replace and delete rows, and recompute plain SHA-256 hashes. ``manage.py audit_verify`` and the
"Verify" button must name the first forged, missing or inserted event. Runs on whichever database
the suite uses (PostgreSQL and SQLite).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from apps.audit import chain, services, triggers
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

TABLE = AuditEvent._meta.db_table
COLUMNS = [field.column for field in AuditEvent._meta.concrete_fields]


def _dba(sql: str, params: list[Any] | tuple[Any, ...] = ()) -> None:
    """One statement as the table's owner, with the append-only triggers lifted."""
    with transaction.atomic(), triggers.suspended(connection), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _rows() -> list[dict[str, Any]]:
    return list(
        AuditEvent.objects.order_by("id").values(
            *[f.attname for f in AuditEvent._meta.concrete_fields]
        )
    )


def _copy(
    source_id: int,
    changes: dict[str, Any],
    *,
    verb: str = "INSERT",
    keep_id: bool = False,
    tail: str = "",
) -> tuple[str, list[Any]]:
    """INSERT ... SELECT of one row with some columns changed: how a DBA writes a plausible row."""
    columns = [c for c in COLUMNS if keep_id or c != "id"]
    values = ["%s" if c in changes else c for c in columns]
    sql = f"{verb} INTO {TABLE} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {TABLE}"  # noqa: S608
    return f"{sql} WHERE id = %s {tail}", [changes[c] for c in columns if c in changes] + [
        source_id
    ]


def _rewrite_from(index: int, *, via: str) -> None:
    """Change row ``index`` and recompute the plain SHA-256 chain from there to the end.

    ``via``: ``update`` (UPDATE), or ``replace`` (SQLite's INSERT OR REPLACE, PostgreSQL's
    INSERT ... ON CONFLICT DO UPDATE), the statements that replace a row in place.
    """
    rows = _rows()
    rows[index]["actor_username"] = "mallory"
    for i in range(index, len(rows)):
        rows[i]["prev_hash"] = rows[i - 1]["hash"] if i else chain.GENESIS
        rows[i]["hash"] = chain.compute_hash(rows[i])
        changes = {k: rows[i][k] for k in ("actor_username", "prev_hash", "hash")}
        if via == "update":
            sql = f"UPDATE {TABLE} SET actor_username = %s, prev_hash = %s, hash = %s WHERE id = %s"  # noqa: S608
            _dba(sql, [*changes.values(), rows[i]["id"]])
        elif connection.vendor == "sqlite":
            _dba(*_copy(rows[i]["id"], changes, verb="INSERT OR REPLACE", keep_id=True))
        else:
            tail = "ON CONFLICT (id) DO UPDATE SET " + ", ".join(
                f"{c} = EXCLUDED.{c}" for c in changes
            )
            _dba(*_copy(rows[i]["id"], changes, keep_id=True, tail=tail))


def _seven_events(people) -> list[int]:  # type: ignore[no-untyped-def]
    """Carl's sign-in and three events, the verification that checkpoints them (no. 5), two more.

    Carl signs in first, so that pressing the button later writes nothing before it verifies.
    """
    for i in range(3):
        services.record(people.alice, "model.updated", people.alice, after={"n": i})
    services.verify_and_record(None)
    for i in range(2):
        services.record(people.bob, "model.updated", people.bob, after={"n": i})
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(ids) == 7
    return ids


# Each forgery takes the ids of the seven events and returns what the verification must say.


def _rewritten_and_rehashed(ids: list[int]) -> list[str]:
    _rewrite_from(2, via="update")
    return [f"chain broken at event #{ids[2]}: its content does not match its signature"]


def _replaced_and_rehashed(ids: list[int]) -> list[str]:
    _rewrite_from(2, via="replace")
    return [f"chain broken at event #{ids[2]}: its content does not match its signature"]


def _forged_event_appended(ids: list[int]) -> list[str]:
    """Appending needs no trigger lifted: a copy of the tip, re-hashed, claiming the same key."""
    tip = _rows()[-1]
    forged = {**tip, "action": "model.approved", "prev_hash": tip["hash"]}
    if "seq" in forged:
        forged["seq"] = tip["seq"] + 1
    forged["hash"] = chain.compute_hash(forged)
    changes = {k: forged[k] for k in ("action", "prev_hash", "hash", "seq") if k in forged}
    with connection.cursor() as cursor:
        cursor.execute(*_copy(tip["id"], changes))
    new_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True)[0]
    return [f"chain broken at event #{new_id}: its content does not match its signature"]


def _last_rows_cut(ids: list[int]) -> list[str]:
    """The last four, the audit.verified event (no. 5) among them."""
    _dba(f"DELETE FROM {TABLE} WHERE id >= %s", [ids[3]])  # noqa: S608
    return [
        f"chain broken after event #{ids[2]}, the last present: events no. 4 to 5 are missing: "
        "the checkpoint of",
        f"vouched for 5 events ending at #{ids[4]}; they were cut from the end",
    ]


def _last_rows_cut_and_the_portal_goes_on(ids: list[int]) -> list[str]:
    _dba(f"DELETE FROM {TABLE} WHERE id >= %s", [ids[3]])  # noqa: S608
    later = services.record(None, "model.updated", object_type="x", object_id="1")
    return [
        f"chain broken at event #{later.pk}: it was written after the checkpoint of",
        f"which already held 5 events ending at #{ids[4]}: events no. 4 to 5 are missing "
        "(cut from the chain)",
    ]


def _row_deleted_in_the_middle(ids: list[int]) -> list[str]:
    _dba(f"DELETE FROM {TABLE} WHERE id = %s", [ids[1]])  # noqa: S608
    return [
        f"chain broken after event #{ids[0]}: event no. 2 is missing (deleted from the database)"
    ]


def _rows_downgraded_to_unsigned(ids: list[int]) -> list[str]:
    _dba(f"UPDATE {TABLE} SET key_id = '', seq = NULL WHERE id >= %s", [ids[5]])  # noqa: S608
    _rewrite_from(5, via="update")
    return [f"chain broken at event #{ids[5]}: it is not signed with the audit key"]


def _key_id_changed(ids: list[int]) -> list[str]:
    _dba(f"UPDATE {TABLE} SET key_id = 'k9' WHERE id = %s", [ids[3]])  # noqa: S608
    return [f"chain broken at event #{ids[3]}: it names audit key 'k9', which is not in"]


FORGERIES: dict[str, Callable[[list[int]], list[str]]] = {
    "rewritten and re-hashed": _rewritten_and_rehashed,
    "replaced and re-hashed": _replaced_and_rehashed,
    "forged event appended": _forged_event_appended,
    "last rows cut": _last_rows_cut,
    "last rows cut, more written": _last_rows_cut_and_the_portal_goes_on,
    "row deleted in the middle": _row_deleted_in_the_middle,
    "rows downgraded to unsigned": _rows_downgraded_to_unsigned,
    "key id changed": _key_id_changed,
}


def _by_command() -> str:
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify")
    return str(failure.value)


def _by_button(client: Client) -> str:
    """The message after pressing "Verify", and the integrity panel of the page it leads to."""
    return html.unescape(client.post(reverse("audit:verify"), follow=True).content.decode())


@pytest.mark.parametrize("forgery", FORGERIES)
@pytest.mark.parametrize("how", ["command", "button"])
def test_verification_names_the_first_forged_missing_or_inserted_event(people, forgery, how):
    carl = Client()
    carl.force_login(people.carl)
    ids = _seven_events(people)
    expected = FORGERIES[forgery](ids)
    said = _by_command() if how == "command" else _by_button(carl)
    for phrase in expected:
        assert phrase in said
    # The outcome is kept outside the database too, and the compliance pages show it from there.
    check = services.latest_verification()
    assert check is not None and not check.intact
    assert expected[0] in f"chain broken {check.where}: {check.problem}"
    if how == "button":
        assert f"Broken {check.where}:</strong> {check.problem}" in said
