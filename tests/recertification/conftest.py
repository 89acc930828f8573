from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.deployments.models import Deployment, Environment, Placement
from apps.registry.models import ModelVersion
from apps.reviews.models import Review
from tests.deployments.conftest import approve
from tests.reviews.conftest import new_version


def put_in_production(model, version, ivan) -> Deployment:  # type: ignore[no-untyped-def]
    """The state a production deployment leaves (the deployment services are tested apart)."""
    deployment = Deployment.objects.create(
        model=model,
        version=version,
        environment=Environment.objects.get(slug="production"),
        status=Deployment.Status.LIVE,
        requested_by=ivan,
        live_from=timezone.now(),
    )
    Placement.objects.update_or_create(
        model=model,
        environment=deployment.environment,
        defaults={"deployment": deployment},
    )
    return deployment


def approved_long_ago(version: ModelVersion, days: int) -> None:
    """Move the version's approval into the past (a history constructed for the test)."""
    Review.objects.filter(version=version).update(closed_at=timezone.now() - timedelta(days=days))


@pytest.fixture
def live(people, alices_model, files) -> ModelVersion:  # type: ignore[no-untyped-def]
    """Alice's high-risk model, v1 approved by ivan and rita and live in production."""
    version = approve(people, new_version(alices_model, people.alice, files))
    put_in_production(alices_model, version, people.ivan)
    return version
