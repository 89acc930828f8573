"""Serving reads what validation recorded about arrays: a model recorded as taking arrays gets its
rows as one float array and the serving process never imports pandas; one recorded as needing its
DataFrame gets a DataFrame and answers right; one validated before the check is tried when it is
loaded, as before. And the deployment's smoke test loads and scores the ONNX copy, saying in the
deployment's result when serving would refuse it."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
import requests
import skops.io

from apps.audit.models import AuditEvent
from apps.deployments import services, serving
from apps.deployments.models import Deployment
from apps.validation.evidence import signature_of
from apps.validation.models import ValidationReport
from tests.deployments.conftest import approved_version, deploy_now
from tests.deployments.test_onnx_serving import (
    _replace_copy,
    _stored_copy,
    _with_foreign_domain,
)
from tests.support.gunicorn import Gunicorn
from tests.validation.test_array_check import (
    columns_by_name_pipeline,
    numeric_logistic_regression,
)

FEATURES = ["income", "debt", "tenure"]
STATUS_TOKEN = "status-" + "a" * 40


def _report(version) -> ValidationReport:  # type: ignore[no-untyped-def]
    return ValidationReport.objects.filter(version=version).latest()


def _holdout(models) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return pd.read_csv(io.BytesIO(models.holdout))[FEATURES]


def _live_with_key(people, model, version, environment: str) -> str:  # type: ignore[no-untyped-def]
    deploy_now(services.request_deployment(version.pk, environment, actor=people.ivan))
    _, raw = services.create_serving_key(
        model.pk, environment, actor=people.ivan, name=f"{environment} client"
    )
    return raw


class OneWorkerServingTier(Gunicorn):
    """``gunicorn mlops_portal.serving_wsgi --preload`` with one worker, so that every request,
    the status included, is answered by the same process."""

    app = "mlops_portal.serving_wsgi"
    options = ("--preload",)
    threads = 2
    ready_within = 90.0

    def status(self) -> dict:
        answer = requests.get(
            f"{self.url}/serve/_status",
            headers={"Authorization": f"Bearer {STATUS_TOKEN}"},
            timeout=30,
        )
        assert answer.status_code == 200, self.output()
        return answer.json()

    def call(self, key: str, environment: str, rows: pd.DataFrame) -> dict:
        answer = requests.post(
            f"{self.url}/serve/loan-default/{environment}/predict",
            json={"columns": rows.to_dict(orient="list")},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.mark.django_db(transaction=True)
def test_a_serving_tier_holding_a_model_that_takes_arrays_never_imports_pandas(
    people, alices_model, models
):
    array_model = approved_version(
        people, alices_model, numeric_logistic_regression(), models.holdout
    )
    assert _report(array_model).serving_path["takes_arrays"] is True
    _live_with_key(people, alices_model, array_model, "staging")
    production_key = _live_with_key(people, alices_model, array_model, "production")
    frame_model = approved_version(people, alices_model, columns_by_name_pipeline(), models.holdout)
    assert _report(frame_model).serving_path["takes_arrays"] is False
    staging_key = _live_with_key(people, alices_model, frame_model, "staging")
    rows = _holdout(models).head(50)

    # On scikit-learn (the array path is what this is about; ONNX needs no pandas either).
    with OneWorkerServingTier(
        PORTAL_SERVING_STATUS_TOKEN=STATUS_TOKEN, PORTAL_SERVING_ONNX="false"
    ) as server:
        held = server.status()
        assert [(m["model"], m["environment"], m["serving_path"]) for m in held["models"]] == [
            ("loan-default", "production", "scikit-learn")
        ], server.output()
        assert held["pandas_imported"] is False  # the production model was loaded: no pandas

        answered = server.call(production_key, "production", rows)
        estimator = skops.io.loads(numeric_logistic_regression(), trusted=[])
        assert answered["version"] == array_model.number
        assert answered["predictions"] == estimator.predict(rows).tolist()
        assert server.status()["pandas_imported"] is False  # nor answering with it

        # The model that needs its DataFrame brings pandas in, on demand, and answers right.
        answered = server.call(staging_key, "staging", rows)
        by_name = skops.io.loads(columns_by_name_pipeline(), trusted=[])
        assert answered["version"] == frame_model.number
        assert answered["predictions"] == by_name.predict(rows).tolist()
        assert server.status()["pandas_imported"] is True


@pytest.mark.django_db
def test_a_model_recorded_as_needing_its_dataframe_gets_one_and_answers_right(
    client, people, alices_model, models, settings
):
    settings.PORTAL_SERVING_ONNX = False
    version = approved_version(people, alices_model, columns_by_name_pipeline(), models.holdout)
    key = _live_with_key(people, alices_model, version, "staging")
    rows = _holdout(models)
    response = client.post(
        "/serve/loan-default/staging/predict",
        data=json.dumps({"columns": rows.to_dict(orient="list")}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200, response.content
    held = serving.MODELS.get("loan-default", "staging")
    assert held is not None and isinstance(held.score, serving.Scorer)
    assert held.score.as_array is False
    estimator = skops.io.loads(columns_by_name_pipeline(), trusted=[])
    answered = response.json()
    assert answered["predictions"] == estimator.predict(rows).tolist()
    assert answered["probabilities"] == estimator.predict_proba(rows).round(6).tolist()


@pytest.mark.django_db
def test_serving_follows_the_record_and_tries_the_model_itself_without_one(
    people, alices_model, models, v1, settings
):
    settings.PORTAL_SERVING_ONNX = False
    report = _report(v1)
    assert report.data["serving_path"]["arrays"]["takes_arrays"] is True
    assert serving.MODELS.scorer(v1, signature_of(v1) or {}).as_array is True

    # Recorded as needing its DataFrame: serving believes the record, not its own try.
    data = report.data
    data["serving_path"]["arrays"] = {"takes_arrays": False, "reason": "answers differently"}
    ValidationReport.objects.filter(pk=report.pk).update(data=data)
    assert serving.MODELS.scorer(v1, signature_of(v1) or {}).as_array is False

    # Validated before the check existed: serving tries the model on both when it loads it.
    del data["serving_path"]["arrays"]
    ValidationReport.objects.filter(pk=report.pk).update(data=data)
    scorer = serving.MODELS.scorer(v1, signature_of(v1) or {})
    assert scorer.as_array is True
    rows = _holdout(models).head(30)
    estimator = skops.io.loads(models.logistic, trusted=[])
    assert scorer(rows.to_dict(orient="list"))["predictions"] == estimator.predict(rows).tolist()


# --- The deployment's smoke test tries the ONNX copy -------------------------------------------


@pytest.mark.django_db
def test_a_version_whose_onnx_copy_answers_deploys_without_a_note(people, alices_model, v1):
    assert _report(v1).serving_path["path"] == "onnx"
    deployment = services.request_deployment(v1.pk, "staging", actor=people.ivan)
    deploy_now(deployment)
    assert deployment.status == Deployment.Status.LIVE
    assert deployment.message == ""
    assert deployment.job.message == "Version 1 is live in Staging"


@pytest.mark.django_db
def test_an_onnx_copy_serving_would_refuse_is_found_at_deploy_time_and_said(
    people, alices_model, v1
):
    report = _report(v1)
    _replace_copy(report, _with_foreign_domain(_stored_copy(report)), record_digest=True)
    deployment = services.request_deployment(v1.pk, "staging", actor=people.ivan)
    deploy_now(deployment)

    # It still goes live: scikit-learn passed the smoke test, and serves it.
    assert deployment.status == Deployment.Status.LIVE
    assert deployment.message.startswith(
        "Its ONNX copy is refused (the model uses operator domains com.microsoft); "
        "it serves on scikit-learn"
    ), deployment.message
    deployment.job.refresh_from_db()
    assert deployment.job.message.startswith("Version 1 is live in Staging. Its ONNX copy is")
    event = AuditEvent.objects.get(action="deployment.live", object_id=str(deployment.pk))
    assert event.after["note"] == deployment.message


@pytest.mark.django_db
def test_an_onnx_copy_whose_bytes_changed_is_said_at_deploy_time(people, alices_model, v1):
    report = _report(v1)
    content = bytearray(_stored_copy(report))
    content[-1] ^= 0xFF
    _replace_copy(report, bytes(content), record_digest=False)
    deployment = services.request_deployment(v1.pk, "staging", actor=people.ivan)
    deploy_now(deployment)
    assert deployment.status == Deployment.Status.LIVE
    assert "does not match its recorded SHA-256" in deployment.message
    assert "it serves on scikit-learn" in deployment.message
