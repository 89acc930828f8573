"""Monitoring's panel of the "my work" dashboard: live models that need attention."""

from __future__ import annotations

from django.contrib.auth.models import User

from apps.core.permissions import visible_to
from apps.core.registry import Panel
from apps.monitoring.models import Health


def panels(user: User) -> list[Panel]:
    watched = visible_to(user, Health.objects.all())
    attention = (
        watched.filter(state__in=[Health.State.ALERT, Health.State.WARNING])
        .select_related("deployment__model", "deployment__environment", "deployment__version")
        .order_by("rank", "deployment__model__name")
    )
    if not watched.exists():
        return []  # nothing live that this person may see: no panel to fill
    return [
        Panel(
            "Live models needing attention",
            "monitoring/panels/attention.html",
            {"attention": attention[:8], "count": attention.count()},
            order=6,
        )
    ]
