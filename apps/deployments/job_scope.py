"""Which deployment jobs a person sees: those of deployments whose model they may see.

Registered with ``jobs.scoped_by`` when the app is ready (decisions §8).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from apps.core.permissions import visible_to
from apps.deployments import services
from apps.deployments.models import Deployment
from apps.jobs import services as jobs


@jobs.scoped_by(services.KIND)
def deployment_job_subjects(user: User) -> QuerySet[Deployment]:
    return visible_to(user, Deployment.objects.all())
