from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Cast
from django.utils import timezone

from apps.core.permissions import RestrictedQuerySet
from apps.core.registry import registry


def _about(subjects: models.QuerySet[Any]) -> models.Q:
    """Jobs whose target is one of ``subjects``. Job.target_id is text (a generic key), so the
    subjects' keys are compared as text."""
    meta = subjects.model._meta
    keys = subjects.annotate(key=Cast("pk", models.CharField())).values("key")
    return models.Q(
        target_type__app_label=meta.app_label,
        target_type__model=meta.model_name,
        target_id__in=keys,
    )


class JobQuerySet(RestrictedQuerySet["Job"]):
    def restrict(self, user: User | AnonymousUser, action: str = "view") -> JobQuerySet:
        """The jobs ``user`` started; the jobs about a subject ``user`` may see (the ``scope`` of
        the job's registered ``JobKind`` decides), whoever started them; and, for operators
        (``jobs.view_job``), the jobs of kinds without a subject (diagnostics). Decisions §8."""
        if not isinstance(user, User) or not user.is_active:
            return self.none()
        seen = models.Q(created_by=user)
        scoped = [kind for kind in registry.job_kinds if kind.scope is not None]
        for kind in scoped:
            assert kind.scope is not None
            seen |= models.Q(kind=kind.name) & _about(kind.scope(user))
        if user.has_perm("jobs.view_job"):
            seen |= ~models.Q(kind__in=[kind.name for kind in scoped])
        return self.filter(seen)

    def visible_to(self, user: User | AnonymousUser) -> JobQuerySet:
        return self.restrict(user)

    def active(self) -> JobQuerySet:
        return self.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])


class Job(models.Model):
    """One unit of background work, run by a Celery task and shown to users while it runs.

    The row, not Celery's result backend, is the truth about the work: tasks claim it with a
    conditional update, report progress on it, and finish it in the transaction that stores the
    work's result, so a job redelivered or re-enqueued by the reaper completes exactly once.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=50, db_index=True)
    task_name = models.CharField(max_length=200)
    queue = models.CharField(max_length=50, default="default")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    log = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    time_limit = models.PositiveIntegerField(help_text="Seconds one attempt may run.")
    worker = models.CharField(max_length=200, blank=True)
    # The process that runs this attempt (a worker's pool child): the worker's heartbeat keeps
    # only its live processes' jobs fresh, and gives back at once a job whose process died.
    pid = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_id = models.CharField(max_length=64, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # When its message is due: the moment it was sent, or, for a retry with a backoff, the end
    # of the wait. The reaper resends a job still queued long after this.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="job_progress_max_100"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {str(self.uuid)[:8]}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class WorkerHeartbeat(models.Model):
    """The last sign of life of one Celery worker, written by its HeartbeatStep."""

    hostname = models.CharField(max_length=200, unique=True)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname
