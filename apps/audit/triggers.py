"""Database triggers that make the audit table append-only, on PostgreSQL and SQLite.

The application never updates or deletes audit rows; these triggers make the database itself refuse
to, so that a bug or a hand-typed statement cannot either. Someone who owns the table can still drop
a trigger: the hash chain is what exposes such an edit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "audit_auditevent"
MESSAGE = "audit events are append-only"

_POSTGRES_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % refused', TG_OP USING ERRCODE = 'restrict_violation';
    END;
    $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE TRIGGER {TABLE}_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()
    """,
    f"""
    CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()
    """,
]
_POSTGRES_TRIGGERS = [f"{TABLE}_no_update_delete", f"{TABLE}_no_truncate"]

_SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused'); END
    """,
    f"""
    CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused'); END
    """,
]
_SQLITE_TRIGGERS = [f"{TABLE}_no_update", f"{TABLE}_no_delete"]


def install(connection: BaseDatabaseWrapper) -> None:
    statements = {"postgresql": _POSTGRES_INSTALL, "sqlite": _SQLITE_INSTALL}.get(connection.vendor)
    if statements is None:
        raise NotImplementedError(
            f"the append-only audit table is implemented for PostgreSQL and SQLite, "
            f"not {connection.vendor}"
        )
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for name in _POSTGRES_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
        else:
            for name in _SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


@contextlib.contextmanager
def suspended(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Lift the triggers for the duration of the block, as the table's owner could.

    Used by the test suite to empty the database between tests and to play the part of someone
    editing the table behind the portal's back. Nothing in the application calls it.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE waits for no one: run the deferred foreign-key checks of this
            # transaction's inserts now, or PostgreSQL refuses ("pending trigger events").
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for name in _POSTGRES_TRIGGERS:
                cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {name}")
        else:
            for name in _SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for name in _POSTGRES_TRIGGERS:
                    cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {name}")
            else:
                for statement in _SQLITE_INSTALL:
                    cursor.execute(statement)
