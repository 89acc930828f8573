"""The audit trail's admin, and the two admin bases every app's admin builds on.

Admin pages are another way in: a change made there must be as visible in the trail as one made
through a service. ``ReadOnlyAdmin`` is for rows that only services or workers write (history,
logs); ``AuditedAdmin`` is for rows administrators do edit in the admin, and records each
creation, change and deletion in the admin's own transaction.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.db import models, router, transaction
from django.forms import ModelForm
from django.http import HttpRequest

from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction

_BEFORE = "_audit_before"  # where save_model leaves the stored state for save_related


class ReadOnlyAdmin(admin.ModelAdmin):
    """For looking only: no adding, editing or deleting (so no "Delete selected" either)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditedAdmin(admin.ModelAdmin):
    """Records ``<audit_name>.created``, ``.changed`` and ``.deleted`` for admin edits.

    Subclasses set ``audit_name`` and say what the trail keeps with ``audit_snapshot`` (never a
    secret). Many-to-many fields are saved after the object itself (``save_related``), so the
    state before is read in ``save_model`` and the event is written once everything is saved.
    Bulk deletes go through ``delete_model`` one object at a time, so each one is recorded.
    """

    audit_name: ClassVar[str]

    def audit_snapshot(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _stored_snapshot(self, obj: models.Model) -> dict[str, Any]:
        stored = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
        return self.audit_snapshot(stored)

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        setattr(form, _BEFORE, self._stored_snapshot(obj) if change else None)
        super().save_model(request, obj, form, change)

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before: dict[str, Any] | None = getattr(form, _BEFORE, None)
        after = self.audit_snapshot(obj)
        if before is None:
            audit.record(request.user, AuditAction(f"{self.audit_name}.created"), obj, after=after)
            return
        before, after = audit.changed(before, after)
        if after:
            audit.record(
                request.user,
                AuditAction(f"{self.audit_name}.changed"),
                obj,
                before=before,
                after=after,
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic(using=router.db_for_write(self.model)):
            audit.record(
                request.user,
                AuditAction(f"{self.audit_name}.deleted"),
                obj,
                before=self._stored_snapshot(obj),
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        with transaction.atomic(using=router.db_for_write(self.model)):
            for obj in queryset:
                self.delete_model(request, obj)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the trail is written by the portal's services, never by hand."""

    list_display = ["id", "occurred_at", "actor_username", "action", "object_type", "object_repr"]
    list_filter = ["action"]
    search_fields = ["actor_username", "object_repr", "object_id", "request_id"]
