from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Count, QuerySet

from apps.accounts.roles import Role, has_role
from apps.core.permissions import can, visible_to
from apps.core.registry import Panel
from apps.core.views import live_models
from apps.registry.filters import inventory
from apps.registry.models import RegisteredModel
from apps.registry.services import ADMINISTER


def _with_live(models: QuerySet[RegisteredModel]) -> list[RegisteredModel]:
    """The models with ``live`` set: the panel says which version serves beside the latest."""
    rows = list(models)
    live_models(rows)
    return rows


def panels(user: User) -> list[Panel]:
    visible = visible_to(user, RegisteredModel.objects.all())
    found = []
    if has_role(user, Role.DATA_SCIENTIST):
        team_models = inventory(visible.filter(team__group__user=user), user).order_by(
            "-updated_at"
        )
        found.append(
            Panel(
                "Your team's models",
                "registry/panels/models.html",
                {
                    "models": _with_live(team_models[:8]),
                    "can_register": can(user, "registry.add_registeredmodel"),
                    "empty": "Your team has not registered a model yet.",
                },
                order=25,
            )
        )
    if has_role(user, Role.RISK_OWNER):
        found.append(
            Panel(
                "Models whose risk you own",
                "registry/panels/models.html",
                {
                    "models": _with_live(
                        inventory(visible.filter(risk_owner=user), user).order_by("-updated_at")[:8]
                    ),
                    "empty": "No model names you as its risk owner yet.",
                },
                order=25,
            )
        )
    if has_role(user, Role.COMPLIANCE) or can(user, ADMINISTER):
        tiers = dict(visible.values_list("risk_tier").annotate(n=Count("pk")))
        found.append(
            Panel(
                "Inventory by risk tier",
                "registry/panels/tiers.html",
                {
                    "tiers": [
                        (label, tiers.get(value, 0))
                        for value, label in RegisteredModel.RiskTier.choices
                    ],
                    "total": sum(tiers.values()),
                },
                order=40,
            )
        )
    return found
