from __future__ import annotations

import shutil
from typing import Any

from celery import Task, shared_task

from apps.integrations import automatic, services, tags
from apps.integrations.models import MlflowImport
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.registry import storage


@shared_task(name=services.IMPORT.task, bind=True, ignore_result=True)
def import_from_mlflow(self: Task, job_uuid: str) -> None:
    """Import one MLflow model version as a new portal version, exactly once."""
    run_import(job_uuid, worker=self.request.hostname or "")


def run_import(job_uuid: str, *, worker: str) -> None:
    """One delivery of an import job (the task, or a test in-process). Whatever happens, the
    downloaded files go, and blobs stored by an upload whose transaction rolled back go too."""
    fetched: list[services.Fetched] = []
    stored: list[str] = []

    def execute(job: Job) -> services.Fetched:
        result = services.fetch(job)
        fetched.append(result)
        return result

    def commit(job: Job, result: services.Fetched) -> dict[str, Any]:
        return services.store_import(job, result, stored)

    try:
        jobs.run(job_uuid, worker=worker, execute=execute, commit=commit)
    finally:
        for item in fetched:
            shutil.rmtree(item.folder, ignore_errors=True)
        if stored:
            job = Job.objects.filter(uuid=job_uuid).first()
            done = MlflowImport.objects.filter(
                job=job, version__isnull=False, state=MlflowImport.State.IMPORTED
            ).exists()
            if not done:
                storage.delete(stored)


@shared_task(name=tags.TAGS.task, bind=True, ignore_result=True)
def send_tags(self: Task, job_uuid: str) -> None:
    """Tell MLflow an imported version's status and where it is live."""
    tags.run_send(job_uuid, worker=self.request.hostname or "")


@shared_task(name="integrations.poll_mlflow", ignore_result=True)
def poll_mlflow() -> int:
    """On beat: for links with automatic import on, import what MLflow has new (servers that
    cannot send webhooks, and deliveries that were lost)."""
    return automatic.poll_all()
