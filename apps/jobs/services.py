"""The life of a Job: created and enqueued on commit, claimed, reported on, completed once.

Every Celery task in the portal goes through ``run``: it claims the job by conditional update (zero
rows means a duplicate delivery, and the task does nothing), executes the work outside any
transaction while reporting progress, then commits the work's result and the job's success in one
transaction that first checks the job is still this attempt's. A worker that dies leaves its job
``running`` with a stale heartbeat; ``reap_stale_jobs`` gives it to a new attempt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from apps.audit import context
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.registry import JobKind, registry
from apps.jobs.models import Job, WorkerHeartbeat

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The jobs app's own kind: no subject, so operators and its starter see it.
DIAGNOSTIC = JobKind(name="diagnostic", task="jobs.diagnostic")


class JobLost(Exception):
    """This attempt no longer owns the job: it finished, or the reaper handed it to another."""


class Transient(Exception):
    """A failure worth another attempt later (a service briefly unavailable)."""


class Final(Exception):
    """A failure no other attempt can mend (a refused target): the job fails at once with this
    message, and no traceback is logged, since nothing went wrong in the portal."""


def create_job(
    *,
    kind: JobKind,
    target: models.Model | None = None,
    actor: User | AnonymousUser | None = None,
    payload: dict[str, Any] | None = None,
    time_limit: int | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Create a queued job of ``kind`` and enqueue its task once the caller's transaction commits.
    ``time_limit`` (seconds per attempt) and ``max_attempts`` override the kind's, for limits
    read from settings at the time of the call.

    If the broker is unreachable at that moment the job stays queued and the reaper enqueues it
    again, so a crash or outage between commit and enqueue loses nothing.
    """
    if registry.job_kinds.get(kind.name) is not kind:
        raise ValueError(f"job kind {kind.name!r} is not registered (AppConfig.ready)")
    user = actor if actor is not None and actor.is_authenticated else None
    job = Job.objects.create(
        kind=kind.name,
        task_name=kind.task,
        queue=kind.queue,
        payload=payload or {},
        time_limit=time_limit or kind.time_limit or settings.CELERY_TASK_TIME_LIMIT,
        max_attempts=max_attempts or kind.max_attempts,
        created_by=user,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=str(target.pk) if target is not None else "",
        enqueued_at=timezone.now(),
    )
    transaction.on_commit(lambda: dispatch(job), robust=True)
    return job


def dispatch(job: Job, *, countdown: float | None = None) -> None:
    """Send the job's task to its queue. Broker errors are logged: the reaper resends."""
    try:
        current_app.send_task(
            job.task_name,
            args=[str(job.uuid)],
            queue=job.queue,
            countdown=countdown,
            soft_time_limit=max(job.time_limit - 30, 1),
            time_limit=job.time_limit,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception:
        logger.exception("could not enqueue %s; the reaper will enqueue it again", job)


def _append(line: str) -> Concat:
    stamp = timezone.now().strftime("%H:%M:%S")
    return Concat(F("log"), Value(f"{stamp} {line}\n"), output_field=models.TextField())


def _owned(job: Job) -> models.QuerySet[Job]:
    """The job, if and only if it is still this attempt's."""
    return Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts)


def claim(job_uuid: str, *, worker: str, pid: int | None = None) -> Job | None:
    """Take a queued job for this attempt, run by process ``pid`` (this one by default); None
    when it is not queued (a duplicate delivery)."""
    now = timezone.now()
    with transaction.atomic():
        claimed = Job.objects.filter(uuid=job_uuid, status=Job.Status.QUEUED).update(
            status=Job.Status.RUNNING,
            attempts=F("attempts") + 1,
            worker=worker,
            pid=pid if pid is not None else os.getpid(),
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            progress=0,
            message="Started",
            log=_append(f"attempt started on {worker}"),
        )
        if not claimed:
            return None
        job = Job.objects.get(uuid=job_uuid)
        audit.record(
            None, AuditAction.JOB_STARTED, job, after={"attempt": job.attempts, "worker": worker}
        )
    return job


def report_progress(job: Job, percent: int, message: str) -> None:
    """Show how far the job is; raises JobLost if another attempt has taken over."""
    percent = max(0, min(100, int(percent)))
    updated = _owned(job).update(
        progress=percent,
        message=message[:500],
        heartbeat_at=timezone.now(),
        log=_append(message),
    )
    if not updated:
        raise JobLost(str(job.uuid))
    job.progress, job.message = percent, message


@contextlib.contextmanager
def completing(job: Job) -> Iterator[Job]:
    """The transaction in which a job's result is stored and the job marked succeeded.

    The job row is locked and its ownership checked first; the caller's writes inside the block and
    the success land together or not at all.
    """
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status != Job.Status.RUNNING or locked.attempts != job.attempts:
            raise JobLost(str(job.uuid))
        yield locked
        locked.status = Job.Status.SUCCEEDED
        locked.progress = 100
        locked.finished_at = timezone.now()
        locked.message = locked.message if locked.message != "Started" else "Done"
        locked.save(update_fields=["status", "progress", "finished_at", "message", "result"])
        Job.objects.filter(pk=locked.pk).update(log=_append("succeeded"))
        audit.record(None, AuditAction.JOB_SUCCEEDED, locked, after={"attempt": locked.attempts})


def fail(job: Job, message: str) -> bool:
    """Mark this attempt's job failed with a message its owner can act on."""
    with transaction.atomic():
        updated = _owned(job).update(
            status=Job.Status.FAILED,
            message=message[:500],
            finished_at=timezone.now(),
            log=_append(f"failed: {message}"),
        )
        if updated:
            audit.record(
                None,
                AuditAction.JOB_FAILED,
                job,
                after={"attempt": job.attempts, "message": message[:500]},
            )
            kind = registry.job_kinds.get(job.kind)
            if kind is not None and kind.when_failed is not None:
                job.message = message[:500]
                kind.when_failed(job)
    return bool(updated)


def default_backoff(attempt: int) -> float:
    """Seconds before the attempt after failed attempt ``attempt`` (1, 2, ...): doubling from
    5 s, at most five minutes, with jitter so that the retries of many jobs after one outage do
    not all arrive together."""
    return min(5 * 2 ** (attempt - 1), 300) * random.uniform(0.8, 1.2)  # noqa: S311


def _requeue_or_fail(job: Job, reason: str, *, backoff: bool = False) -> bool:
    """Give this attempt's job another attempt, or fail it once attempts are used up.

    With ``backoff`` the next attempt waits as the job's kind says (``JobKind.backoff``, else
    ``default_backoff``). ``enqueued_at`` is then the moment the message is due, so the reaper
    does not take a job waiting for its retry for one whose message was lost. Returns True if
    re-queued.
    """
    with transaction.atomic():
        if job.attempts >= job.max_attempts:
            fail(job, f"{reason}; gave up after {job.attempts} attempts")
            return False
        delay = None
        if backoff:
            kind = registry.job_kinds.get(job.kind)
            delay = (kind.backoff if kind and kind.backoff else default_backoff)(job.attempts)
        requeued = _owned(job).update(
            status=Job.Status.QUEUED,
            enqueued_at=timezone.now() + timedelta(seconds=delay or 0),
            message=f"Re-queued: {reason}"[:500],
            log=_append(f"re-queued: {reason}"),
        )
        if requeued:
            audit.record(None, AuditAction.JOB_REQUEUED, job, after={"reason": reason[:500]})
            transaction.on_commit(lambda: dispatch(job, countdown=delay), robust=True)
        return bool(requeued)


def run(
    job_uuid: str,
    *,
    worker: str,
    execute: Callable[[Job], T],
    commit: Callable[[Job, T], dict[str, Any] | None],
) -> None:
    """Run one delivery of a job's task: claim, execute, commit; nothing happens twice.

    ``execute`` does the long work outside a transaction and may call ``report_progress``.
    ``commit`` runs inside ``completing``: it stores what ``execute`` produced and returns the job's
    result. An exception's message becomes the job's failure message, so write it for the user.
    """
    job = claim(job_uuid, worker=worker)
    if job is None:
        logger.info("job %s is not queued; ignoring this delivery", job_uuid)
        return
    with context.bound(context.RequestContext(request_id=f"job-{job.uuid}")):
        try:
            produced = execute(job)
            with completing(job) as locked:
                locked.result = commit(locked, produced)
        except JobLost:
            logger.warning("job %s was taken over by another attempt; dropping this one", job.uuid)
        except Transient as exc:
            _requeue_or_fail(job, str(exc), backoff=True)
        except Final as exc:
            fail(job, str(exc) or type(exc).__name__)
        except Exception as exc:
            logger.exception("job %s failed", job.uuid)
            fail(job, str(exc) or type(exc).__name__)


@dataclass
class ReapReport:
    requeued: int = 0
    failed: int = 0
    resent: int = 0


def reap_stale_jobs(
    *,
    now: datetime | None = None,
    stale_after: int | None = None,
    requeue_after: int | None = None,
) -> ReapReport:
    """Give lost work a new attempt.

    - running, but its worker stopped heart-beating: the worker died (the filesystem broker loses
      such a task; Redis redelivers it only after its visibility timeout);
    - running longer than its time limit: the attempt hung or was killed by the time limit;
    - queued, but not started long after it was enqueued: the message was lost.
    Every change is a conditional update, so two reapers, or a reaper racing a worker, are safe.
    """
    now = now or timezone.now()
    stale_cutoff = now - timedelta(seconds=stale_after or settings.PORTAL_JOB_STALE_SECONDS)
    report = ReapReport()
    for job in Job.objects.filter(status=Job.Status.RUNNING):
        assert job.started_at is not None
        if job.heartbeat_at and job.heartbeat_at < stale_cutoff:
            reason = f"worker {job.worker} stopped responding"
        elif job.started_at + timedelta(seconds=job.time_limit + 60) < now:
            reason = f"ran longer than its {job.time_limit} s limit"
        else:
            continue
        if _requeue_or_fail(job, reason):
            report.requeued += 1
        else:
            report.failed += 1

    resend_cutoff = now - timedelta(seconds=requeue_after or settings.PORTAL_JOB_REQUEUE_SECONDS)
    for job in Job.objects.filter(status=Job.Status.QUEUED, enqueued_at__lt=resend_cutoff)[:100]:
        resent = Job.objects.filter(
            pk=job.pk, status=Job.Status.QUEUED, enqueued_at=job.enqueued_at
        ).update(enqueued_at=now, log=_append("not started in time; enqueued again"))
        if resent:
            dispatch(job)
            report.resent += 1
    return report


def record_heartbeat(
    *,
    hostname: str,
    pid: int,
    queues: list[str],
    started_at: datetime,
    live_pids: Collection[int] | None = None,
) -> int:
    """Note that a worker is alive, and that the jobs its live processes run are not lost.

    Only jobs claimed since this worker started count as its own: a worker restarted under the
    same hostname (the normal case for a service or a container) must not keep alive the jobs
    that died with its previous process. ``live_pids`` are the processes that run its tasks
    (its pool's children; itself for a solo pool): a job claimed by a process that is no longer
    among them died with that process (a pool child killed by the kernel or by ``kill -9``), and
    is given a new attempt at once rather than when its heartbeat goes stale. Only jobs claimed
    before ``live_pids`` was read are judged, so a child spawned a moment later keeps its job.
    Returns how many jobs were given back.
    """
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={"pid": pid, "queues": queues, "started_at": started_at, "last_seen": now},
    )
    own = Job.objects.filter(status=Job.Status.RUNNING, worker=hostname, started_at__gte=started_at)
    if live_pids is None:
        own.update(heartbeat_at=now)
        return 0
    own.filter(pid__in=list(live_pids)).update(heartbeat_at=now)
    orphans = own.exclude(pid__in=list(live_pids)).filter(started_at__lt=now)
    given_back = 0
    for job in orphans:
        given_back += _requeue_or_fail(job, f"its process {job.pid} on {hostname} died")
    if given_back:
        logger.warning("gave back %d job(s) whose worker process died", given_back)
    return given_back


def run_janitors() -> None:
    """What apps clean up on this host after attempts whose process died (their scratch
    folders); each is registered in ``registry.worker_janitors``. One failing does not stop
    the others, nor the heartbeat."""
    for janitor in registry.worker_janitors:
        try:
            janitor()
        except Exception:
            logger.exception("worker janitor %s failed", getattr(janitor, "__name__", janitor))


def live_workers() -> models.QuerySet[WorkerHeartbeat]:
    cutoff = timezone.now() - timedelta(seconds=3 * settings.PORTAL_WORKER_HEARTBEAT_SECONDS)
    return WorkerHeartbeat.objects.filter(last_seen__gte=cutoff)


def start_diagnostic(
    *, actor: User | AnonymousUser, steps: int = 5, seconds_per_step: float = 1.0
) -> Job:
    """Run the diagnostic job: proves the web → broker → worker → database loop end to end."""
    if not actor.has_perm("jobs.add_job"):
        raise PermissionDenied("Only operators may start a diagnostic job.")
    with transaction.atomic():
        job = create_job(
            kind=DIAGNOSTIC,
            actor=actor,
            payload={"steps": steps, "seconds_per_step": seconds_per_step},
            time_limit=max(60, int(steps * seconds_per_step) + 60),
        )
        audit.record(
            actor, AuditAction.JOB_REQUESTED, job, after={"kind": DIAGNOSTIC.name, "steps": steps}
        )
    return job
