"""What a passing validation vouches for, as other apps read it: they never open a report's JSON
by key themselves, so the report's shape can change here alone."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Evidence:
    """One version's latest passing validation, read once for a page that needs several of its
    figures (``of``); the functions below read one figure each."""

    data: dict[str, Any]

    @property
    def baseline(self) -> dict[str, Any] | None:
        """The baseline monitoring compares live traffic with (``docs/metrics.md``, "Baseline
        for monitoring"), or None when the version has no passing report that fixed one
        (validated before baselines existed: ``manage.py fix_baselines``)."""
        fixed = self.data.get("baseline")
        return fixed if isinstance(fixed, dict) else None

    @property
    def signature(self) -> dict[str, Any] | None:
        """What the version takes and answers (its input features, its task, its classes)."""
        if "signature" not in self.data:
            return None
        return {
            "features": self.data["signature"]["features"],
            "task": self.data["task"],
            "classes": self.data.get("classes"),
        }

    @property
    def takes_arrays(self) -> bool | None:
        """Whether, on scikit-learn, the model answers its rows given as one float array exactly
        as given as its DataFrame, as validation found on the holdout
        (``engine.answers.array_check``); None when validation did not decide it (a report from
        before it did, or a check that could not tell)."""
        path = self.data.get("serving_path")
        arrays = path.get("arrays") if isinstance(path, dict) else None
        found = arrays.get("takes_arrays") if isinstance(arrays, dict) else None
        return found if isinstance(found, bool) else None

    @property
    def metrics(self) -> dict[str, Any]:
        """The single-number metrics (``docs/metrics.md``): what monitoring draws measured
        performance against."""
        found = self.data.get("metrics", {})
        return {
            k: v for k, v in found.items() if isinstance(v, int | float) and not isinstance(v, bool)
        }

    @property
    def calibration(self) -> dict[str, list[Any]] | None:
        """The validation holdout's calibration curve (binary classifiers), or None."""
        curve = self.data.get("metrics", {}).get("calibration")
        return curve if isinstance(curve, dict) else None


def of(version: ModelVersion | int) -> Evidence:
    """The version's evidence; empty (every figure None or {}) without a passing validation."""
    report = _latest_passing(version if isinstance(version, int) else version.pk)
    data = report.data if report is not None and isinstance(report.data, dict) else {}
    return Evidence(data)


def baselines_of(version_ids: list[int]) -> dict[int, dict[str, Any]]:
    """``baseline_of`` for many versions in one query: version id → baseline, for those that
    have one."""
    found: dict[int, dict[str, Any]] = {}
    reports = ValidationReport.objects.filter(
        version_id__in=version_ids, outcome=ValidationReport.Outcome.PASSED
    ).order_by("version_id", "created_at")
    for version_id, data in reports.values_list("version_id", "data"):
        fixed = Evidence(data if isinstance(data, dict) else {}).baseline
        if fixed is not None:
            found[version_id] = fixed  # the latest passing report's, as ordered
        else:
            found.pop(version_id, None)
    return found


def baseline_of(version: ModelVersion | int) -> dict[str, Any] | None:
    return of(version).baseline


def signature_of(version: ModelVersion) -> dict[str, Any] | None:
    return of(version).signature


def takes_arrays_of(version: ModelVersion) -> bool | None:
    return of(version).takes_arrays


def validated_metrics(version: ModelVersion | int) -> dict[str, Any]:
    return of(version).metrics


def calibration_of(version: ModelVersion | int) -> dict[str, list[Any]] | None:
    return of(version).calibration


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


@dataclass(frozen=True)
class OnnxCopy:
    """The version's model converted to ONNX at validation, for the serving fast path: the
    graph's bytes (SHA-256 checked), the classes in the model's own order and JSON types, and
    why validation chose this path (``docs/serving-fast-path.md``)."""

    content: bytes
    sha256: str
    classes: list[Any] | None
    reason: str


def onnx_of(version: ModelVersion) -> OnnxCopy | None:
    """The ONNX copy the version's latest passing validation stored, its SHA-256 checked against
    the one recorded; None when validation kept scikit-learn. Raises ValueError when the stored
    bytes do not match their digest. The graph is not opened here: the caller checks it before
    onnxruntime sees it, since it came out of the sandbox."""
    report = _latest_passing(version.pk)
    if report is None or not report.onnx_key or not report.onnx_sha256:
        return None
    path = report.data.get("serving_path") if isinstance(report.data, dict) else None
    if not isinstance(path, dict) or path.get("path") != "onnx":
        return None
    # The approved canonical copy anchors the version's integrity: a version whose copy was
    # altered serves on neither path, as it would not on scikit-learn.
    canonical = version.files.get(role=StoredFile.Role.CANONICAL)
    if storage.sha256_of(canonical.key) != canonical.sha256:
        raise ValueError("the stored .skops copy does not match its recorded SHA-256")
    copy = io.BytesIO()
    if storage.copy_to(report.onnx_key, copy) != report.onnx_sha256:
        raise ValueError("the stored ONNX copy does not match its recorded SHA-256")
    content = copy.getvalue()
    classes = path.get("classes")
    return OnnxCopy(
        content,
        report.onnx_sha256,
        list(classes) if isinstance(classes, list) else None,
        str(path.get("reason", "")),
    )
