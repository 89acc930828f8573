"""`mlops-portal import` against a live portal, a real worker and the real MLflow server."""

from __future__ import annotations

import hashlib
import json

import pytest

from apps.integrations import services as integrations
from apps.integrations.models import MlflowImport
from tests.integrations.conftest import make_connection
from tests.support.cli import cli_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cli(live_server, tmp_path, people):
    command = cli_for(live_server.url, tmp_path / "credentials.json")
    login = command("login", "--username", "alice", "--password-stdin", stdin="pw-alice\n")
    assert login.returncode == 0, login.stderr
    return command


def test_import_waits_for_the_import_and_its_validation(
    people, alices_model, logged, worker, cli, tmp_path
):
    connection = make_connection(people, logged.server.url, password=logged.server.password)
    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=connection, mlflow_name="credit-pd"
    )
    holdout = tmp_path / "holdout.csv"
    holdout.write_bytes(logged.holdout)

    refused = cli("import", alices_model.slug, "models:/other/1", "--holdout", str(holdout),
                  "--target", "default")  # fmt: skip
    assert refused.returncode == 1 and "linked to the MLflow model “credit-pd”" in refused.stderr
    missing = cli("import", alices_model.slug, "2", "--holdout", str(tmp_path / "nope.csv"),
                  "--target", "default")  # fmt: skip
    assert missing.returncode == 2 and "Cannot read" in missing.stderr
    assert not MlflowImport.objects.exists()

    done = cli("import", alices_model.slug, "models:/credit-pd@candidate", "--holdout",
               str(holdout), "--target", "default", "--wait", "--timeout", "240")  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout + worker.output()
    assert "Importing models:/credit-pd@candidate" in done.stdout
    assert f"Imported MLflow version 2 as {alices_model.slug} version 1." in done.stdout
    assert "VALIDATION PASS" in done.stdout.upper()
    record = MlflowImport.objects.get()
    assert record.requested_by == people.alice and record.version is not None

    as_json = cli("import", alices_model.slug, "1", "--holdout", str(holdout), "--target",
                  "default", "--json")  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout)
    assert answer["reference"] == "models:/credit-pd/1" and answer["state"] == "queued"


def test_import_takes_the_holdout_from_the_runs_artifact(
    people, alices_model, logged, run_holdouts, worker, cli
):
    connection = make_connection(people, logged.server.url, password=logged.server.password)
    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=connection, mlflow_name="credit-pd"
    )
    both = cli("import", alices_model.slug, "2", "--holdout", "h.csv", "--holdout-artifact",
               "holdout.csv", "--target", "default")  # fmt: skip
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    unsafe = cli("import", alices_model.slug, "2", "--holdout-artifact", "../holdout.csv",
                 "--target", "default")  # fmt: skip
    assert unsafe.returncode == 1 and "not a path inside the run's artifacts" in unsafe.stderr
    assert not MlflowImport.objects.exists()

    path = "data/holdout.parquet"
    done = cli("import", alices_model.slug, "@candidate", "--holdout-artifact", path, "--target",
               "default", "--wait", "--timeout", "240")  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout + worker.output()
    assert f"Imported MLflow version 2 as {alices_model.slug} version 1." in done.stdout
    assert "VALIDATION PASS" in done.stdout.upper()
    record = MlflowImport.objects.get()
    assert record.holdout_artifact == "data/holdout.parquet"
    assert record.holdout_sha256 == hashlib.sha256(run_holdouts.parquet).hexdigest()
