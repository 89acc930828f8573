from __future__ import annotations

from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest

from apps.audit import services as audit
from apps.audit.admin import ReadOnlyAdmin
from apps.core.audit_actions import AuditAction
from apps.core.permissions import user_of
from apps.deployments.models import Deployment, Environment, PredictionLog, ServingKey


def _described(environment: Environment) -> dict[str, object]:
    return {
        "slug": environment.slug,
        "name": environment.name,
        "requires_live_in": str(environment.requires_live_in or ""),
        "is_production": environment.is_production,
    }


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    """Administrators define environments and their promotion rule; each change is audited.

    Environments are not deleted: deployment history refers to them.
    """

    list_display = ["name", "slug", "requires_live_in", "is_production", "order"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: Environment, form: ModelForm, change: bool
    ) -> None:
        before = _described(Environment.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        audit.record(
            user_of(request),
            AuditAction.ENVIRONMENT_SAVED,
            obj,
            before=before,
            after=_described(obj),
        )


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["model", "version", "environment", "kind", "status", "live_from", "live_until"]
    list_filter = ["environment", "status", "kind"]


@admin.register(ServingKey)
class ServingKeyAdmin(ReadOnlyAdmin):
    list_display = ["name", "model", "environment", "hint", "created_at", "revoked_at"]


@admin.register(PredictionLog)
class PredictionLogAdmin(ReadOnlyAdmin):
    list_display = ["request_id", "deployment", "received_at", "rows", "latency_ms"]
