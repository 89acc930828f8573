"""Which validation jobs a person sees: those of versions they may see.

A validation job shows its version's messages, log and result, so it is visible exactly where the
version is: model operations see it once the version is submitted for review, the model's team
and risk owner always (decisions §8). Registered with ``jobs.scoped_by`` when the app is ready.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from apps.jobs import services as jobs
from apps.registry.models import ModelVersion
from apps.validation import services


@jobs.scoped_by(services.KIND)
def validation_job_subjects(user: User) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.restrict(user)
