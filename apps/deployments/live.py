"""Where each model's versions serve (``registry.live_versions``): read from the placements,
the one row per model and environment that serving reads too, so a page never says a version is
live that serving does not answer with."""

from __future__ import annotations

from collections.abc import Mapping

from apps.core.registry import Live
from apps.deployments.models import Deployment, Environment, Placement
from apps.registry.models import ModelVersion


def _live(deployment: Deployment, *, is_production: bool, environment: str) -> Live:
    return Live(
        environment=environment,
        version=deployment.version.number,
        since=deployment.live_from,
        role="live version" if not deployment.is_challenger else deployment.mode_label(),
        is_production=is_production,
        url=deployment.version.get_absolute_url(),
    )


def live_versions(model_ids: list[int]) -> Mapping[int, list[Live]]:
    found: dict[int, list[Live]] = {}
    placements = Placement.objects.filter(model_id__in=model_ids).select_related(
        "environment", "deployment__version__model", "challenger__version__model"
    )
    for placement in placements:
        env = placement.environment
        rows = found.setdefault(placement.model_id, [])
        for deployment in (placement.deployment, placement.challenger):
            if deployment is not None and deployment.live_from is not None:
                rows.append(
                    _live(deployment, is_production=env.is_production, environment=env.name)
                )
    return found


def waiting_for(version: ModelVersion) -> list[str]:
    """An approved version that serves nowhere waits for model operations to deploy it."""
    if version.status != ModelVersion.Status.APPROVED:
        return []
    if Deployment.objects.filter(version=version, live_from__isnull=False).exists():
        return []
    first = Environment.objects.filter(requires_live_in__isnull=True).first()
    where = f" to {first.name}" if first else ""
    return [f"a deployment{where} by model operations (IT)"]
