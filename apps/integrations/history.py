"""What the model's history tab shows of MLflow interop: its imports (links are audited on the
model itself)."""

from __future__ import annotations

from collections.abc import Mapping

from apps.integrations.models import MlflowImport
from apps.registry.models import RegisteredModel


def audited_with(model: RegisteredModel) -> Mapping[str, list[str]]:
    ids = [str(pk) for pk in MlflowImport.objects.filter(model=model).values_list("pk", flat=True)]
    return {MlflowImport._meta.label_lower: ids} if ids else {}
