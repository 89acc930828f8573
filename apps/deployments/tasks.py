from __future__ import annotations

from celery import Task, shared_task

from apps.deployments import services
from apps.jobs import services as jobs


@shared_task(name=services.DEPLOYMENT.task, bind=True, ignore_result=True)
def deploy(self: Task, job_uuid: str) -> None:
    """Load and smoke-test a version, then switch it live (or say why not), exactly once."""
    jobs.run(
        job_uuid,
        worker=self.request.hostname or "",
        execute=services.run_deployment,
        commit=services.commit_deployment,
    )
