"""The "my work" dashboard, assembled from panels.

Panels of accounts and of the two base apps below it (audit, jobs) are built here. Apps above
accounts (registry, reviews, deployments) offer theirs by defining ``panels(user) -> list[Panel]``
in their own ``dashboard.py``; the dashboard calls them in INSTALLED_APPS order, so accounts never
imports an app that depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from apps.accounts.extensions import app_modules
from apps.accounts.models import ApiToken
from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.jobs import services as jobs
from apps.jobs.models import Job


@dataclass
class Panel:
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    # Lower comes first: work waiting for the user sorts above information.
    order: int = 50


def panels_for(user: User) -> list[Panel]:
    collected = panels(user)
    for module in app_modules("dashboard"):
        collected.extend(module.panels(user))
    return sorted(collected, key=lambda p: p.order)


def panels(user: User) -> list[Panel]:
    """Panels every role gets, plus the operator and compliance panels of the base apps."""
    return [*_own_panels(user), *_job_panels(user), *_audit_panels(user)]


def _own_panels(user: User) -> list[Panel]:
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


def _job_panels(user: User) -> list[Panel]:
    visible = Job.objects.visible_to(user)
    found = [
        Panel(
            "Your jobs",
            "jobs/panels/recent.html",
            {"jobs": visible.filter(created_by=user)[:6]},
            order=60,
        )
    ]
    if user.has_perm("jobs.view_job"):
        day_ago = timezone.now() - timedelta(days=1)
        found.append(
            Panel(
                "Background work",
                "jobs/panels/operations.html",
                {
                    "queued": visible.filter(status=Job.Status.QUEUED).count(),
                    "running": visible.filter(status=Job.Status.RUNNING).count(),
                    "failed": visible.filter(
                        status=Job.Status.FAILED, finished_at__gte=day_ago
                    ).count(),
                    "workers": list(jobs.live_workers()),
                },
                order=15,
            )
        )
    return found


def _audit_panels(user: User) -> list[Panel]:
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
                "failed_logins": recent.filter(action="auth.login_failed").count(),
                "lockouts": recent.filter(action="auth.locked_out").count(),
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
