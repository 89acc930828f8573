"""The prediction endpoint: right answers, refusals that name the problem, keys, logs, feedback."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pandas as pd
import pytest
import skops.io

from apps.deployments import services, serving
from apps.deployments.models import Feedback, PredictionLog
from tests.deployments.conftest import deploy_now

pytestmark = pytest.mark.django_db

URL = "/serve/loan-default/staging/predict"
FEATURES = ["income", "debt", "tenure"]


@pytest.fixture
def key(people, alices_model, v1) -> str:
    """v1 live in staging, and a serving key for it."""
    deploy_now(services.request_deployment(v1.pk, "staging", actor=people.ivan))
    _, raw = services.create_serving_key(
        alices_model.pk, "staging", actor=people.ivan, name="loan origination"
    )
    return raw


def call(client, key: str, body: object, url: str = URL, **headers: str):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(
        url,
        data=data,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **headers,
    )


def holdout_rows(models, n: int) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(models.holdout))[FEATURES].head(n)


def test_predictions_equal_the_models_own_on_the_same_rows(client, key, models):
    rows = holdout_rows(models, 50)
    estimator = skops.io.loads(
        models.logistic, trusted=skops.io.get_untrusted_types(data=models.logistic)
    )
    as_records = call(client, key, rows.to_dict(orient="records"))
    as_columns = call(client, key, {"columns": rows.to_dict(orient="list")})
    assert as_records.status_code == 200, as_records.content
    answer = as_records.json()
    assert answer["version"] == 1 and answer["model"] == "loan-default"
    assert answer["predictions"] == estimator.predict(rows).tolist()
    assert answer["classes"] == [0, 1]
    assert np.allclose(answer["probabilities"], estimator.predict_proba(rows), atol=1e-6)
    assert as_columns.json()["predictions"] == answer["predictions"]
    assert as_records["X-Request-ID"] == answer["request_id"]


def test_bad_requests_get_a_4xx_that_names_the_problem_never_a_500(client, key, settings):
    good = {"income": 50.0, "debt": 12.0, "tenure": 3}
    settings.PORTAL_SERVING_MAX_ROWS = 5
    settings.PORTAL_SERVING_MAX_BODY_BYTES = 10_000
    cases = [
        ("{oops", 400, "not valid JSON"),
        ("[" * 50_000 + "]" * 50_000, 413, "larger than 10000 bytes"),
        ("[" * 4_000 + "]" * 4_000, 400, "nested too deeply"),
        ('[{"income": NaN, "debt": 1, "tenure": 1}]', 422, "NaN"),
        ('[{"income": -Infinity, "debt": 1, "tenure": 1}]', 422, "-Infinity"),
        ([{"income": 50.0, "debt": 12.0}], 422, "missing columns: tenure"),
        ([{**good, "age": 40}], 422, "unexpected columns: age"),
        ([{**good, "debt": "12"}], 422, "Column debt, row 0: expected a number"),
        ([{**good, "tenure": None}], 422, "a value is required"),
        ([good] * 6, 413, "6 rows is more than the 5"),
    ]
    for body, status, problem in cases:
        response = call(client, key, body)
        assert response.status_code == status, (body, response.content)
        assert problem in response.json()["error"], (body, response.json())
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 405
    assert call(client, key, [good], url="/serve/loan-default/staging/explain").status_code == 404


def test_keys_are_checked_and_a_revoked_key_is_refused_within_the_refresh(
    client, key, people, alices_model, settings
):
    row = [{"income": 50.0, "debt": 12.0, "tenure": 3}]
    unauthenticated = client.post(URL, data=json.dumps(row), content_type="application/json")
    assert unauthenticated.status_code == 401 and "Bearer" in unauthenticated.json()["error"]
    wrong = call(client, "mls_not-a-key", row).json()
    not_live = call(client, key, row, url="/serve/loan-default/production/predict").json()
    # An unknown key and a model not live there get the same answer: nothing to probe.
    assert wrong["error"] == not_live["error"].replace("production", "staging")
    assert call(client, key, row).status_code == 200

    settings.PORTAL_SERVING_REFRESH_SECONDS = 0.05
    production_key, _ = services.create_serving_key(
        alices_model.pk, "production", actor=people.ivan, name="other environment"
    )
    assert call(client, production_key.key_hash, row).status_code == 401  # the hash is no key
    staging_key = services.revoke_serving_key(
        services.ServingKey.objects.get(key_hash=services.ServingKey.hash(key)).pk,
        actor=people.ivan,
    )
    assert staging_key.revoked_at is not None
    time.sleep(0.1)
    refused = call(client, key, row)
    assert refused.status_code == 401


def test_every_prediction_is_logged_in_batches_and_feedback_is_recorded(client, key):
    serving.LOG.flush()
    rows = [{"income": 40.0 + i, "debt": 12.0, "tenure": i} for i in range(3)]
    first = call(client, key, rows, HTTP_X_REQUEST_ID="loan-app-000123").json()
    second = call(client, key, rows[:1]).json()
    assert first["request_id"] == "loan-app-000123"
    assert not PredictionLog.objects.exists()  # buffered, not written per request
    assert serving.LOG.flush() == 2
    logged = PredictionLog.objects.get(request_id="loan-app-000123")
    assert logged.rows == 3 and logged.inputs["tenure"] == [0, 1, 2]
    assert logged.outputs["predictions"] == first["predictions"]
    assert logged.deployment.version.number == 1 and logged.latency_ms > 0
    assert PredictionLog.objects.filter(request_id=second["request_id"]).exists()

    feedback_url = "/serve/loan-default/staging/feedback"
    recorded = call(
        client, key, {"request_id": "loan-app-000123", "outcomes": [0, 1, 0]}, url=feedback_url
    )
    assert recorded.status_code == 200 and recorded.json()["recorded"] == 3
    stored = Feedback.objects.get(request_id="loan-app-000123")
    assert stored.outcomes == [0, 1, 0] and stored.deployment == logged.deployment
    refused = call(client, key, {"outcomes": [1]}, url=feedback_url)
    assert refused.status_code == 422 and "request_id" in refused.json()["error"]


def test_a_switch_is_served_after_the_refresh_without_restarting(
    client, key, people, alices_model, v2, settings
):
    row = [{"income": 50.0, "debt": 12.0, "tenure": 3}]
    assert call(client, key, row).json()["version"] == 1
    deploy_now(services.request_deployment(v2.pk, "staging", actor=people.ivan))
    assert call(client, key, row).json()["version"] == 1  # cached for up to a second
    serving.MODELS.forget()  # what the refresh interval passing does
    assert call(client, key, row).json()["version"] == 2
    services.rollback(alices_model.pk, "staging", actor=people.ivan)
    serving.MODELS.forget()
    assert call(client, key, row).json()["version"] == 1
    services.undeploy(alices_model.pk, "staging", actor=people.ivan)
    serving.MODELS.forget()
    assert call(client, key, row).status_code == 401
