"""A real gunicorn process serving predictions, as in production: it notices a switch and a revoked
key without a restart, and writes its prediction logs in the background and when it stops."""

from __future__ import annotations

import json
import time

import pytest
import requests

from apps.deployments import services
from apps.deployments.models import PredictionLog, ServingKey
from tests.deployments.conftest import deploy_now
from tests.support.gunicorn import ROW, Gunicorn
from tests.support.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_running_server_serves_a_switch_and_refuses_a_revoked_key_without_restarting(
    people, alices_model, v2, key
):
    with Gunicorn(PORTAL_PREDICTION_LOG_FLUSH_MS="200") as server:
        first = server.predict(key)
        assert first.status_code == 200, first.text
        assert first.json()["version"] == 1 and first.headers["X-Request-ID"]

        deploy_now(services.request_deployment(v2.pk, "staging", actor=people.ivan))
        wait_for(
            lambda: server.predict(key).json()["version"] == 2,
            timeout=10,
            interval=0.05,
            message="the server to serve version 2",
        )
        services.rollback(alices_model.pk, "staging", actor=people.ivan)
        wait_for(
            lambda: server.predict(key).json()["version"] == 1,
            timeout=10,
            interval=0.05,
            message="the server to serve version 1 again",
        )

        # Its background writer logs every answer, with the version that gave it.
        answered = [server.predict(key).json()["request_id"] for _ in range(5)]
        wait_for(
            lambda: PredictionLog.objects.filter(request_id__in=answered).count() == 5,
            timeout=10,
            message="the server to write its prediction logs",
        )
        versions = set(PredictionLog.objects.values_list("deployment__version__number", flat=True))
        assert versions == {1, 2}

        services.revoke_serving_key(
            ServingKey.objects.get(key_hash=ServingKey.hash(key)).pk, actor=people.ivan
        )
        wait_for(
            lambda: server.predict(key).status_code == 401,
            timeout=10,
            interval=0.05,
            message="the revoked key to be refused",
        )
        assert server.process is not None and server.process.poll() is None, server.output()


def test_a_server_stopping_gracefully_writes_the_logs_it_still_holds(key):
    with Gunicorn(PORTAL_PREDICTION_LOG_FLUSH_MS="600000") as server:
        answered = [server.predict(key).json()["request_id"] for _ in range(3)]
        time.sleep(0.2)
        assert not PredictionLog.objects.filter(request_id__in=answered).exists()
        server.stop()
        assert PredictionLog.objects.filter(request_id__in=answered).count() == 3, server.output()


def test_a_chunked_body_is_read_and_held_to_the_size_limit(key):
    """Clients that stream their rows send no Content-Length (Transfer-Encoding: chunked)."""
    with Gunicorn(PORTAL_SERVING_MAX_BODY_MB="1") as server:
        url = f"{server.url}/serve/loan-default/staging/predict"
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        body = json.dumps(ROW).encode()
        streamed = requests.post(
            url, data=iter([body[:10], body[10:]]), headers=headers, timeout=30
        )
        assert streamed.status_code == 200, streamed.text
        assert streamed.json()["predictions"] == server.predict(key).json()["predictions"]
        huge = iter([b"[" + b" " * 2**20, b"]"])
        refused = requests.post(url, data=huge, headers=headers, timeout=30)
        assert refused.status_code == 413 and "larger than 1048576 bytes" in refused.json()["error"]
