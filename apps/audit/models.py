from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from apps.core.audit_actions import AuditAction
from apps.core.permissions import Person, RestrictedQuerySet, can


class AuditEventQuerySet(RestrictedQuerySet["AuditEvent"]):
    def restrict(self, user: Person, action: str = "view") -> AuditEventQuerySet:
        """The whole trail for those who read it (compliance, administrators), nothing for others:
        a model's own history is shown on its page, keyed by the objects the person may see."""
        if action == "view" and can(user, "audit.view_auditevent"):
            return self
        return self.none()

    def update(self, **kwargs: Any) -> int:
        raise TypeError("audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("audit events are append-only")


class AuditEvent(models.Model):
    """One recorded change or security event. Append-only and chained by signatures.

    Written only by ``apps.audit.services.record``; the database refuses UPDATE, DELETE and any
    INSERT that would replace or precede an existing row (``triggers.py``), and the signed chain
    with its checkpoints outside the database exposes what is done behind the portal's back.
    """

    occurred_at = models.DateTimeField(db_index=True)
    # PROTECT: a user who appears in the trail is deactivated, never deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    prev_hash = models.CharField(max_length=64)
    # HMAC-SHA256 under the key ``key_id`` names; a plain SHA-256 for events written before the
    # chain was keyed (``key_id`` empty, ``seq`` null).
    hash = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(max_length=16, blank=True, default="")
    # The event's place in the chain, 1, 2, 3, ... without gaps (ids skip the numbers of rolled
    # back transactions on PostgreSQL): a missing or inserted event is named by it.
    seq = models.PositiveBigIntegerField(null=True, blank=True, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["actor", "occurred_at"]),
        ]

    def __str__(self) -> str:
        who = self.actor_username or "system"
        return f"#{self.pk} {self.action} by {who}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("audit events are append-only")

    @property
    def action_label(self) -> str:
        """What happened, in words (``AuditAction``'s label); the code for an unknown action."""
        try:
            return str(AuditAction(self.action).label)
        except ValueError:
            return self.action

    @property
    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for every key that differs, for display."""
        before = self.before if isinstance(self.before, dict) else {}
        after = self.after if isinstance(self.after, dict) else {}
        keys = sorted(set(before) | set(after))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
