"""The model operations dashboard's deployment panel: what awaits deploying, what just happened."""

from __future__ import annotations

from django.contrib.auth.models import User

from apps.core.permissions import can, visible_to
from apps.core.registry import Panel
from apps.deployments import services
from apps.deployments.models import Deployment, Placement
from apps.registry.models import ModelVersion


def panels(user: User) -> list[Panel]:
    if not can(user, services.DEPLOY):
        return []
    ready = (
        visible_to(user, ModelVersion.objects.filter(status=ModelVersion.Status.APPROVED))
        .exclude(pk__in=Placement.objects.values("deployment__version"))
        .select_related("model")
        .order_by("-created_at")[:10]
    )
    recent = (
        Deployment.objects.restrict(user)
        .select_related("model", "version", "environment", "requested_by")
        .order_by("-created_at")[:8]
    )
    return [
        Panel(
            "Deployments",
            "deployments/panels/deployments.html",
            {"ready": ready, "recent": recent},
            order=7,
        )
    ]
