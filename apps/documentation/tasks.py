from __future__ import annotations

from celery import Task, shared_task

from apps.documentation import services


@shared_task(name=services.EXPORT.task, bind=True, ignore_result=True)
def export_documentation(self: Task, job_uuid: str) -> None:
    """Write one export of a revision and store it with its SHA-256, exactly once."""
    services.attempt(job_uuid, worker=self.request.hostname or "")
