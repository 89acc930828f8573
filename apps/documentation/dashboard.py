"""Documentation's panel of the "my work" dashboard: versions a data scientist could send to
review but for the documentation their risk tier requires."""

from __future__ import annotations

from django.contrib.auth.models import User

from apps.accounts.roles import Role, has_role
from apps.core.registry import Panel
from apps.documentation import services
from apps.registry.models import ModelVersion

# Versions looked at: the panel asks the policy and the text of each, so it stays bounded.
LOOKED_AT = 10


def panels(user: User) -> list[Panel]:
    if not has_role(user, Role.DATA_SCIENTIST):
        return []
    ready = (
        ModelVersion.objects.restrict(user)
        .filter(
            model__team__group__user=user,
            status__in=[ModelVersion.Status.VALIDATED, ModelVersion.Status.VALIDATION_FAILED],
        )
        .select_related("model")
        .order_by("-created_at")[:LOOKED_AT]
    )
    waiting = [(v, missing) for v in ready if (missing := services.missing_sections(v))]
    if not waiting:
        return []
    return [
        Panel(
            "Documentation to write before review",
            "documentation/panels/missing.html",
            {"waiting": waiting},
            order=12,
        )
    ]
