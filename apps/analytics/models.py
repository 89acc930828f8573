"""The audit trail's changes counted by day: what change analytics reads instead of the events.

``rollup.fold`` adds audit events to these tables in id order, past the cursor's watermark,
the way monitoring folds prediction logs (docs/decisions.md §32). Only changes are counted
(``changes.CHANGE_ACTIONS``), on the day they occurred in the portal's time zone, under the
registered model ``changes.model_of_event`` resolves when they are folded.

``ChangeDay`` keeps every dimension a filter can name (action, actor, model), so any filtered or
scoped view sums it. The three narrower tables each keep one dimension, for the view that has no
filter at all (the whole trail, every model): on a busy trail few events share an action, an
actor and a model on one day, so ``ChangeDay`` has nearly a row per event, while a day has only
a few dozen kinds and actors and one row per model.

Model and actor ids are plain numbers, not foreign keys: a count neither holds a model or a
person back from deletion nor goes with them. A change to what counts as a change, to the
per-model columns or to ``TIME_ZONE`` needs the tables emptied and the cursor set to 0 (the next
fold counts the trail again).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

# The per-model table's columns (``changes.COLUMNS`` names the actions each counts).
COLUMN_FIELDS = (
    "versions_uploaded",
    "deployments",
    "rollbacks",
    "policy_changes",
    "permission_changes",
    "policy_exceptions",
)


def _none_as_zero(name: str) -> Coalesce:
    # Unique constraints treat NULLs as distinct; "no actor" and "no model" are one key each.
    return Coalesce(name, Value(0))


class ChangeCursor(models.Model):
    """How far the audit trail is folded: every event with an id at or below ``watermark`` is
    counted in the day tables, once, and none above it. One row (``CURSOR``).

    No gaps are kept, unlike monitoring's cursor: appends to the audit trail are serialised
    under a lock held until commit (docs/decisions.md §3) and take their id under it, so events
    become visible in id order and none can appear below the watermark later.
    """

    watermark = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"audit trail folded to #{self.watermark}"


CURSOR = 1


class ChangeDay(models.Model):
    """Changes of one day with one action, by one actor (none: the portal itself), about one
    registered model (none: about no single model)."""

    day = models.DateField()
    action = models.CharField(max_length=100)
    kind = models.CharField(max_length=100)  # the action's prefix with its dot
    actor_id = models.IntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    model_id = models.BigIntegerField(null=True, blank=True)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                F("day"),
                F("action"),
                _none_as_zero("actor_id"),
                F("actor_username"),
                _none_as_zero("model_id"),
                name="analytics_changeday_key",
            )
        ]
        indexes = [
            # The scoped views (a person's models, a team, a model): covering, so that their
            # figures read the index alone, a third of the time of reading the rows.
            models.Index(
                fields=["model_id", "day", "actor_id", "actor_username", "kind", "action", "count"],
                name="analytics_changeday_scoped",
            ),
            # The whole trail with an actor or a kind chosen.
            models.Index(fields=["actor_username", "day"]),
            models.Index(fields=["kind", "day"]),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.action} by {self.actor_username or 'system'}: {self.count}"


class KindDay(models.Model):
    """Changes of one day of one kind, over the whole trail."""

    day = models.DateField()
    kind = models.CharField(max_length=100)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "kind"], name="analytics_kindday_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: {self.count}"


class ActorDay(models.Model):
    """Changes of one day by one actor, over the whole trail."""

    day = models.DateField()
    actor_id = models.IntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                F("day"),
                _none_as_zero("actor_id"),
                F("actor_username"),
                name="analytics_actorday_key",
            )
        ]
        # Covering, led by the grouping key: the per-actor sums (the period's, and the year
        # before it for the few who qualify) read the index alone, already in group order.
        indexes = [
            models.Index(
                fields=["actor_id", "actor_username", "day", "count"],
                name="analytics_actorday_sums",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} by {self.actor_username or 'system'}: {self.count}"


class ModelDay(models.Model):
    """Changes of one day about one registered model (none: about no single model), in all and
    in each column of the per-model table."""

    day = models.DateField()
    model_id = models.BigIntegerField(null=True, blank=True)
    count = models.PositiveBigIntegerField(default=0)
    versions_uploaded = models.PositiveBigIntegerField(default=0)
    deployments = models.PositiveBigIntegerField(default=0)
    rollbacks = models.PositiveBigIntegerField(default=0)
    policy_changes = models.PositiveBigIntegerField(default=0)
    permission_changes = models.PositiveBigIntegerField(default=0)
    policy_exceptions = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                F("day"), _none_as_zero("model_id"), name="analytics_modelday_key"
            )
        ]
        # Covering, led by the grouping key: the per-model table (a row per model and day)
        # reads the index alone, already in group order, a third of the time of the table.
        indexes = [
            models.Index(
                fields=["model_id", "day", "count", *COLUMN_FIELDS], name="analytics_modelday_sums"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} model #{self.model_id or '-'}: {self.count}"
