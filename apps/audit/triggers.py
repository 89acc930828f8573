"""Database triggers that make the audit table append-only, on PostgreSQL and SQLite.

The application never updates or deletes audit rows; these triggers make the database itself refuse
to, so that a bug or a hand-typed statement cannot either. An INSERT may only append: one that
would land below the newest row, or (SQLite) clash with an existing id, hash or number, is refused
too. That closes SQLite's ``INSERT OR REPLACE`` / ``REPLACE``, which deletes the clashing row
without firing any DELETE trigger; PostgreSQL's ``INSERT ... ON CONFLICT DO UPDATE`` meets the
UPDATE trigger. Someone who owns the table can still drop a trigger: the signed chain and its
checkpoints are what expose such an edit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

TABLE = "audit_auditevent"
MESSAGE = "audit events are append-only"

_POSTGRES_FUNCTIONS = [
    f"""
    CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % refused', TG_OP USING ERRCODE = 'restrict_violation';
    END;
    $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE OR REPLACE FUNCTION {TABLE}_append_at_end() RETURNS trigger AS $$
    BEGIN
        IF NEW.id <= (SELECT max(id) FROM {TABLE}) THEN
            RAISE EXCEPTION '{MESSAGE}: INSERT of id % below the newest event refused', NEW.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql
    """,  # noqa: S608 (table name and message are constants)
]
_POSTGRES_TRIGGERS = {
    f"{TABLE}_no_update_delete": f"""
        CREATE TRIGGER {TABLE}_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()
    """,
    f"{TABLE}_no_truncate": f"""
        CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()
    """,
    f"{TABLE}_insert_at_end": f"""
        CREATE TRIGGER {TABLE}_insert_at_end BEFORE INSERT ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_at_end()
    """,
}

# In a BEFORE INSERT trigger SQLite gives an id it will assign itself as -1: only an explicit id is
# compared with the newest. Any clash with a unique column would make REPLACE delete that row.
_SQLITE_TRIGGERS = {
    f"{TABLE}_no_update": f"""
        CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused'); END
    """,
    f"{TABLE}_no_delete": f"""
        CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused'); END
    """,
    f"{TABLE}_insert_at_end": f"""
        CREATE TRIGGER {TABLE}_insert_at_end BEFORE INSERT ON {TABLE}
        WHEN (NEW.id > 0 AND NEW.id <= (SELECT max(id) FROM {TABLE}))
            OR EXISTS (
                SELECT 1 FROM {TABLE}
                WHERE id = NEW.id OR hash = NEW.hash OR seq = NEW.seq
            )
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: INSERT replacing or below an event refused'); END
    """,  # noqa: S608 (table name and message are constants)
}
# What migration 0002 installed, before inserts were guarded (and before the ``seq`` column).
_FIRST = {
    f"{TABLE}_no_update_delete",
    f"{TABLE}_no_truncate",
    f"{TABLE}_no_update",
    f"{TABLE}_no_delete",
}


def _triggers(connection: BaseDatabaseWrapper) -> dict[str, str]:
    triggers = {"postgresql": _POSTGRES_TRIGGERS, "sqlite": _SQLITE_TRIGGERS}.get(connection.vendor)
    if triggers is None:
        raise NotImplementedError(
            f"the append-only audit table is implemented for PostgreSQL and SQLite, "
            f"not {connection.vendor}"
        )
    return triggers


def _drop(cursor: CursorWrapper, connection: BaseDatabaseWrapper, name: str) -> None:
    on = f" ON {TABLE}" if connection.vendor == "postgresql" else ""
    cursor.execute(f"DROP TRIGGER IF EXISTS {name}{on}")


def install(connection: BaseDatabaseWrapper, *, guard_inserts: bool = True) -> None:
    """(Re)create the triggers; ``guard_inserts=False`` is the set of migration 0002."""
    triggers = _triggers(connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for statement in _POSTGRES_FUNCTIONS:
                cursor.execute(statement)
        for name, statement in triggers.items():
            if guard_inserts or name in _FIRST:
                _drop(cursor, connection, name)
                cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for name in _triggers(connection):
            _drop(cursor, connection, name)
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
            cursor.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_at_end()")


@contextlib.contextmanager
def suspended(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Lift the triggers for the duration of the block, as the table's owner could.

    Used by the test suite to empty the database between tests and to play the part of someone
    editing the table behind the portal's back. Nothing in the application calls it.
    """
    triggers = _triggers(connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE waits for no one: run the deferred foreign-key checks of this
            # transaction's inserts now, or PostgreSQL refuses ("pending trigger events").
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for name in triggers:
                cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {name}")
        else:
            for name in triggers:
                _drop(cursor, connection, name)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for name in triggers:
                    cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {name}")
            else:
                for statement in triggers.values():
                    cursor.execute(statement)
