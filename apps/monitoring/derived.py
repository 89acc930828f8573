"""What a bucket keeps read off its counts (``Bucket.derived``): each feature's and the score's
PSI against the version's baseline, and the estimated accuracy and ROC AUC.

Pure (numpy through ``metrics`` and ``estimate``, no models), so that the migration that filled
the buckets folded before ``derived`` existed computes exactly what the rollup does.
"""

from __future__ import annotations

from typing import Any

from apps.monitoring import estimate
from apps.validation.engine import metrics


def figures(baseline: dict[str, Any] | None, buckets: list[Any]) -> list[dict[str, Any]]:
    """The derived figures of each of one deployment's ``buckets`` (anything with
    ``feature_counts``, ``score_counts`` and ``expected``), in order; drift is computed for
    all of them at once, one PSI call per feature."""
    drift: dict[str, list[float | None]] = {}
    score: list[float | None] = [None] * len(buckets)
    if baseline is not None:
        for spec in baseline["features"]:
            drift[spec["feature"]] = metrics.psi_of_each(
                spec["counts"], [b.feature_counts.get(spec["feature"]) for b in buckets]
            )
        score = metrics.psi_of_each(
            baseline["score"]["counts"], [b.score_counts or None for b in buckets]
        )
    return [
        {
            "psi": {name: values[i] for name, values in drift.items()},
            "score_psi": score[i],
            **(estimate.figures(bucket.expected) if bucket.expected else {}),
        }
        for i, bucket in enumerate(buckets)
    ]
