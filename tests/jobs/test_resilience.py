"""Jobs outlive a broker outage and killed workers: every job ends exactly once, none is lost.

Real processes only: a `redis-server` of the test's own on a free loopback port (stopped and
started again by its PID, coming back empty as a broker without persistence does), real `celery
worker` processes on the test database, and the reaper as beat would call it. QUALITY.md asks
for "kill -9 of a worker mid-job, 20 times; Redis stopped during enqueue and during a run".
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from celery import current_app
from django.db.models import Count, Q
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.jobs import services
from apps.jobs.models import Job
from mlops_portal.celery import app as celery_app
from tests.factories import UserFactory
from tests.support.redis import REDIS_TRANSPORT_OPTIONS, RedisServer, celery_sends_to
from tests.support.worker import WorkerProcess, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# QUALITY.md's figure. Each round costs a worker start-up plus about 1.5 s.
KILLS = 20
# Jobs started while Redis is down.
OUTAGE_JOBS = 3


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:  # type: ignore[no-untyped-def]
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def redis_broker(redis_server: RedisServer, settings) -> Iterator[RedisServer]:  # type: ignore[no-untyped-def]
    """This process, and the workers the test starts, use the test's own Redis."""
    # The settings are overridden inside: celery_sends_to restores the conf it finds on entry.
    with celery_sends_to(celery_app, redis_server.url, REDIS_TRANSPORT_OPTIONS):
        settings.CELERY_BROKER_URL = redis_server.url
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_TRANSPORT_OPTIONS
        # services.dispatch sends through current_app: it must be this app, now on this Redis.
        connection = current_app.connection_for_write()
        assert current_app._get_current_object() is celery_app
        assert (connection.transport_cls, connection.port) == ("redis", redis_server.port)
        yield redis_server


def _operator():  # type: ignore[no-untyped-def]
    return UserFactory(username="ivan", role="model_ops")


def _status(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def _assert_each_ended_once(jobs: list[Job], *, attempts: int, what: str) -> None:
    """Every job succeeded on its last attempt, exactly once, and nothing is left behind."""
    unfinished = Job.objects.exclude(status=Job.Status.SUCCEEDED)
    twice = (
        AuditEvent.objects.filter(action="job.succeeded")
        .values("object_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    print(f"\n{what}: {len(jobs)} jobs, {unfinished.count()} lost, {twice.count()} ended twice")
    assert not unfinished.exists(), list(unfinished.values_list("pk", "status", "log"))
    assert Job.objects.count() == len(jobs)
    events = (
        AuditEvent.objects.filter(object_id__in=[str(job.pk) for job in jobs])
        .values("object_id")
        .annotate(
            succeeded=Count("pk", filter=Q(action="job.succeeded")),
            started=Count("pk", filter=Q(action="job.started")),
        )
    )
    by_job = {row["object_id"]: row for row in events}
    for job in jobs:
        job.refresh_from_db()
        assert job.attempts == attempts, job.log
        assert job.result == {
            "steps": job.payload["steps"],
            "worker": job.worker,
            "attempt": attempts,
        }
        assert by_job[str(job.pk)]["succeeded"] == 1, job.log
        assert by_job[str(job.pk)]["started"] == attempts, job.log


def test_jobs_started_while_redis_is_down_stay_queued_and_run_once_it_is_back(
    redis_broker: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    operator = _operator()
    caplog.set_level(logging.ERROR, logger="apps.jobs.services")

    def enqueue_failures() -> int:
        return sum("could not enqueue" in r.getMessage() for r in caplog.records)

    worker = WorkerProcess().start()
    try:
        # A job before the outage: this process now holds a pooled connection to Redis.
        before = services.start_diagnostic(actor=operator, steps=1, seconds_per_step=0.1)
        wait_for(
            lambda: _status(before) == Job.Status.SUCCEEDED,
            message=f"a job before the outage to succeed\n{worker.output()}",
        )

        redis_broker.stop()
        jobs = [
            services.start_diagnostic(actor=operator, steps=2, seconds_per_step=0.1)
            for _ in range(OUTAGE_JOBS)
        ]
        # Each request committed its job; the enqueue on commit failed (after a bounded retry,
        # not a hang) and said so.
        assert enqueue_failures() == OUTAGE_JOBS
        assert [_status(job) for job in jobs] == [Job.Status.QUEUED] * OUTAGE_JOBS
        assert all(job.attempts == 0 for job in jobs)

        redis_broker.start()
        # Redis came back empty: no message for these jobs exists anywhere; the reaper resends.
        assert redis_broker.client().llen("default") == 0
        # Once the last one has waited longer than requeue_after, one pass resends them all,
        # through the pool whose connection the outage broke.
        wait_for(
            lambda: timezone.now() - jobs[-1].enqueued_at > timedelta(seconds=1.1),
            message="the jobs to be overdue",
        )
        assert services.reap_stale_jobs(requeue_after=1).resent == OUTAGE_JOBS
        after = services.start_diagnostic(actor=operator, steps=1, seconds_per_step=0.1)
        assert enqueue_failures() == OUTAGE_JOBS  # those sends went through
        # The worker reconnects on its own (its retries back off 2 s, 4 s, 6 s…).
        wait_for(
            lambda: all(_status(job) == Job.Status.SUCCEEDED for job in [*jobs, after]),
            timeout=60,
            message=f"the jobs to succeed after the outage\n{worker.output()}",
        )
        # Nothing is left for the reaper.
        assert services.reap_stale_jobs(stale_after=2, requeue_after=1) == services.ReapReport()
    finally:
        worker.stop()
    _assert_each_ended_once(
        [before, *jobs, after], attempts=1, what=f"{OUTAGE_JOBS} enqueued while Redis was down"
    )


def test_a_job_running_while_redis_goes_down_and_comes_back_ends_once(
    redis_broker: RedisServer,
) -> None:
    operator = _operator()
    worker = WorkerProcess().start()
    try:
        job = services.start_diagnostic(actor=operator, steps=12, seconds_per_step=0.25)
        wait_for(
            lambda: _status(job) == Job.Status.RUNNING and job.progress >= 8,
            interval=0.05,
            message=f"the job to get going\n{worker.output()}",
        )
        redis_broker.stop()
        during = job.progress
        # The job goes on reporting to the database while the broker is down…
        wait_for(
            lambda: _status(job) == Job.Status.RUNNING and job.progress >= during + 16,
            timeout=10,
            interval=0.05,
            message="the job to make progress while Redis is down",
        )
        redis_broker.start()
        # …and the beat's reaper, running meanwhile, must leave a live job alone.
        wait_for(
            lambda: (
                services.reap_stale_jobs(stale_after=2, requeue_after=1) is not None
                and _status(job) == Job.Status.SUCCEEDED
            ),
            timeout=30,
            interval=0.25,
            message=f"the job to succeed\n{worker.output()}",
        )
        # The worker consumes again once it has reconnected: a job started after the outage runs.
        after = services.start_diagnostic(actor=operator, steps=1, seconds_per_step=0.1)
        wait_for(
            lambda: _status(after) == Job.Status.SUCCEEDED,
            timeout=60,
            message=f"a job started after the outage to succeed\n{worker.output()}",
        )
    finally:
        worker.stop()
    assert job.worker == worker.hostname and "Step 12 of 12" in job.log
    _assert_each_ended_once([job, after], attempts=1, what="Redis stopped during a run")


def test_a_worker_killed_mid_job_again_and_again_loses_nothing(redis_broker: RedisServer) -> None:
    """kill -9 of the worker mid-job, KILLS times, each time restarted under the same name."""
    operator = _operator()
    hostname = f"resilience-{uuid.uuid4().hex[:8]}@localhost"
    jobs: list[Job] = []
    started = time.monotonic()
    worker = WorkerProcess(hostname=hostname).start()
    try:
        for round_ in range(KILLS):
            job = services.start_diagnostic(actor=operator, steps=4, seconds_per_step=0.25)
            jobs.append(job)
            wait_for(
                lambda job=job: _status(job) == Job.Status.RUNNING and job.progress >= 25,
                interval=0.02,
                message=f"round {round_}: the job to get going\n{worker.output()}",
            )
            worker.kill()
            assert _status(job) == Job.Status.RUNNING and job.progress < 100
            # Restarted under the same name, as a service manager or a container would.
            worker = WorkerProcess(hostname=hostname).start()
            wait_for(
                lambda: services.reap_stale_jobs(stale_after=1).requeued == 1,
                timeout=10,
                message=f"round {round_}: the reaper to re-queue the job",
            )
            wait_for(
                lambda job=job: _status(job) == Job.Status.SUCCEEDED,
                timeout=30,
                interval=0.05,
                message=f"round {round_}: the restarted worker to finish\n{worker.output()}",
            )
        # Redis still holds each killed attempt's delivery, unacknowledged, and hands it out
        # again once its visibility timeout (2 h) has passed. Make that happen now: every one is
        # a duplicate delivery of a finished job, which the claim must ignore.
        client = redis_broker.client()
        wait_for(
            lambda: client.hlen("unacked") == KILLS,
            timeout=10,
            message=f"{KILLS} unacknowledged deliveries (there are {client.hlen('unacked')})",
        )
        expired = {**REDIS_TRANSPORT_OPTIONS, "visibility_timeout": 0}
        with celery_app.connection_for_write(transport_options=expired) as connection:
            connection.default_channel.qos.restore_visible(num=2 * KILLS)
        wait_for(
            lambda: client.hlen("unacked") == 0 and client.llen("default") == 0,
            timeout=30,
            message=f"the worker to take the redelivered tasks\n{worker.output()}",
        )
    finally:
        worker.stop()
    assert len(jobs) == KILLS
    elapsed = time.monotonic() - started
    _assert_each_ended_once(jobs, attempts=2, what=f"{KILLS} x kill -9 mid-job in {elapsed:.0f} s")
