"""The MLflow section of the model page, the provenance section of the version page, the API,
and the connection's secret kept out of all of them."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from apps.integrations import services as integrations
from apps.integrations.models import MlflowConnection, MlflowImport
from apps.jobs.models import Job
from tests.integrations.conftest import finish_import, holdout_file

pytestmark = pytest.mark.django_db

IMPORT_URL = "/api/v1/models/loan-default/versions/import/"


def _imported(people, linked, logged, captured):
    record = integrations.request_import(
        linked.pk,
        actor=people.alice,
        reference="models:/credit-pd@candidate",
        holdout=holdout_file(logged.holdout),
        target_column="default",
    )
    with captured(execute=True):
        record = finish_import(record)
    assert record.state == MlflowImport.State.IMPORTED, record.failure
    return record


def test_api_import_answers_202_then_shows_provenance(
    people, linked, logged, api, django_capture_on_commit_callbacks
):
    alice = api(people.alice)
    answer = alice.post(
        IMPORT_URL,
        {
            "reference": "2",
            "holdout": SimpleUploadedFile("holdout.csv", logged.holdout),
            "target_column": "default",
        },
        format="multipart",
    )
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["state"] == "queued" and body["reference"] == "models:/credit-pd/2"
    assert body["job"]["status"] == "queued" and body["version"] is None
    record = MlflowImport.objects.get(pk=body["id"])
    with django_capture_on_commit_callbacks(execute=True):
        finish_import(record)
    detail = alice.get(body["url"]).json()
    assert detail["state"] == "imported" and detail["version"] == 1
    assert detail["run_id"] == logged.versions["2"]["run_id"]
    assert detail["params"]["C"] == "0.3" and detail["git_commit"] == "c0ffee2"
    assert detail["experiment_name"] == "credit-pd-experiments"
    assert detail["original_format"] == "skops" and len(detail["original_sha256"]) == 64
    provenance = alice.get("/api/v1/models/loan-default/versions/1/provenance/")
    assert provenance.status_code == 200 and provenance.json()["id"] == record.pk
    # Who sees the model sees the import; others do not know it exists.
    assert api(people.rita).get(body["url"]).status_code == 200
    assert api(people.bob).get(body["url"]).status_code == 404
    assert (
        api(people.bob).get("/api/v1/models/loan-default/versions/1/provenance/").status_code == 404
    )


def test_api_import_refusals(people, linked, logged, api):
    form = {"reference": "2", "target_column": "default"}
    missing = api(people.alice).post(IMPORT_URL, form, format="multipart")
    assert missing.status_code == 400 and "Attach the holdout" in missing.json()["detail"]
    wrong_column = api(people.alice).post(
        IMPORT_URL,
        {**form, "target_column": "nope", "holdout": SimpleUploadedFile("h.csv", logged.holdout)},
        format="multipart",
    )
    assert (
        wrong_column.status_code == 400
        and "no column named “nope”" in wrong_column.json()["detail"]
    )
    bad_reference = api(people.alice).post(
        IMPORT_URL,
        {
            **form,
            "reference": "models:/x/1",
            "holdout": SimpleUploadedFile("h.csv", logged.holdout),
        },
        format="multipart",
    )
    assert bad_reference.status_code == 400
    # Rita sees the model but may not upload to it; Bob does not see it.
    with_file = {**form, "holdout": SimpleUploadedFile("h.csv", logged.holdout)}
    assert api(people.rita).post(IMPORT_URL, with_file, format="multipart").status_code == 403
    with_file = {**form, "holdout": SimpleUploadedFile("h.csv", logged.holdout)}
    assert api(people.bob).post(IMPORT_URL, with_file, format="multipart").status_code == 404
    assert not MlflowImport.objects.exists()


def test_api_link_and_unlink(people, alices_model, connection, api):
    url = "/api/v1/models/loan-default/mlflow/"
    assert api(people.alice).get(url).status_code == 404
    made = api(people.alice).post(
        url, {"connection": "Lab MLflow", "mlflow_name": "credit-pd"}, format="json"
    )
    assert made.status_code == 201, made.content
    assert made.json() == {**made.json(), "connection": "Lab MLflow", "mlflow_name": "credit-pd"}
    assert api(people.rita).get(url).status_code == 200
    assert api(people.rita).delete(url).status_code == 403
    assert api(people.bob).delete(url).status_code == 404
    assert api(people.alice).delete(url).status_code == 204


def test_model_page_links_and_lists_mlflow_versions(
    client, people, alices_model, connection, logged
):
    client.force_login(people.alice)
    page = client.get(alices_model.get_absolute_url())
    assert b"Link to MLflow" in page.content and b"Lab MLflow" in page.content
    linked = client.post(
        reverse("integrations:link", args=[alices_model.slug]),
        {"connection": connection.pk, "mlflow_name": "credit-pd"},
        follow=True,
    )
    assert "Linked to “credit-pd”" in linked.content.decode()
    picker = client.get(reverse("integrations:picker", args=[alices_model.slug])).content.decode()
    assert "Version 2" in picker and "@candidate" in picker and "train_accuracy" in picker
    # Rita sees the model but gets neither the forms nor the picker.
    client.force_login(people.rita)
    assert (
        b"Import a version from MLflow" not in client.get(alices_model.get_absolute_url()).content
    )
    assert client.get(reverse("integrations:picker", args=[alices_model.slug])).status_code == 403
    client.force_login(people.bob)
    assert client.get(reverse("integrations:picker", args=[alices_model.slug])).status_code == 404


def test_page_import_then_version_page_shows_provenance(
    client, people, linked, logged, django_capture_on_commit_callbacks
):
    client.force_login(people.alice)
    answer = client.post(
        reverse("integrations:import", args=[linked.slug]),
        {
            "reference": "models:/credit-pd/2",
            "holdout": SimpleUploadedFile("holdout.csv", logged.holdout),
            "target_column": "default",
        },
        follow=True,
    )
    assert "Importing models:/credit-pd/2 from MLflow" in answer.content.decode()
    record = MlflowImport.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(record)
    page = client.get(record.version.get_absolute_url()).content.decode()
    assert "Provenance" in page and record.run_id in page and "c0ffee2" in page
    assert "credit-pd-experiments" in page and record.original_sha256 in page
    assert "Lab MLflow" in page and "@candidate" in page and "solver" in page


def test_the_connection_secret_is_never_shown(
    client, people, linked, logged, api, django_capture_on_commit_callbacks
):
    secret = logged.server.password
    record = _imported(people, linked, logged, django_capture_on_commit_callbacks)
    connection = MlflowConnection.objects.get()
    client.force_login(people.alice)
    pages = [
        client.get(linked.get_absolute_url()),
        client.get(reverse("integrations:picker", args=[linked.slug])),
        client.get(record.version.get_absolute_url()),
        client.get(reverse("jobs:detail", args=[Job.objects.get(pk=record.job_id).uuid])),
    ]
    client.force_login(people.admin)
    pages.append(
        client.get(reverse("admin:integrations_mlflowconnection_change", args=[connection.pk]))
    )
    pages.append(client.get(reverse("admin:integrations_mlflowconnection_changelist")))
    for page in pages:
        assert page.status_code == 200
        assert secret not in page.content.decode()
    alice = api(people.alice)
    for url in (f"/api/v1/imports/{record.pk}/", "/api/v1/models/loan-default/mlflow/"):
        answer = alice.get(url)
        assert answer.status_code == 200 and secret not in answer.content.decode()
    trail = json.dumps(list(AuditEvent.objects.values("before", "after", "object_repr")))
    assert secret not in trail
    assert AuditEvent.objects.filter(action=AuditAction.MLFLOW_CONNECTION_SAVED.value).exists()


def test_admin_replaces_the_secret_and_audits_only_that(client, people, connection):
    client.force_login(people.admin)
    url = reverse("admin:integrations_mlflowconnection_change", args=[connection.pk])
    answer = client.post(
        url,
        {
            "name": "Lab MLflow",
            "tracking_url": connection.tracking_url,
            "auth": "basic",
            "username": "admin",
            "teams": [people.retail.pk],
            "new_secret": "brand-new-secret-42",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    connection.refresh_from_db()
    assert connection.secret == "brand-new-secret-42"
    event = AuditEvent.objects.filter(action=AuditAction.MLFLOW_CONNECTION_SAVED.value).latest("id")
    assert event.after["secret"] == "replaced"
    assert "brand-new-secret-42" not in json.dumps([event.before, event.after])
    page = client.get(url).content.decode()
    assert "brand-new-secret-42" not in page and "Currently set" in page


def test_admin_refuses_a_private_address_that_is_not_allowlisted(client, people):
    client.force_login(people.admin)
    answer = client.post(
        reverse("admin:integrations_mlflowconnection_add"),
        {"name": "Internal", "tracking_url": "http://10.1.2.3:5000", "auth": "none", "teams": []},
    )
    assert answer.status_code == 200
    assert "private" in answer.content.decode() and not MlflowConnection.objects.exists()


def test_deleting_a_connection_is_audited_and_a_used_one_is_kept(client, people, connection):
    from apps.integrations.models import MlflowLink

    spare = integrations.save_connection(
        people.admin,
        MlflowConnection(name="Spare", tracking_url=connection.tracking_url, auth="token"),
        new_secret="spare-token-9",
        teams=[],
    )
    client.force_login(people.admin)
    url = reverse("admin:integrations_mlflowconnection_delete", args=[spare.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not MlflowConnection.objects.filter(pk=spare.pk).exists()
    deleted = AuditEvent.objects.get(action=AuditAction.MLFLOW_CONNECTION_DELETED.value)
    assert deleted.before["name"] == "Spare" and deleted.before["secret"] == "set"
    assert "spare-token-9" not in json.dumps([deleted.before, deleted.after])
    # A connection a link uses is part of the link's record: the admin does not delete it.
    MlflowLink.objects.create(
        model=_a_model(people),
        connection=connection,
        mlflow_name="credit-pd",
        created_by=people.alice,
    )
    url = reverse("admin:integrations_mlflowconnection_delete", args=[connection.pk])
    client.post(url, {"post": "yes"})
    assert MlflowConnection.objects.filter(pk=connection.pk).exists()
    with pytest.raises(ValidationError, match="kept for their record"):
        integrations.delete_connection(people.admin, connection)


def _a_model(people):
    from apps.registry import services as registry

    return registry.register_model(
        actor=people.alice,
        name="Kept",
        use_case="Test",
        team=people.retail,
        risk_tier="low",
        risk_owner=people.rita,
    )


def test_history_and_admin_show_the_import(
    client, people, linked, logged, django_capture_on_commit_callbacks
):
    record = _imported(people, linked, logged, django_capture_on_commit_callbacks)
    client.force_login(people.alice)
    history = client.get(reverse("registry:model-history", args=[linked.slug])).content.decode()
    assert "Imported a version from MLflow" in history
    assert "Linked a model to an MLflow registered model" in history
    client.force_login(people.admin)
    page = client.get(reverse("admin:integrations_mlflowimport_change", args=[record.pk]))
    assert page.status_code == 200 and record.original_sha256 in page.content.decode()
