"""Imports from a real MLflow server, the job run in this process as a worker runs it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from apps.integrations import services as integrations
from apps.integrations.models import MlflowImport
from apps.jobs.models import Job
from apps.registry import services as registry
from apps.registry.models import ModelVersion, StoredFile
from apps.registry.uploads import UploadRefused
from apps.validation import evidence
from tests.integrations.conftest import (
    finish_import,
    holdout_file,
    make_connection,
    stored_files,
    validate_now,
)
from tests.support.services import free_port

pytestmark = pytest.mark.django_db


def _request(model, user, reference: str, holdout: bytes):
    return integrations.request_import(
        model.pk,
        actor=user,
        reference=reference,
        holdout=holdout_file(holdout),
        target_column="default",
    )


def _mlflow_probabilities_match(version: ModelVersion, logged, number: str) -> None:
    holdout = pd.read_csv(__import__("io").BytesIO(logged.holdout))
    estimator = evidence.load_canonical(version)
    ours = estimator.predict_proba(holdout[["income", "debt"]])[:, 1]
    np.testing.assert_allclose(ours, logged.versions[number]["proba"], rtol=0, atol=1e-12)


def test_import_by_alias_validates_and_predicts_as_mlflow(
    people, linked, logged, django_capture_on_commit_callbacks
):
    record = _request(linked, people.alice, "@candidate", logged.holdout)
    assert record.state == MlflowImport.State.QUEUED and record.job is not None
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(record)
    assert record.state == MlflowImport.State.IMPORTED, record.failure
    version = record.version
    assert version is not None and version.number == 1
    assert record.mlflow_version == "2"
    assert record.aliases == ["candidate"]
    assert record.run_id == logged.versions["2"]["run_id"]
    assert record.experiment_name == "credit-pd-experiments"
    assert record.params == {"C": "0.3", "solver": "lbfgs"}
    assert set(record.metrics) == {"train_accuracy"}
    assert record.tags["team"] == "retail"
    assert record.git_commit == "c0ffee2"
    assert record.original_format == "skops"
    assert len(record.original_sha256) == 64
    # The artifact stored is MLflow's file, byte for byte.
    artifact = version.files.get(role=StoredFile.Role.ARTIFACT)
    assert artifact.sha256 == record.original_sha256
    assert version.uploaded_by == people.alice and version.artifact_format == "skops"
    assert record.holdout_key == ""  # the staged holdout is gone; the version has its own copy
    version = validate_now(version)
    assert version.status == ModelVersion.Status.VALIDATED, version.status
    _mlflow_probabilities_match(version, logged, "2")
    requested = AuditEvent.objects.get(action=AuditAction.MLFLOW_IMPORT_REQUESTED.value)
    assert (
        requested.actor_username == "alice"
        and requested.after["reference"] == "models:/credit-pd@candidate"
    )
    imported = AuditEvent.objects.get(action=AuditAction.MLFLOW_IMPORTED.value)
    assert imported.actor_username == "alice"
    assert imported.after["mlflow_version"] == "2"


def test_import_of_a_cloudpickle_version_converts_in_the_sandbox(
    people, linked, logged, django_capture_on_commit_callbacks
):
    registry.update_model(linked.pk, actor=people.admin, changes={"pickle_allowed": True})
    record = _request(linked, people.alice, "models:/credit-pd/1", logged.holdout)
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(record)
    assert record.state == MlflowImport.State.IMPORTED, record.failure
    assert record.original_format == "cloudpickle" and record.git_commit == "c0ffee1"
    version = validate_now(record.version)
    assert version.status == ModelVersion.Status.VALIDATED
    _mlflow_probabilities_match(version, logged, "1")


def test_pickle_version_on_a_model_without_pickle_fails_and_leaves_nothing(
    people, linked, logged, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record = _request(linked, people.alice, "1", logged.holdout)
        assert len(stored_files(media_root)) == 1  # the staged holdout
        record = finish_import(record)
    assert record.state == MlflowImport.State.FAILED
    assert "pickle formats are refused for this model" in record.failure
    assert not ModelVersion.objects.filter(model=linked).exists()
    assert stored_files(media_root) == []
    failed = AuditEvent.objects.get(action=AuditAction.MLFLOW_IMPORT_FAILED.value)
    assert "pickle" in failed.after["reason"]


def test_a_skops_model_is_checked_against_the_portals_allowlist_not_mlflows(
    people, alices_model, connection, logged, django_capture_on_commit_callbacks
):
    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=connection, mlflow_name="custom-skops"
    )
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(_request(alices_model, people.alice, "1", logged.holdout))
    assert record.state == MlflowImport.State.IMPORTED, record.failure
    version = validate_now(record.version)
    assert version.status == ModelVersion.Status.VALIDATION_FAILED
    reasons = " ".join(version.validation_reports.get().reasons)
    assert "__main__.Custom" in reasons and "does not trust" in reasons, reasons
    assert not version.files.filter(role=StoredFile.Role.CANONICAL).exists()


def test_non_sklearn_flavour_is_refused(
    people, alices_model, connection, logged, media_root, django_capture_on_commit_callbacks
):
    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=connection, mlflow_name="rules-only"
    )
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(_request(alices_model, people.alice, "1", logged.holdout))
    assert record.state == MlflowImport.State.FAILED
    assert "not a scikit-learn model" in record.failure and "python_function" in record.failure
    assert not ModelVersion.objects.filter(model=alices_model).exists()
    assert stored_files(media_root) == []


def test_artifact_over_the_size_limit_is_refused(
    people, linked, logged, media_root, django_capture_on_commit_callbacks
):
    with (
        override_settings(PORTAL_MAX_ARTIFACT_BYTES=200),
        django_capture_on_commit_callbacks(execute=True),
    ):
        record = finish_import(_request(linked, people.alice, "@candidate", logged.holdout))
    assert record.state == MlflowImport.State.FAILED
    assert "at most 0 MB" in record.failure or "PORTAL_MAX_ARTIFACT_MB" in record.failure
    assert not ModelVersion.objects.filter(model=linked).exists()
    assert stored_files(media_root) == []


def test_wrong_password_fails_with_the_credentials_message(
    people, alices_model, logged, media_root, django_capture_on_commit_callbacks
):
    wrong = make_connection(people, logged.server.url, password="not-the-password", name="Wrong")
    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=wrong, mlflow_name="credit-pd"
    )
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(_request(alices_model, people.alice, "2", logged.holdout))
    assert record.state == MlflowImport.State.FAILED
    assert "refused the connection's credentials (HTTP 401)" in record.failure
    assert Job.objects.get(pk=record.job_id).attempts == 1  # no retry can mend credentials
    assert stored_files(media_root) == []


def test_a_token_the_server_does_not_accept_is_refused(
    people, alices_model, logged, media_root, django_capture_on_commit_callbacks
):
    token = make_connection(
        people, logged.server.url, password="tok-123", auth="token", name="Token"
    )
    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=token, mlflow_name="credit-pd"
    )
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(_request(alices_model, people.alice, "2", logged.holdout))
    assert record.state == MlflowImport.State.FAILED
    assert "credentials" in record.failure


def test_server_down_fails_after_its_attempts(
    people, alices_model, logged, media_root, django_capture_on_commit_callbacks
):
    down = make_connection(people, f"http://127.0.0.1:{free_port()}", password="x", name="Down")
    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=down, mlflow_name="credit-pd"
    )
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(_request(alices_model, people.alice, "2", logged.holdout))
    assert record.state == MlflowImport.State.FAILED
    assert "unreachable" in record.failure and "gave up after 3 attempts" in record.failure
    assert stored_files(media_root) == []


def test_unknown_version_fails_with_a_message(
    people, linked, logged, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(
            _request(linked, people.alice, "models:/credit-pd/99", logged.holdout)
        )
    assert record.state == MlflowImport.State.FAILED
    assert "has no version 99" in record.failure


def test_no_holdout_is_refused_before_anything_is_stored(people, linked, media_root):
    with pytest.raises(UploadRefused, match="Attach the holdout"):
        integrations.request_import(
            linked.pk, actor=people.alice, reference="2", holdout=None, target_column="default"
        )
    assert (
        not MlflowImport.objects.exists() and not Job.objects.filter(kind="mlflow_import").exists()
    )
    assert stored_files(media_root) == []


def test_reference_to_another_mlflow_model_is_refused(people, linked, logged):
    with pytest.raises(ValidationError, match="linked to the MLflow model “credit-pd”"):
        _request(linked, people.alice, "models:/other/1", logged.holdout)


def test_people_outside_the_team_cannot_link_or_import(
    people, alices_model, linked, connection, logged
):
    from django.core.exceptions import PermissionDenied

    for outsider in (people.bob, people.rita, people.carl, people.ivan):
        with pytest.raises(PermissionDenied):
            _request(linked, outsider, "2", logged.holdout)
        with pytest.raises(PermissionDenied):
            integrations.unlink_model(linked.pk, actor=outsider)


def test_team_not_allowed_on_the_connection_cannot_link(people, bobs_model, connection):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied, match="None of your teams"):
        integrations.link_model(
            bobs_model.pk, actor=people.bob, connection=connection, mlflow_name="credit-pd"
        )


def test_link_and_unlink_are_audited_on_the_model(people, linked):
    integrations.unlink_model(linked.pk, actor=people.alice)
    actions = list(
        AuditEvent.objects.filter(
            object_type="registry.registeredmodel",
            object_id=str(linked.pk),
            action__startswith="mlflow.",
        )
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [AuditAction.MLFLOW_LINKED.value, AuditAction.MLFLOW_UNLINKED.value]


def test_the_picker_lists_versions_with_aliases_and_metrics(linked, logged):
    versions = integrations.mlflow_versions(integrations.link_of(linked))
    assert [v.version for v in versions] == ["2", "1"]
    assert versions[0].aliases == ["candidate"]
    assert "train_accuracy" in versions[0].metrics
    assert versions[1].run_id == logged.versions["1"]["run_id"]
