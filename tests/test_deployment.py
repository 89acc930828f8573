"""Production configuration: the deploy checklist is clean, and the API documents itself."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.test import Client

from tests.support.gunicorn import Gunicorn
from tests.support.services import free_port, unavailable

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
        "    beat.with_suffix('.new').write_text(str(time.time()))\n"
        "    beat.with_suffix('.new').replace(beat)  # whole: never read half-written\n"
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


# --- docker-compose.yml, Dockerfile and friends, read as the ops team reads them ---------------
# There is no Docker engine here: the files are parsed, and what can run without one (the Redis
# command and health check, the Dockerfile's digest guard and gunicorn command) is run.

BASE = Path(settings.BASE_DIR)
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEYS", "ACCESS_KEY")


def _compose() -> dict:
    return yaml.safe_load((BASE / "docker-compose.yml").read_text())


def test_no_secret_is_in_an_environment_variable_docker_inspect_would_show():
    compose = _compose()
    declared = set(compose["secrets"])
    for name, service in compose["services"].items():
        mounted = set(service.get("secrets", []))
        for variable, value in service.get("environment", {}).items():
            value = str(value)
            for interpolated in re.findall(r"\$\{([^}:?-]+)", value):
                assert not any(word in interpolated for word in SECRET_WORDS), (name, variable)
            if variable.endswith("_FILE"):
                secret = value.removeprefix("/run/secrets/")
                assert value.startswith("/run/secrets/"), (name, variable, value)
                assert secret in declared and secret in mounted, (name, variable, secret)
            else:
                assert not any(word in variable for word in SECRET_WORDS), (name, variable)
            assert not re.search(r"://[^/@]*:[^/@]*@", value), (name, variable)  # user:pass@
    for secret, source in compose["secrets"].items():
        assert source == {"file": f"./secrets/{secret}"}
    portal = compose["services"]["web"]["environment"]
    assert portal["DATABASE_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert portal["REDIS_PASSWORD_FILE"] == "/run/secrets/redis_password"
    assert portal["SECRET_KEY_FILE"] == "/run/secrets/django_secret_key"
    assert portal["EMAIL_HOST_PASSWORD_FILE"] == "/run/secrets/email_host_password"
    postgres = compose["services"]["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"


def test_web_is_reachable_from_this_host_only_and_believes_only_the_named_proxy():
    compose = _compose()
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        assert name in ("web", "serving") or "ports" not in service, name
    environment = compose["services"]["web"]["environment"]
    assert environment["PORTAL_TRUSTED_PROXIES"].startswith("${PORTAL_TRUSTED_PROXIES:?")


def test_the_portal_gets_its_url_smtp_shared_cache_and_ca_bundle():
    compose = _compose()
    for name in ("web", "worker", "beat"):
        service = compose["services"][name]
        environment = service["environment"]
        assert environment["PORTAL_BASE_URL"] == "https://${PORTAL_HOSTNAME}"
        assert environment["EMAIL_HOST"].startswith("${EMAIL_HOST:?")
        assert environment["DEFAULT_FROM_EMAIL"].startswith("${DEFAULT_FROM_EMAIL:?")
        assert {"EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_USE_TLS"} <= set(environment)
        assert environment["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert environment["PORTAL_CACHE_URL"] == "redis://redis:6379/1"
        targets = {config["target"] for config in service["configs"]}
        assert environment["PORTAL_CA_BUNDLE"] in targets
    assert set(compose["configs"]) == {"ca_bundle"}


def test_the_worker_runs_under_profiles_that_allow_the_sandbox_and_no_more(tmp_path):
    options = _compose()["services"]["worker"]["security_opt"]
    assert not [option for option in options if "unconfined" in option]
    seccomp = next(o.partition("=")[2] for o in options if o.startswith("seccomp="))
    profile = json.loads((BASE / seccomp).read_text())
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    # Allowed whatever the container's capabilities: Docker's default list and the sandbox's.
    unconditional = {
        name
        for rule in profile["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.keys() & {"args", "includes", "excludes"}
        for name in rule["names"]
    }
    assert {"clone", "unshare", "mount", "umount2", "pivot_root"} <= unconditional
    assert {"read", "write", "execve", "openat"} <= unconditional
    # What Docker keeps for CAP_SYS_ADMIN and the sandbox does not need stays out.
    for never in (
        "setns",
        "bpf",
        "perf_event_open",
        "fsopen",
        "move_mount",
        "kexec_load",
        "init_module",
        "keyctl",
        "add_key",
        "ptrace",
        "reboot",
        "swapon",
    ):
        assert never not in unconditional, never
    assert {
        "names": ["clone3"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": 38,
        "excludes": {"caps": ["CAP_SYS_ADMIN"]},
    } in profile["syscalls"]
    apparmor = next(o.partition("=")[2] for o in options if o.startswith("apparmor="))
    text = (BASE / "deploy" / "apparmor-worker").read_text()
    assert f'profile "{apparmor}"' in text
    rules = [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]
    assert {"mount,", "pivot_root,", "umount,"} <= set(rules)
    assert "deny @{PROC}/kcore rwklx," in rules and "deny mount," not in rules


def test_redis_asks_for_the_password_from_its_secret_and_its_health_check_gives_it(tmp_path):
    """The redis service's own command and health check, run here against a real redis-server
    (paths moved from /run to a folder of the test's, the server on a free port)."""
    executable = shutil.which("redis-server")
    if executable is None or shutil.which("redis-cli") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    redis_service = _compose()["services"]["redis"]
    assert redis_service["command"][:2] == ["sh", "-c"]
    command = redis_service["command"][2].replace("$$", "$")
    health = redis_service["healthcheck"]["test"]
    assert health[0] == "CMD-SHELL"
    health_command = health[1].replace("$$", "$")
    # Nothing docker inspect shows holds the password, only where to read it.
    assert "requirepass" in command and "/run/secrets/redis_password" in command
    assert "REDISCLI_AUTH" in health_command and " -a " not in health_command

    secret = tmp_path / "redis_password"
    secret.write_text(secrets.token_urlsafe(32) + "\n")
    port = free_port()
    here = {
        # The image's entrypoint drops to the redis user and starts the server.
        "chown redis:redis": "true",
        "exec docker-entrypoint.sh redis-server /run/redis/redis.conf": (
            f"exec {executable} /run/redis/redis.conf --port {port} --bind 127.0.0.1 "
            f"--dir {tmp_path} --save ''"
        ),
        "/run/secrets/redis_password": str(secret),
        "/run/redis/": f"{tmp_path}/",
    }
    for old, new in here.items():
        assert old in command, old
        command = command.replace(old, new)
    server = subprocess.Popen(
        ["sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        check = health_command.replace("/run/secrets/redis_password", str(secret))
        check = check.replace("redis-cli ping", f"redis-cli -p {port} ping")
        deadline = time.monotonic() + 30
        while subprocess.run(["sh", "-c", check]).returncode != 0:
            assert server.poll() is None, server.communicate()[0]
            assert time.monotonic() < deadline, "the health check never passed"
            time.sleep(0.1)
        assert oct((tmp_path / "redis.conf").stat().st_mode & 0o777) == "0o600"
        anonymous = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
        )
        assert "NOAUTH" in anonymous.stdout + anonymous.stderr
        wrong = tmp_path / "wrong"
        wrong.write_text("not-the-password\n")
        assert subprocess.run(["sh", "-c", check.replace(str(secret), str(wrong))]).returncode
        # The portal, configured as compose configures it, uses the broker and the cache.
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "CELERY_"))
        }
        environment.update(
            CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0",
            PORTAL_CACHE_URL=f"redis://127.0.0.1:{port}/1",
            REDIS_PASSWORD_FILE=str(secret),
            PORTAL_VAR_DIR=str(tmp_path / "var"),
            DJANGO_SETTINGS_MODULE="mlops_portal.settings",
        )
        portal = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup()\n"
                "from django.core.cache import cache\n"
                "from mlops_portal.celery import app\n"
                "cache.set('seen', 'by every process', 60)\n"
                "with app.connection_for_write() as conn:\n"
                "    conn.ensure_connection(max_retries=1)\n"
                "print(cache.get('seen'))\n",
            ],
            cwd=BASE,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert portal.returncode == 0, portal.stderr[-3000:]
        assert portal.stdout.strip() == "by every process"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_image_is_built_from_a_base_pinned_by_digest(tmp_path):
    dockerfile = (BASE / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_BASE$", dockerfile, re.M)  # no default: compose names it
    assert re.search(r"^FROM \$\{PYTHON_BASE\}$", dockerfile, re.M)
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) == 1
    build = _compose()["x-portal"]["build"]
    assert build["args"]["PYTHON_BASE"].startswith("${PORTAL_PYTHON_BASE:?")
    assert "@sha256:" in build["args"]["PYTHON_BASE"]
    # The image's first step refuses a base named by tag alone.
    guard = re.search(r"^RUN (case .*?esac)$", dockerfile, re.M | re.S)
    assert guard is not None
    script = guard.group(1).replace("\\\n", "\n")
    digest = "python:3.11-slim-bookworm@sha256:" + "0123456789abcdef" * 4
    for base, accepted in [
        (digest, True),
        ("python:3.11-slim-bookworm", False),
        ("python:3.11-slim-bookworm@sha256:0123", False),
    ]:
        result = subprocess.run(["sh", "-c", script], env={"PYTHON_BASE": base})
        assert (result.returncode == 0) is accepted, base


def test_gunicorn_takes_its_processes_and_threads_from_the_environment(tmp_path):
    dockerfile = (BASE / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))
    assert cmd[:2] == ["sh", "-c"] and cmd[2].startswith("exec gunicorn ")
    stub = tmp_path / "gunicorn"
    stub.write_text('#!/bin/sh\necho "$@"\n')
    stub.chmod(0o755)
    path = f"{tmp_path}:{os.environ['PATH']}"

    def arguments(**env: str) -> list[str]:
        result = subprocess.run(
            cmd, env={"PATH": path, **env}, capture_output=True, text=True, check=True
        )
        return result.stdout.split()

    defaults = dict(re.findall(r"(GUNICORN_\w+)=(\d+)", dockerfile))
    assert defaults == {"GUNICORN_WORKERS": "3", "GUNICORN_THREADS": "4"}
    started = arguments(**defaults)
    assert started[started.index("--workers") + 1] == "3"
    assert started[started.index("--threads") + 1] == "4"
    started = arguments(GUNICORN_WORKERS="9", GUNICORN_THREADS="2")
    assert started[started.index("--workers") + 1] == "9"
    assert started[started.index("--threads") + 1] == "2"
    compose = _compose()["services"]["web"]["environment"]
    assert compose["GUNICORN_WORKERS"] == "${GUNICORN_WORKERS:-3}"


def test_the_image_leaves_tests_benchmarks_docs_and_secrets_out():
    ignored = {
        line.strip()
        for line in (BASE / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"tests", "bench", "docs", ".git", ".venv", "var", "secrets"} <= ignored


def test_honcho_is_a_development_tool_that_make_run_still_installs():
    project = tomllib.loads((BASE / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("honcho")]
    assert "honcho==2.0.0" in project["optional-dependencies"]["dev"]
    assert "honcho==" not in (BASE / "requirements.lock").read_text()
    assert "honcho==2.0.0" in (BASE / "requirements-dev.lock").read_text()
    makefile = (BASE / "Makefile").read_text()
    runtime = makefile.split("$(VENV)/.runtime:", 1)[1].split("\n\n", 1)[0]
    assert "--require-hashes --no-deps -c requirements-dev.lock honcho" in runtime
    assert re.search(r"^run: \$\(VENV\)/\.runtime$", makefile, re.M)
