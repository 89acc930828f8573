"""Which validation jobs a person sees: those of versions whose model they may see.

A validation job shows its version's messages, log and result, so it is visible exactly where the
version is: model operations see it only from the model's first review on, the model's team and
risk owner always (decisions §8). Registered with ``jobs.scoped_by`` when the app is ready.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast

from apps.accounts.permissions import visible_to
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.registry import services as registry
from apps.registry.models import ModelVersion


@jobs.scoped_by(registry.VALIDATION_KIND)
def validation_jobs_visible_to(user: User, queryset: QuerySet[Job]) -> QuerySet[Job]:
    """The validation jobs in ``queryset`` whose target version ``user`` may view."""
    # Job.target_id is text (a generic key), so the visible versions' keys are compared as text.
    versions = visible_to(user, ModelVersion.objects.all())
    keys = versions.annotate(key=Cast("pk", CharField())).values("key")
    return queryset.filter(
        target_type__app_label="registry", target_type__model="modelversion", target_id__in=keys
    )
