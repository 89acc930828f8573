"""What the model's history tab (and the audit trail's "Model" filter) shows from this app: the
model's findings."""

from __future__ import annotations

from apps.findings.models import Finding
from apps.registry.models import RegisteredModel


def audited_with(model: RegisteredModel) -> dict[str, list[str]]:
    return {
        "findings.finding": [
            str(pk) for pk in Finding.objects.filter(model=model).values_list("pk", flat=True)
        ]
    }
