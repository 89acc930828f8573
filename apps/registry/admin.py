from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.audit.admin import AuditedAdmin, ReadOnlyAdmin
from apps.core.permissions import can, user_of
from apps.registry import services
from apps.registry.models import ModelVersion, RegisteredModel, StoredFile, Tag


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "team", "risk_tier", "risk_owner", "pickle_allowed"]
    list_filter = ["risk_tier", "team", "pickle_allowed"]
    search_fields = ["name", "slug", "use_case"]
    actions = ["allow_pickle", "forbid_pickle"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, services.ADMINISTER)

    def _set_pickle(
        self, request: HttpRequest, models: QuerySet[RegisteredModel], on: bool
    ) -> None:
        for model in models:
            services.update_model(model.pk, actor=user_of(request), changes={"pickle_allowed": on})
        state = "now accept" if on else "no longer accept"
        messages.success(request, f"{models.count()} model(s) {state} .joblib and .pkl artifacts.")

    @admin.action(description="Allow .joblib/.pkl artifacts (opened only in the sandbox)")
    def allow_pickle(self, request: HttpRequest, queryset: QuerySet[RegisteredModel]) -> None:
        self._set_pickle(request, queryset, True)

    @admin.action(description="Refuse .joblib/.pkl artifacts")
    def forbid_pickle(self, request: HttpRequest, queryset: QuerySet[RegisteredModel]) -> None:
        self._set_pickle(request, queryset, False)


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["model", "number", "status", "artifact_format", "uploaded_by", "created_at"]
    list_filter = ["status"]


@admin.register(StoredFile)
class StoredFileAdmin(ReadOnlyAdmin):
    list_display = ["version", "role", "original_name", "size", "sha256"]


@admin.register(Tag)
class TagAdmin(AuditedAdmin):
    """Tags help people find models; renaming or deleting one is audited like any edit."""

    audit_name = "tag"
    search_fields = ["name"]

    def audit_snapshot(self, obj: Tag) -> dict[str, Any]:
        return {"name": obj.name, "models": sorted(obj.models.values_list("slug", flat=True))}
