from __future__ import annotations

import shutil
from typing import Any

from celery import Task, shared_task

from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.validation import services


@shared_task(name=services.VALIDATION.task, bind=True, ignore_result=True)
def validate_version(self: Task, job_uuid: str) -> None:
    """Validate one model version in the sandbox and store its report, exactly once."""
    scratches: list[Any] = []

    def execute(job: Job) -> services.Produced:
        produced = services.run_validation(job)
        scratches.append(produced.scratch)
        return produced

    try:
        jobs.run(
            job_uuid,
            worker=self.request.hostname or "",
            execute=execute,
            commit=services.store_validation,
        )
    finally:
        # Normally removed after the commit; this catches a lost or failed attempt.
        for scratch in scratches:
            shutil.rmtree(scratch, ignore_errors=True)
