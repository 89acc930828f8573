from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.jobs.models import Job
from apps.registry import services as registry
from apps.registry.models import ModelVersion
from tests.factories import UserFactory


def new_version(model, user, files, status=ModelVersion.Status.VALIDATED) -> ModelVersion:
    """A version as validation leaves it (its own tests cover validation itself)."""
    version = registry.upload_version(
        model.pk,
        actor=user,
        artifact=SimpleUploadedFile("m.skops", files.skops),
        holdout=SimpleUploadedFile("h.csv", files.holdout_csv),
        target_column="default",
    )
    Job.objects.filter(kind="validation", target_id=str(version.pk)).update(
        status=Job.Status.SUCCEEDED
    )
    ModelVersion.objects.filter(pk=version.pk).update(status=status)
    version.refresh_from_db()
    return version


@pytest.fixture
def validated(people, alices_model, files) -> ModelVersion:
    return new_version(alices_model, people.alice, files)


@pytest.fixture
def second_it(people):
    """Another model operations person, for reviews needing two IT sign-offs."""
    return UserFactory(username="irene", role="model_ops")
