"""Monitoring's panel of the "my work" dashboard: live models that need attention."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.utils import timezone

from apps.core.permissions import visible_to
from apps.core.registry import Panel
from apps.monitoring import reviews
from apps.monitoring.models import Health, MonitoringReview


def panels(user: User) -> list[Panel]:
    watched = visible_to(user, Health.objects.all())
    attention = (
        watched.filter(state__in=[Health.State.ALERT, Health.State.WARNING])
        .select_related("deployment__model", "deployment__environment", "deployment__version")
        .order_by("rank", "deployment__model__name")
    )
    found = []
    waiting = reviews.waiting_for(user).select_related(
        "alert", "deployment__model", "deployment__environment"
    )
    accepted = (
        visible_to(user, MonitoringReview.objects.filter(decision=MonitoringReview.Decision.ACCEPT))
        .select_related("deployment__model", "deployment__environment")
        .order_by("look_again_on")
    )
    if waiting.exists() or accepted.exists():
        found.append(
            Panel(
                "Monitoring decisions",
                "monitoring/panels/reviews.html",
                {"waiting": waiting[:8], "accepted": accepted[:8], "today": timezone.localdate()},
                order=4,
            )
        )
    if not watched.exists():
        return found  # nothing live that this person may see: no attention panel to fill
    return [
        *found,
        Panel(
            "Live models needing attention",
            "monitoring/panels/attention.html",
            {"attention": attention[:8], "count": attention.count()},
            order=6,
        ),
    ]
