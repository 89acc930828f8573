"""Registry benchmark: the portal against MLflow's tracking server, same machine, same client.

Run it from the repository root (about 8 minutes on 2 cores; the first run installs MLflow)::

    .venv/bin/python bench/registry.py
    .venv/bin/python bench/registry.py --skip-mlflow --models 30 --requests 40   # quick check
    .venv/bin/python bench/registry.py --models 2 --versions 1 --requests 2 --warmup 0 \
        --mlflow-upload-versions 0 --skip-mlflow-single-worker --imports 10   # imports, quickly

The report goes to stdout, progress to stderr, and every figure to
``bench/results/registry-<UTC timestamp>.json``.

What it does, in one run, one server at a time:

1. The portal as production runs it (the Procfile's gunicorn command: 2 workers x 4 threads) on
   its embedded default (SQLite + filesystem broker), in a fresh temporary data folder
   (``PORTAL_VAR_DIR``): migrate, collectstatic, seed_demo, no Celery worker. As ``alice`` it
   registers ``--models`` models and uploads ``--versions`` versions of each (a real ``.skops``
   LogisticRegression and a 200-row holdout CSV, built once), then times the API list, the API
   search by name and by tag, one model's versions, and the HTML inventory page with and without
   a search.
2. MLflow (pinned ``MLFLOW_VERSION``, in its own virtualenv under ``var/bench/``, created on the
   first run and reused) as ``mlflow server`` on SQLite: once with its default worker count and
   once with ``--workers 1``. The same workload through its REST API (registered model, then model
   versions whose ``source`` is an ``s3://`` URI: MLflow 3 refuses local paths, ``runs:/`` and
   ``mlflow-artifacts:/`` sources without a run, and stores only the URI, so this is MLflow's
   cheapest version create), the same searches (``max_results`` = the portal's page size, 50),
   and, for scale, a sample of versions created MLflow's full way: a run, the two files uploaded
   through its artifact proxy, then the version.
3. Import throughput (issue 18; ``--imports`` N, default 20, ``--skip-imports``; needs MLflow),
   on the portal of step 1 before it stops: a ``mlflow server --workers 1`` (SQLite, artifacts
   through its proxy, as ``tests/integrations`` runs it); a script in MLflow's virtualenv logs
   N + 2 LogisticRegressions with ``mlflow.sklearn.log_model`` (skops format) as versions of one
   registered model and downloads each ``model.skops`` back (untimed). In the portal the
   administrator, through the Django admin, allows ``127.0.0.1`` past the SSRF guard (Allowed
   webhook hosts) and adds the MLflow connection for alice's team; alice registers two models
   and links one; a Celery worker starts with the Procfile's command (concurrency 2) on the same
   data folder, consuming only the ``default`` queue imports run on. Two versions are imported
   and uploaded one at a time (warm-up; their times alone are shown), then N imports are all
   requested through ``POST /api/v1/models/{slug}/versions/import/`` and awaited by polling
   ``GET /api/v1/imports/{id}/``, then the same N ``.skops`` files (MLflow's bytes, checked by
   SHA-256 on both sides) are uploaded one after the other with the same holdout through
   ``POST /api/v1/models/{slug}/versions/``. Both are timed to the same point: a new version
   with its files stored and its validation job queued (validation's queue is not consumed, so
   validation waits for both alike and takes no CPU from either). Reported: versions/minute for
   each (N / wall time from the first request to the last version) and their ratio, request
   and requested-to-imported latencies, and CPU seconds of the portal, the worker and MLflow.

Every figure is taken in two client modes, request by request alternating: ``keep-alive`` (one
``requests.Session`` reusing its connection) and ``close`` (``Connection: close``, a new
connection per request); MLflow's multi-worker uvicorn stalls on reused connections, so both are
shown. Latencies run from sending the request to having read the whole body; sequential
requests, after a warm-up. Server CPU time per request (the server's whole process tree, from
/proc) is reported too: unlike latency, it does not move with other load on the machine.

Goals, checked per mode against each MLflow configuration:

- the portal registers versions (its version create includes uploading and checking both
  files) at least 2x as fast as MLflow creates version records;
- the portal's API list and API search (by name and by tag) answer with a p95 at most half of
  MLflow's ``registered-models/search`` p95.

The import phase has no goal yet: it states what an import costs next to an upload.

Every process the script starts is stopped (its whole process group, also on Ctrl-C or an
error) and every temporary folder removed; only the MLflow virtualenv stays, to be reused.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
import skops.io

# Run as a script, bench/ is first on sys.path: its helpers import as a top-level module.
from common import (
    CLOSE,
    KEEP_ALIVE,
    MODES,
    REPO,
    Call,
    Portal,
    Processes,
    Stats,
    admin_add,
    connection_use,
    descendants,
    ensure_tool_venv,
    exit_on_sigterm,
    expect,
    format_table,
    free_port,
    git_state,
    log,
    machine_info,
    measure,
    new_session,
    portal_login,
    portal_token,
    run_checked,
    scratch_dir,
    scratch_tmp,
    start_portal,
    start_worker,
    tail,
    timed,
    tree_cpu_seconds,
    utc_stamp,
    wait_for_http,
    wait_for_quiet,
    write_results,
)
from sklearn.linear_model import LogisticRegression

# 3.18.0 is listed on PyPI but its mlflow-skinny 3.18.0 dependency was not installable (checked
# 2026-11-26), so the newest complete release is pinned.
MLFLOW_VERSION = "3.17.2"
MLFLOW_VENV = REPO / "var" / "bench" / "mlflow-venv"

PAGE_SIZE = 50  # the portal API's page size (settings.REST_FRAMEWORK); MLflow gets max_results=50
NAME_QUERY = "bench-model-01"  # with 250 models: bench-model-0100 to -0199, 100 matches
COHORTS = 10  # each model carries the tag cohort-<i % 10>; searching one cohort finds a tenth
TAG_COHORT = 3
TARGET = "target"
PORTAL_USER = "alice"  # data scientist in team retail-credit
RISK_OWNER = "rita"

VERSIONS_GOAL = 2.0  # portal versions/s >= 2 x MLflow's
LATENCY_GOAL = 2.0  # MLflow p95 / portal p95 >= 2

# The import phase: one MLflow registered model, two portal models of alice's team (one linked to
# it and imported into, one uploaded to), a connection made by the administrator.
IMPORT_MLFLOW_MODEL = "bench-import"
IMPORT_CONNECTION = "Bench MLflow"
IMPORT_WARMUP = 2  # versions imported (and uploaded) one at a time first, untimed for the rate
IMPORT_QUEUES = ("default",)  # imports run there; validation's queue is left unconsumed
IMPORT_POLL_SECONDS = 0.1
ADMIN_USER = "admin"


@dataclass(frozen=True)
class Workload:
    models: int
    versions: int
    requests: int
    warmup: int
    mlflow_upload_versions: int
    imports: int = 0  # versions imported from MLflow (and uploaded alike); 0 when skipped

    @staticmethod
    def name(i: int) -> str:
        return f"bench-model-{i:04d}"

    @staticmethod
    def cohort(i: int) -> int:
        return i % COHORTS

    def expected_name_matches(self) -> int:
        return sum(NAME_QUERY in self.name(i) for i in range(1, self.models + 1))

    def expected_tag_matches(self) -> int:
        return sum(self.cohort(i) == TAG_COHORT for i in range(1, self.models + 1))

    def probe_model(self) -> str:
        """The model whose versions are listed: one in the middle of the inventory."""
        return self.name(min(100, self.models))


@dataclass(frozen=True)
class Files:
    artifact: bytes
    holdout: bytes


def credit_frame(rows: int, seed: int) -> pd.DataFrame:
    """Three features and a binary target; a seed gives a holdout, another a training set."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["income", "debt", "age"])
    target = (features["debt"] - features["income"] + rng.normal(0, 0.5, rows) > 0).astype(int)
    return features.assign(**{TARGET: target})


def build_files(rows: int = 200) -> Files:
    """A real tiny model and its holdout, built once: every upload sends these same bytes."""
    frame = credit_frame(rows, seed=7)
    model = LogisticRegression().fit(frame.drop(columns=[TARGET]), frame[TARGET])
    holdout = frame.to_csv(index=False).encode()
    return Files(artifact=skops.io.dumps(model), holdout=holdout)


# --- What is timed ------------------------------------------------------------------------------


@dataclass
class Timings:
    """Seconds per request, per mode, and the server CPU seconds those requests cost."""

    seconds: dict[str, list[float]]
    server_cpu: float
    requests: int  # including warm-up, which the CPU figure also covers

    def stats(self) -> dict[str, Stats]:
        return {mode: Stats.of(values) for mode, values in self.seconds.items() if values}

    def as_dict(self) -> dict[str, Any]:
        return {
            "stats": {mode: s.as_dict() for mode, s in self.stats().items()},
            "server_cpu_ms_per_request": round(self.server_cpu / self.requests * 1000, 3),
        }


def timed_phase(pid: int, run: Callable[[], dict[str, list[float]]], requests: int) -> Timings:
    before = tree_cpu_seconds(pid)
    seconds = run()
    return Timings(seconds, tree_cpu_seconds(pid) - before, requests)


def registration(
    pid: int,
    sessions: Mapping[str, requests.Session],
    workload: Workload,
    register_model: Callable[[requests.Session, int], tuple[float, str]],
    create_version: Callable[[requests.Session, str, int], float],
) -> tuple[Timings, Timings]:
    """Register every model and its versions; odd models in one mode, even in the other.

    Splitting by model keeps both modes at the same inventory sizes throughout. Model creates and
    version creates are timed apart, so versions/s is the rate of version creates alone.
    """
    models: dict[str, list[float]] = {mode: [] for mode in MODES}
    versions: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu_models = cpu_versions = 0.0
    for i in range(1, workload.models + 1):
        mode = MODES[(i - 1) % 2]
        session = sessions[mode]
        before = tree_cpu_seconds(pid)
        elapsed, key = register_model(session, i)
        middle = tree_cpu_seconds(pid)
        models[mode].append(elapsed)
        for number in range(1, workload.versions + 1):
            versions[mode].append(create_version(session, key, number))
        cpu_models += middle - before
        cpu_versions += tree_cpu_seconds(pid) - middle
        if i % 50 == 0:
            log(f"  registered {i}/{workload.models} models")
    return (
        Timings(models, cpu_models, workload.models),
        Timings(versions, cpu_versions, workload.models * workload.versions),
    )


def read_phase(
    pid: int,
    sessions: Mapping[str, requests.Session],
    calls: Mapping[str, Call],
    workload: Workload,
) -> dict[str, Timings]:
    results = {}
    per_call = (workload.requests + workload.warmup) * len(sessions)
    for name, call in calls.items():
        log(f"  timing {name}")

        def run(call: Call = call) -> dict[str, list[float]]:
            return measure(
                sessions, call, requests_per_mode=workload.requests, warmup=workload.warmup
            )

        results[name] = timed_phase(pid, run, per_call)
    return results


# --- The portal ---------------------------------------------------------------------------------


def bench_portal(
    processes: Processes,
    folder: Path,
    files: Files,
    workload: Workload,
    then: Callable[[Portal], None] | None = None,
) -> dict[str, Any]:
    """The portal's phase; ``then`` runs on the same server after the reads, before it stops."""
    password = "bench-" + os.urandom(9).hex()
    portal = start_portal(processes, folder / "var", password=password)
    base = portal.base_url
    api = f"{base}/api/v1"
    token = portal_token(base, PORTAL_USER, password)
    api_sessions = {mode: new_session(mode) for mode in MODES}
    for session in api_sessions.values():
        session.headers["Authorization"] = f"Bearer {token}"
    # Pages sign in with a session cookie; the API sessions carry only the token, as a script's
    # would, so that no session is loaded on API requests.
    page_sessions = {mode: new_session(mode) for mode in MODES}
    for session in page_sessions.values():
        portal_login(session, base, PORTAL_USER, password)

    upload = {
        "artifact": ("model.skops", files.artifact, "application/octet-stream"),
        "holdout": ("holdout.csv", files.holdout, "text/csv"),
    }

    def register_model(session: requests.Session, i: int) -> tuple[float, str]:
        body = {
            "name": workload.name(i),
            "team": "retail-credit",
            "risk_tier": "low",
            "risk_owner": RISK_OWNER,
            "use_case": "benchmark",
            "tags": ["bench", f"cohort-{workload.cohort(i)}"],
        }
        elapsed, response = timed(session, "POST", f"{api}/models/", json=body)
        expect(response, 201, f"register {body['name']}")
        return elapsed, str(response.json()["slug"])

    def create_version(session: requests.Session, slug: str, number: int) -> float:
        elapsed, response = timed(
            session,
            "POST",
            f"{api}/models/{slug}/versions/",
            files=upload,
            data={"target_column": TARGET},
        )
        expect(response, 201, f"upload {slug} v{number}")
        return elapsed

    # Warm-up on a demo model of alice's team, so the inventory holds only the benchmark's models
    # and the demo seed's: first requests import pandas and fill caches in each worker.
    log("portal: warm-up")
    _, listing = timed(
        api_sessions[CLOSE], "GET", f"{api}/models/", params={"team": "retail-credit"}
    )
    expect(listing, 200, "list demo models")
    demo_slug = listing.json()["results"][0]["slug"]
    for index in range(8):
        create_version(api_sessions[MODES[index % 2]], demo_slug, 0)
    idle = wait_for_quiet(portal.pid)

    log(f"portal: registering {workload.models} models x {workload.versions} versions")
    started = time.perf_counter()
    models, versions = registration(
        portal.pid, api_sessions, workload, register_model, create_version
    )
    wall = time.perf_counter() - started

    expected_name = workload.expected_name_matches()
    expected_tag = workload.expected_tag_matches()

    def api_call(path: str, params: dict[str, str], check: Callable[[Any], None]) -> Call:
        def call(session: requests.Session) -> float:
            elapsed, response = timed(session, "GET", f"{api}{path}", params=params)
            expect(response, 200, f"GET {path} {params}")
            check(response.json())
            return elapsed

        return call

    def page_call(params: dict[str, str], *, lists_models: bool) -> Call:
        def call(session: requests.Session) -> float:
            elapsed, response = timed(session, "GET", f"{base}/models/", params=params)
            expect(response, 200, f"GET /models/ {params}")
            # A lapsed session would redirect to the sign-in page, which also answers 200.
            if response.history:
                raise RuntimeError(f"/models/ {params}: redirected to {response.url}")
            if lists_models != ('href="/models/bench-model-' in response.text):
                raise RuntimeError(f"/models/ {params}: expected rows: {lists_models}")
            return elapsed

        return call

    def counted(expected: int, *, at_least: bool = False) -> Callable[[Any], None]:
        def check(body: Any) -> None:
            count = int(body["count"])
            if count < expected if at_least else count != expected:
                raise RuntimeError(f"expected {expected} results, got {count}")
            if len(body["results"]) != min(count, PAGE_SIZE):
                raise RuntimeError(f"a page of {len(body['results'])} results for {count}")

        return check

    calls = {
        "list": api_call("/models/", {}, counted(workload.models, at_least=True)),
        "search_name": api_call("/models/", {"q": NAME_QUERY}, counted(expected_name)),
        "search_tag": api_call("/models/", {"q": f"cohort-{TAG_COHORT}"}, counted(expected_tag)),
        "versions_of_model": api_call(
            f"/models/{workload.probe_model()}/versions/", {}, counted(workload.versions)
        ),
    }
    page_calls = {
        "page_list": page_call({}, lists_models=True),
        "page_search": page_call({"q": NAME_QUERY}, lists_models=expected_name > 0),
    }
    log("portal: timing reads")
    reads = read_phase(portal.pid, api_sessions, calls, workload)
    reads |= read_phase(portal.pid, page_sessions, page_calls, workload)
    _, inventory = timed(api_sessions[CLOSE], "GET", f"{api}/models/")
    connections = {
        f"{kind}/{mode}": connection_use(sessions[mode])
        for kind, sessions in (("api", api_sessions), ("page", page_sessions))
        for mode in MODES
    }
    if then is not None:
        then(portal)
    processes.stop(portal.process)
    return {
        "server": "gunicorn mlops_portal.wsgi --workers 2 --threads 4 (SQLite, filesystem broker)",
        "busy_before_timing": round(idle, 2),
        "registration_wall_seconds": round(wall, 2),
        "models": models.as_dict(),
        "versions": versions.as_dict(),
        "reads": {name: timings.as_dict() for name, timings in reads.items()},
        "inventory_count": inventory.json()["count"],
        "expected": {"search_name": expected_name, "search_tag": expected_tag},
        "connections_opened": connections,
        "upload_bytes": {"artifact": len(files.artifact), "holdout": len(files.holdout)},
    }


# --- MLflow -------------------------------------------------------------------------------------


def ensure_mlflow_venv(venv: Path = MLFLOW_VENV, version: str = MLFLOW_VERSION) -> Path:
    """MLflow's own virtualenv: created once, reused while the pin holds. Returns its mlflow."""
    return ensure_tool_venv(venv, "mlflow", version).parent / "mlflow"


def mlflow_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # Usage telemetry would send requests off the machine while we time it.
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["TMPDIR"] = str(scratch_tmp(folder))
    return env


def huey_folder(pid: int) -> Path | None:
    """The scratch folder MLflow's job runner makes in /dev/shm and does not remove on exit."""
    for process in descendants(pid):
        try:
            environ = Path(f"/proc/{process}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for entry in environ:
            if entry.startswith(b"_MLFLOW_HUEY_STORAGE_PATH="):
                return Path(entry.split(b"=", 1)[1].decode())
    return None


def remove_huey_folder(folder: Path | None) -> None:
    if folder is None or not folder.is_dir():
        return
    inside_tmp = folder.parent in (Path("/dev/shm"), Path(tempfile.gettempdir()))
    only_huey = all("mlflow-huey-store" in item.name for item in folder.iterdir())
    if inside_tmp and only_huey:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def mlflow_server(
    processes: Processes, mlflow: Path, folder: Path, workers: int | None
) -> Iterator[tuple[str, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [
        str(mlflow),
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--default-artifact-root",
        str(folder / "artifacts"),
        # Where its artifact proxy writes (default ./mlartifacts): kept inside the scratch folder.
        "--artifacts-destination",
        str(folder / "mlartifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    log_path = folder / "mlflow-server.log"
    proc = processes.start(
        f"mlflow server ({workers or 'default'} workers)",
        cmd,
        cwd=folder,
        env=mlflow_env(folder),
        log_path=log_path,
    )
    huey = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health", proc=proc, log_path=log_path, timeout=180)
        huey = huey_folder(proc.pid)
        yield base, proc.pid
    finally:
        processes.stop(proc)
        remove_huey_folder(huey)


def bench_mlflow(
    processes: Processes,
    mlflow: Path,
    folder: Path,
    files: Files,
    workload: Workload,
    workers: int | None,
) -> dict[str, Any]:
    with mlflow_server(processes, mlflow, folder, workers) as (base, pid):
        api = f"{base}/api/2.0/mlflow"
        sessions = {mode: new_session(mode) for mode in MODES}

        def post(session: requests.Session, path: str, body: dict[str, Any]) -> tuple[float, Any]:
            elapsed, response = timed(session, "POST", f"{api}{path}", json=body)
            expect(response, 200, f"POST {path} {body.get('name', '')}")
            return elapsed, response.json()

        def register_model(session: requests.Session, i: int) -> tuple[float, str]:
            name = workload.name(i)
            elapsed, _ = post(
                session,
                "/registered-models/create",
                {
                    "name": name,
                    "description": "benchmark",
                    "tags": [
                        {"key": "bench", "value": "true"},
                        {"key": "cohort", "value": str(workload.cohort(i))},
                    ],
                },
            )
            return elapsed, name

        def create_version(session: requests.Session, name: str, number: int) -> float:
            elapsed, _ = post(
                session,
                "/model-versions/create",
                {"name": name, "source": f"s3://bench-artifacts/{name}/{number}"},
            )
            return elapsed

        # Warm-up with a model that is deleted again, so the searches see only the workload.
        log(f"mlflow ({workers or 'default'} workers): warm-up")
        for mode in MODES:
            _, key = register_model(sessions[mode], 0)
            for number in range(1, 5):
                create_version(sessions[MODES[number % 2]], key, number)
            _, response = timed(
                sessions[mode], "DELETE", f"{api}/registered-models/delete", json={"name": key}
            )
            expect(response, 200, "delete the warm-up model")
        idle = wait_for_quiet(pid)

        log(f"mlflow: registering {workload.models} models x {workload.versions} versions")
        started = time.perf_counter()
        models, versions = registration(pid, sessions, workload, register_model, create_version)
        wall = time.perf_counter() - started

        def search(path: str, params: dict[str, str], expected: int) -> Call:
            key = "registered_models" if "registered" in path else "model_versions"

            def call(session: requests.Session) -> float:
                elapsed, response = timed(session, "GET", f"{api}{path}", params=params)
                expect(response, 200, f"GET {path} {params}")
                found = len(response.json().get(key, []))
                if found != expected:
                    raise RuntimeError(f"{path} {params}: expected {expected}, got {found}")
                return elapsed

            return call

        page = {"max_results": str(PAGE_SIZE)}
        calls = {
            "list": search("/registered-models/search", page, min(PAGE_SIZE, workload.models)),
            "search_name": search(
                "/registered-models/search",
                {**page, "filter": f"name LIKE '{NAME_QUERY}%'"},
                min(PAGE_SIZE, workload.expected_name_matches()),
            ),
            "search_tag": search(
                "/registered-models/search",
                {**page, "filter": f"tags.cohort = '{TAG_COHORT}'"},
                min(PAGE_SIZE, workload.expected_tag_matches()),
            ),
            "versions_of_model": search(
                "/model-versions/search",
                {"filter": f"name = '{workload.probe_model()}'"},
                workload.versions,
            ),
            "versions_search": search(
                "/model-versions/search",
                page,
                min(PAGE_SIZE, workload.models * workload.versions),
            ),
        }
        log("mlflow: timing reads")
        reads = read_phase(pid, sessions, calls, workload)
        with_files = mlflow_with_files(pid, api, base, sessions, files, workload)
        connections = {mode: connection_use(sessions[mode]) for mode in MODES}
    return {
        "server": f"mlflow server --workers {workers or 'default (4)'} (uvicorn, SQLite)",
        "busy_before_timing": round(idle, 2),
        "registration_wall_seconds": round(wall, 2),
        "models": models.as_dict(),
        "versions": versions.as_dict(),
        "reads": {name: timings.as_dict() for name, timings in reads.items()},
        "versions_with_files": with_files.as_dict() if with_files else None,
        "connections_opened": connections,
    }


def mlflow_with_files(
    pid: int,
    api: str,
    base: str,
    sessions: Mapping[str, requests.Session],
    files: Files,
    workload: Workload,
) -> Timings | None:
    """MLflow's own way to a version with files: create a run, upload the model and the holdout
    through the artifact proxy, create the version from the run. Timed as one unit."""
    if workload.mlflow_upload_versions <= 0:
        return None
    log(f"mlflow: {workload.mlflow_upload_versions} versions with run + file uploads")
    _, response = timed(
        sessions[CLOSE],
        "POST",
        f"{api}/experiments/create",
        json={"name": "bench-files", "artifact_location": "mlflow-artifacts:/bench-files"},
    )
    expect(response, 200, "create experiment")
    experiment = response.json()["experiment_id"]
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}

    def one(session: requests.Session, name: str) -> float:
        total, response = timed(
            session, "POST", f"{api}/runs/create", json={"experiment_id": experiment}
        )
        expect(response, 200, "create run")
        run_id = response.json()["run"]["info"]["run_id"]
        folder = f"bench-files/{run_id}/artifacts/model"
        for file_name, content in (("model.skops", files.artifact), ("holdout.csv", files.holdout)):
            elapsed, put = timed(
                session,
                "PUT",
                f"{base}/api/2.0/mlflow-artifacts/artifacts/{folder}/{file_name}",
                data=content,
            )
            expect(put, 200, f"upload {file_name}")
            total += elapsed
        elapsed, response = timed(
            session,
            "POST",
            f"{api}/model-versions/create",
            json={"name": name, "source": f"mlflow-artifacts:/{folder}", "run_id": run_id},
        )
        expect(response, 200, f"version of {name} from run {run_id}")
        return total + elapsed

    def run() -> dict[str, list[float]]:
        for index in range(workload.mlflow_upload_versions):
            mode = MODES[index % 2]
            name = workload.name(index % workload.models + 1)
            seconds[mode].append(one(sessions[mode], name))
        return seconds

    return timed_phase(pid, run, workload.mlflow_upload_versions)


# --- MLflow import next to plain upload ---------------------------------------------------------

# Runs in MLflow's virtualenv, as a data scientist's training script would: trains ``count``
# LogisticRegressions, logs each with ``mlflow.sklearn.log_model`` (skops) as a new version of one
# registered model, then downloads each version's model folder back through the server, so that
# the plain uploads send the very bytes MLflow stored. Writes what it did to ``logged.json``.
LOG_FOR_IMPORT = r"""
import json, sys, time
from pathlib import Path
import pandas as pd
import mlflow, mlflow.artifacts, mlflow.sklearn, sklearn, skops
from sklearn.linear_model import LogisticRegression

# Stated, not inferred: inferring loads the model in a subprocess (seconds per model).
requirements = [f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}"]

training, target, name, count, out = sys.argv[1:6]
frame = pd.read_csv(training)
X, y = frame.drop(columns=[target]), frame[target]
# Artifacts go through the server's proxy (mlflow-artifacts:/), which is where the portal reads.
experiment = mlflow.create_experiment(
    "bench-imports", artifact_location="mlflow-artifacts:/bench-imports"
)
mlflow.set_experiment(experiment_id=experiment)
started = time.perf_counter()
versions = []
for index in range(int(count)):
    with mlflow.start_run():
        c = 1.0 / (index + 1)
        model = LogisticRegression(C=c).fit(X, y)
        mlflow.log_param("C", c)
        mlflow.log_metric("train_accuracy", float(model.score(X, y)))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=name,
            serialization_format="skops",
            pip_requirements=requirements,
        )
    versions.append(int(info.registered_model_version))
logged = time.perf_counter() - started
files = {}
for version in versions:
    folder = mlflow.artifacts.download_artifacts(
        f"models:/{name}/{version}", dst_path=str(Path(out) / str(version))
    )
    files[str(version)] = str(Path(folder) / "model.skops")
result = {"versions": versions, "files": files, "log_seconds": logged}
(Path(out) / "logged.json").write_text(json.dumps(result))
"""


@dataclass(frozen=True)
class Logged:
    """The MLflow versions logged for the import phase and the model file each one stores."""

    versions: list[int]
    artifacts: dict[int, bytes]
    log_seconds: float


def log_import_models(mlflow: Path, base: str, folder: Path, count: int) -> Logged:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "log_for_import.py"
    script.write_text(LOG_FOR_IMPORT)
    training = folder / "training.csv"
    credit_frame(500, seed=11).to_csv(training, index=False)
    out = folder / "out"
    out.mkdir(exist_ok=True)
    env = {**mlflow_env(folder), "MLFLOW_TRACKING_URI": base}
    run_checked(
        [
            str(mlflow.parent / "python"),
            str(script),
            str(training),
            TARGET,
            IMPORT_MLFLOW_MODEL,
            str(count),
            str(out),
        ],
        cwd=folder,
        env=env,
        log_path=folder / "log_for_import.log",
        timeout=300 + 30 * count,
    )
    found = json.loads((out / "logged.json").read_text())
    versions = [int(v) for v in found["versions"]]
    artifacts = {v: Path(found["files"][str(v)]).read_bytes() for v in versions}
    return Logged(versions, artifacts, float(found["log_seconds"]))


def select_option(html: str, field: str, label: str) -> str:
    """The value of the option labelled ``label`` in the form's ``<select name=field>``."""
    select = re.search(rf'<select[^>]*name="{field}"[^>]*>(.*?)</select>', html, re.S)
    pattern = rf'<option value="([^"]+)"[^>]*>\s*{re.escape(label)}\s*</option>'
    option = select and re.search(pattern, select[1])
    if not option:
        raise RuntimeError(f"no option {label!r} in the form's {field!r} field")
    return option[1]


def connect_mlflow(portal: Portal, mlflow_url: str) -> None:
    """As the administrator, in the Django admin, as the tests' set-up does through services:
    let 127.0.0.1 past the SSRF guard (Notifications → Allowed webhook hosts), then add the
    connection (no authentication: the bench's MLflow server has none) for alice's team."""
    base = portal.base_url
    session = new_session(KEEP_ALIVE)
    portal_login(session, base, ADMIN_USER, portal.password)
    admin_add(
        session,
        base,
        "notifications/allowedwebhookhost",
        {"host": "127.0.0.1", "note": "bench/registry.py: MLflow on this machine"},
    )
    form = session.get(f"{base}/admin/integrations/mlflowconnection/add/", timeout=30)
    team = select_option(form.text, "teams", "Retail credit")
    admin_add(
        session,
        base,
        "integrations/mlflowconnection",
        {
            "name": IMPORT_CONNECTION,
            "tracking_url": mlflow_url,
            "auth": "none",
            "username": "",
            "teams": [team],
        },
    )


def server_seconds(body: Mapping[str, Any]) -> float:
    """From the import's request to its version, by the portal's own clock."""
    requested = datetime.fromisoformat(body["requested_at"])
    return (datetime.fromisoformat(body["finished_at"]) - requested).total_seconds()


def cpu_of(pids: Mapping[str, int]) -> dict[str, float]:
    return {name: tree_cpu_seconds(pid) for name, pid in pids.items()}


def cpu_since(before: Mapping[str, float], pids: Mapping[str, int]) -> dict[str, float]:
    return {name: round(tree_cpu_seconds(pid) - before[name], 2) for name, pid in pids.items()}


def bench_imports(
    processes: Processes, mlflow: Path, folder: Path, portal: Portal, files: Files, count: int
) -> dict[str, Any]:
    """``count`` versions imported from MLflow, then the same artifacts uploaded, on ``portal``.

    Both are timed to the same point: a new version (status validating) with its files stored
    and its validation job queued (the worker consumes only the queue imports run on, so
    validation waits for both alike and takes no CPU from either). Imports are all requested,
    then awaited, as a script importing a batch would; uploads are sent one after the other
    (an upload answers once the version exists).
    """
    with mlflow_server(processes, mlflow, folder / "mlflow", 1) as (mlflow_base, mlflow_pid):
        log(f"imports: logging {count + IMPORT_WARMUP} scikit-learn models in MLflow")
        logged = log_import_models(mlflow, mlflow_base, folder / "client", count + IMPORT_WARMUP)
        log("imports: connection (as admin), models and link (as alice), worker")
        connect_mlflow(portal, mlflow_base)
        api = f"{portal.base_url}/api/v1"
        token = portal_token(portal.base_url, PORTAL_USER, portal.password, name="bench-imports")
        session = new_session(KEEP_ALIVE)
        session.headers["Authorization"] = f"Bearer {token}"
        slugs = {}
        for kind in ("mlflow", "upload"):
            body = {
                "name": f"bench-import-{kind}",
                "team": "retail-credit",
                "risk_tier": "low",
                "risk_owner": RISK_OWNER,
                "use_case": "benchmark of MLflow imports",
                "tags": ["bench-import"],
            }
            _, response = timed(session, "POST", f"{api}/models/", json=body)
            expect(response, 201, f"register {body['name']}")
            slugs[kind] = str(response.json()["slug"])
        _, response = timed(
            session,
            "POST",
            f"{api}/models/{slugs['mlflow']}/mlflow/",
            json={"connection": IMPORT_CONNECTION, "mlflow_name": IMPORT_MLFLOW_MODEL},
        )
        expect(response, 201, "link to MLflow")
        worker = start_worker(processes, portal, queues=IMPORT_QUEUES)
        worker_log = portal.var_dir / "worker-bench-worker.log"
        holdout = ("holdout.csv", files.holdout, "text/csv")

        def request_import(version: int) -> tuple[float, float, int]:
            sent = time.perf_counter()
            elapsed, response = timed(
                session,
                "POST",
                f"{api}/models/{slugs['mlflow']}/versions/import/",
                files={"holdout": holdout},
                data={"reference": str(version), "target_column": TARGET},
            )
            expect(response, 202, f"import MLflow version {version}")
            return sent, elapsed, int(response.json()["id"])

        def await_imports(ids: list[int]) -> list[tuple[float, dict[str, Any]]]:
            """Poll the oldest unfinished import (they finish about in order) until each is
            done; when each was seen done, and its last answer."""
            done: list[tuple[float, dict[str, Any]]] = []
            deadline = time.monotonic() + 120 + 30 * len(ids)
            while len(done) < len(ids):
                ident = ids[len(done)]
                response = session.get(f"{api}/imports/{ident}/", timeout=30)
                expect(response, 200, f"import {ident}")
                body = response.json()
                if body["state"] == "imported":
                    done.append((time.perf_counter(), body))
                    continue
                if body["state"] == "failed":
                    raise RuntimeError(f"import {ident} failed: {body['failure']}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"import {ident} still {body['state']}:\n{tail(worker_log)}")
                time.sleep(IMPORT_POLL_SECONDS)
            return done

        def check_import(version: int, body: Mapping[str, Any]) -> None:
            digest = hashlib.sha256(logged.artifacts[version]).hexdigest()
            if body["original_sha256"] != digest or body["original_format"] != "skops":
                raise RuntimeError(f"import of MLflow version {version}: not MLflow's file")

        def upload(version: int) -> float:
            artifact = logged.artifacts[version]
            elapsed, response = timed(
                session,
                "POST",
                f"{api}/models/{slugs['upload']}/versions/",
                files={
                    "artifact": ("model.skops", artifact, "application/octet-stream"),
                    "holdout": holdout,
                },
                data={"target_column": TARGET},
            )
            expect(response, 201, f"upload of MLflow version {version}'s file")
            stored = {f["role"]: f["sha256"] for f in response.json()["files"]}
            if stored.get("artifact") != hashlib.sha256(artifact).hexdigest():
                raise RuntimeError(f"upload of MLflow version {version}: stored other bytes")
            return elapsed

        # Warm-up, one at a time: the worker's first import loads its modules, the web workers'
        # first requests theirs. Each import's time alone (an empty queue) is kept.
        warmup, timed_versions = logged.versions[:IMPORT_WARMUP], logged.versions[IMPORT_WARMUP:]
        alone_import, alone_upload = [], []
        for version in warmup:
            sent, _, ident = request_import(version)
            [(seen, body)] = await_imports([ident])
            check_import(version, body)
            alone_import.append(round(seen - sent, 3))
            alone_upload.append(round(upload(version), 3))
        pids = {"portal": portal.pid, "worker": worker.pid, "mlflow": mlflow_pid}
        wait_for_quiet(worker.pid)
        idle = wait_for_quiet(portal.pid)

        log(f"imports: {count} imports requested, then awaited")
        cpu = cpu_of(pids)
        started = time.perf_counter()
        requested = [request_import(version) for version in timed_versions]
        finished = await_imports([ident for _, _, ident in requested])
        import_wall = finished[-1][0] - started if finished else 0.0
        import_cpu = cpu_since(cpu, pids)
        for version, (_, body) in zip(timed_versions, finished, strict=True):
            check_import(version, body)

        wait_for_quiet(worker.pid)
        log(f"imports: {count} plain uploads of the same files")
        cpu = cpu_of(pids)
        started = time.perf_counter()
        upload_seconds = [upload(version) for version in timed_versions]
        upload_wall = time.perf_counter() - started
        upload_cpu = cpu_since(cpu, pids)
        processes.stop(worker)

    def per_minute(wall: float) -> float | None:
        return round(count / wall * 60, 2) if wall > 0 else None

    import_rate, upload_rate = per_minute(import_wall), per_minute(upload_wall)
    sizes = [len(logged.artifacts[v]) for v in timed_versions]
    return {
        "versions": count,
        "warmup": IMPORT_WARMUP,
        "measured_to": (
            "a new version (status validating) with its files stored and its validation job "
            "queued: for an import, "
            f"its state 'imported' seen by polling GET /api/v1/imports/{{id}}/ every "
            f"{IMPORT_POLL_SECONDS} s; for an upload, its 201 answer"
        ),
        "mlflow_server": "mlflow server --workers 1 (SQLite, artifacts through its proxy)",
        "worker": (
            f"celery worker --queues {','.join(IMPORT_QUEUES)} --concurrency 2 (the Procfile's "
            "command; the validation queue is not consumed)"
        ),
        "artifact": {"format": "skops", "mean_bytes": round(sum(sizes) / max(len(sizes), 1))},
        "holdout_bytes": len(files.holdout),
        "mlflow_log_seconds": round(logged.log_seconds, 2),
        "busy_before_timing": round(idle, 2),
        "import": {
            "wall_seconds": round(import_wall, 3),
            "versions_per_minute": import_rate,
            "request": Stats.of([elapsed for _, elapsed, _ in requested]).as_dict(),
            "requested_to_imported": Stats.of([server_seconds(b) for _, b in finished]).as_dict(),
            "alone_seconds": alone_import,
            "cpu_seconds": import_cpu,
        },
        "upload": {
            "wall_seconds": round(upload_wall, 3),
            "versions_per_minute": upload_rate,
            "request": Stats.of(upload_seconds).as_dict(),
            "alone_seconds": alone_upload,
            "cpu_seconds": upload_cpu,
        },
        "import_to_upload_rate": (
            round(import_rate / upload_rate, 3) if import_rate and upload_rate else None
        ),
    }


# --- Report -------------------------------------------------------------------------------------


def speedup(portal: float | None, mlflow: float | None, *, rate: bool) -> float | None:
    """How many times faster the portal is: a rate ratio, or a latency ratio inverted."""
    if portal is None or mlflow is None or portal <= 0 or mlflow <= 0:
        return None
    return portal / mlflow if rate else mlflow / portal


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def stat(result: Mapping[str, Any] | None, *path: str) -> float | None:
    node: Any = result
    for key in path:
        if not isinstance(node, Mapping) or key not in node or node[key] is None:
            return None
        node = node[key]
    return float(node)


# Rows compared in the summary: (label, where the figure sits in a server's results, which Stats
# field, and whether higher is better, i.e. a rate rather than a latency).
SUMMARY_ROWS: list[tuple[str, tuple[str, ...], str, bool]] = [
    ("versions registered /s", ("versions",), "per_second", True),
    ("models registered /s", ("models",), "per_second", True),
    ("API list p50 ms", ("reads", "list"), "p50", False),
    ("API list p95 ms", ("reads", "list"), "p95", False),
    ("API search by name p50 ms", ("reads", "search_name"), "p50", False),
    ("API search by name p95 ms", ("reads", "search_name"), "p95", False),
    ("API search by tag p50 ms", ("reads", "search_tag"), "p50", False),
    ("API search by tag p95 ms", ("reads", "search_tag"), "p95", False),
    ("one model's versions p50 ms", ("reads", "versions_of_model"), "p50", False),
    ("one model's versions p95 ms", ("reads", "versions_of_model"), "p95", False),
]


def mode_value(
    result: Mapping[str, Any] | None, path: tuple[str, ...], mode: str, key: str
) -> float | None:
    return stat(result, *path, "stats", mode, key)


def goals(
    portal: Mapping[str, Any], mlflow: Mapping[str, Any], mode: str
) -> list[tuple[str, bool | None, str]]:
    """(goal, met, evidence) for one mode against one MLflow configuration."""

    def ratio(path: tuple[str, ...], key: str, rate: bool) -> float | None:
        return speedup(
            mode_value(portal, path, mode, key), mode_value(mlflow, path, mode, key), rate=rate
        )

    def verdict(ratios: list[float | None], need: float) -> tuple[bool | None, str]:
        if any(r is None for r in ratios):
            return None, "n/a"
        met = all(r is not None and r >= need for r in ratios)
        return met, ", ".join(fmt_x(r) for r in ratios)

    rows = []
    met, evidence = verdict([ratio(("versions",), "per_second", True)], VERSIONS_GOAL)
    rows.append(("versions/s >= 2x MLflow", met, evidence))
    met, evidence = verdict([ratio(("reads", "list"), "p95", False)], LATENCY_GOAL)
    rows.append(("API list p95 <= 1/2 MLflow", met, evidence))
    met, evidence = verdict(
        [
            ratio(("reads", "search_name"), "p95", False),
            ratio(("reads", "search_tag"), "p95", False),
        ],
        LATENCY_GOAL,
    )
    rows.append(("API search p95 <= 1/2 MLflow (name, tag)", met, evidence))
    return rows


def render(results: Mapping[str, Any]) -> str:
    portal = results["portal"]
    mlflows: dict[str, Any] = results.get("mlflow", {})
    out: list[str] = []
    work = results["workload"]
    out.append(
        f"Registry benchmark {results['started_utc']}  |  {work['models']} models x "
        f"{work['versions']} versions, {work['requests']} timed requests per figure "
        f"(+{work['warmup']} warm-up), sequential, one client"
    )
    machine = results["machine"]
    out.append(
        f"machine: {machine['cpus']} CPUs, load average at start {machine['load_average']}, "
        f"Python {machine['python']}, requests {machine['requests']}"
    )
    code = results["code"]
    out.append(
        f"code: commit {code['commit']} with {code['uncommitted_paths']} uncommitted paths; "
        f"portal: {portal['server']}"
    )
    for label, result in mlflows.items():
        out.append(f"{label}: {result['server']}, MLflow {results['mlflow_version']}")
    out.append(
        "portal version create = upload of a .skops artifact and a 200-row holdout CSV (checked, "
        "stored, hashed, audited); MLflow version create = record with an s3:// source URI."
    )
    for mode in MODES:
        title = {
            KEEP_ALIVE: "KEEP-ALIVE (one requests.Session reusing its connection)",
            CLOSE: "CONNECTION: CLOSE (a new connection per request)",
        }[mode]
        out += ["", f"== {title} =="]
        headers = ["", "portal"]
        for label in mlflows:
            headers += [label, "speed-up"]
        rows = []
        for row_label, path, key, rate in SUMMARY_ROWS:
            portal_value = mode_value(portal, path, mode, key)
            row = [row_label, fmt(portal_value)]
            for result in mlflows.values():
                mlflow_value = mode_value(result, path, mode, key)
                row += [fmt(mlflow_value), fmt_x(speedup(portal_value, mlflow_value, rate=rate))]
            rows.append(row)
        for page, name in (("page_list", "inventory page /models/"), ("page_search", "page ?q=")):
            for key in ("p50", "p95"):
                row = [f"{name} {key} ms", fmt(mode_value(portal, ("reads", page), mode, key))]
                row += ["-", "-"] * len(mlflows)
                rows.append(row)
        portal_versions = mode_value(portal, ("versions",), mode, "per_second")
        row = ["versions /s, MLflow with run + 2 file uploads", fmt(portal_versions)]
        for result in mlflows.values():
            value = mode_value(result, ("versions_with_files",), mode, "per_second")
            row += [fmt(value), fmt_x(speedup(portal_versions, value, rate=True))]
        rows.append(row)
        row = ["all versions search p50 ms (MLflow only)", "-"]
        for result in mlflows.values():
            row += [fmt(mode_value(result, ("reads", "versions_search"), mode, "p50")), "-"]
        rows.append(row)
        out.append(format_table(headers, rows))
        if mlflows:
            out.append("")
            goal_headers = [f"goals ({mode})", *(f"vs {label}" for label in mlflows)]
            goal_rows: dict[str, list[str]] = {}
            for result in mlflows.values():
                for goal, met, evidence in goals(portal, result, mode):
                    word = "n/a" if met is None else ("MET" if met else "NOT MET")
                    goal_rows.setdefault(goal, [goal]).append(f"{word} ({evidence})")
            out.append(format_table(goal_headers, list(goal_rows.values())))
    out += ["", "Details (ms; req/s = sequential throughput; CPU = server CPU ms per request)"]
    detail_headers = ["server / operation", "mode", "n", "p50", "p95", "p99", "max", "req/s", "CPU"]
    detail_rows = []
    for label, result in [("portal", portal), *mlflows.items()]:
        operations = [("model create", result["models"]), ("version create", result["versions"])]
        if result.get("versions_with_files"):
            operations.append(("version with run+files", result["versions_with_files"]))
        operations += [(name, timings) for name, timings in result["reads"].items()]
        for name, timings in operations:
            for mode, s in timings["stats"].items():
                detail_rows.append(
                    [
                        f"{label} / {name}",
                        mode,
                        str(s["n"]),
                        fmt(s["p50"]),
                        fmt(s["p95"]),
                        fmt(s["p99"]),
                        fmt(s["max"]),
                        fmt(s["per_second"]),
                        fmt(timings["server_cpu_ms_per_request"]),
                    ]
                )
    out.append(format_table(detail_headers, detail_rows))
    out.append("TCP connections opened / requests sent, per client session:")
    for label, result in [("portal", portal), *mlflows.items()]:
        uses = [
            f"{name} {use['connections']}/{use['requests']}"
            for name, use in result["connections_opened"].items()
        ]
        out.append(f"  {label}: " + ", ".join(uses))
    busy = [f"portal {portal['busy_before_timing']:.0%}"]
    busy += [f"{label} {r['busy_before_timing']:.0%}" for label, r in mlflows.items()]
    out.append("CPU busy just before timing: " + ", ".join(busy))
    if results.get("imports"):
        out += ["", *render_imports(results["imports"])]
    return "\n".join(out)


def render_imports(imports: Mapping[str, Any]) -> list[str]:
    importing, uploading = imports["import"], imports["upload"]
    out = [
        f"== MLFLOW IMPORT vs PLAIN UPLOAD: {imports['versions']} versions each (after "
        f"{imports['warmup']} untimed), the same {imports['artifact']['mean_bytes']}-byte "
        f".skops files and {imports['holdout_bytes']}-byte holdout ==",
        f"MLflow: {imports['mlflow_server']}; worker: {imports['worker']}",
        f"timed to: {imports['measured_to']}",
        "imports: all requested (POST .../versions/import/), then awaited; uploads: one after "
        "the other (POST .../versions/); one keep-alive client",
    ]
    rows = [
        [
            "versions / minute",
            fmt(importing["versions_per_minute"]),
            fmt(uploading["versions_per_minute"]),
            fmt_x(imports["import_to_upload_rate"]),
        ],
        [
            "wall seconds, first request to last version",
            fmt(importing["wall_seconds"], 2),
            fmt(uploading["wall_seconds"], 2),
            "-",
        ],
        [
            "request p50 / p95 ms (import: the 202)",
            f"{fmt(importing['request']['p50'])} / {fmt(importing['request']['p95'])}",
            f"{fmt(uploading['request']['p50'])} / {fmt(uploading['request']['p95'])}",
            "-",
        ],
        [
            "requested to imported p50 / p95 ms (portal clock)",
            f"{fmt(importing['requested_to_imported']['p50'])} / "
            f"{fmt(importing['requested_to_imported']['p95'])}",
            "-",
            "-",
        ],
        [
            "one alone, seconds (warm-up)",
            ", ".join(fmt(v, 2) for v in importing["alone_seconds"]),
            ", ".join(fmt(v, 2) for v in uploading["alone_seconds"]),
            "-",
        ],
    ]
    for name in ("portal", "worker", "mlflow"):
        rows.append(
            [
                f"CPU seconds, {name}",
                fmt(importing["cpu_seconds"][name], 2),
                fmt(uploading["cpu_seconds"][name], 2),
                "-",
            ]
        )
    out.append(format_table(["", "import", "upload", "import/upload"], rows))
    out.append(
        f"MLflow side, untimed: logging {imports['versions'] + imports['warmup']} models with "
        f"mlflow.sklearn.log_model took {imports['mlflow_log_seconds']:.1f} s; "
        f"CPU busy just before timing {imports['busy_before_timing']:.0%}"
    )
    return out


# --- Main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--models", type=int, default=250, help="models to register")
    parser.add_argument("--versions", type=int, default=4, help="versions per model")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per figure")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests before each")
    parser.add_argument(
        "--mlflow-upload-versions",
        type=int,
        default=100,
        help="MLflow versions created with a run and file uploads (0 to skip)",
    )
    parser.add_argument(
        "--imports",
        type=int,
        default=20,
        help="versions imported from MLflow and uploaded plainly, timed (after 2 untimed)",
    )
    parser.add_argument("--skip-imports", action="store_true", help="skip the MLflow import phase")
    parser.add_argument(
        "--skip-mlflow", action="store_true", help="benchmark the portal only (no imports either)"
    )
    parser.add_argument(
        "--skip-mlflow-single-worker", action="store_true", help="skip `--workers 1`"
    )
    parser.add_argument("--keep-temp", action="store_true", help="keep the data folders")
    args = parser.parse_args(argv)
    if args.models < 1 or args.versions < 1 or args.requests < 1 or args.warmup < 0:
        parser.error("--models, --versions and --requests must be at least 1")
    if args.imports < 1 and not args.skip_imports:
        parser.error("--imports must be at least 1 (or --skip-imports)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    workload = Workload(
        models=args.models,
        versions=args.versions,
        requests=args.requests,
        warmup=args.warmup,
        mlflow_upload_versions=args.mlflow_upload_versions,
        imports=0 if args.skip_mlflow or args.skip_imports else args.imports,
    )
    stamp = utc_stamp()
    results: dict[str, Any] = {
        "benchmark": "registry",
        "started_utc": stamp,
        "machine": machine_info(),
        "code": git_state(),
        "workload": asdict(workload),
        "mlflow_version": None if args.skip_mlflow else MLFLOW_VERSION,
        "client": "requests (the portal's virtualenv), sequential, modes alternating",
    }
    files = build_files()
    mlflow = None if args.skip_mlflow else ensure_mlflow_venv()
    try:
        with Processes() as processes, scratch_dir("bench-registry-", keep=args.keep_temp) as tmp:
            results["imports"] = None
            then: Callable[[Portal], None] | None = None
            if mlflow is not None and workload.imports:
                mlflow_python = mlflow

                def then(portal: Portal) -> None:
                    results["imports"] = bench_imports(
                        processes, mlflow_python, tmp / "imports", portal, files, workload.imports
                    )

            results["portal"] = bench_portal(processes, tmp / "portal", files, workload, then)
            results["mlflow"] = {}
            if mlflow is not None:
                configs: list[tuple[str, int | None]] = [("MLflow 4 workers", None)]
                if not args.skip_mlflow_single_worker:
                    configs.append(("MLflow 1 worker", 1))
                for label, workers in configs:
                    results["mlflow"][label] = bench_mlflow(
                        processes,
                        mlflow,
                        tmp / f"mlflow-{workers or 'default'}",
                        files,
                        workload,
                        workers,
                    )
    except KeyboardInterrupt:
        log("interrupted: servers stopped, temporary folders removed")
        return 130
    except Exception:
        traceback.print_exc()
        log("failed: servers stopped, temporary folders removed")
        return 1
    results["machine"]["load_average_at_end"] = machine_info()["load_average"]
    print(render(results))
    path = write_results("registry", results, stamp)
    print(f"\nJSON: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
