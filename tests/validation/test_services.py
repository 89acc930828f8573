"""Validation results: the report, the policy verdict, the champion, re-runs, exactly once."""

from __future__ import annotations

import hashlib
import os

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.registry import storage
from apps.registry.models import ModelVersion, StoredFile
from apps.validation import sandbox, services
from apps.validation.engine import trusted
from apps.validation.models import ValidationPolicy, ValidationReport
from tests.validation.conftest import upload, validate_now

pytestmark = pytest.mark.django_db


def test_a_good_model_passes_with_a_full_report(people, alices_model, models):
    version = upload(
        alices_model,
        people.alice,
        models.boosting,
        holdout=models.holdout,
        reference=models.reference,
    )
    assert version.status == ModelVersion.Status.VALIDATING
    job = validate_now(version)
    report = ValidationReport.objects.get(job=job)

    assert job.status == Job.Status.SUCCEEDED and job.message == "Validation passed"
    assert report.outcome == "passed" and version.status == ModelVersion.Status.VALIDATED
    data = report.data
    assert data["task"] == "binary" and data["positive_class"] == "1" and data["rows"] == 600
    assert [f["name"] for f in data["signature"]["features"]] == ["income", "debt", "tenure"]
    assert 0.6 < data["metrics"]["roc_auc"] < 1
    assert {"roc_curve", "pr_curve", "calibration", "lift", "confusion_matrix"} <= set(
        data["metrics"]
    )
    assert [row["feature"] for row in data["stability"]] == ["income", "debt", "tenure"]
    assert {g["group"] for g in data["fairness"]["groups"]} == {"under 40", "40 and over"}
    assert {row["feature"] for row in data["importance"]} == {"income", "debt", "tenure"}
    assert data["latency"]["ms_per_row_single"] > 0
    assert data["champion"] is None and data["canonical"]["predictions_match"]
    # Judged by the high-risk policy, version 1; every check applies except the champion's.
    assert report.policy.risk_tier == "high" and report.policy.number == 1
    assert {c["key"]: c["passed"] for c in report.checks}["max_champion_drop"] is None
    canonical = version.files.get(role=StoredFile.Role.CANONICAL)
    assert canonical.sha256 == storage.sha256_of(canonical.key)
    event = AuditEvent.objects.get(action="validation.passed")
    assert event.before == {"status": "validating"} and event.after["status"] == "validated"


def test_a_model_below_the_policy_fails_with_its_reasons(people, alices_model, models):
    services.update_policy(
        actor=people.admin,
        thresholds={"min_roc_auc": 0.99},
        note="Strict for this test",
        model=alices_model,
    )
    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    job = validate_now(version)
    report = ValidationReport.objects.get(job=job)
    assert version.status == ModelVersion.Status.VALIDATION_FAILED
    assert report.outcome == "failed" and report.policy.model == alices_model
    assert len(report.reasons) == 1
    assert report.reasons[0].startswith("ROC AUC is 0.")
    assert report.reasons[0].endswith("; the policy requires at least 0.99.")
    assert job.message.startswith("Validation failed: ROC AUC is")


def test_holdout_columns_that_do_not_match_the_model_are_named(people, alices_model, models):
    import pandas as pd

    holdout = pd.read_csv(__import__("io").BytesIO(models.holdout))
    renamed = holdout.rename(columns={"debt": "debts"}).to_csv(index=False).encode()
    version = upload(alices_model, people.alice, models.logistic, holdout=renamed, sensitive="")
    report = ValidationReport.objects.get(job=validate_now(version))
    assert report.outcome == "error"
    assert report.reasons == [
        "Input signature mismatch: the holdout lacks columns the model needs: debt; the holdout "
        "has columns the model does not take: debts, age_band (remove them, or name one as the "
        "sensitive column)."
    ]


def test_the_champion_is_scored_on_the_same_holdout(people, alices_model, models):
    first = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    validate_now(first)
    alices_model.champion = first
    alices_model.save()
    second = upload(alices_model, people.alice, models.boosting, holdout=models.holdout)
    report = ValidationReport.objects.get(job=validate_now(second))
    champion = report.data["champion"]
    assert champion["comparable"] and report.champion == first
    assert champion["differences"]["roc_auc"] == pytest.approx(
        report.data["metrics"]["roc_auc"] - champion["metrics"]["roc_auc"]
    )
    first_report = ValidationReport.objects.get(version=first)
    assert champion["metrics"]["roc_auc"] == pytest.approx(first_report.data["metrics"]["roc_auc"])
    drop = {c["key"]: c for c in report.checks}["max_champion_drop"]
    assert drop["passed"] is not None and drop["value"] == pytest.approx(
        -champion["differences"]["roc_auc"]
    )


def test_a_tampered_file_stops_validation(people, alices_model, models, media_root):
    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    artifact = version.files.get(role="artifact")
    (media_root / artifact.key).write_bytes(models.boosting)
    report = ValidationReport.objects.get(job=validate_now(version))
    assert report.outcome == "error"
    assert "does not match the SHA-256 recorded at upload" in report.reasons[0]
    assert hashlib.sha256(models.boosting).hexdigest() != artifact.sha256


def test_a_file_swapped_after_it_was_read_is_not_what_gets_validated(
    people, alices_model, models, media_root, monkeypatch
):
    """The bytes checked against the recorded SHA-256 are the bytes the sandbox gets."""
    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    artifact = version.files.get(role="artifact")
    opened = storage.open_blob

    def open_then_swap(key: str):  # type: ignore[no-untyped-def]
        handle = opened(key)
        if key == artifact.key:  # replaced by another file the moment it is opened
            swapped = media_root / f"{key}.swap"
            swapped.write_bytes(models.boosting)
            os.replace(swapped, media_root / key)
        return handle

    monkeypatch.setattr(storage, "open_blob", open_then_swap)
    report = ValidationReport.objects.get(job=validate_now(version))
    assert report.outcome == "passed"
    canonical = media_root / version.files.get(role=StoredFile.Role.CANONICAL).key
    # What was validated and kept for deployment is the logistic upload, not the boosting swap.
    assert type(trusted.load_skops(canonical)).__name__ == "Pipeline"


def test_a_file_altered_in_storage_leaves_no_partial_copy(
    people, alices_model, models, media_root, tmp_path
):
    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    artifact = version.files.get(role="artifact")
    (media_root / artifact.key).write_bytes(models.boosting)
    destination = tmp_path / "artifact.skops"
    with pytest.raises(sandbox.SandboxFailure) as failure:
        services._copy_in(artifact, destination)
    assert failure.value.kind == "integrity"
    assert "does not match the SHA-256 recorded at upload" in failure.value.message
    assert not destination.exists()


def test_a_job_stores_its_report_exactly_once(people, alices_model, models):
    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    job = services.jobs_of(version).get()
    claimed = jobs.claim(str(job.uuid), worker="first")
    produced = services.run_validation(claimed)
    # Meanwhile the reaper gave the job to a second attempt, which finished it.
    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED)
    jobs.run(
        str(job.uuid),
        worker="second",
        execute=services.run_validation,
        commit=services.store_validation,
    )
    with pytest.raises(jobs.JobLost), jobs.completing(claimed) as locked:
        services.store_validation(locked, produced)
    # A late redelivery of the message finds nothing to claim.
    jobs.run(
        str(job.uuid),
        worker="third",
        execute=services.run_validation,
        commit=services.store_validation,
    )
    assert ValidationReport.objects.filter(version=version).count() == 1
    assert Job.objects.get(pk=job.pk).attempts == 2


def test_who_may_re_run_and_when(people, alices_model, models):
    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    with pytest.raises(ValidationError, match="already queued or running"):
        services.rerun_validation(version.pk, actor=people.alice)
    validate_now(version)
    for outsider in (people.rita, people.carl, people.bob):
        with pytest.raises(PermissionDenied):
            services.rerun_validation(version.pk, actor=outsider)
    job = services.rerun_validation(version.pk, actor=people.alice)
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.VALIDATING and job.created_by == people.alice
    event = AuditEvent.objects.get(action="validation.rerun_requested")
    assert event.before == {"status": "validated"} and event.after["job"] == str(job.uuid)
    # Model operations may re-run the versions they can see.
    validate_now(version)
    from apps.registry import services as registry

    registry.share_model(alices_model.pk, actor=people.alice, grantee=people.ivan, level="view")
    services.rerun_validation(version.pk, actor=people.ivan)
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.IN_REVIEW)
    Job.objects.filter(kind="validation").update(status=Job.Status.SUCCEEDED)
    with pytest.raises(ValidationError, match="only be re-run before review"):
        services.rerun_validation(version.pk, actor=people.alice)


def test_policies_are_versioned_and_only_admins_change_them(people):
    with pytest.raises(PermissionDenied):
        services.update_policy(
            actor=people.ivan, thresholds={"min_roc_auc": 0.8}, note="x", risk_tier="high"
        )
    policy = services.update_policy(
        actor=people.admin,
        thresholds={"min_roc_auc": 0.8, "max_psi": None},
        note="Tighter AUC",
        risk_tier="high",
    )
    assert policy.number == 2 and policy.checks == {"min_roc_auc": 0.8}
    assert ValidationPolicy.objects.filter(risk_tier="high").count() == 2
    assert services.policy_for_tier("high") == policy
    event = AuditEvent.objects.get(action="policy.changed")
    assert event.before["number"] == 1 and event.before["checks"]["min_roc_auc"] == 0.75
    assert event.after == {"number": 2, "checks": {"min_roc_auc": 0.8}, "note": "Tighter AUC"}
    with pytest.raises(ValidationError, match="Unknown checks"):
        services.update_policy(
            actor=people.admin, thresholds={"max_banana": 1}, note="x", risk_tier="low"
        )


def test_a_validation_job_that_gives_up_fails_the_version_and_tells_its_uploader(
    people, alices_model, models
):
    from apps.notifications.models import Notification

    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    job = services.jobs_of(version).get()
    claimed = jobs.claim(str(job.uuid), worker="w@h")
    assert jobs.fail(claimed, "worker w@h stopped responding; gave up after 3 attempts")

    version.refresh_from_db()
    assert version.status == ModelVersion.Status.VALIDATION_FAILED
    event = AuditEvent.objects.get(action="validation.failed")
    assert event.before == {"status": "validating"}
    assert "worker w@h stopped responding" in event.after["reasons"][0]
    notice = Notification.objects.get(recipient=people.alice)
    assert notice.title == f"{version} failed validation" and "Re-run it" in notice.body
    services.rerun_validation(version.pk, actor=people.alice)  # and it can be tried again
