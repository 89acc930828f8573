"""Stage durations from the rows each step writes."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from apps.jobs.models import Job
from apps.registry.models import ModelVersion
from apps.reviews import lead_times, services
from apps.reviews.models import Decision, Review
from apps.validation.models import ValidationReport

pytestmark = pytest.mark.django_db


def test_each_stage_is_measured_between_its_steps(people, validated):
    start = timezone.now() - timedelta(days=10)
    ModelVersion.objects.filter(pk=validated.pk).update(created_at=start)
    job = Job.objects.get(target_id=str(validated.pk))
    report = ValidationReport.objects.create(
        version=validated, job=job, outcome="passed", isolated=True
    )
    ValidationReport.objects.filter(pk=report.pk).update(created_at=start + timedelta(hours=2))
    services.request_review(validated.pk, actor=people.alice, summary="Ready")
    Review.objects.filter(version=validated).update(requested_at=start + timedelta(days=1))
    services.decide(validated.pk, actor=people.ivan, verdict="approve", reason="ok")
    services.decide(validated.pk, actor=people.rita, verdict="approve", reason="ok")
    review = Review.objects.get(version=validated)
    Decision.objects.filter(review=review, role="model_ops").update(
        created_at=start + timedelta(days=3)
    )
    Decision.objects.filter(review=review, role="risk_owner").update(
        created_at=start + timedelta(days=6)
    )
    Review.objects.filter(pk=review.pk).update(closed_at=start + timedelta(days=6))
    version = ModelVersion.objects.get(pk=validated.pk)

    times = lead_times.stage_times(version)
    assert times == {
        "validation": timedelta(hours=2),
        "before_review": timedelta(hours=22),
        "waiting_for_it": timedelta(days=2),
        "waiting_for_risk_owner": timedelta(days=5),
        "total": timedelta(days=6),
    }
    rows = {r["stage"]: r for r in lead_times.summary([version])}
    assert rows["waiting_for_it"]["median_hours"] == 48 and rows["total"]["count"] == 1
    steps = [s.what for s in lead_times.timeline(version)]
    assert steps == [
        "Uploaded",
        "Validation passed",
        "Review requested",
        "Approved (model operations)",
        "Approved (risk owner)",
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # Rank 0.9 * (10 - 1) = 8.1 from 0: 9 + 0.1 * (10 - 9); the old ⌊0.9 n⌋ rank gave 10.
        (list(range(1, 11)), 9.1),
        ([10, 3, 7, 1, 9, 2, 8, 4, 6, 5], 9.1),  # order does not matter
        ([3.0, 5.0], 4.8),  # 3 + 0.9 * (5 - 3)
        ([36.0, 48.0, 144.0, 240.0], 211.2),  # rank 2.7: 144 + 0.7 * 96
        ([7.5], 7.5),  # one value is its own percentile
        ([4.0, 4.0, 4.0], 4.0),
        ([], None),
    ],
)
def test_the_90th_percentile_interpolates_between_ranks(values, expected):
    assert lead_times.percentile_90(values) == pytest.approx(expected)


def test_the_90th_percentile_is_numpys_default_quantile():
    rng = np.random.default_rng(0)
    for n in (2, 3, 10, 11, 57, 1000):
        values = rng.exponential(30.0, n).tolist()
        assert lead_times.percentile_90(values) == pytest.approx(np.quantile(values, 0.9))


def test_the_lead_time_summary_reports_the_interpolated_90th_percentile(people, validated):
    start = timezone.now() - timedelta(days=30)
    ModelVersion.objects.filter(pk=validated.pk).update(created_at=start)
    job = Job.objects.get(target_id=str(validated.pk))
    report = ValidationReport.objects.create(
        version=validated, job=job, outcome="passed", isolated=True
    )
    ValidationReport.objects.filter(pk=report.pk).update(created_at=start + timedelta(hours=2))

    # Ten versions whose validation took 1 … 10 hours: one version read ten times, each time
    # with its report at another hour (the prefetched report keeps the hour it was read at).
    versions = []
    for hours in range(1, 11):
        ValidationReport.objects.filter(pk=report.pk).update(
            created_at=start + timedelta(hours=hours)
        )
        versions.append(
            ModelVersion.objects.prefetch_related("validation_reports").get(pk=validated.pk)
        )
    rows = {r["stage"]: r for r in lead_times.summary(versions)}
    assert rows["validation"]["count"] == 10
    assert rows["validation"]["p90_hours"] == pytest.approx(9.1)
