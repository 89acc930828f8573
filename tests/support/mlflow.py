"""A real MLflow tracking server for tests, from MLflow's own virtualenv.

The virtualenv lives at ``var/bench/mlflow-venv`` (shared with ``bench/registry.py``), pinned to
``MLFLOW_VERSION`` with the ``auth`` extra, created on first use and reused after. The server
runs ``mlflow server --app-name basic-auth`` on SQLite in a temporary folder, on
127.0.0.1:<free port>, and is stopped by its process group. ``log_models`` runs a script in that
virtualenv that trains and logs models the way a data scientist would.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings

from tests.support.services import free_port, unavailable

MLFLOW_VERSION = "3.17.2"  # as bench/registry.py pins it
VENV = Path(settings.BASE_DIR) / "var" / "bench" / "mlflow-venv"
ADMIN = "admin"


def _installed(python: Path, module: str, package: str) -> str | None:
    if not python.exists():
        return None
    result = subprocess.run(
        [
            str(python),
            "-c",
            f"import {module}, importlib.metadata as m; print(m.version({package!r}))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def ensure_venv() -> Path:
    """MLflow's virtualenv with the basic-auth app (Flask-WTF); its python. Skips (or fails
    under PORTAL_REQUIRE_SERVICES=1) when it cannot be made."""
    python = VENV / "bin" / "python"
    if _installed(python, "flask_wtf", "mlflow") == MLFLOW_VERSION:
        return python
    VENV.parent.mkdir(parents=True, exist_ok=True)
    # Parallel test processes share the folder: one installs, the others wait for it.
    with (VENV.parent / "mlflow-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(python, "flask_wtf", "mlflow") == MLFLOW_VERSION:
            return python
        return _install(python)


def _install(python: Path) -> Path:
    log = VENV.parent / "mlflow-install.log"
    try:
        with log.open("ab") as out:
            if _installed(python, "pip", "pip") is None:  # none yet, or one left half-made
                base = shutil.which("python3.11") or sys.executable
                subprocess.run(
                    [base, "-m", "venv", "--clear", str(VENV)],
                    stdout=out,
                    stderr=out,
                    check=True,
                    timeout=300,
                )
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", f"mlflow[auth]=={MLFLOW_VERSION}"],
                stdout=out,
                stderr=out,
                check=True,
                timeout=1800,
            )
    except (subprocess.SubprocessError, OSError) as exc:
        unavailable(f"MLflow {MLFLOW_VERSION} could not be installed in {VENV} ({exc}); see {log}")
    if _installed(python, "flask_wtf", "mlflow") != MLFLOW_VERSION:
        unavailable(f"MLflow {MLFLOW_VERSION} is not usable in {VENV}; see {log}")
    return python


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DJANGO_"))}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["TMPDIR"] = str(folder)
    return env


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def _huey_folder(pid: int) -> Path | None:
    """The scratch folder MLflow's job runner makes (in /dev/shm, whatever TMPDIR says) and
    leaves behind when it stops."""
    for process in _descendants(pid):
        try:
            environ = Path(f"/proc/{process}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for entry in environ:
            if entry.startswith(b"_MLFLOW_HUEY_STORAGE_PATH="):
                return Path(entry.split(b"=", 1)[1].decode())
    return None


def _remove_huey_folder(folder: Path | None) -> None:
    if folder is None or not folder.is_dir():
        return
    if all("mlflow-huey-store" in item.name for item in folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class MlflowServer:
    """A running ``mlflow server`` with basic authentication."""

    url: str
    password: str
    process: subprocess.Popen[bytes]
    folder: Path
    python: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log_tail(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def run_script(self, script: str, *args: str, timeout: float = 300) -> dict[str, object]:
        """Run ``script`` (Python source) in MLflow's virtualenv as the admin user; the JSON
        object it prints last is returned."""
        path = self.folder / f"script-{time.monotonic_ns()}.py"
        path.write_text(script)
        env = _env(self.folder)
        env.update(
            MLFLOW_TRACKING_URI=self.url,
            MLFLOW_TRACKING_USERNAME=ADMIN,
            MLFLOW_TRACKING_PASSWORD=self.password,
        )
        result = subprocess.run(
            [str(self.python), str(path), *args],
            cwd=self.folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"MLflow script failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@contextlib.contextmanager
def mlflow_server(folder: Path, *, timeout: float = 180) -> Iterator[MlflowServer]:
    """Start MLflow (basic auth, SQLite, artifacts proxied into ``folder``); stop it after."""
    python = ensure_venv()
    folder.mkdir(parents=True, exist_ok=True)
    password = "portal-tests-" + os.urandom(6).hex()
    config = folder / "auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{folder / 'auth.db'}\n"
        f"admin_username = {ADMIN}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = false\n"
    )
    port = free_port()
    env = _env(folder)
    env.update(
        MLFLOW_AUTH_CONFIG_PATH=str(config),
        MLFLOW_AUTH_ADMIN_PASSWORD=password,
        MLFLOW_FLASK_SERVER_SECRET_KEY=os.urandom(16).hex(),
        # Webhooks may call the portal's test server on 127.0.0.1 over http; their secrets are
        # kept with a key of ours (MLflow's default is a new one each start); the list of
        # webhooks per event is re-read each second, not cached a minute.
        MLFLOW_WEBHOOK_ALLOWED_SCHEMES="http,https",
        MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS="true",
        MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        MLFLOW_WEBHOOK_CACHE_TTL="1",
    )
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [
            str(python.parent / "mlflow"),
            "server",
            "--app-name",
            "basic-auth",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "mlartifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = MlflowServer(f"http://127.0.0.1:{port}", password, process, folder, python)
    huey: Path | None = None
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{server.log_tail()}")
            try:
                if requests.get(f"{server.url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server not ready in {timeout} s:\n{server.log_tail()}")
            time.sleep(0.3)
        huey = _huey_folder(process.pid)
        yield server
    finally:
        server.stop()
        log.close()
        _remove_huey_folder(huey)


# Trains and logs what the tests import: "credit-pd" version 1 (cloudpickle) and version 2 (skops,
# alias "candidate"), "custom-skops" (a skops file holding a type of its own, which MLmodel lists
# as trusted), and "rules-only", a pyfunc model without a scikit-learn flavour. Prints the
# probabilities MLflow's own loader gives on the holdout, for the portal to match.
LOG_MODELS = r"""
import json, sys
from pathlib import Path
import numpy as np, pandas as pd
import mlflow, mlflow.pyfunc, mlflow.sklearn
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

out = Path(sys.argv[1])
rng = np.random.default_rng(0)
frame = pd.DataFrame({"income": rng.normal(50, 10, 300), "debt": rng.normal(10, 3, 300)})
frame["default"] = (frame["debt"] * 3 > frame["income"] * 0.6).astype(int)
train, holdout = frame.iloc[:200], frame.iloc[200:]
holdout.to_csv(out / "holdout.csv", index=False)
X, y = train[["income", "debt"]], train["default"]
mlflow.set_experiment("credit-pd-experiments")
versions = {}
for number, (c, fmt) in enumerate([(1.0, "cloudpickle"), (0.3, "skops")], start=1):
    with mlflow.start_run() as run:
        model = LogisticRegression(C=c).fit(X, y)
        mlflow.log_params({"C": c, "solver": "lbfgs"})
        mlflow.log_metric("train_accuracy", float(model.score(X, y)))
        mlflow.set_tags({"mlflow.source.git.commit": f"c0ffee{number}", "team": "retail"})
        mlflow.sklearn.log_model(
            model, name="model", registered_model_name="credit-pd", serialization_format=fmt
        )
    loaded = mlflow.sklearn.load_model(f"models:/credit-pd/{number}")
    versions[str(number)] = {
        "run_id": run.info.run_id,
        "proba": loaded.predict_proba(holdout[["income", "debt"]])[:, 1].tolist(),
    }
MlflowClient().set_registered_model_alias("credit-pd", "candidate", "2")

class Custom(LogisticRegression):
    # A type no allowlist of the portal's names; MLmodel records it as trusted.
    pass

with mlflow.start_run():
    mlflow.sklearn.log_model(
        Custom().fit(X, y), name="model", registered_model_name="custom-skops",
        serialization_format="skops", skops_trusted_types=["__main__.Custom"],
    )

class Rules(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input["debt"] * 3 > model_input["income"] * 0.6

with mlflow.start_run():
    mlflow.pyfunc.log_model(name="model", python_model=Rules(), registered_model_name="rules-only")
print(json.dumps({"versions": versions}))
"""


# Creates a webhook in MLflow for the given events, signed with the given secret; prints its id.
CREATE_WEBHOOK = r"""
import json, sys
from mlflow import MlflowClient
url, secret, events = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
hook = MlflowClient().create_webhook(name="portal", url=url, events=events, secret=secret)
print(json.dumps({"id": hook.webhook_id}))
"""

# Sets an alias on a version; prints the version.
SET_ALIAS = r"""
import json, sys
from mlflow import MlflowClient
name, alias, version = sys.argv[1:4]
MlflowClient().set_registered_model_alias(name, alias, version)
print(json.dumps({"version": version}))
"""

# Registers an existing version's model again, as a new version of ``target`` (created if
# missing); prints the new version.
REGISTER_AGAIN = r"""
import json, sys
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
name, source_version, target = sys.argv[1:4]
client = MlflowClient()
source = client.get_model_version(name, source_version)
try:
    client.create_registered_model(target)
except MlflowException:
    pass  # registered before
model_id = source.source.removeprefix("models:/") if source.source.startswith("models:/") else None
created = client.create_model_version(
    target, source.source, run_id=source.run_id, model_id=model_id
)
print(json.dumps({"version": created.version, "status": created.status}))
"""

DELETE_WEBHOOK = r"""
import json, sys
from mlflow import MlflowClient
MlflowClient().delete_webhook(sys.argv[1])
print(json.dumps({}))
"""

# The tags of a model version, as MLflow has them.
VERSION_TAGS = r"""
import json, sys
from mlflow import MlflowClient
print(json.dumps({"tags": MlflowClient().get_model_version(sys.argv[1], sys.argv[2]).tags}))
"""
