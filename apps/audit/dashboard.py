"""The audit app's panels of the "my work" dashboard (compliance and administrators)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from apps.core.registry import Panel


def panels(user: User) -> list[Panel]:
    """Integrity, security events and recent changes, for those who read the trail."""
    if not user.has_perm("audit.view_auditevent"):
        return []
    day_ago = timezone.now() - timedelta(days=1)
    recent = AuditEvent.objects.filter(occurred_at__gte=day_ago)
    return [
        Panel(
            "Audit trail integrity",
            "audit/panels/integrity.html",
            {"verification": audit.latest_verification()},
            order=10,
        ),
        Panel(
            "Security events, last 24 hours",
            "audit/panels/security.html",
            {
                "denials": recent.filter(action=audit.DENIED).count(),
                "failed_logins": recent.filter(action=AuditAction.LOGIN_FAILED).count(),
                "lockouts": recent.filter(action=AuditAction.LOCKED_OUT).count(),
            },
            order=20,
        ),
        Panel(
            "Latest changes across the portal",
            "audit/panels/recent.html",
            {"events": AuditEvent.objects.order_by("-id")[:10]},
            order=30,
        ),
    ]
