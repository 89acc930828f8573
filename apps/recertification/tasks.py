from __future__ import annotations

from typing import Any

from celery import shared_task

from apps.recertification import services


@shared_task(name="recertification.sweep", ignore_result=True)
def sweep() -> dict[str, Any]:
    """Keep every production model's review date, triggers and reminders up to date."""
    report = services.sweep()
    return {"scheduled": report.scheduled, "opened": report.opened, "reminded": report.reminded}
