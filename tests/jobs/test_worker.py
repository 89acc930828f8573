"""The job loop through a real `celery worker` process, the database and the broker."""

from __future__ import annotations

import os
import signal

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.jobs import services
from apps.jobs.models import Job, WorkerHeartbeat
from tests.factories import UserFactory
from tests.support.worker import WorkerProcess, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _operator():
    return UserFactory(username="ivan", role="model_ops")


def _status(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def test_a_diagnostic_job_runs_to_the_end_on_a_worker(worker):
    job = services.start_diagnostic(actor=_operator(), steps=3, seconds_per_step=0.2)
    wait_for(
        lambda: _status(job) == Job.Status.SUCCEEDED, message=f"job to succeed\n{worker.output()}"
    )
    assert job.progress == 100 and job.attempts == 1
    assert job.result == {"steps": 3, "worker": worker.hostname, "attempt": 1}
    assert "Step 3 of 3" in job.log
    assert [e.action for e in AuditEvent.objects.filter(object_id=str(job.pk)).order_by("id")] == [
        "job.requested",
        "job.started",
        "job.succeeded",
    ]


def test_a_job_whose_worker_is_killed_is_reaped_and_finished_once(transactional_db):
    first = WorkerProcess().start()
    try:
        job = services.start_diagnostic(actor=_operator(), steps=20, seconds_per_step=0.25)
        wait_for(
            lambda: _status(job) == Job.Status.RUNNING and job.progress >= 10,
            message=f"the job to get going\n{first.output()}",
        )
        first.kill()
    finally:
        first.stop()
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.worker == first.hostname

    # Restarted under the same name, as a service manager or a container would: its heartbeat
    # must not keep alive the job that died with the first process.
    second = WorkerProcess(hostname=first.hostname).start()
    try:
        # The dead worker's heartbeat stops; once it is stale the reaper hands the job on.
        wait_for(
            lambda: services.reap_stale_jobs(stale_after=2).requeued == 1,
            timeout=20,
            interval=0.5,
            message="the reaper to re-queue the job",
        )
        wait_for(
            lambda: _status(job) == Job.Status.SUCCEEDED,
            timeout=60,
            message=f"the second worker to finish the job\n{second.output()}",
        )
    finally:
        second.stop()

    assert job.attempts == 2 and job.worker == second.hostname
    assert job.result == {"steps": 20, "worker": second.hostname, "attempt": 2}
    actions = list(
        AuditEvent.objects.filter(object_id=str(job.pk)).values_list("action", flat=True)
    )
    assert actions.count("job.succeeded") == 1
    assert actions.count("job.started") == 2 and actions.count("job.requeued") == 1


def test_healthz_reports_each_part_and_names_what_is_down(transactional_db):
    client = Client()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["down"] == ["workers"]
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]

    process = WorkerProcess().start()
    try:
        response = client.get("/healthz")
        assert response.status_code == 200, response.json()
        workers = response.json()["checks"]["workers"]["workers"]
        assert [w["hostname"] for w in workers] == [process.hostname]
        assert set(workers[0]["queues"]) == {"default", "validation", "deployment", "monitoring"}
    finally:
        process.stop()
    assert WorkerHeartbeat.objects.filter(hostname=process.hostname).exists()


def test_a_job_whose_pool_process_is_killed_is_given_back_at_once_and_finished_once(worker):
    """kill -9 of the pool child, not the worker: the worker lives on, its heartbeat names the
    dead process and hands its job to a new attempt long before the stale limit."""
    job = services.start_diagnostic(actor=_operator(), steps=40, seconds_per_step=0.25)
    wait_for(
        lambda: _status(job) == Job.Status.RUNNING and job.progress >= 5,
        message=f"the job to get going\n{worker.output()}",
    )
    child = job.pid
    assert child and child != worker.process.pid  # the pool child runs it, not the main process
    os.kill(child, signal.SIGKILL)
    # The stale limit is 60 s; the heartbeat (every second here) gives the job back sooner.
    wait_for(
        lambda: _status(job) == Job.Status.SUCCEEDED,
        timeout=50,
        message=f"the job to be retried and finish\n{worker.output()}",
    )
    assert worker.process.poll() is None  # the worker itself lived on
    assert job.attempts == 2 and job.pid != child
    assert f"its process {child}" in job.log and "died" in job.log
    actions = list(
        AuditEvent.objects.filter(object_id=str(job.pk)).values_list("action", flat=True)
    )
    assert actions.count("job.succeeded") == 1
    assert actions.count("job.started") == 2 and actions.count("job.requeued") == 1
