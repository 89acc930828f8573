"""The "my work" dashboard, assembled from the panels every app registers
(``registry.dashboard_panels``), and the panels of accounts itself."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.audit.models import AuditEvent
from apps.core.registry import Panel, registry


def panels_for(user: User) -> list[Panel]:
    """Every app's panels for ``user``, work waiting for them first."""
    collected = [panel for source in registry.dashboard_panels for panel in source(user)]
    return sorted(collected, key=lambda p: p.order)


def panels(user: User) -> list[Panel]:
    """What every person gets: their recent activity and their API tokens."""
    soon = timezone.now() + timedelta(days=14)
    tokens = list(ApiToken.objects.active().filter(user=user))
    return [
        Panel(
            "Your recent activity",
            "accounts/panels/activity.html",
            {"events": AuditEvent.objects.filter(actor=user).order_by("-id")[:8]},
            order=80,
        ),
        Panel(
            "Your API tokens",
            "accounts/panels/tokens.html",
            {"active_count": len(tokens), "expiring": [t for t in tokens if t.expires_at < soon]},
            order=90,
        ),
    ]
