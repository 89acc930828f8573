"""Which deployment jobs a person sees: those of deployments whose model they may see.

Registered with ``jobs.scoped_by`` when the app is ready (decisions §8).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast

from apps.accounts.permissions import visible_to
from apps.deployments import services
from apps.deployments.models import Deployment
from apps.jobs import services as jobs
from apps.jobs.models import Job


@jobs.scoped_by(services.KIND)
def deployment_jobs_visible_to(user: User, queryset: QuerySet[Job]) -> QuerySet[Job]:
    """The deployment jobs in ``queryset`` whose target deployment's model ``user`` may view."""
    # Job.target_id is text (a generic key), so the visible deployments' keys are compared as text.
    deployments = visible_to(user, Deployment.objects.all())
    keys = deployments.annotate(key=Cast("pk", CharField())).values("key")
    return queryset.filter(
        target_type__app_label="deployments", target_type__model="deployment", target_id__in=keys
    )
