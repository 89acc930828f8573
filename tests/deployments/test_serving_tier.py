"""The serving tier of its own (mlops_portal/serving_wsgi.py): it answers /serve/ and nothing of
the portal, starts without pandas or pyarrow, preloads the production models, keeps at most
PORTAL_SERVING_MAX_MODELS of them, and says what it holds to whoever has the status token."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests
from django.conf import settings as django_settings

from apps.deployments import services, serving
from apps.deployments.models import Environment
from apps.registry.models import StoredFile
from tests.deployments.conftest import deploy_now
from tests.support.gunicorn import ROW, Gunicorn

STATUS_TOKEN = "status-" + "s" * 40


def _serving_key(people, model, environment: str) -> str:  # type: ignore[no-untyped-def]
    _, raw = services.create_serving_key(
        model.pk, environment, actor=people.ivan, name=f"{environment} client"
    )
    return raw


def _live_in_production(people, model, version) -> str:  # type: ignore[no-untyped-def]
    """``version`` (live in staging already) deployed to production; its production key."""
    deploy_now(services.request_deployment(version.pk, "production", actor=people.ivan))
    return _serving_key(people, model, "production")


def _predict(client, key: str, environment: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/serve/loan-default/{environment}/predict",
        data=json.dumps(ROW),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def _held() -> list[tuple[str, str, int]]:
    return [(m["model"], m["environment"], m["version"]) for m in serving.MODELS.held()]


# --- Start-up: nothing of the portal's UI, no pandas or pyarrow --------------------------------


@pytest.mark.parametrize("entry_point", ["mlops_portal.serving_wsgi", "mlops_portal.wsgi"])
def test_starting_either_entry_point_imports_neither_pandas_nor_pyarrow(tmp_path, entry_point):
    """In a fresh process, as gunicorn starts it; its database cannot be reached, which must not
    stop the serving tier's start-up either (it preloads nothing and says why in its log)."""
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(tmp_path),
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/unreachable",
    }
    script = (
        f"import sys, {entry_point} as entry; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'mlops_portal.urls') if m in sys.modules)); "
        "print(callable(entry.application))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    imported, application = done.stdout.splitlines()[-2:]
    assert imported == "[]", done.stdout
    assert application == "True"
    if entry_point == "mlops_portal.serving_wsgi":
        assert "nothing was preloaded" in done.stderr


# --- A real serving tier, as docker-compose.yml runs it ----------------------------------------


class ServingTier(Gunicorn):
    """``gunicorn mlops_portal.serving_wsgi --preload`` with two workers, against the test
    database (the command of docker-compose.yml's serving service)."""

    app = "mlops_portal.serving_wsgi"
    options = ("--preload",)
    workers = 2
    threads = 2
    ready_within = 90.0

    def status(self, token: str | None = STATUS_TOKEN) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(f"{self.url}/serve/_status", headers=headers, timeout=30)


@pytest.mark.django_db(transaction=True)
def test_the_serving_tier_holds_the_production_models_before_the_first_request_and_serves_only(
    people, alices_model, v1, key
):
    production_key = _live_in_production(people, alices_model, v1)

    with ServingTier(PORTAL_SERVING_STATUS_TOKEN=STATUS_TOKEN) as server:
        assert server.process is not None
        # Loaded by gunicorn's master before it forked: a worker holds it before any request.
        before = server.status()
        assert before.status_code == 200, server.output()
        held = before.json()
        assert [(m["model"], m["environment"], m["version"]) for m in held["models"]] == [
            ("loan-default", "production", 1)
        ]
        assert held["pid"] != server.process.pid  # a worker's answer, not the master's
        assert held["max_models"] == 20
        assert held["prediction_log"]["buffered"] == 0

        answer = server.predict(production_key, environment="production")
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == 1
        # Staging was not preloaded; it loads on demand, as before.
        assert server.predict(key).json()["version"] == 1

        # Nothing of the portal: its pages, API and admin are another process's.
        for path in ("/login/", "/", "/api/v1/models/", "/admin/"):
            page = requests.get(f"{server.url}{path}", timeout=10)
            assert page.status_code == 404, path
            assert page.headers["Content-Type"] == "application/json"
            assert "answers predictions only" in page.json()["error"]

        # The status needs its token, and says nothing to a serving key.
        assert server.status(token=None).status_code == 401
        assert server.status(token=production_key).status_code == 401
    assert "preloaded 1 of 1 production models" in server.output()


# --- Preload, in this process ------------------------------------------------------------------


@pytest.mark.django_db
def test_preload_loads_the_production_models_and_not_the_others(people, alices_model, v1, key):
    production_key = _live_in_production(people, alices_model, v1)
    assert _held() == []

    assert serving.MODELS.preload() == [("loan-default", "production")]
    assert _held() == [("loan-default", "production", 1)]  # staging is live, not preloaded
    preloaded = serving.MODELS.get("loan-default", "production")
    assert preloaded is not None

    # The first request is answered with what was preloaded.
    from django.test import Client

    assert _predict(Client(), production_key, "production").json()["version"] == 1
    assert serving.MODELS.get("loan-default", "production") is preloaded


@pytest.mark.django_db
def test_a_production_model_that_cannot_be_loaded_does_not_stop_the_preload(
    people, alices_model, v1, key, caplog
):
    _live_in_production(people, alices_model, v1)
    # Its stored copy no longer matches its recorded hash (the load refuses it).
    StoredFile.objects.filter(version=v1, role=StoredFile.Role.CANONICAL).update(sha256="0" * 64)

    assert serving.MODELS.preload() == []
    assert _held() == []
    assert "could not preload loan-default in production" in caplog.text


# --- At most PORTAL_SERVING_MAX_MODELS ---------------------------------------------------------


def _loaded_at(environment: str) -> str:
    return next(m["loaded_at"] for m in serving.MODELS.held() if m["environment"] == environment)


@pytest.mark.django_db
def test_the_least_recently_used_model_is_dropped_and_loaded_again_on_demand(
    client, people, alices_model, v1, key, settings
):
    settings.PORTAL_SERVING_MAX_MODELS = 2
    keys = {"staging": key, "production": _live_in_production(people, alices_model, v1)}
    Environment.objects.create(slug="branch-office", name="Branch office", order=9)
    deploy_now(services.request_deployment(v1.pk, "branch-office", actor=people.ivan))
    keys["branch-office"] = _serving_key(people, alices_model, "branch-office")

    first = {env: _predict(client, keys[env], env).json() for env in ("staging", "production")}
    assert sorted(_held()) == [("loan-default", "production", 1), ("loan-default", "staging", 1)]
    assert _predict(client, keys["staging"], "staging").status_code == 200  # staging used last
    staging_loaded_at = _loaded_at("staging")

    third = _predict(client, keys["branch-office"], "branch-office")
    assert third.status_code == 200, third.content
    # Production was the least recently used: dropped; staging kept as it was loaded.
    assert sorted(_held()) == [("loan-default", "branch-office", 1), ("loan-default", "staging", 1)]
    assert _loaded_at("staging") == staging_loaded_at

    # Asked for again, production is loaded again and answers as it did; staging, now the least
    # recently used, makes room.
    again = _predict(client, keys["production"], "production")
    assert again.status_code == 200, again.content
    assert {k: again.json()[k] for k in ("predictions", "probabilities", "version")} == {
        k: first["production"][k] for k in ("predictions", "probabilities", "version")
    }
    assert sorted(_held()) == [
        ("loan-default", "branch-office", 1),
        ("loan-default", "production", 1),
    ]


@pytest.mark.django_db
def test_with_room_for_one_model_two_environments_take_turns_and_answer_the_same(
    client, people, alices_model, v1, key, settings
):
    settings.PORTAL_SERVING_MAX_MODELS = 1
    production_key = _live_in_production(people, alices_model, v1)

    answers = []
    for environment, serving_key in [("staging", key), ("production", production_key)] * 2:
        response = _predict(client, serving_key, environment)
        assert response.status_code == 200, response.content
        assert _held() == [("loan-default", environment, 1)]
        answers.append((response.json()["predictions"], response.json()["probabilities"]))
    assert all(answer == answers[0] for answer in answers)


# --- GET /serve/_status ------------------------------------------------------------------------
# Asked of the handler ServingApp calls (the URLconf behind Django's test client routes
# /serve/<model>/<environment>/<action> only); the real serving tier above answers it over HTTP.


def _status(token: str | None = STATUS_TOKEN, method: str = "GET") -> tuple[int, dict]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return serving.handle(method, "/serve/_status", headers.get, lambda n: b"", "req-status")


@pytest.mark.django_db
def test_the_status_does_not_exist_without_a_token_configured(key, settings):
    settings.PORTAL_SERVING_STATUS_TOKEN = None
    _, unknown = serving.handle("GET", "/serve/nothing-here", {}.get, lambda n: b"", "req")
    for token in (None, key, STATUS_TOKEN):
        assert _status(token) == (404, unknown)  # not told apart from a typo


@pytest.mark.django_db
def test_the_status_needs_its_token_and_lists_what_the_process_holds(client, key, settings):
    settings.PORTAL_SERVING_STATUS_TOKEN = STATUS_TOKEN
    settings.PORTAL_SERVING_MAX_MODELS = 7
    assert _status(token=None)[0] == 401
    assert _status(token=key)[0] == 401  # a serving key is not the token
    assert _status(token=STATUS_TOKEN + "x")[0] == 401
    assert _status(method="POST")[0] == 405

    code, empty = _status()
    assert code == 200
    assert empty["models"] == [] and empty["max_models"] == 7
    assert empty["pid"] == os.getpid()

    assert _predict(client, key, "staging").status_code == 200
    held = _status()[1]
    assert [(m["model"], m["environment"], m["version"]) for m in held["models"]] == [
        ("loan-default", "staging", 1)
    ]
    model = held["models"][0]
    assert {"loaded_at", "last_used"} <= set(model) and model["challenger"] is None
    figures = held["prediction_log"]
    assert figures["buffered"] == 1  # this one prediction, not yet written
    serving.LOG.flush()
    after = _status()[1]["prediction_log"]
    assert after["buffered"] == 0 and after["written"] == figures["written"] + 1
