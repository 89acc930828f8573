"""The provenance part of the version page: where an imported version came from."""

from __future__ import annotations

from django.http import HttpRequest

from apps.core.registry import Section
from apps.integrations import services
from apps.registry.models import ModelVersion


def sections(request: HttpRequest, version: ModelVersion) -> list[Section]:
    record = services.provenance_of(version)
    if record is None:
        return []
    tables = [
        ("Parameters of the run", sorted(record.params.items())),
        ("Metrics of the run (as MLflow logged them)", sorted(record.metrics.items())),
        ("Tags of the run", sorted(record.tags.items())),
    ]
    return [
        Section("integrations/_provenance.html", {"record": record, "tables": tables}, order=15)
    ]
