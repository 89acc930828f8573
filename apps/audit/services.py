"""Writing and checking the audit trail. ``record`` is the only way an AuditEvent is created."""

from __future__ import annotations

import dataclasses
import logging
import zlib
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, models, transaction
from django.utils import timezone

from apps.audit import chain, checkpoints, context
from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction

# Any 64-bit number works; derived from a name so that it reads as what it is.
_CHAIN_LOCK_KEY = zlib.crc32(b"apps.audit.chain")

VERIFIED = AuditAction.AUDIT_VERIFIED
DENIED = AuditAction.PERMISSION_DENIED

Actor = User | AnonymousUser | None

logger = logging.getLogger(__name__)


def _lock_chain_tip() -> None:
    """Serialise appends so that each event links to the one committed just before it.

    PostgreSQL: a transaction-scoped advisory lock, released at commit. SQLite: every transaction
    already begins IMMEDIATE (settings.py), which holds the database's single write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def object_type_of(obj: models.Model) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def record(
    actor: Actor,
    action: AuditAction,
    obj: models.Model | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
) -> AuditEvent:
    """Append one event to the trail inside the caller's transaction.

    ``obj`` names the object acted on; ``object_type``/``object_id``/``object_repr`` do so for
    things that are not rows (a URL, a username that does not exist). If the caller's transaction
    rolls back, the event goes with it: the trail records what happened, not what was attempted.
    ``action`` is a member of ``AuditAction``; anything else is refused (ValueError), so an
    action cannot be recorded under a spelling the audit pages and dashboards do not know.
    """
    action = AuditAction(action)
    if obj is not None:
        object_type = object_type or object_type_of(obj)
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    user = actor if actor is not None and actor.is_authenticated else None
    ctx = context.current()
    fields: dict[str, Any] = {
        "occurred_at": timezone.now(),
        "actor_id": user.pk if user is not None else None,
        "actor_username": chain.json_safe(user.get_username() if user is not None else ""),
        "action": action.value,
        "object_type": object_type,
        "object_id": chain.json_safe(object_id)[:64],
        "object_repr": chain.json_safe(object_repr)[:200],
        "before": chain.json_safe(before) if before is not None else None,
        "after": chain.json_safe(after) if after is not None else None,
        "request_id": ctx.request_id if ctx else "",
        "ip": (ctx.ip or "") if ctx else "",
        "user_agent": chain.json_safe(ctx.user_agent) if ctx else "",
    }
    keyring = checkpoints.keyring()
    with transaction.atomic():
        _lock_chain_tip()
        tip = AuditEvent.objects.order_by("-id").values_list("hash", "seq").first()
        if tip is None:
            fields["prev_hash"], fields["seq"] = chain.GENESIS, 1
        else:
            # The first signed event after legacy ones (which have no number) counts them once.
            fields["prev_hash"] = tip[0]
            fields["seq"] = (tip[1] or AuditEvent.objects.count()) + 1
        fields["key_id"] = keyring.current
        fields["hash"] = chain.sign(fields, keyring)
        event = AuditEvent(**fields)
        event.save()
    return event


def snapshot(instance: models.Model, fields: list[str]) -> dict[str, Any]:
    """The named fields of ``instance`` as JSON-safe values, for before/after."""
    values: dict[str, Any] = {}
    for name in fields:
        value = getattr(instance, name)
        if isinstance(value, models.Model):
            value = str(value)
        values[name] = value
    return chain.json_safe(values)


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keep only the keys whose values differ: the before/after an edit event records."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _rows_in_order() -> Iterator[dict[str, Any]]:
    return (
        AuditEvent.objects.order_by("id")
        .values("id", "hash", "seq", "key_id", *chain.HASHED_FIELDS)
        .iterator(chunk_size=2000)
    )


def _verify(reading: checkpoints.Reading) -> chain.Verification:
    """Check every row, the rows against every checkpoint, and the checkpoints against the rows."""
    result = chain.verify(_rows_in_order(), checkpoints.keyring(), reading.marks)
    if not result.intact:
        return result
    where = f"in the checkpoint file {checkpoints.path()}"
    if reading.problem:
        return dataclasses.replace(result, intact=False, where=where, problem=reading.problem)
    # Verifications hold the file's lock until their checkpoint is written, so every signed
    # audit.verified event (genuine, the chain being intact) must be covered by one.
    last = (
        AuditEvent.objects.filter(action=VERIFIED)
        .exclude(key_id="")
        .order_by("-id")
        .values_list("id", "occurred_at")
        .first()
    )
    if last is not None and last[0] > max((m.last_id or 0 for m in reading.marks), default=0):
        problem = (
            f"it ends before the verification of {last[1]:%Y-%m-%d %H:%M:%S} UTC (event "
            f"#{last[0]}), whose checkpoint is missing: lines were cut from its end, or the file "
            "was replaced"
        )
        return dataclasses.replace(result, intact=False, where=where, problem=problem)
    return result


def verify_chain() -> chain.Verification:
    """Verify without writing anything (``audit_verify --no-record``)."""
    with checkpoints.opened(write=False) as book:
        return _verify(book.read())


def verify_and_record(actor: Actor) -> chain.Verification:
    """Verify the whole chain and record the outcome in the trail and in a new checkpoint.

    The checkpoint vouches for the chain up to and including the ``audit.verified`` event, so
    cutting that event from the end is detected like cutting any other. The event is committed
    first (``durable``: never inside a caller's transaction), so that a checkpoint never vouches
    for a row that was rolled back.
    """
    with checkpoints.opened(write=True) as book:
        result = _verify(book.read())
        outcome = {
            "intact": result.intact,
            "checked": result.checked,
            "where": result.where,
            "problem": result.problem,
        }
        with transaction.atomic(durable=True):
            event = record(
                actor,
                VERIFIED,
                object_type="audit.chain",
                object_repr="audit trail",
                after={
                    **outcome,
                    "first_bad_id": result.first_bad_id,
                    "last_hash": result.last_hash,
                },
            )
        book.append(
            count=event.seq or 0,
            last_id=event.pk,
            last_hash=event.hash,
            legacy=result.legacy,
            by=event.actor_username,
            outcome=outcome,
        )
    logger.info("audit chain: %s; last hash %s", result.describe(), result.last_hash)
    return result


def latest_verification() -> checkpoints.LastCheck | None:
    """The latest verification's outcome, from the signed checkpoint file (not the database)."""
    return checkpoints.last_check()


def events_for(obj: models.Model) -> models.QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(object_type=object_type_of(obj), object_id=str(obj.pk))
