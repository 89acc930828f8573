"""Production configuration: the deploy checklist is clean, and the API documents itself."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.test import Client

from tests.support.gunicorn import Gunicorn

pytestmark = pytest.mark.django_db


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "PORTAL_HTTPS": "1",
        "ALLOWED_HOSTS": "portal.bank.example",
        "PORTAL_VAR_DIR": str(tmp_path),
    }
    for test_only in ("PYTEST_VERSION", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(test_only, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_short_secret_key_stops_the_portal_at_start_up(tmp_path):
    env = {**os.environ, "SECRET_KEY": "too-short", "PORTAL_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 characters long" in result.stderr


def test_the_openapi_schema_needs_a_login_and_documents_bearer_tokens(people, api):
    assert Client().get("/api/v1/schema/").status_code == 401
    response = api(people.alice).get(
        "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {"/api/v1/auth/token/", "/api/v1/me/", "/api/v1/jobs/"} <= set(schema["paths"])


def test_the_api_docs_are_served_from_our_own_static_files(people):
    client = Client()
    client.force_login(people.alice)
    page = client.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORTAL_BEHIND_PROXY": "1"}, "PORTAL_BEHIND_PROXY=1 needs PORTAL_TRUSTED_PROXIES"),
        ({"PORTAL_TRUSTED_PROXIES": "10.0.0.0/8,proxy"}, "'proxy' is not one"),
    ],
)
def test_a_proxy_setting_the_portal_cannot_use_stops_it_at_start_up(tmp_path, env, message):
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={**inherited, **env, "PORTAL_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.django_db(transaction=True)
def test_the_web_containers_health_check_passes_under_the_production_settings():
    """docker-compose.yml cannot be run here (no Docker engine); its web health check can: the
    same command against gunicorn with the environment compose gives the web container."""
    compose = yaml.safe_load((Path(settings.BASE_DIR) / "docker-compose.yml").read_text())
    command = compose["services"]["web"]["healthcheck"]["test"]
    # Behind the proxy the portal starts only when told which proxy to believe.
    environment = compose["services"]["web"]["environment"]
    assert environment["PORTAL_BEHIND_PROXY"] == "1" and "PORTAL_TRUSTED_PROXIES" in environment
    assert command[:3] == ["CMD", "python", "-c"] and "127.0.0.1:8000" in command[3]
    production = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "portal.bank.example",
        "PORTAL_HTTPS": "1",
        "PORTAL_BEHIND_PROXY": "1",
        "PORTAL_TRUSTED_PROXIES": "10.0.0.2",
    }
    with Gunicorn(**production) as web:
        check = command[3].replace("127.0.0.1:8000", f"127.0.0.1:{web.port}")
        result = subprocess.run(
            [sys.executable, "-c", check],
            env={**os.environ, **production},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_process_of_make_run_links_to_the_port_the_portal_serves(tmp_path):
    """honcho hands each process type its own PORT (web 8123, worker 8223); the links the
    worker writes into emails must still point at the web server."""
    # honcho stops every process once one exits, so each writes what it sees and then waits
    # for the other: a fast web process must not cut a slower worker off before it reports.
    show = tmp_path / "show.py"
    show.write_text(
        "import os, pathlib, sys, time\n"
        "import django\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "seen = pathlib.Path(sys.argv[1])\n"
        "(seen / os.environ['PORT']).write_text(settings.PORTAL_BASE_URL)\n"
        "deadline = time.monotonic() + 60\n"
        "while len(list(seen.iterdir())) < 2 and time.monotonic() < deadline:\n"
        "    time.sleep(0.1)\n"
    )
    seen = tmp_path / "seen"
    seen.mkdir()
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"web: {sys.executable} {show} {seen}\nworker: {sys.executable} {show} {seen}\n"
    )
    env = {
        name: value for name, value in os.environ.items() if name not in ("PORT", "PORTAL_BASE_URL")
    }
    env["DJANGO_SETTINGS_MODULE"] = "mlops_portal.settings"
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "--eval",
            f"links: ; @$(BIN)/honcho --procfile {procfile} --app-root . start --no-prefix",
            "links",
            "PORT=8123",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    links = {port.name: port.read_text() for port in seen.iterdir()}
    assert links == {"8123": "http://127.0.0.1:8123", "8223": "http://127.0.0.1:8123"}, (
        result.stdout + result.stderr
    )


def test_under_make_run_a_crashed_worker_is_restarted_and_the_web_server_keeps_serving(tmp_path):
    """honcho stops every process when one exits; the Procfile runs the worker under
    apps.jobs.supervise, so a worker that dies is started again while web and beat live on."""
    web = tmp_path / "web.py"
    web.write_text(
        "import pathlib, sys, time\n"
        "beat = pathlib.Path(sys.argv[1]) / 'web'\n"
        "while True:\n"
        "    beat.write_text(str(time.time()))\n"
        "    time.sleep(0.1)\n"
    )
    crashing = tmp_path / "worker.py"
    crashing.write_text(
        "import pathlib, sys, time\n"
        "seen = pathlib.Path(sys.argv[1])\n"
        "if not (seen / 'first').exists():\n"
        "    (seen / 'first').write_text('ran')\n"
        "    sys.exit(3)  # a crash\n"
        "(seen / 'second').write_text('ran')\n"
        "time.sleep(600)\n"
    )
    seen = tmp_path / "seen"
    seen.mkdir()
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"web: {sys.executable} {web} {seen}\n"
        f"worker: {sys.executable} -m apps.jobs.supervise --pause 0.5 -- "
        f"{sys.executable} {crashing} {seen}\n"
    )
    honcho = Path(sys.executable).parent / "honcho"
    started = subprocess.Popen(
        [str(honcho), "--procfile", str(procfile), "--app-root", ".", "start"],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (seen / "second").exists() and time.monotonic() < deadline:
            assert started.poll() is None, started.communicate()[0]
            time.sleep(0.1)
        assert (seen / "second").exists(), "the worker was not started again"
        since_restart = time.time()
        time.sleep(0.5)
        assert float((seen / "web").read_text()) > since_restart  # web still running
        assert started.poll() is None  # honcho did not stop the others
    finally:
        started.send_signal(signal.SIGINT)  # Ctrl-C still stops everything
        output = started.communicate(timeout=30)[0]
    assert "exited with exit code 3; restarting" in output, output
    worker_line = next(
        line
        for line in (Path(settings.BASE_DIR) / "Procfile").read_text().splitlines()
        if line.startswith("worker:")
    )
    assert "-m apps.jobs.supervise -- " in worker_line  # make run's own worker is supervised
