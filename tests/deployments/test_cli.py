"""`mlops-portal deploy`, `rollback` and `predict` against a live portal with a real worker."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import skops.io

from apps.deployments import services, serving
from tests.deployments.conftest import deploy_now
from tests.support.cli import cli_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_deploying_rolling_back_and_predicting_from_the_cli(
    people, alices_model, models, v1, v2, worker, live_server, tmp_path
):
    deploy_now(services.request_deployment(v1.pk, "staging", actor=people.ivan))
    _, key = services.create_serving_key(alices_model.pk, "staging", actor=people.ivan, name="cli")
    rows = pd.read_csv(io.BytesIO(models.holdout)).head(5)
    scoring_file = tmp_path / "applications.csv"
    rows.to_csv(scoring_file, index=False)

    alice = cli_for(live_server.url, tmp_path / "alice.json")
    alice("login", "--username", "alice", "--password-stdin", stdin="pw-alice\n")
    refused = alice("deploy", "loan-default", "2", "staging")
    assert refused.returncode == 1 and "Only model operations deploy" in refused.stderr

    ivan = cli_for(live_server.url, tmp_path / "ivan.json")
    assert (
        ivan("login", "--username", "ivan", "--password-stdin", stdin="pw-ivan\n").returncode == 0
    )
    deployed = ivan("deploy", "loan-default", "2", "staging", "--wait")
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.strip() == "loan-default version 2 in staging: live"

    def predict(*extra: str):  # type: ignore[no-untyped-def]
        serving.MODELS.forget()  # what a second passing does in a serving process
        return ivan(
            "predict",
            "loan-default",
            "staging",
            str(scoring_file),
            "--drop",
            "default",
            "--drop",
            "age_band",
            *extra,
        )

    boosting = skops.io.loads(
        models.boosting, trusted=skops.io.get_untrusted_types(data=models.boosting)
    )
    scored = predict("--key", key)
    assert scored.returncode == 0, scored.stderr
    head, *predictions = scored.stdout.splitlines()
    assert head.startswith("loan-default version 2 in staging, request ")
    expected = boosting.predict(rows[["income", "debt", "tenure"]]).tolist()
    assert [int(p) for p in predictions] == expected

    rolled = ivan("rollback", "loan-default", "staging")
    assert rolled.returncode == 0, rolled.stderr
    assert rolled.stdout.strip() == "Rolled back: loan-default version 1 in staging: live"
    assert predict("--key", key).stdout.startswith("loan-default version 1 in staging")

    shadow = ivan("deploy", "loan-default", "2", "staging", "--shadow", "--wait")
    assert shadow.returncode == 0, shadow.stderr
    assert shadow.stdout.strip() == (
        "loan-default version 2 in staging as a shadow challenger: live"
    )
    assert predict("--key", key).stdout.startswith("loan-default version 1 in staging")
    unexplained = ivan("challenger", "loan-default", "staging", "--promote")
    assert unexplained.returncode == 2 and "--reason" in unexplained.stderr
    promoted = ivan("challenger", "loan-default", "staging", "--promote", "--reason", "Agrees 97 %")
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.stdout.strip() == (
        "Promoted: loan-default version 2 in staging: live (Agrees 97 %)"
    )
    assert predict("--key", key).stdout.startswith("loan-default version 2 in staging")
    canary = ivan("deploy", "loan-default", "1", "staging", "--canary", "70")
    assert canary.returncode == 1 and "1 to 50 percent" in canary.stderr
    ivan("rollback", "loan-default", "staging")

    assert predict().returncode == 2  # no key
    wrong = predict("--key", "mls_wrong")
    assert wrong.returncode == 1 and "No live loan-default in staging" in wrong.stderr
    not_features = ivan("predict", "loan-default", "staging", str(scoring_file), "--key", key)
    assert not_features.returncode == 1
    assert "unexpected columns: age_band, default" in not_features.stderr
