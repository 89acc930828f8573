"""Claim, progress, completion and the reaper, against the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.jobs import services
from apps.jobs.models import Job

pytestmark = pytest.mark.django_db


def _job(**overrides) -> Job:
    fields = {"kind": "diagnostic", "task_name": "jobs.diagnostic", "time_limit": 60}
    return Job.objects.create(**{**fields, **overrides})


def test_a_job_is_enqueued_only_when_the_transaction_commits(
    people, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        job = services.start_diagnostic(actor=people.ivan, steps=2)
    assert job.status == Job.Status.QUEUED and len(callbacks) == 1
    assert AuditEvent.objects.filter(action="job.requested", actor=people.ivan).exists()


def test_only_operators_start_diagnostic_jobs(people):
    with pytest.raises(services.PermissionDenied):
        services.start_diagnostic(actor=people.alice)


def test_a_job_is_claimed_once():
    job = _job()
    first = services.claim(str(job.uuid), worker="w1")
    assert first is not None and first.attempts == 1 and first.status == Job.Status.RUNNING
    assert services.claim(str(job.uuid), worker="w2") is None
    assert services.claim("00000000-0000-0000-0000-000000000000", worker="w2") is None


def test_a_superseded_attempt_can_neither_report_nor_complete():
    job = _job()
    attempt1 = services.claim(str(job.uuid), worker="w1")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED)  # the reaper took it back
    attempt2 = services.claim(str(job.uuid), worker="w2")
    assert attempt2.attempts == 2

    with pytest.raises(services.JobLost):
        services.report_progress(attempt1, 50, "half way")
    with pytest.raises(services.JobLost), services.completing(attempt1):
        pass
    assert not services.fail(attempt1, "late failure")

    with services.completing(attempt2) as locked:
        locked.result = {"ok": True}
    job.refresh_from_db()
    assert (job.status, job.result, job.progress) == (Job.Status.SUCCEEDED, {"ok": True}, 100)


def test_run_turns_an_exception_into_a_readable_failure():
    job = _job()

    def execute(job):
        raise ValueError("The holdout file has no column named 'default'.")

    services.run(str(job.uuid), worker="w", execute=execute, commit=lambda j, v: None)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.message == "The holdout file has no column named 'default'."
    assert AuditEvent.objects.filter(action="job.failed", object_id=str(job.pk)).exists()


def test_a_transient_error_requeues_with_backoff_until_attempts_run_out(
    django_capture_on_commit_callbacks,
):
    job = _job(max_attempts=2)

    def execute(job):
        raise services.Transient("the broker is restarting")

    with django_capture_on_commit_callbacks() as callbacks:
        services.run(str(job.uuid), worker="w", execute=execute, commit=lambda j, v: None)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and len(callbacks) == 1
    services.run(str(job.uuid), worker="w", execute=execute, commit=lambda j, v: None)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "gave up after 2 attempts" in job.message


def test_the_reaper_requeues_work_of_a_dead_worker(django_capture_on_commit_callbacks):
    job = _job()
    services.claim(str(job.uuid), worker="dead@host")
    later = timezone.now() + timedelta(seconds=120)
    with django_capture_on_commit_callbacks() as callbacks:
        report = services.reap_stale_jobs(now=later, stale_after=60)
    job.refresh_from_db()
    assert report.requeued == 1 and job.status == Job.Status.QUEUED and len(callbacks) == 1
    assert "stopped responding" in job.message
    assert AuditEvent.objects.filter(action="job.requeued", object_id=str(job.pk)).exists()


def test_the_reaper_leaves_live_work_alone_and_fails_jobs_out_of_attempts():
    alive = _job()
    services.claim(str(alive.uuid), worker="w")
    exhausted = _job(max_attempts=1)
    services.claim(str(exhausted.uuid), worker="w")
    Job.objects.filter(pk=exhausted.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    report = services.reap_stale_jobs(stale_after=60)

    alive.refresh_from_db()
    exhausted.refresh_from_db()
    assert alive.status == Job.Status.RUNNING
    assert exhausted.status == Job.Status.FAILED and "gave up after 1 attempts" in exhausted.message
    assert (report.requeued, report.failed) == (0, 1)


def test_the_reaper_requeues_an_attempt_past_its_time_limit():
    job = _job(time_limit=60)
    services.claim(str(job.uuid), worker="w")
    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(seconds=200))
    assert services.reap_stale_jobs().requeued == 1
    job.refresh_from_db()
    assert "longer than its 60 s limit" in job.message


def test_the_reaper_resends_jobs_whose_message_was_lost():
    job = _job(enqueued_at=timezone.now() - timedelta(minutes=10))
    fresh = _job(enqueued_at=timezone.now())
    report = services.reap_stale_jobs(requeue_after=60)
    assert report.resent == 1
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert "enqueued again" in job.log and "enqueued again" not in fresh.log


def test_a_worker_heartbeat_keeps_its_running_jobs_fresh():
    started = timezone.now()
    job = _job()
    services.claim(str(job.uuid), worker="w@h")
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    services.record_heartbeat(hostname="w@h", pid=1, queues=["default"], started_at=started)
    assert services.reap_stale_jobs(stale_after=60).requeued == 0
    assert [w.hostname for w in services.live_workers()] == ["w@h"]


def test_a_worker_restarted_under_the_same_name_does_not_keep_its_predecessors_jobs_alive():
    job = _job()
    services.claim(str(job.uuid), worker="w@h")
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    restarted = timezone.now() + timedelta(seconds=1)
    services.record_heartbeat(hostname="w@h", pid=2, queues=["default"], started_at=restarted)
    assert services.reap_stale_jobs(stale_after=60).requeued == 1
