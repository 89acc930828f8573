"""A real gunicorn process serving predictions, as in production: it notices a switch and a revoked
key without a restart, and writes its prediction logs in the background and when it stops."""

from __future__ import annotations

import json
import time

import pytest
import requests

from apps.deployments import services, serving
from apps.deployments.models import Deployment, PredictionLog, ServingKey
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


def test_a_running_server_follows_a_challenger_started_and_stopped_without_restarting(
    people, alices_model, v2, key
):
    customers = [f"customer-{i}" for i in range(16)]

    with Gunicorn(PORTAL_PREDICTION_LOG_FLUSH_MS="200") as server:

        def routed() -> dict[str, int]:
            return {c: server.predict(key, routing_key=c).json()["version"] for c in customers}

        assert set(routed().values()) == {1}
        deploy_now(
            services.request_deployment(
                v2.pk, "staging", actor=people.ivan, mode="canary", traffic=50
            )
        )
        # Once both worker processes see the canary, each customer reaches the same version,
        # whichever process answers, every time.
        expected = {
            c: 2 if serving.routes_to_challenger("loan-default", c, 50) else 1 for c in customers
        }
        assert set(expected.values()) == {1, 2}
        wait_for(
            lambda: routed() == expected,
            timeout=10,
            interval=0.05,
            message="the server to route to the canary",
        )
        for _ in range(3):
            assert routed() == expected
        services.stop_challenger(alices_model.pk, "staging", actor=people.ivan, reason="Done")
        wait_for(
            lambda: set(routed().values()) == {1},
            timeout=10,
            interval=0.05,
            message="the server to stop routing to the stopped canary",
        )
        # A shadow scores in the background; its logs are written as the live version's are.
        deploy_now(services.request_deployment(v2.pk, "staging", actor=people.ivan, mode="shadow"))
        shadow = Deployment.objects.get(mode="shadow")

        def shadowed() -> bool:
            answer = server.predict(key).json()
            assert answer["version"] == 1
            time.sleep(0.5)
            return PredictionLog.objects.filter(
                request_id=answer["request_id"], deployment=shadow
            ).exists()

        wait_for(shadowed, timeout=15, message="the shadow's log of a request")
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
