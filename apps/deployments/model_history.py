"""What the model's history tab shows from this app: its deployments and serving keys."""

from __future__ import annotations

from apps.deployments.models import Deployment, ServingKey
from apps.registry.models import RegisteredModel


def audited_with(model: RegisteredModel) -> dict[str, list[str]]:
    """Audit object types, each with the ids (as audit stores them) of this model's objects."""
    return {
        "deployments.deployment": [
            str(pk) for pk in Deployment.objects.filter(model=model).values_list("pk", flat=True)
        ],
        "deployments.servingkey": [
            str(pk) for pk in ServingKey.objects.filter(model=model).values_list("pk", flat=True)
        ],
    }
