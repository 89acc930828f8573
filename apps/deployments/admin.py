from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps.audit.admin import AuditedAdmin, ReadOnlyAdmin
from apps.deployments.models import (
    Deployment,
    Environment,
    PredictionLog,
    PredictionLogLoss,
    ServingKey,
)


@admin.register(Environment)
class EnvironmentAdmin(AuditedAdmin):
    """Administrators define environments and their promotion rule; each change is audited.

    Environments are not deleted: deployment history refers to them.
    """

    audit_name = "environment"
    list_display = ["name", "slug", "requires_live_in", "is_production", "order"]

    def audit_snapshot(self, environment: Environment) -> dict[str, object]:
        return {
            "slug": environment.slug,
            "name": environment.name,
            "requires_live_in": str(environment.requires_live_in or ""),
            "is_production": environment.is_production,
        }

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


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


@admin.register(PredictionLogLoss)
class PredictionLogLossAdmin(ReadOnlyAdmin):
    list_display = ["deployment", "lost", "reason", "recorded_at"]
