"""What a passing validation vouches for, as other apps read it: they never open a report's JSON
by key themselves, so the report's shape can change here alone."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.registry import storage
from apps.registry.models import ModelVersion, StoredFile
from apps.validation.models import ValidationReport


def _latest_passing(version_id: int) -> ValidationReport | None:
    passed = ValidationReport.Outcome.PASSED
    return (
        ValidationReport.objects.filter(version_id=version_id, outcome=passed)
        .order_by("-created_at")
        .first()
    )


def baselines_of(version_ids: list[int]) -> dict[int, dict[str, Any]]:
    """``baseline_of`` for many versions in one query: version id → baseline, for those that
    have one."""
    found: dict[int, dict[str, Any]] = {}
    reports = ValidationReport.objects.filter(
        version_id__in=version_ids, outcome=ValidationReport.Outcome.PASSED
    ).order_by("version_id", "created_at")
    for version_id, data in reports.values_list("version_id", "data"):
        fixed = data.get("baseline") if isinstance(data, dict) else None
        if isinstance(fixed, dict):
            found[version_id] = fixed  # the latest passing report's, as ordered
        else:
            found.pop(version_id, None)
    return found


def baseline_of(version: ModelVersion | int) -> dict[str, Any] | None:
    """The baseline monitoring compares live traffic with (``docs/metrics.md``, "Baseline for
    monitoring"), or None when the version has no passing report that fixed one (validated
    before baselines existed: re-run its validation)."""
    version_id = version if isinstance(version, int) else version.pk
    report = _latest_passing(version_id)
    if report is None:
        return None
    fixed = report.data.get("baseline")
    return fixed if isinstance(fixed, dict) else None


def signature_of(version: ModelVersion) -> dict[str, Any] | None:
    """What the version takes and answers (its input features, its task, its classes), from its
    latest passing validation; None if it has none."""
    report = _latest_passing(version.pk)
    if report is None or "signature" not in report.data:
        return None
    data = report.data
    return {
        "features": data["signature"]["features"],
        "task": data["task"],
        "classes": data.get("classes"),
    }


def load_canonical(version: ModelVersion) -> Any:
    """The estimator validation vouched for: the version's canonical .skops copy, its SHA-256
    checked against the one recorded, opened with the type allowlist."""
    from apps.validation.engine import trusted

    stored = version.files.get(role=StoredFile.Role.CANONICAL)
    with tempfile.NamedTemporaryFile(suffix=".skops") as copy:
        if storage.copy_to(stored.key, copy) != stored.sha256:
            raise ValueError("the stored .skops copy does not match its recorded SHA-256")
        copy.flush()
        return trusted.load_skops(
            Path(copy.name), extra_trusted=list(settings.PORTAL_SKOPS_TRUSTED_TYPES)
        )


def validated_metrics(version: ModelVersion | int) -> dict[str, Any]:
    """The single-number metrics of the version's latest passing validation (``docs/metrics.md``),
    or {} without one: what monitoring draws measured performance against."""
    report = _latest_passing(version if isinstance(version, int) else version.pk)
    found = report.data.get("metrics", {}) if report is not None else {}
    return {
        k: v for k, v in found.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }


def calibration_of(version: ModelVersion | int) -> dict[str, list[Any]] | None:
    """The validation holdout's calibration curve (binary classifiers), or None."""
    report = _latest_passing(version if isinstance(version, int) else version.pk)
    curve = report.data.get("metrics", {}).get("calibration") if report is not None else None
    return curve if isinstance(curve, dict) else None
