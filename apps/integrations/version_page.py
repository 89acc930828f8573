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
    if record.holdout_artifact:
        origin = f"the run's artifact {record.holdout_artifact}"
    else:
        origin = f"the file {record.holdout_name}"
    tables = [
        (
            "Holdout the portal validated it on",
            [("Taken from", origin), ("SHA-256", record.holdout_sha256 or "—")],
        ),
        ("Parameters of the run", sorted(record.params.items())),
        ("Metrics of the run (as MLflow logged them)", sorted(record.metrics.items())),
        ("Tags of the run", sorted(record.tags.items())),
    ]
    return [
        Section("integrations/_provenance.html", {"record": record, "tables": tables}, order=15)
    ]
