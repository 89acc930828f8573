"""The holdout taken from a data set the MLflow run logged, instead of an uploaded file: by
service, page, API and automatic import, against the real MLflow server, the jobs run in this
process as a worker runs them."""

from __future__ import annotations

import hashlib
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from apps.integrations import automatic
from apps.integrations import mlflow_client as mlflow
from apps.integrations import services as integrations
from apps.integrations.models import MlflowImport, MlflowLink
from apps.jobs.models import Job
from apps.registry.models import ModelVersion, StoredFile
from apps.registry.uploads import UploadRefused
from apps.validation import evidence
from tests.integrations.conftest import (
    finish_import,
    holdout_file,
    stored_files,
    validate_now,
)
from tests.support.services import free_port

pytestmark = pytest.mark.django_db

IMPORT_URL = "/api/v1/models/loan-default/versions/import/"
AUTOMATIC_URL = "/api/v1/models/loan-default/mlflow/automatic/"


@pytest.fixture
def scratch(monkeypatch, tmp_path) -> Path:
    """The folder the import job downloads into (tempfile's), so a test sees what it leaves."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _request(model, user, path: str, reference: str = "@candidate") -> MlflowImport:
    return integrations.request_import(
        model.pk,
        actor=user,
        reference=reference,
        holdout=None,
        holdout_artifact=path,
        target_column="default",
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_holdout_comes_from_the_runs_artifact_and_predictions_equal_mlflows(
    people, linked, logged, run_holdouts, media_root, scratch, django_capture_on_commit_callbacks
):
    record = _request(linked, people.alice, "holdout.csv")
    # Nothing is stored at the request: the job fetches the data set from the run.
    assert record.holdout_key == "" and stored_files(media_root) == []
    requested = AuditEvent.objects.get(action=AuditAction.MLFLOW_IMPORT_REQUESTED.value)
    assert requested.after["holdout"] == {"run_artifact": "holdout.csv"}
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(record)
    assert record.state == MlflowImport.State.IMPORTED, record.failure
    assert record.holdout_artifact == "holdout.csv" and record.holdout_name == "holdout.csv"
    assert record.holdout_sha256 == _sha(run_holdouts.csv)
    version = record.version
    assert version is not None
    assert version.files.get(role=StoredFile.Role.HOLDOUT).sha256 == _sha(run_holdouts.csv)
    imported = AuditEvent.objects.get(action=AuditAction.MLFLOW_IMPORTED.value)
    assert imported.after["holdout"] == {
        "run_artifact": "holdout.csv",
        "sha256": _sha(run_holdouts.csv),
    }
    assert list(scratch.iterdir()) == []
    version = validate_now(version)
    assert version.status == ModelVersion.Status.VALIDATED, version.status
    holdout = pd.read_csv(io.BytesIO(run_holdouts.csv))
    ours = evidence.load_canonical(version).predict_proba(holdout[["income", "debt"]])[:, 1]
    np.testing.assert_allclose(ours, logged.versions["2"]["proba"], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("path", "limit", "says"),
    [
        ("data/nope.csv", None, "has no artifact “data/nope.csv” to take the holdout from"),
        ("holdout.csv", 200, "holdouts of at most 0 MB (PORTAL_MAX_DATASET_MB)"),
        ("data/fake.parquet", None, "“fake.parquet” is not Parquet"),
        ("data/no_target.csv", None, "no column named “default”"),
    ],
    ids=["missing", "too-large", "not-parquet", "no-target-column"],
)
def test_a_holdout_artifact_that_cannot_be_used_fails_the_import_and_leaves_nothing(
    people,
    linked,
    run_holdouts,
    media_root,
    scratch,
    settings,
    django_capture_on_commit_callbacks,
    path,
    limit,
    says,
):
    if limit is not None:
        settings.PORTAL_MAX_DATASET_BYTES = limit
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(_request(linked, people.alice, path))
    assert record.state == MlflowImport.State.FAILED
    assert says in record.failure, record.failure
    assert f"“{path}”" in record.failure and run_holdouts.run_id in record.failure
    assert Job.objects.get(pk=record.job_id).attempts == 1  # no retry mends the data set
    assert not ModelVersion.objects.filter(model=linked).exists()
    assert stored_files(media_root) == [] and list(scratch.iterdir()) == []
    failed = AuditEvent.objects.get(action=AuditAction.MLFLOW_IMPORT_FAILED.value)
    assert says in failed.after["reason"]


UNSAFE = ["../x.csv", "/etc/passwd", "%2e%2e/x.csv", "data/../../x.csv", "data\\x.csv",
          "x.csv?y=1", "x.csv#y", "x.csv;y", "data//x.csv", "C:x.csv"]  # fmt: skip


@pytest.mark.parametrize("path", UNSAFE)
def test_a_path_leading_out_of_the_run_is_refused_before_any_request(
    people, linked, media_root, path
):
    with pytest.raises(ValidationError, match="is not a path inside the run's artifacts"):
        _request(linked, people.alice, path)
    assert not MlflowImport.objects.exists()
    assert not Job.objects.filter(kind="mlflow_import").exists()
    assert stored_files(media_root) == []
    # The download itself refuses it before connecting: a server that is not there would
    # otherwise answer "unreachable".
    nobody = mlflow.MlflowClient(
        name="Nobody", url=f"http://127.0.0.1:{free_port()}", auth="none", username="", secret=""
    )
    with pytest.raises(mlflow.UnsafePath):
        nobody.download(f"1/{'a' * 32}/artifacts/{path}", io.BytesIO(), limit=1000)


def test_exactly_one_of_a_file_and_an_artifact_path(people, linked, logged, media_root):
    with pytest.raises(UploadRefused, match=r"either as a file or as the path .* not both"):
        integrations.request_import(
            linked.pk,
            actor=people.alice,
            reference="2",
            holdout=holdout_file(logged.holdout),
            holdout_artifact="holdout.csv",
            target_column="default",
        )
    with pytest.raises(UploadRefused, match=r"Attach the holdout data set .* or name a data set"):
        integrations.request_import(
            linked.pk, actor=people.alice, reference="2", holdout=None, target_column="default"
        )
    with pytest.raises(ValidationError, match=r"not a \.csv or \.parquet file"):
        _request(linked, people.alice, "model/MLmodel")
    with pytest.raises(ValidationError, match="Name the target column"):
        integrations.request_import(
            linked.pk,
            actor=people.alice,
            reference="2",
            holdout=None,
            holdout_artifact="holdout.csv",
            target_column=" ",
        )
    assert not MlflowImport.objects.exists() and stored_files(media_root) == []


def test_api_import_with_a_holdout_artifact_shows_where_the_holdout_came_from(
    client, people, linked, run_holdouts, api, django_capture_on_commit_callbacks
):
    alice = api(people.alice)
    answer = alice.post(
        IMPORT_URL,
        {"reference": "2", "holdout_artifact": "data/holdout.parquet", "target_column": "default"},
        format="multipart",
    )
    assert answer.status_code == 202, answer.content
    assert answer.json()["holdout_artifact"] == "data/holdout.parquet"
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(MlflowImport.objects.get(pk=answer.json()["id"]))
    assert record.state == MlflowImport.State.IMPORTED, record.failure
    provenance = alice.get("/api/v1/models/loan-default/versions/1/provenance/").json()
    assert provenance["holdout_artifact"] == "data/holdout.parquet"
    assert provenance["holdout_name"] == "holdout.parquet"
    assert provenance["holdout_sha256"] == _sha(run_holdouts.parquet)
    assert record.version.files.get(role=StoredFile.Role.HOLDOUT).sha256 == _sha(
        run_holdouts.parquet
    )
    client.force_login(people.alice)
    page = client.get(record.version.get_absolute_url()).content.decode()
    assert "the run&#x27;s artifact data/holdout.parquet" in page
    assert _sha(run_holdouts.parquet) in page


def test_api_import_refusals_are_sentences(people, linked, logged, api):
    alice = api(people.alice)
    both = alice.post(
        IMPORT_URL,
        {
            "reference": "2",
            "holdout": SimpleUploadedFile("holdout.csv", logged.holdout),
            "holdout_artifact": "holdout.csv",
            "target_column": "default",
        },
        format="multipart",
    )
    assert both.status_code == 400 and "not both" in both.json()["detail"]
    neither = alice.post(IMPORT_URL, {"reference": "2", "target_column": "default"})
    assert neither.status_code == 400
    assert "or name a data set the MLflow run logged" in neither.json()["detail"]
    for path in ("../x.csv", "%2e%2e/x.csv", "/etc/passwd"):
        bad = alice.post(
            IMPORT_URL, {"reference": "2", "holdout_artifact": path, "target_column": "default"}
        )
        assert bad.status_code == 400, bad.content
        assert bad.json()["errors"]["holdout_artifact"] == [bad.json()["detail"]]
        assert "is not a path inside the run's artifacts" in bad.json()["detail"]
    # Rita sees the model but may not import; Bob does not see it.
    form = {"reference": "2", "holdout_artifact": "holdout.csv", "target_column": "default"}
    assert api(people.rita).post(IMPORT_URL, form).status_code == 403
    assert api(people.bob).post(IMPORT_URL, form).status_code == 404
    assert not MlflowImport.objects.exists()


def test_the_page_imports_with_the_runs_holdout(client, people, linked, logged, run_holdouts):
    client.force_login(people.alice)
    url = reverse("integrations:import", args=[linked.slug])
    answer = client.post(
        url,
        {"reference": "models:/credit-pd/2", "holdout_artifact": "holdout.csv",
         "target_column": "default"},
        follow=True,
    )  # fmt: skip
    assert "Importing models:/credit-pd/2 from MLflow" in answer.content.decode()
    assert MlflowImport.objects.get().holdout_artifact == "holdout.csv"
    both = client.post(
        url,
        {
            "reference": "2",
            "holdout": SimpleUploadedFile("holdout.csv", logged.holdout),
            "holdout_artifact": "holdout.csv",
            "target_column": "default",
        },
        follow=True,
    )
    assert "not both" in both.content.decode() and MlflowImport.objects.count() == 1
    answer = client.post(
        reverse("integrations:automatic", args=[linked.slug]),
        {"on_alias": "candidate", "holdout_artifact": "data/holdout.parquet",
         "target_column": "default"},
        follow=True,
    )  # fmt: skip
    assert "each validated on its run&#x27;s data/holdout.parquet" in answer.content.decode()
    link = MlflowLink.objects.get(model=linked)
    assert link.is_automatic and link.holdout_artifact == "data/holdout.parquet"
    assert link.automatic_by == people.alice


def test_automatic_imports_take_each_runs_holdout(
    people, linked, logged, run_holdouts, media_root, django_capture_on_commit_callbacks
):
    wanted = automatic.Automatic(True, "", "default")
    automatic.set_automatic(
        linked.pk, actor=people.alice, wanted=wanted, holdout=holdout_file(logged.holdout)
    )
    assert len(stored_files(media_root)) == 1  # the kept file
    with pytest.raises(ValidationError, match="not a path inside the run's artifacts"):
        automatic.set_automatic(
            linked.pk,
            actor=people.alice,
            wanted=automatic.Automatic(True, "", "default", holdout_artifact="../x.csv"),
            holdout=None,
        )
    with pytest.raises(ValidationError, match="not both"):
        automatic.set_automatic(
            linked.pk,
            actor=people.alice,
            wanted=automatic.Automatic(True, "", "default", holdout_artifact="holdout.csv"),
            holdout=holdout_file(logged.holdout),
        )
    with django_capture_on_commit_callbacks(execute=True):
        link = automatic.set_automatic(
            linked.pk,
            actor=people.alice,
            wanted=automatic.Automatic(True, "", "default", holdout_artifact="holdout.csv"),
            holdout=None,
        )
    assert link.is_automatic and link.holdout_artifact == "holdout.csv" and not link.holdout_key
    assert stored_files(media_root) == []  # the kept file went: each run's data set from now on
    event = AuditEvent.objects.filter(action=AuditAction.MLFLOW_LINKED.value).latest("id")
    assert event.after["automatic import"]["holdout"] == {"run_artifact": "holdout.csv"}
    assert event.before["automatic import"]["holdout"]["name"] == "holdout.csv"
    via = {"via": "polling MLflow", "connection": link.connection.name}
    record = automatic.request_automatic(link, "2", trigger=MlflowImport.Trigger.POLL, via=via)
    assert record is not None and record.holdout_artifact == "holdout.csv"
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(record)
    assert record.state == MlflowImport.State.IMPORTED, record.failure
    assert record.requested_by == people.alice
    assert record.holdout_sha256 == _sha(run_holdouts.csv)
    # A version whose run logged no such data set fails, saying so.
    with django_capture_on_commit_callbacks(execute=True):
        other = finish_import(
            automatic.request_automatic(link, "1", trigger=MlflowImport.Trigger.POLL, via=via)
        )
    assert other.state == MlflowImport.State.FAILED
    assert f"run {logged.versions['1']['run_id']} has no artifact “holdout.csv”" in other.failure


# --- The automatic-import settings by API ------------------------------------------------------


def _settings(link: MlflowLink) -> tuple[object, ...]:
    link.refresh_from_db()
    return (link.on_version_created, link.on_alias, link.holdout_artifact, link.automatic_by_id)


def test_api_automatic_settings_for_each_role(people, linked, api):
    link = MlflowLink.objects.get(model=linked)
    before = _settings(link)
    alice = api(people.alice)
    off = alice.get(AUTOMATIC_URL)
    assert off.status_code == 200, off.content
    assert off.json()["enabled"] is False and off.json()["holdout_source"] is None
    wanted = {
        "on_alias": "candidate",
        "holdout_artifact": "holdout.csv",
        "target_column": "default",
    }
    # Who sees the model reads the settings; only who may import changes them.
    for person, read, write in (
        (people.rita, 200, 403),
        (people.carl, 200, 403),
        (people.bob, 404, 404),
        (people.ivan, 404, 404),
    ):
        assert api(person).get(AUTOMATIC_URL).status_code == read, person.username
        assert api(person).put(AUTOMATIC_URL, wanted, format="json").status_code == write
    assert _settings(link) == before
    assert not AuditEvent.objects.filter(
        action=AuditAction.MLFLOW_LINKED.value, actor_username__in=["rita", "carl", "bob", "ivan"]
    ).exists()
    on = alice.put(AUTOMATIC_URL, wanted, format="json")
    assert on.status_code == 200, on.content
    body = on.json()
    assert body["enabled"] is True and body["on_behalf_of"] == "alice"
    assert body["on_alias"] == "candidate" and body["on_version_created"] is False
    assert body["holdout_source"] == {"run_artifact": "holdout.csv"}
    assert api(people.rita).get(AUTOMATIC_URL).json() == body
    event = AuditEvent.objects.filter(action=AuditAction.MLFLOW_LINKED.value).latest("id")
    assert event.actor_username == "alice"
    assert event.after["automatic import"]["on_alias"] == "candidate"
    assert event.before["automatic import"]["on_alias"] == ""
    off = alice.put(AUTOMATIC_URL, {"on_alias": "", "on_version_created": False}, format="json")
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert off.json()["holdout_source"] is None


def test_api_automatic_settings_with_a_kept_file_and_refusals(
    people, linked, logged, api, media_root
):
    alice = api(people.alice)
    kept = alice.put(
        AUTOMATIC_URL,
        {
            "on_version_created": "true",
            "holdout": SimpleUploadedFile("holdout.csv", logged.holdout),
            "target_column": "default",
        },
        format="multipart",
    )
    assert kept.status_code == 200, kept.content
    assert kept.json()["holdout_source"] == {"name": "holdout.csv", "sha256": _sha(logged.holdout)}
    assert len(stored_files(media_root)) == 1
    both = alice.put(
        AUTOMATIC_URL,
        {
            "on_version_created": "true",
            "holdout": SimpleUploadedFile("holdout.csv", logged.holdout),
            "holdout_artifact": "holdout.csv",
            "target_column": "default",
        },
        format="multipart",
    )
    assert both.status_code == 400 and "not both" in both.json()["detail"]
    bad = alice.put(
        AUTOMATIC_URL,
        {"on_version_created": True, "holdout_artifact": "../x.csv", "target_column": "default"},
        format="json",
    )
    assert bad.status_code == 400 and "inside the run's artifacts" in bad.json()["detail"]
    no_target = alice.put(
        AUTOMATIC_URL,
        {
            "on_version_created": "true",
            "holdout": SimpleUploadedFile("holdout.csv", logged.holdout),
            "target_column": "nope",
        },
        format="multipart",
    )
    assert no_target.status_code == 400 and "no column named “nope”" in no_target.json()["detail"]
    # The refusals changed nothing: the kept file is the one kept.
    assert alice.get(AUTOMATIC_URL).json() == kept.json()
    assert len(stored_files(media_root)) == 1


def test_api_automatic_settings_of_a_model_not_linked(people, alices_model, api):
    assert api(people.alice).get(AUTOMATIC_URL).status_code == 404
    answer = api(people.alice).put(AUTOMATIC_URL, {"on_version_created": True}, format="json")
    assert answer.status_code == 404
