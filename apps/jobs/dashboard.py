"""The jobs app's panels of the "my work" dashboard."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from apps.core.registry import Panel
from apps.jobs import services as jobs
from apps.jobs.models import Job


def panels(user: User) -> list[Panel]:
    """The person's own jobs; for operators, the state of background work."""
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
