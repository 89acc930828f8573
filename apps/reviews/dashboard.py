from __future__ import annotations

from django.contrib.auth.models import User
from django.utils import timezone

from apps.accounts.roles import Role, has_role
from apps.core.permissions import visible_to
from apps.core.registry import Panel
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import services


def panels(user: User) -> list[Panel]:
    found = []
    now = timezone.now()
    if has_role(user, Role.MODEL_OPS) or has_role(user, Role.RISK_OWNER):
        waiting = [(r, now - r.requested_at) for r in services.waiting_for(user)[:10]]
        found.append(
            Panel(
                "Reviews waiting for your sign-off",
                "reviews/panels/waiting.html",
                {"waiting": waiting},
                order=5,
            )
        )
    if has_role(user, Role.DATA_SCIENTIST):
        mine = visible_to(user, RegisteredModel.objects.all()).filter(team__group__user=user)
        to_submit = (
            ModelVersion.objects.filter(
                model__in=mine,
                status__in=[
                    ModelVersion.Status.VALIDATED,
                    ModelVersion.Status.CHANGES_REQUESTED,
                    ModelVersion.Status.VALIDATION_FAILED,
                ],
            )
            .select_related("model")
            .order_by("-created_at")[:10]
        )
        found.append(
            Panel(
                "Your versions needing action",
                "reviews/panels/to_submit.html",
                {"versions": to_submit},
                order=6,
            )
        )
    return found
