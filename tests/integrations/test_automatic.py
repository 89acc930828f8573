"""Automatic hand-over and tags back, against the real MLflow server: MLflow's own webhook
delivery reaches the portal's live server; polling finds new versions and alias moves; approval
and deployment come back to MLflow as tags."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from apps.deployments import services as deployments
from apps.integrations import automatic, tags
from apps.integrations import services as integrations
from apps.integrations.models import MlflowImport
from apps.jobs.models import Job
from apps.registry.models import ModelVersion
from tests.deployments.conftest import approve, deploy_now
from tests.integrations.conftest import finish_import, holdout_file, make_connection, validate_now
from tests.support.mlflow import (
    CREATE_WEBHOOK,
    DELETE_WEBHOOK,
    REGISTER_AGAIN,
    SET_ALIAS,
    VERSION_TAGS,
)

SECRET = "portal-webhook-" + "s" * 24


def _automatic(people, model, connection, mlflow_name: str, logged, *, on_created: bool,
               alias: str = ""):  # fmt: skip
    integrations.link_model(
        model.pk, actor=people.alice, connection=connection, mlflow_name=mlflow_name
    )
    return automatic.set_automatic(
        model.pk,
        actor=people.alice,
        wanted=automatic.Automatic(on_created, alias, "default"),
        holdout=holdout_file(logged.holdout),
    )


@pytest.mark.django_db(transaction=True)
def test_mlflows_alias_webhook_imports_into_the_portal(
    people, alices_model, logged, live_server, media_root
):
    connection = make_connection(people, logged.server.url, password=logged.server.password)
    integrations.save_connection(people.admin, connection, new_webhook_secret=SECRET)
    logged.server.run_script(REGISTER_AGAIN, "credit-pd", "2", "credit-hook")
    _automatic(people, alices_model, connection, "credit-hook", logged, on_created=False,
               alias="portal-auto")  # fmt: skip
    url = live_server.url + reverse("integrations:webhook", args=[connection.pk])
    hook = logged.server.run_script(CREATE_WEBHOOK, url, SECRET, "model_version_alias.created")
    try:
        logged.server.run_script(SET_ALIAS, "credit-hook", "portal-auto", "1")
        deadline = time.monotonic() + 60
        while not MlflowImport.objects.exists():
            assert time.monotonic() < deadline, f"no delivery arrived\n{logged.server.log_tail()}"
            time.sleep(0.3)
    finally:
        logged.server.run_script(DELETE_WEBHOOK, str(hook["id"]))
    record = MlflowImport.objects.get()
    assert record.trigger == MlflowImport.Trigger.WEBHOOK
    assert record.requested_by == people.alice and record.reference == "models:/credit-hook/1"
    record = finish_import(record)
    assert record.state == MlflowImport.State.IMPORTED, record.failure
    assert record.version is not None and record.version.uploaded_by == people.alice
    assert record.aliases == ["portal-auto"]
    requested = AuditEvent.objects.get(action=AuditAction.MLFLOW_IMPORT_REQUESTED.value)
    assert requested.after["via"] == "MLflow webhook" and requested.after["alias"] == "portal-auto"
    assert not AuditEvent.objects.filter(action=AuditAction.MLFLOW_WEBHOOK_REFUSED.value).exists()


@pytest.mark.django_db
def test_polling_imports_new_versions_and_alias_moves_once(
    people, alices_model, logged, media_root
):
    connection = make_connection(people, logged.server.url, password=logged.server.password)
    logged.server.run_script(REGISTER_AGAIN, "credit-pd", "2", "credit-poll")  # before: skipped
    link = _automatic(people, alices_model, connection, "credit-poll", logged, on_created=True)
    time.sleep(0.01)
    new = logged.server.run_script(REGISTER_AGAIN, "credit-pd", "2", "credit-poll")
    assert automatic.poll_all() == 1
    record = MlflowImport.objects.get()
    assert record.trigger == MlflowImport.Trigger.POLL
    assert record.mlflow_version == str(new["version"]) and record.requested_by == people.alice
    assert automatic.poll_all() == 0  # seen
    # A webhook for the same version starts nothing either.
    link.refresh_from_db()
    assert automatic.request_automatic(link, str(new["version"]), trigger="webhook", via={
        "via": "MLflow webhook"}) is None  # fmt: skip
    # The alias: the version it points to is imported once, when it moves.
    automatic.set_automatic(
        alices_model.pk,
        actor=people.alice,
        wanted=automatic.Automatic(True, "poll-alias", "default"),
        holdout=None,
    )
    logged.server.run_script(SET_ALIAS, "credit-poll", "poll-alias", "1")
    assert automatic.poll_all() == 1
    assert automatic.poll_all() == 0
    assert sorted(MlflowImport.objects.values_list("mlflow_version", flat=True)) == ["1", "2"]
    requested = AuditEvent.objects.filter(action=AuditAction.MLFLOW_IMPORT_REQUESTED.value)
    assert {e.after["via"] for e in requested} == {"polling MLflow"}


def _run_tags_jobs() -> list[Job]:
    ran = []
    for job in Job.objects.filter(kind=tags.TAGS.name, status=Job.Status.QUEUED):
        tags.run_send(str(job.uuid), worker="in-process")
        job.refresh_from_db()
        ran.append(job)
    return ran


def _mlflow_tags(logged, version: str) -> dict[str, str]:
    return dict(logged.server.run_script(VERSION_TAGS, "credit-pd", version)["tags"])


@pytest.mark.django_db
def test_approval_and_deployment_come_back_to_mlflow_as_tags(
    people, linked, logged, django_capture_on_commit_callbacks
):
    connection = linked.mlflow.connection
    connection.send_tags = True
    integrations.save_connection(people.admin, connection)
    record = integrations.request_import(
        linked.pk,
        actor=people.alice,
        reference="@candidate",
        holdout=holdout_file(logged.holdout),
        target_column="default",
    )
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(record)
    assert record.state == MlflowImport.State.IMPORTED, record.failure
    version = validate_now(record.version)
    assert version.status == ModelVersion.Status.VALIDATED
    approve(people, version)
    (job,) = _run_tags_jobs()
    assert job.status == Job.Status.SUCCEEDED, job.message
    found = _mlflow_tags(logged, "2")
    assert found["portal.status"] == "approved" and found["portal.live_in"] == "none"
    sent = AuditEvent.objects.get(action=AuditAction.MLFLOW_TAGS_SENT.value)
    assert sent.after["portal.status"] == "approved" and sent.after["mlflow_version"] == "2"
    assert logged.server.password not in str(sent.after)

    deploy_now(deployments.request_deployment(version.pk, "staging", actor=people.ivan))
    (job,) = _run_tags_jobs()
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert _mlflow_tags(logged, "2")["portal.live_in"] == "Staging"


@pytest.mark.django_db
def test_a_refusing_mlflow_fails_the_tags_job_with_why(
    people, linked, logged, django_capture_on_commit_callbacks
):
    record = integrations.request_import(
        linked.pk,
        actor=people.alice,
        reference="2",
        holdout=holdout_file(logged.holdout),
        target_column="default",
    )
    with django_capture_on_commit_callbacks(execute=True):
        record = finish_import(record)
    assert record.version is not None, record.failure
    connection = linked.mlflow.connection
    connection.send_tags = True
    integrations.save_connection(people.admin, connection, new_secret="wrong-password")
    assert len(tags.queue([record.version], people.alice)) == 1
    assert tags.queue([record.version], people.alice) == []  # one queued job is enough
    (job,) = _run_tags_jobs()
    assert job.status == Job.Status.FAILED and "credentials" in job.message
    assert not AuditEvent.objects.filter(action=AuditAction.MLFLOW_TAGS_SENT.value).exists()
