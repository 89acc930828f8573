"""Stage durations from the rows each step writes."""

from __future__ import annotations

from datetime import timedelta

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
        "Approved (model ops)",
        "Approved (risk owner)",
    ]
