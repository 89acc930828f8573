"""A real MLflow server for the module, models logged in it, and the portal side: a connection,
the allowlisted host, a linked model."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.integrations import services as integrations
from apps.integrations.models import MlflowConnection, MlflowImport
from apps.integrations.tasks import run_import
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.notifications import services as notifications
from apps.registry.models import ModelVersion, RegisteredModel
from apps.validation import services as validation
from tests.support.mlflow import LOG_MODELS, MlflowServer, mlflow_server


@dataclass
class Logged:
    """What the MLflow script logged: runs and MLflow's probabilities per version of credit-pd."""

    server: MlflowServer
    holdout: bytes
    versions: dict[str, dict[str, Any]]


@pytest.fixture(scope="session")
def logged() -> Iterator[Logged]:
    with (
        tempfile.TemporaryDirectory(prefix="mlflow-tests-") as folder,
        mlflow_server(Path(folder) / "server") as server,
    ):
        out = Path(folder) / "out"
        out.mkdir()
        found = server.run_script(LOG_MODELS, str(out))
        yield Logged(server, (out / "holdout.csv").read_bytes(), dict(found["versions"]))


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def make_connection(
    people, url: str, *, password: str, auth: str = "basic", name: str = "Lab MLflow"
) -> MlflowConnection:
    notifications.allow_host(people.admin, "127.0.0.1")
    return integrations.save_connection(
        people.admin,
        MlflowConnection(name=name, tracking_url=url, auth=auth, username="admin"),
        new_secret=password,
        teams=[people.retail],
    )


@pytest.fixture
def connection(people, logged: Logged, media_root) -> MlflowConnection:
    return make_connection(people, logged.server.url, password=logged.server.password)


@pytest.fixture
def linked(people, alices_model: RegisteredModel, connection: MlflowConnection) -> RegisteredModel:
    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=connection, mlflow_name="credit-pd"
    )
    return alices_model


# Logs the given files into a finished run, as a data scientist logs a data set with the model:
# each "<artifact folder>=<local file>" ("" for the run's top folder).
LOG_HOLDOUTS = r"""
import json, sys
from mlflow import MlflowClient
run_id, pairs = sys.argv[1], sys.argv[2:]
client = MlflowClient()
for pair in pairs:
    folder, local = pair.split("=", 1)
    client.log_artifact(run_id, local, artifact_path=folder or None)
print(json.dumps({"data": [f.path for f in client.list_artifacts(run_id, "data")]}))
"""


@dataclass
class RunHoldouts:
    """What the run of credit-pd version 2 (alias candidate) holds besides its model."""

    run_id: str
    csv: bytes  # holdout.csv
    parquet: bytes  # data/holdout.parquet


@pytest.fixture(scope="session")
def run_holdouts(logged: Logged) -> RunHoldouts:
    frame = pd.read_csv(io.BytesIO(logged.holdout))
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    run_id = logged.versions["2"]["run_id"]
    with tempfile.TemporaryDirectory(prefix="run-holdouts-") as folder:
        files = {
            "holdout.csv": logged.holdout,
            "holdout.parquet": parquet.getvalue(),
            # CSV text under a Parquet name, and a holdout without the target column.
            "fake.parquet": logged.holdout,
            "no_target.csv": frame.drop(columns=["default"]).to_csv(index=False).encode(),
        }
        for name, data in files.items():
            (Path(folder) / name).write_bytes(data)
        pairs = [f"={folder}/holdout.csv"] + [
            f"data={folder}/{name}" for name in files if name != "holdout.csv"
        ]
        listed = logged.server.run_script(LOG_HOLDOUTS, run_id, *pairs)
    assert sorted(listed["data"]) == [  # type: ignore[call-overload]
        "data/fake.parquet",
        "data/holdout.parquet",
        "data/no_target.csv",
    ]
    return RunHoldouts(run_id, logged.holdout, parquet.getvalue())


def holdout_file(data: bytes, name: str = "holdout.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def finish_import(record: MlflowImport, *, attempts: int = 5) -> MlflowImport:
    """Run the import's job in this process as a worker would, attempt after attempt (a
    transient failure re-queues it), until it ends."""
    for _ in range(attempts):
        job = Job.objects.get(pk=record.job_id)
        if job.status != Job.Status.QUEUED:
            break
        run_import(str(job.uuid), worker="in-process")
    record.refresh_from_db()
    return record


def validate_now(version: ModelVersion) -> ModelVersion:
    job = validation.jobs_of(version).get(status=Job.Status.QUEUED)
    jobs.run(
        str(job.uuid),
        worker="in-process",
        execute=validation.run_validation,
        commit=validation.store_validation,
    )
    version.refresh_from_db()
    return version


def stored_files(root: Path) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()] if Path(root).exists() else []
