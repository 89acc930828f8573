"""Deploying, promoting, rolling back, undeploying and retiring, with their rules."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.deployments import services
from apps.deployments.models import Deployment, Placement
from apps.registry import storage
from apps.registry.models import ModelVersion
from apps.reviews import services as reviews
from tests.deployments.conftest import deploy_now

pytestmark = pytest.mark.django_db


def live(model, environment: str) -> int | None:
    placement = Placement.objects.filter(model=model, environment__slug=environment).first()
    return placement.deployment.version.number if placement else None


def test_an_approved_version_goes_live_in_staging_then_production(people, alices_model, v1):
    staging = services.request_deployment(v1.pk, "staging", actor=people.ivan)
    assert staging.status == Deployment.Status.QUEUED and live(alices_model, "staging") is None
    deploy_now(staging)
    assert staging.status == Deployment.Status.LIVE and live(alices_model, "staging") == 1
    assert [a["role"] for a in staging.approvals] == ["model_ops", "risk_owner"]
    alices_model.refresh_from_db()
    assert alices_model.champion is None  # staging does not make a champion
    production = services.request_deployment(v1.pk, "production", actor=people.ivan)
    deploy_now(production)
    alices_model.refresh_from_db()
    assert live(alices_model, "production") == 1 and alices_model.champion == v1
    assert AuditEvent.objects.filter(action="deployment.live").count() == 2


def test_production_needs_staging_and_everything_needs_approval(people, alices_model, files, v1):
    with pytest.raises(ValidationError, match="has not been live in Staging"):
        services.request_deployment(v1.pk, "production", actor=people.ivan)
    from tests.reviews.conftest import new_version

    validated = new_version(alices_model, people.alice, files)
    with pytest.raises(PermissionDenied):  # never submitted: the team's, not IT's
        services.request_deployment(validated.pk, "staging", actor=people.ivan)
    reviews.request_review(validated.pk, actor=people.alice, summary="Ready")
    with pytest.raises(ValidationError, match="Only approved versions deploy"):
        services.request_deployment(validated.pk, "staging", actor=people.ivan)
    for outsider in (people.alice, people.rita, people.carl):
        with pytest.raises(PermissionDenied):
            services.request_deployment(v1.pk, "staging", actor=outsider)
    with pytest.raises(ValidationError, match="no environment"):
        services.request_deployment(v1.pk, "moon", actor=people.ivan)


def test_a_failed_smoke_test_keeps_the_previous_version_serving(
    people, alices_model, v1, v2, settings
):
    deploy_now(services.request_deployment(v1.pk, "staging", actor=people.ivan))
    canonical = v2.files.get(role="canonical")
    with storage.open_blob(canonical.key) as handle:
        original = handle.read()
    (settings.MEDIA_ROOT / canonical.key).write_bytes(original[:-10])  # a damaged copy
    attempt = services.request_deployment(v2.pk, "staging", actor=people.ivan)
    deploy_now(attempt)
    assert attempt.status == Deployment.Status.FAILED
    assert "does not match its recorded SHA-256" in attempt.message
    assert "what was live stays live" in attempt.message
    assert live(alices_model, "staging") == 1
    assert AuditEvent.objects.filter(action="deployment.failed").exists()


def test_rollback_restores_the_previous_version_and_undeploy_stops_serving(
    people, alices_model, v1, v2
):
    first = services.request_deployment(v1.pk, "staging", actor=people.ivan)
    deploy_now(first)
    second = services.request_deployment(v2.pk, "staging", actor=people.ivan)
    deploy_now(second)
    first.refresh_from_db()
    assert live(alices_model, "staging") == 2 and first.status == Deployment.Status.SUPERSEDED
    restored = services.rollback(alices_model.pk, "staging", actor=people.ivan)
    second.refresh_from_db()
    assert live(alices_model, "staging") == 1 and restored.kind == Deployment.Kind.ROLLBACK
    assert second.status == Deployment.Status.ROLLED_BACK and second.ended_by == people.ivan
    with pytest.raises(ValidationError, match="No earlier version"):
        services.rollback(alices_model.pk, "staging", actor=people.ivan)
    services.undeploy(alices_model.pk, "staging", actor=people.ivan)
    assert live(alices_model, "staging") is None
    with pytest.raises(ValidationError, match="Nothing of Loan default is live"):
        services.undeploy(alices_model.pk, "staging", actor=people.ivan)
    assert list(
        AuditEvent.objects.filter(action__startswith="deployment.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == [
        "deployment.requested",
        "deployment.live",
        "deployment.requested",
        "deployment.live",
        "deployment.rolled_back",
        "deployment.undeployed",
    ]


def test_a_version_is_retired_only_once_it_is_live_nowhere(people, alices_model, v1):
    deploy_now(services.request_deployment(v1.pk, "staging", actor=people.ivan))
    with pytest.raises(ValidationError, match="still live"):
        services.retire(v1.pk, actor=people.ivan)
    services.undeploy(alices_model.pk, "staging", actor=people.ivan)
    services.retire(v1.pk, actor=people.ivan)
    v1.refresh_from_db()
    assert v1.status == ModelVersion.Status.RETIRED
    with pytest.raises(ValidationError, match="Only approved versions deploy"):
        services.request_deployment(v1.pk, "staging", actor=people.ivan)


def test_serving_keys_are_hashed_audited_and_revocable(people, alices_model, v1):
    # ivan sees the model because its review asked him to (the v1 fixture).
    key, raw = services.create_serving_key(
        alices_model.pk, "staging", actor=people.ivan, name="loan origination"
    )
    assert raw.startswith("mls_") and raw not in (key.key_hash, key.hint)
    services.revoke_serving_key(key.pk, actor=people.ivan)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert [
        e.action for e in AuditEvent.objects.filter(action__startswith="serving_key").order_by("id")
    ] == ["serving_key.created", "serving_key.revoked"]
    with pytest.raises(PermissionDenied):
        services.create_serving_key(alices_model.pk, "staging", actor=people.alice, name="x")


def test_a_deployment_whose_job_gives_up_is_failed_and_no_longer_blocks(people, alices_model, v1):
    from apps.jobs import services as jobs

    stuck = services.request_deployment(v1.pk, "staging", actor=people.ivan)
    with pytest.raises(ValidationError, match="being deployed"):
        services.retire(v1.pk, actor=people.ivan)
    job = jobs.claim(str(stuck.job.uuid), worker="a worker that then died")
    assert job is not None
    jobs.fail(job, "the worker stopped heart-beating; gave up after 3 attempts")  # the reaper
    stuck.refresh_from_db()
    assert stuck.status == Deployment.Status.FAILED
    assert "The deployment job failed: the worker stopped heart-beating" in stuck.message
    assert live(alices_model, "staging") is None
    deploy_now(services.request_deployment(v1.pk, "staging", actor=people.ivan))
    assert live(alices_model, "staging") == 1
