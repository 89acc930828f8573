"""Celery tasks of the jobs app: the reaper and the diagnostic job."""

from __future__ import annotations

import time
from typing import Any

from celery import Task, shared_task

from apps.jobs import services
from apps.jobs.models import Job


@shared_task(name="jobs.reap_stale_jobs", ignore_result=True)
def reap_stale_jobs() -> dict[str, int]:
    report = services.reap_stale_jobs()
    return {"requeued": report.requeued, "failed": report.failed, "resent": report.resent}


@shared_task(name=services.DIAGNOSTIC.task, bind=True, ignore_result=True)
def diagnostic(self: Task, job_uuid: str) -> None:
    services.run(job_uuid, worker=self.request.hostname or "", execute=_count, commit=_result)


def _count(job: Job) -> int:
    steps = int(job.payload.get("steps", 5))
    delay = float(job.payload.get("seconds_per_step", 1.0))
    for step in range(1, steps + 1):
        time.sleep(delay)
        services.report_progress(job, step * 100 // steps, f"Step {step} of {steps}")
    return steps


def _result(job: Job, steps: int) -> dict[str, Any]:
    return {"steps": steps, "worker": job.worker, "attempt": job.attempts}
