"""What the model's history tab shows from monitoring: its alerts and monitoring reviews."""

from __future__ import annotations

from apps.monitoring.models import Alert, MonitoringReview
from apps.registry.models import RegisteredModel


def audited_with(model: RegisteredModel) -> dict[str, list[str]]:
    return {
        "monitoring.alert": [
            str(pk)
            for pk in Alert.objects.filter(deployment__model=model).values_list("pk", flat=True)
        ],
        "monitoring.monitoringreview": [
            str(pk)
            for pk in MonitoringReview.objects.filter(deployment__model=model).values_list(
                "pk", flat=True
            )
        ],
    }
