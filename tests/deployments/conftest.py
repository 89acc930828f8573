"""Approved versions the honest way: uploaded, validated in the sandbox, signed off."""

from __future__ import annotations

import pytest

from apps.deployments import serving
from apps.jobs import services as jobs
from apps.registry.models import ModelVersion
from apps.reviews import services as reviews

# ``models`` is a fixture: importing it makes it available to the tests of this folder.
from tests.validation.conftest import models, upload, validate_now

__all__ = ["models"]


def approve(people, version: ModelVersion) -> ModelVersion:
    reviews.request_review(version.pk, actor=people.alice, summary="Ready")
    reviews.decide(version.pk, actor=people.ivan, verdict="approve", reason="Infra ok")
    reviews.decide(version.pk, actor=people.rita, verdict="approve", reason="Risk ok")
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.APPROVED
    return version


def approved_version(people, model, artifact: bytes, holdout: bytes) -> ModelVersion:
    version = upload(model, people.alice, artifact, holdout=holdout, sensitive="age_band")
    validate_now(version)
    assert version.status == ModelVersion.Status.VALIDATED, version.validation_reports.first()
    return approve(people, version)


@pytest.fixture
def v1(people, alices_model, models) -> ModelVersion:
    return approved_version(people, alices_model, models.logistic, models.holdout)


@pytest.fixture
def v2(people, alices_model, models, v1) -> ModelVersion:
    return approved_version(people, alices_model, models.boosting, models.holdout)


def deploy_now(deployment) -> None:  # type: ignore[no-untyped-def]
    """Run the deployment's queued job in this process, as the worker would. In a test with a
    real worker, the worker may take the job first (its task was sent when the request
    committed): then wait for it to finish, so that the test goes on from the same state."""
    from apps.deployments import services
    from tests.support.worker import wait_for

    jobs.run(
        str(deployment.job.uuid),
        worker="in-process",
        execute=services.run_deployment,
        commit=services.commit_deployment,
    )
    job = deployment.job
    wait_for(
        lambda: job.refresh_from_db() or job.is_finished,
        timeout=60,
        message=f"the deployment's job, taken by the worker, to finish ({job.status})",
    )
    deployment.refresh_from_db()


@pytest.fixture
def key(people, alices_model, v1) -> str:
    """v1 live in staging, and a serving key for it."""
    from apps.deployments import services

    deploy_now(services.request_deployment(v1.pk, "staging", actor=people.ivan))
    _, raw = services.create_serving_key(
        alices_model.pk, "staging", actor=people.ivan, name="loan origination"
    )
    return raw


@pytest.fixture(autouse=True)
def _fresh_serving_state():
    serving.MODELS.forget()
    yield
    serving.MODELS.forget()
    serving.LOG.discard()
