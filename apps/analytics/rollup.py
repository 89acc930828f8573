"""Folding the audit trail into the day tables of ``models.py``, each event exactly once.

A batch is the next events past the cursor's watermark, by id. One transaction locks the cursor
row, reads the batch, adds its changes to the day tables and moves the watermark, so that runs
that overlap (the beat's and a page's) take turns and a run that dies counts nothing. The model
an event is about is resolved in the database by ``changes.model_of_event``, the rule the
scoped views read by.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Hashable
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Max
from django.utils import timezone

from apps.analytics import changes
from apps.analytics.models import (
    COLUMN_FIELDS,
    CURSOR,
    ActorDay,
    ChangeCursor,
    ChangeDay,
    KindDay,
    ModelDay,
)
from apps.audit.models import AuditEvent

BATCH = 10_000
# A page folds what the beat has not yet (normally the last minute's events) before reading;
# past this many it reads what is folded rather than keep a person waiting on a backlog, which
# the beat then works through.
READ_LIMIT = 20_000

_CHANGES = frozenset(changes.CHANGE_ACTIONS)
# Action -> the per-model columns that count it.
_COLUMNS_OF: dict[str, list[str]] = defaultdict(list)
for _key, _, _actions in changes.COLUMNS:
    for _action in _actions:
        _COLUMNS_OF[_action].append(_key)
assert [key for key, _, _ in changes.COLUMNS] == list(COLUMN_FIELDS), "ModelDay's columns"


def _ensure_cursor() -> None:
    """The cursor row, created by whichever run comes first (at watermark 0: the first fold
    counts the whole trail)."""
    if not ChangeCursor.objects.filter(pk=CURSOR).exists():
        try:
            with transaction.atomic():
                ChangeCursor.objects.create(pk=CURSOR)
        except IntegrityError:
            pass  # another run created it a moment ago


def fold_batch(batch: int = BATCH) -> tuple[int, int]:
    """Fold the next ``batch`` events; return how many, and the watermark after them."""
    _ensure_cursor()
    with transaction.atomic():
        cursor = ChangeCursor.objects.select_for_update().get(pk=CURSOR)
        rows = list(
            AuditEvent.objects.filter(id__gt=cursor.watermark)
            .annotate(about=changes.model_of_event())
            .order_by("id")
            .values_list("id", "occurred_at", "action", "actor_id", "actor_username", "about")[
                :batch
            ]
        )
        if rows:
            _add(rows)
            cursor.watermark = rows[-1][0]
            cursor.updated_at = timezone.now()
            cursor.save(update_fields=["watermark", "updated_at"])
    return len(rows), cursor.watermark


def fold(budget_seconds: float = 50.0, batch: int = BATCH) -> int:
    """Fold until nothing is left or the time budget is spent (the next run goes on); return
    how many events were folded."""
    started, total = time.monotonic(), 0
    while time.monotonic() - started < budget_seconds:
        done, _ = fold_batch(batch)
        total += done
        if done < batch:
            break
    return total


def catch_up(limit: int = READ_LIMIT) -> int:
    """Fold the events the beat has not folded yet (up to ``limit``) so that a page counts
    every change to the second; return the watermark the day tables count up to."""
    newest = AuditEvent.objects.aggregate(newest=Max("id"))["newest"] or 0
    watermark = ChangeCursor.objects.filter(pk=CURSOR).values_list("watermark", flat=True).first()
    watermark = watermark or 0
    folded = 0
    while watermark < newest and folded < limit:
        done, watermark = fold_batch(min(BATCH, limit - folded))
        if not done:
            break
        folded += done
    return watermark


def _add(rows: list[tuple[Any, ...]]) -> None:
    """Add a batch's changes to the four day tables (the cursor's lock makes this run the only
    writer, so reading a row and writing it back is safe)."""
    # Days in the portal's time zone, as the analytics periods are (not a person's own zone).
    zone = timezone.get_default_timezone()
    full: dict[Hashable, Counter[str]] = defaultdict(Counter)
    kinds: dict[Hashable, Counter[str]] = defaultdict(Counter)
    actors: dict[Hashable, Counter[str]] = defaultdict(Counter)
    per_model: dict[Hashable, Counter[str]] = defaultdict(Counter)
    for _id, occurred_at, action, actor_id, username, about in rows:
        if action not in _CHANGES:
            continue
        day = _local_day(occurred_at, zone)
        kind = changes.prefix(action)
        full[(day, action, actor_id, username, about)]["count"] += 1
        kinds[(day, kind)]["count"] += 1
        actors[(day, actor_id, username)]["count"] += 1
        counted = per_model[(day, about)]
        counted["count"] += 1
        for column in _COLUMNS_OF.get(action, ()):
            counted[column] += 1
    _merge(
        ChangeDay,
        ("day", "action", "actor_id", "actor_username", "model_id"),
        full,
        extra=lambda key: {"kind": changes.prefix(key[1])},
    )
    _merge(KindDay, ("day", "kind"), kinds)
    _merge(ActorDay, ("day", "actor_id", "actor_username"), actors)
    _merge(ModelDay, ("day", "model_id"), per_model)


def _local_day(moment: datetime, zone: Any) -> date:
    return timezone.localtime(moment, zone).date()


def _merge(
    table: type[models.Model],
    key_fields: tuple[str, ...],
    partials: dict[Hashable, Counter[str]],
    extra: Any = None,
) -> None:
    """Add each partial's counts to its row of ``table`` (keyed by ``key_fields``, the first
    being ``day``), created if new."""
    if not partials:
        return
    days = {key[0] for key in partials}  # type: ignore[index]
    existing = {
        tuple(getattr(row, name) for name in key_fields): row
        for row in table._default_manager.filter(day__in=days)
    }
    created, changed, fields = [], [], set()
    for key, counts in partials.items():
        row = existing.get(key)  # type: ignore[call-overload]
        if row is None:
            values = dict(zip(key_fields, key, strict=True))  # type: ignore[call-overload]
            row = table(**values, **(extra(key) if extra else {}))
            created.append(row)
        else:
            changed.append(row)
        for name, n in counts.items():
            setattr(row, name, getattr(row, name) + n)
            fields.add(name)
    table._default_manager.bulk_create(created, batch_size=500)
    if changed:
        table._default_manager.bulk_update(changed, sorted(fields), batch_size=500)
