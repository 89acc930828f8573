"""The provenance part of an imported version's documentation (``registry.documentation_parts``).

The same record as the version page's Provenance section and the provenance API: where the
version came from in MLflow. The MLflow server is named as administrators named its connection;
its address and credentials stay out of the document. What MLflow logged (parameters, metrics,
tags) is handed over as plain text: the documentation escapes it in every export.
"""

from __future__ import annotations

from typing import Any

from apps.core import formats
from apps.core.registry import DocumentPart
from apps.integrations import services
from apps.registry.models import ModelVersion

KEY = "mlflow_provenance"
INTRO = (
    "Imported from MLflow. What MLflow recorded is kept as the version's origin. The metrics "
    "below are MLflow's, as its run logged them: the portal's own validation on the holdout "
    "(Validation results and policy checks) is what the policy checks."
)
# The frameworks of the documentation template (apps.documentation.defaults), by name.
MAPPING = {
    "SR 26-2 / SR 11-7": "Model development: documentation of how the model was built",
    "PRA SS1/23": "Principle 3: model development, implementation and use",
    "EU AI Act Annex IV": "2(a): methods and steps of development, third-party tools used",
}


def _person(user: Any) -> str:
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


def _value(value: Any) -> str:
    return "" if value is None else str(value)


def parts(version: ModelVersion) -> list[DocumentPart]:
    """The Provenance part of an imported version; nothing for an uploaded one."""
    record = services.provenance_of(version)
    if record is None:
        return []
    experiment = record.experiment_name or "—"
    if record.experiment_id:
        experiment += f" (id {record.experiment_id})"
    imported = f"{_person(record.requested_by)} on {formats.when_with_zone(record.finished_at)}"
    if record.trigger != record.Trigger.PERSON:
        imported += f" ({record.get_trigger_display()}, on their behalf)"
    facts = [
        ("MLflow server", record.connection.name),
        ("MLflow model", record.mlflow_name),
        ("MLflow version", record.mlflow_version or "—"),
        ("Aliases when imported", ", ".join(f"@{a}" for a in record.aliases) or "none"),
        ("Run", record.run_id or "—"),
        ("Experiment", experiment),
        ("Source git commit", record.git_commit or "not logged"),
        ("Original format", record.original_format or "—"),
        ("Original SHA-256", record.original_sha256 or "—"),
        (
            "Original size (bytes)",
            "—" if record.original_size is None else f"{record.original_size:,}",
        ),
        ("Imported by", imported),
    ]

    def rows(values: dict[str, Any]) -> list[list[str]]:
        return [[str(key), _value(value)] for key, value in sorted(values.items())]

    tables = [
        ("Parameters of the MLflow run", ["Parameter", "Value"], rows(record.params)),
        (
            "Metrics MLflow logged for the run (MLflow's figures, not the portal's validation)",
            ["MLflow metric", "Value logged in MLflow"],
            rows(record.metrics),
        ),
        ("Tags of the MLflow run", ["Tag", "Value"], rows(record.tags)),
    ]
    return [
        DocumentPart(
            key=KEY,
            title="Provenance",
            intro=INTRO,
            facts=facts,
            tables=tables,
            mapping=MAPPING,
            after="artifact",
        )
    ]
