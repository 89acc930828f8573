"""Artifacts in object storage: the same code path, a real S3-compatible server.

The server is moto's (``python -m moto.server``, from PyPI): a real HTTP server speaking the S3
API, started by the tests in its own process. Web (this process), a worker (another process) and
the deployment job share the bucket, as hosts of a multi-machine installation would.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.registry import services
from apps.registry.models import ModelVersion, StoredFile
from mlops_portal.env import storage_from_url
from tests.support.services import free_port, unavailable
from tests.support.worker import WorkerProcess
from tests.validation.conftest import models, upload, validate_now

__all__ = ["models"]

KEYS = {"PORTAL_S3_ACCESS_KEY_ID": "portal-test", "PORTAL_S3_SECRET_ACCESS_KEY": "portal-secret"}


@pytest.fixture(scope="module")
def s3_endpoint():  # type: ignore[no-untyped-def]
    port = free_port()
    log = (Path(settings.VAR_DIR) / f"moto-{port}.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            unavailable(f"the S3-compatible test server (moto) exited with {server.returncode}")
        try:
            requests.get(endpoint, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    else:
        server.kill()
        unavailable("the S3-compatible test server (moto) did not start in 60 s")
    yield endpoint
    server.terminate()
    server.wait(timeout=10)
    log.close()


@pytest.fixture
def bucket(s3_endpoint, settings, monkeypatch):  # type: ignore[no-untyped-def]
    """A fresh bucket, and the portal (this process and any it starts) storing files in it."""
    name = f"portal-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["PORTAL_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=KEYS["PORTAL_S3_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=name)
    url = f"s3://{name}/artifacts?endpoint={s3_endpoint}&region=us-east-1&addressing=path"
    for key, value in {**KEYS, "PORTAL_STORAGE_URL": url}.items():
        monkeypatch.setenv(key, value)
    settings.STORAGES = {**settings.STORAGES, "default": storage_from_url(url)}
    return client, name


def _objects(client, name: str) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    listed = client.list_objects_v2(Bucket=name).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=name, Key=o["Key"])["Body"].read() for o in listed}


def _local_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.mark.django_db
def test_an_upload_is_stored_in_the_bucket_under_a_generated_key(
    people, api, alices_model, files, bucket
):
    client, name = bucket
    before = _local_files()
    answer = api(people.alice).post(
        "/api/v1/models/loan-default/versions/",
        {
            "artifact": SimpleUploadedFile("model.skops", files.skops),
            "holdout": SimpleUploadedFile("holdout.csv", files.holdout_csv),
            "target_column": "default",
        },
        format="multipart",
    )
    assert answer.status_code == 201, answer.content
    stored = _objects(client, name)
    artifact = StoredFile.objects.get(role="artifact")
    assert set(stored) == {
        f"artifacts/{f.key}" for f in StoredFile.objects.filter(version__number=1)
    }
    assert stored[f"artifacts/{artifact.key}"] == files.skops
    assert all("model.skops" not in key and ".." not in key for key in stored)
    assert _local_files() == before  # nothing landed on this host's disk
    download = api(people.alice).get("/api/v1/models/loan-default/versions/1/files/artifact/")
    assert b"".join(download.streaming_content) == files.skops
    assert download["X-Checksum-SHA256"] == artifact.sha256


@pytest.mark.django_db
def test_an_object_changed_in_the_bucket_is_refused_before_it_is_opened(
    people, alices_model, models, bucket
):
    client, name = bucket
    version = services.upload_version(
        alices_model.pk,
        actor=people.alice,
        artifact=SimpleUploadedFile("model.skops", models.logistic),
        holdout=SimpleUploadedFile("holdout.csv", models.holdout),
        target_column="default",
    )
    artifact = version.files.get(role="artifact")
    client.put_object(Bucket=name, Key=f"artifacts/{artifact.key}", Body=io.BytesIO(b"PK\x03\x04x"))
    validate_now(version)
    assert version.status == ModelVersion.Status.VALIDATION_FAILED
    report = version.validation_reports.get()
    assert "does not match the SHA-256 recorded at upload" in report.reasons[0]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_in_another_process_validates_from_the_bucket(
    people, alices_model, models, bucket
):
    client, name = bucket
    worker = WorkerProcess().start()  # inherits PORTAL_STORAGE_URL and the keys
    try:
        version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            version.refresh_from_db()
            if version.status != ModelVersion.Status.VALIDATING:
                break
            time.sleep(0.5)
        assert version.status == ModelVersion.Status.VALIDATED, worker.output()
    finally:
        worker.stop()
    canonical = version.files.get(role="canonical")
    stored = _objects(client, name)
    assert f"artifacts/{canonical.key}" in stored  # written by the worker, to the bucket
    assert len(stored[f"artifacts/{canonical.key}"]) == canonical.size
