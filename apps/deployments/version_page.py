"""The deployment part of the version page: where the model is live, and the controls for IT."""

from __future__ import annotations

from django.db.models import Sum
from django.http import HttpRequest

from apps.core.permissions import can, user_of
from apps.core.registry import Section
from apps.deployments import services
from apps.deployments.models import Deployment, Environment, Placement, PredictionLogLoss
from apps.registry.models import ModelVersion


def sections(request: HttpRequest, version: ModelVersion) -> list[Section]:
    user = user_of(request)
    environments = list(Environment.objects.all())
    placements = {
        p.environment_id: p
        for p in Placement.objects.filter(model=version.model).select_related(
            "deployment__version", "deployment__replaced__version", "challenger__version"
        )
    }
    live = {pk: p.deployment for pk, p in placements.items()}
    challengers = {pk: p.challenger for pk, p in placements.items()}
    rows = [(env, live.get(env.pk), challengers.get(env.pk)) for env in environments]
    may_deploy = can(user, services.DEPLOY) and can(
        user, "registry.view_registeredmodel", version.model
    )
    return [
        Section(
            "deployments/_version_section.html",
            {
                "version": version,
                "rows": rows,
                "deployable": version.status == ModelVersion.Status.APPROVED,
                "may_deploy": may_deploy,
                "history": Deployment.objects.filter(version=version).select_related(
                    "environment", "requested_by", "job"
                )[:20],
                "losses": PredictionLogLoss.objects.filter(deployment__version=version)
                .values("deployment__environment__name", "reason")
                .annotate(lost=Sum("lost"))
                .order_by("deployment__environment__name", "reason"),
                "live_here": any(
                    d is not None and d.version_id == version.pk
                    for d in [*live.values(), *challengers.values()]
                ),
                "canary_shares": services.CANARY_SHARES,
            },
            order=30,
        )
    ]
