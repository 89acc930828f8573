"""Where the time goes between upload and approval: per version, and across models.

Stages, from the rows each step writes:
- validation: upload until the first validation report;
- before review: that report until the author requests review;
- waiting for IT: review requested until the (first) model operations decision;
- waiting for the risk owner: review requested until the risk owner's decision;
- total: upload until the review closed (approved, rejected or changes requested).

Each stage is summed up by its median and 90th percentile (``percentile_90``, which the delivery
metrics of ``apps.analytics`` use too).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apps.core.templatetags.words import role_title
from apps.registry.models import ModelVersion
from apps.reviews.models import Review

STAGES = [
    ("validation", "In validation"),
    ("before_review", "Waiting for the author to request review"),
    ("waiting_for_it", "Waiting for IT (model operations)"),
    ("waiting_for_risk_owner", "Waiting for the risk owner"),
    ("total", "Upload to decision"),
]


@dataclass
class Step:
    at: datetime
    actor: str
    what: str
    detail: str = ""


def percentile_90(values: Iterable[float]) -> float | None:
    """The 90th percentile by linear interpolation between the sorted values (numpy's default
    ``quantile``, R's type 7): rank 0.9 (n - 1) counted from 0, so 9.1 for the values 1 … 10.
    One value is its own percentile; no value gives None."""
    ordered = sorted(values)
    if len(ordered) < 2:
        return ordered[0] if ordered else None
    # "inclusive" is the linear method; stdlib's integer arithmetic gives 9.1 exactly, not 9.100…1.
    return statistics.quantiles(ordered, n=10, method="inclusive")[-1]


def _between(start: datetime | None, end: datetime | None) -> timedelta | None:
    return end - start if start and end and end >= start else None


def stage_times(version: ModelVersion) -> dict[str, timedelta | None]:
    """Durations of each stage for one version (None where the stage has not ended)."""
    reports = list(version.validation_reports.all())  # prefetched by the caller where it matters
    validated = min((r.created_at for r in reports), default=None)
    review: Review | None = getattr(version, "review", None)
    requested = review.requested_at if review else None
    decisions = list(review.decisions.all()) if review else []
    by_role: dict[str, datetime] = {}
    for decision in decisions:
        by_role.setdefault(decision.role, decision.created_at)
    return {
        "validation": _between(version.created_at, validated),
        "before_review": _between(validated, requested),
        "waiting_for_it": _between(requested, by_role.get("model_ops")),
        "waiting_for_risk_owner": _between(requested, by_role.get("risk_owner")),
        "total": _between(version.created_at, review.closed_at if review else None),
    }


def timeline(version: ModelVersion) -> list[Step]:
    """Every step of the version's way, with who and when, oldest first."""
    steps = [
        Step(
            version.created_at,
            version.uploaded_by.username,
            "Uploaded",
            f"version {version.number}",
        )
    ]
    for report in version.validation_reports.select_related("job__created_by").order_by(
        "created_at"
    ):
        steps.append(
            Step(
                report.created_at,
                "validation",
                f"Validation {report.outcome}",
                "; ".join(report.reasons[:2]),
            )
        )
    review: Review | None = getattr(version, "review", None)
    if review is not None:
        steps.append(
            Step(
                review.requested_at,
                review.requested_by.username,
                "Review requested" + (" as a policy exception" if review.is_exception else ""),
                review.summary[:200],
            )
        )
        for decision in review.decisions.select_related("reviewer"):
            steps.append(
                Step(
                    decision.created_at,
                    decision.reviewer.username,
                    f"{decision.get_verdict_display()} ({role_title(decision.role)})",
                    decision.reason[:300],
                )
            )
    return sorted(steps, key=lambda s: s.at)


def summary(versions: Iterable[ModelVersion]) -> list[dict[str, Any]]:
    """Median and 90th percentile of each stage over versions, in hours."""
    samples: dict[str, list[float]] = {key: [] for key, _ in STAGES}
    for version in versions:
        for key, duration in stage_times(version).items():
            if duration is not None:
                samples[key].append(duration.total_seconds() / 3600)
    rows = []
    for key, label in STAGES:
        values = sorted(samples[key])
        rows.append(
            {
                "stage": key,
                "label": label,
                "count": len(values),
                "median_hours": statistics.median(values) if values else None,
                "p90_hours": percentile_90(values),
            }
        )
    return rows
