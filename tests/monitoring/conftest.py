"""A live deployment whose version's validation fixed a known baseline, and logs as serving
writes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from apps.deployments.models import Deployment, Environment, PredictionLog
from apps.jobs.models import Job
from apps.registry import services as registry
from apps.registry.models import ModelVersion
from apps.validation.engine import metrics
from apps.validation.models import ValidationReport
from tests.reviews.conftest import new_version


@dataclass
class Live:
    deployment: Deployment
    reference: pd.DataFrame  # the sample the baseline was fixed on
    scores: np.ndarray  # the holdout's scores


@pytest.fixture
def live(people, alices_model, files) -> Live:
    version = new_version(alices_model, people.alice, files, status=ModelVersion.Status.APPROVED)
    # As its review request left it: submitted, and model operations see the model.
    ModelVersion.objects.filter(pk=version.pk).update(submitted_at=timezone.now())
    registry.grant_model_operations(alices_model)
    rng = np.random.default_rng(7)
    reference = pd.DataFrame(
        {"income": rng.normal(50, 10, 500), "segment": rng.choice(["a", "b", "c"], 500)}
    )
    scores = rng.random(300)
    job = Job.objects.create(kind="validation", task_name="validation.validate", time_limit=60)
    ValidationReport.objects.create(
        version=version,
        job=job,
        outcome=ValidationReport.Outcome.PASSED,
        isolated=True,
        data={
            "task": "binary",
            "classes": ["0", "1"],
            "signature": {"features": [{"name": "income"}, {"name": "segment"}]},
            "metrics": {"accuracy": 0.81, "roc_auc": 0.77},
            "baseline": {
                "sample": "reference",
                "features": metrics.baseline(reference, ["income", "segment"]),
                "score": metrics.numeric_baseline(scores),
            },
        },
    )
    deployment = Deployment.objects.create(
        model=alices_model,
        version=version,
        environment=Environment.objects.get(slug="production"),
        status=Deployment.Status.LIVE,
        requested_by=people.ivan,
    )
    return Live(deployment, reference, scores)


def log(
    deployment: Deployment,
    at: datetime,
    inputs: dict[str, list[Any]],
    probabilities: list[float],
    latency_ms: float = 12.0,
    **fields: Any,
) -> PredictionLog:
    """One request as serving logs it."""
    return PredictionLog.objects.create(
        deployment=deployment,
        request_id=f"r-{at.timestamp()}-{latency_ms}",
        received_at=at.astimezone(UTC),
        latency_ms=latency_ms,
        rows=len(probabilities),
        inputs=inputs,
        outputs={
            "predictions": [int(p > 0.5) for p in probabilities],
            "probabilities": [[1 - p, p] for p in probabilities],
        },
        **fields,
    )
