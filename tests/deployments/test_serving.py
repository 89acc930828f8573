"""The prediction endpoint: right answers, refusals that name the problem, keys, logs, feedback."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pandas as pd
import pytest
import skops.io
from django.utils import timezone

from apps.deployments import services, serving
from apps.deployments.models import Feedback, PredictionLog
from tests.deployments.conftest import deploy_now

pytestmark = pytest.mark.django_db

URL = "/serve/loan-default/staging/predict"
FEATURES = ["income", "debt", "tenure"]


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
        client,
        key,
        {"request_id": "loan-app-000123", "outcomes": [0, 1, 0]},
        url=feedback_url,
        HTTP_X_REQUEST_ID="feedback-000042",
    )
    # The answer names the prediction the outcomes are for apart from the feedback call's own id.
    assert recorded.status_code == 200 and recorded.json() == {
        "recorded": 3,
        "prediction_request_id": "loan-app-000123",
        "request_id": "feedback-000042",
    }
    assert recorded["X-Request-ID"] == "feedback-000042"
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


# --- What cannot be carried or written is refused or counted, never a 500 or a silent loss ----


def _live_regressor_answering(value: float) -> None:
    """Swap the live model in this process for a regressor that answers ``value`` for any row
    with income above 100, as a real model with an overflowing coefficient would."""
    from sklearn.linear_model import LinearRegression

    live = serving.MODELS.get("loan-default", "staging")
    assert live is not None
    regressor = LinearRegression().fit([[0, 0, 0], [1, 1, 1]], [0, 1])
    regressor.coef_ = np.array([1e306, 0.0, 0.0])
    regressor.intercept_ = 0.0
    signature = {**live.signature, "task": "regression"}
    live.score, live.signature = serving.Scorer(regressor, signature), signature
    with np.errstate(over="ignore"):
        assert not np.isfinite(regressor.predict(np.array([[value, 1.0, 1.0]])))[0]


def test_a_model_answering_infinity_gets_a_422_and_logging_goes_on(client, key):
    call(client, key, [{"income": 50.0, "debt": 12.0, "tenure": 3}])  # loads the live model
    serving.LOG.flush()
    _live_regressor_answering(1000.0)
    fine = {"income": 1e-300, "debt": 12.0, "tenure": 3}
    overflowing = {"income": 1000.0, "debt": 12.0, "tenure": 3}

    refused = call(client, key, [fine, overflowing])
    assert refused.status_code == 422, refused.content
    assert "infinity or NaN) for row 1" in refused.json()["error"]
    answered = [call(client, key, [fine]).json()["request_id"] for _ in range(5)]

    assert serving.LOG.flush() == 5
    assert PredictionLog.objects.filter(request_id__in=answered).count() == 5


def test_one_record_the_database_refuses_is_counted_and_does_not_block_the_others(
    client, key, people
):
    from apps.deployments.models import PredictionLogLoss

    answered = [call(client, key, [{"income": 50.0, "debt": 1.0, "tenure": i}]) for i in range(3)]
    ids = [a.json()["request_id"] for a in answered]
    # What a model answering 1e308 * 3 left in the buffer before answers were checked.
    deployment_id = PredictionLog._meta.get_field("deployment").related_model.objects.get().pk
    serving.LOG.add(
        {
            "deployment_id": deployment_id,
            "request_id": "poisoned",
            "received_at": timezone.now(),
            "latency_ms": 1.0,
            "rows": 1,
            "inputs": {"income": [1.0]},
            "outputs": {"predictions": [float("inf")]},
        }
    )

    assert serving.LOG.flush() == 3
    assert PredictionLog.objects.filter(request_id__in=ids).count() == 3
    assert not PredictionLog.objects.filter(request_id="poisoned").exists()
    loss = PredictionLogLoss.objects.get()
    assert (loss.deployment_id, loss.lost) == (deployment_id, 1)
    assert "refused" in loss.reason

    client.force_login(people.ivan)
    page = client.get("/models/loan-default/versions/1/").content.decode()
    assert "1 in Staging: The database refused the record." in page


def test_a_full_buffer_drops_the_oldest_records_and_counts_them(client, key, settings):
    from apps.deployments.models import PredictionLogLoss

    settings.PORTAL_PREDICTION_LOG_BUFFER = 4
    answered = [
        call(client, key, [{"income": 50.0, "debt": 1.0, "tenure": i}]).json()["request_id"]
        for i in range(7)
    ]
    assert serving.LOG.flush() == 4
    assert set(PredictionLog.objects.values_list("request_id", flat=True)) == set(answered[3:])
    assert PredictionLogLoss.objects.get().lost == 3


def test_feedback_that_cannot_be_counted_gets_a_4xx_naming_why(client, key):
    feedback_url = "/serve/loan-default/staging/feedback"
    rows = [{"income": 40.0 + i, "debt": 12.0, "tenure": i} for i in range(3)]
    served = call(client, key, rows).json()["request_id"]

    def send(body: object) -> tuple[int, str]:
        answer = call(client, key, body, url=feedback_url)
        return answer.status_code, answer.json().get("error", "")

    cases = [
        (f'{{"request_id": "{served}", "outcomes": [1e400, 0, 1]}}', 422, "row 0 is infinite"),
        ({"request_id": served, "outcomes": [0, "x" * 10_000, 1]}, 422, "longer than 200"),
        ({"request_id": served, "outcomes": [0, [1], 1]}, 422, "row 1 must be a label"),
        ({"request_id": served, "outcomes": [0, 1, 0, 1]}, 422, "had 3 rows: send one outcome"),
        ({"request_id": "never-served", "outcomes": [1]}, 404, "No prediction never-served"),
        ({"request_id": "x" * 65, "outcomes": [1]}, 422, "the id a prediction answered with"),
    ]
    for body, status, message in cases:
        got, error = send(body)
        assert (got, message in error) == (status, True), (body, got, error)
    assert not Feedback.objects.exists()

    # Still in the serving process's buffer, or logged: both are known.
    assert send({"request_id": served, "outcomes": [0, None, 1]})[0] == 200
    assert send({"request_id": served, "outcomes": [0, 1, 1]}) == (
        409,
        f"Feedback for prediction {served} was recorded already.",
    )
    serving.LOG.flush()
    logged = call(client, key, rows[:1]).json()["request_id"]
    serving.LOG.flush()
    assert send({"request_id": logged, "outcomes": [True]})[0] == 200
    assert Feedback.objects.count() == 2


def test_probing_names_that_are_not_live_does_not_grow_the_cache(client, key, settings):
    settings.PORTAL_SERVING_MISSES_KEPT = 50
    for i in range(300):
        answer = call(client, key, [{"income": 1.0}], url=f"/serve/probe-{i}/staging/predict")
        assert answer.status_code == 401
    assert len(serving.MODELS._misses) == 50 and len(serving.MODELS._live) == 0
    assert call(client, key, [{"income": 50.0, "debt": 12.0, "tenure": 3}]).status_code == 200
    assert list(serving.MODELS._live) == [("loan-default", "staging")]


def test_refused_requests_to_a_live_model_are_counted_and_probes_are_not(client, key):
    from apps.deployments.models import RefusedRequests

    good = [{"income": 50.0, "debt": 12.0, "tenure": 3}]
    assert call(client, key, "{oops").status_code == 400
    assert call(client, key, [{"income": 1.0}]).status_code == 422
    assert call(client, "mls_not-a-key", good).status_code == 401
    assert call(client, key, good).status_code == 200
    made_up = call(client, key, good, url="/serve/made-up/staging/predict")
    assert made_up.status_code == 401
    serving.LOG.flush()
    counted = {r.status: r.count for r in RefusedRequests.objects.all()}
    assert counted == {400: 1, 401: 1, 422: 1}
    assert not RefusedRequests.objects.exclude(deployment__model__slug="loan-default").exists()
