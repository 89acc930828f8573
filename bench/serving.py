"""Serving benchmark: the portal's prediction endpoint and its serving tier against MLflow's.

Run it from the repository root (10 to 15 minutes on 2 shared cores with the defaults)::

    .venv/bin/python bench/serving.py
    .venv/bin/python bench/serving.py --quick                 # smoke run, shorter
    .venv/bin/python bench/serving.py --skip-mlflow --requests 500 --duration 5

The report goes to stdout, progress to stderr, and every figure to
``bench/results/serving-<UTC timestamp>.json``.

What it does, in one run:

1. The model: a StandardScaler + LogisticRegression pipeline (``MODEL_PARAMS``) fitted on
   ``TRAIN_ROWS`` synthetic credit rows of 10 numeric features ``f0``..``f9`` (fixed seed). The
   portal's copy is fitted here (the portal's virtualenv) and uploaded as ``.skops``; MLflow's
   copy is fitted by ``bench/serving_mlflow.py`` in MLflow's virtualenv (``MLFLOW_VERSION``,
   under ``var/bench/``, created by bench/registry.py's ``ensure_mlflow_venv`` and reused) on
   the same arrays with the same hyper-parameters, and saved with ``mlflow.sklearn.save_model``
   with a signature and ``predict_proba`` as its predict function, so that both servers answer
   probabilities. Both virtualenvs' library versions are printed; the fitted parameters and the
   two servers' answers on the same ``CHECK_ROWS`` rows are compared and the check printed.
2. The portal as production runs it (the Procfile's gunicorn: 2 workers x 4 threads, access
   log on) in a fresh data folder (``PORTAL_VAR_DIR``), plus one real Celery worker with the
   same environment (the seed's own queued validation jobs are retired first, so the worker
   runs only the benchmark's jobs). Through the REST API with personal tokens: alice registers
   the model (medium risk) and uploads the version with a holdout; the worker validates it in
   its bubblewrap sandbox; alice writes the documentation sections the risk tier's policy
   requires and requests review; ivan (model ops) and rita (risk owner) approve; ivan deploys
   it to staging (the worker's deployment job loads and smoke-tests it) and creates a serving
   key. The worker is then stopped, so it takes no CPU from the timing.
   Prediction logging and the key check stay as in production.
3. The servers, all started before timing and each warmed up: the portal (2 workers x 4
   threads); the serving tier on its own (``TIER``): ``gunicorn mlops_portal.serving_wsgi
   --preload --workers 2 --threads 4 --env PORTAL_SERVING_MAX_MODELS=20 --timeout 120
   --access-logfile -``, docker-compose.yml's `serving` service, on the same data folder (so
   the same deployment and serving key) with a status token, checked to answer a page path with
   its JSON 404 and asked through ``/serve/_status`` what each worker holds, and on which
   scoring path (onnxruntime or scikit-learn), right after start and after the load; the same
   tier with its ONNX fast path off (``TIER_SKLEARN``, ``PORTAL_SERVING_ONNX=false``);
   optionally the same portal with ``--workers 1 --threads 4``, for a like-for-like process
   count with MLflow (same data folder, so the same deployment and key);
   ``mlflow models serve --env-manager local --workers 1`` (its multi-worker mode stalls on
   reused connections); the HTTP floor: gunicorn with the Procfile's flags serving a 10-line WSGI
   app that reads the body and returns a short JSON; and the portal again with prediction
   logging and error counting off (``PORTAL_PREDICTION_LOGGING=false``), timed against the
   portal under the same concurrent load in alternating windows: what logging costs (goal: at
   most 5 %).
4. Timed, with one client for every server (``requests``, keep-alive ``Session``, bodies
   encoded once beforehand; latency from sending to having read the whole body):
   - one row per request, sequential, servers interleaved request by request (order reversed
     every round) so that background load reaches all alike: p50/p95/p99;
   - 1,000-row requests, sequential, interleaved the same way: rows per second;
   - ``--clients`` (8) concurrent clients sending one-row requests for ``--duration`` seconds
     after a warm-up under the same load, one server at a time: requests per second, errors,
     latency under load. The clients are separate processes by default (each its own
     ``requests.Session``); ``--client threads`` runs them as threads of one process instead;
   - server CPU per request (the server's whole process tree, from /proc), client CPU per
     request, and the machine's busy share during each window;
   - memory of each server's process tree (RSS, PSS, USS from /proc) after warm-up and after
     the load, per process too, with which of pandas, pyarrow, scikit-learn, SciPy and
     onnxruntime each process has mapped (/proc/<pid>/maps).
5. The floors: the model's own ``predict_proba`` on one row in this process (one-row DataFrame
   as the portal passes it, and numpy array), MLflow's pyfunc ``predict`` in its own
   virtualenv, and the HTTP floor above. Then ``bench/serving_inprocess.py`` runs the portal's
   ``ServingApp`` in one process with no HTTP, times each stage of a prediction apart, the
   prediction log's batch write per record, and profiles single-row requests (time per
   library): where the portal's time goes. The serving tier answers /serve/ with the same
   ``ServingApp``, so this is the tier's breakdown too (on the scoring path the version serves
   on with the portal's default settings, named in the stage).
6. The prediction logs: the rows of ``deployments_predictionlog`` in the portal's SQLite
   database against the predictions the portal's servers and the serving tiers answered with
   200 (all log to the same deployment).
7. A shadow challenger's cost (skip with ``--skip-shadow``): with a worker again, version 1
   also goes live in production and a second version (the same model) starts as a shadow
   beside version 1 in staging. The same portal server is then timed on both endpoints:
   one-row p50, sequential and interleaved request by request (goal: with the shadow at most
   10 % slower, since the shadow scores after the answer), and requests per second at the
   concurrent clients in alternating windows. What a canary adds to a request (its routing
   decision) is one of the in-process stages of step 5.

With ``BENCH_DATABASE_URL`` (an empty PostgreSQL database) the portal, its worker and its
servers use PostgreSQL instead of the embedded SQLite, as production does.

Goals: the portal (2 workers x 4 threads) at least 3x faster than MLflow on single-row p50, and
at least 5x MLflow's requests per second at 8 concurrent clients. Both are printed with their
ratios, as is each server's p50 above the HTTP floor. The serving tier's goals (issue 17), each
printed PASS or MISS and kept in the JSON (``goals_measured["serving-tier"]``): one-row p50 at
least 5x faster than MLflow's, at most 0.5 ms above the HTTP floor's, and at least 7x MLflow's
requests per second at 8 clients, all from the same run; the same three figures are printed for
the tier with its ONNX fast path off, for comparison.

Every process the script starts is stopped (its whole process group, also on Ctrl-C or an
error) and every temporary folder removed; only the MLflow virtualenv stays, to be reused.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
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
    REPO,
    VENV_BIN,
    Portal,
    Processes,
    Stats,
    connection_use,
    descendants,
    exit_on_sigterm,
    expect,
    format_table,
    free_port,
    git_state,
    log,
    machine_info,
    new_session,
    portal_env,
    portal_token,
    scratch_dir,
    serve_portal,
    start_portal,
    tail,
    timed,
    tree_cpu_seconds,
    tree_memory,
    utc_stamp,
    wait_for_http,
    wait_for_quiet,
    write_results,
)
from registry import MLFLOW_VENV, MLFLOW_VERSION, ensure_mlflow_venv, mlflow_env
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from validation import stop_worker

FEATURES = tuple(f"f{i}" for i in range(10))
TARGET = "default"
SEED = 20261126
TRAIN_ROWS = 5000
HOLDOUT_ROWS = 2000
MODEL_PARAMS: dict[str, Any] = {"C": 1.0, "max_iter": 1000}
BATCH_ROWS = 1000
CHECK_ROWS = 500  # rows both servers score for the same-model check
DISTINCT_SINGLE_ROWS = 500  # single-row bodies cycle through this many different rows

MODEL_NAME = "Serving benchmark credit model"
TEAM = "retail-credit"
ENVIRONMENT = "staging"
DATA_SCIENTIST, MODEL_OPS, RISK_OWNER = "alice", "ivan", "rita"
WORKER_QUEUES = "default,validation,deployment,monitoring"

P50_GOAL = 3.0  # MLflow p50 / portal p50
THROUGHPUT_GOAL = 5.0  # portal req/s / MLflow req/s at 8 clients

PORTAL = "portal"
PORTAL_ONE = "portal-1w"
PORTAL_NOLOG = "portal-nolog"
PORTAL_ALONE = "portal-alone"
PORTAL_SHADOWED = "portal-shadowed"
SHADOW_FREE = "production"  # where version 1 answers alone while staging has its shadow
# A shadow works off the request path: the live version's p50 at most 10 % slower with one.
SHADOW_P50_GOAL = 1.10
# Prediction logging and error counting may cost at most 5 % of throughput (monitoring issue).
LOGGING_COST_GOAL = 0.95
LOGGING_ROUNDS = 5
MLFLOW = "mlflow"
FLOOR = "http-floor"
# The serving tier on its own (mlops_portal/serving_wsgi.py), run as docker-compose.yml's
# `serving` service runs it: --preload, 2 workers x 4 threads, at most 20 models a process.
TIER = "serving-tier"
# The same tier with its ONNX fast path off (PORTAL_SERVING_ONNX=false): scikit-learn scoring.
TIER_SKLEARN = "tier-sklearn"
TIERS = (TIER, TIER_SKLEARN)
TIER_WORKERS, TIER_THREADS, TIER_MAX_MODELS = 2, 4, 20
# Its goals (issue 17), all against figures of the same run.
TIER_P50_GOAL = 5.0  # MLflow p50 / tier p50, one row
TIER_FLOOR_GOAL_MS = 0.5  # tier p50 - HTTP floor p50, one row, at most
TIER_THROUGHPUT_GOAL = 7.0  # tier req/s / MLflow req/s at 8 clients
# Libraries whose shared objects, mapped into a process, show it imported them.
HEAVY_LIBRARIES = ("pandas", "pyarrow", "sklearn", "scipy", "onnxruntime")

FLOOR_APP = '''"""The HTTP floor: read the body, answer a short JSON; nothing else."""

BODY = b'{"predictions": [1], "classes": [0, 1], "probabilities": [[0.25, 0.75]]}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", HEADERS)
    return [BODY]
'''


@dataclass(frozen=True)
class Workload:
    requests: int  # single-row sequential requests per server
    batch_requests: int  # 1,000-row sequential requests per server
    warmup: int  # untimed sequential requests per server before the timed ones
    clients: int
    duration: float  # seconds of concurrent load timed per server
    warmup_seconds: float  # seconds of concurrent load before that
    client_mode: str  # processes | threads
    inprocess_repeat: int
    portal_one_worker: bool


# --- The model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_holdout: np.ndarray
    y_holdout: np.ndarray

    def records(self, start: int, count: int) -> list[dict[str, float]]:
        """Holdout rows as JSON records (Python floats: exact round trip through JSON)."""
        rows = self.x_holdout[start : start + count]
        return [dict(zip(FEATURES, map(float, row), strict=True)) for row in rows]

    def holdout_csv(self) -> bytes:
        frame = pd.DataFrame(self.x_holdout, columns=list(FEATURES))
        return frame.assign(**{TARGET: self.y_holdout}).to_csv(index=False).encode()


def synthetic_data(seed: int = SEED) -> Data:
    """Credit-default-like rows: correlated features, a logistic ground truth with noise."""
    rng = np.random.default_rng(seed)
    rows = TRAIN_ROWS + HOLDOUT_ROWS
    mixing = rng.normal(0, 0.4, size=(len(FEATURES), len(FEATURES))) + np.eye(len(FEATURES))
    x = rng.normal(size=(rows, len(FEATURES))) @ mixing
    x = x * rng.uniform(0.5, 20, size=len(FEATURES)) + rng.uniform(-50, 100, size=len(FEATURES))
    standardised = (x - x.mean(axis=0)) / x.std(axis=0)
    weights = rng.normal(0, 1.0, size=len(FEATURES))
    logit = standardised @ weights - 1.0 + rng.normal(0, 0.8, size=rows)
    y = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return Data(x[:TRAIN_ROWS], y[:TRAIN_ROWS], x[TRAIN_ROWS:], y[TRAIN_ROWS:])


def fit_model(data: Data) -> Pipeline:
    frame = pd.DataFrame(data.x_train, columns=list(FEATURES))
    return make_pipeline(StandardScaler(), LogisticRegression(**MODEL_PARAMS)).fit(
        frame, data.y_train
    )


def fitted_parameters(model: Pipeline) -> dict[str, list[float]]:
    return {
        "mean": model[0].mean_.tolist(),
        "scale": model[0].scale_.tolist(),
        "coef": model[-1].coef_.ravel().tolist(),
        "intercept": model[-1].intercept_.tolist(),
    }


def median_ms(call: Callable[[], object], repeat: int) -> float:
    for _ in range(max(1, repeat // 10)):
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def model_floor(model: Pipeline, data: Data, repeat: int) -> dict[str, float]:
    """The model's own time for one row, in this process (same scikit-learn as the portal)."""
    record = data.records(0, 1)[0]
    frame = pd.DataFrame({name: [record[name]] for name in FEATURES}, columns=list(FEATURES))
    array = data.x_holdout[:1]

    with warnings.catch_warnings():
        # The model was fitted on a DataFrame; on a bare array scikit-learn warns every call.
        warnings.simplefilter("ignore", UserWarning)
        numpy_ms = median_ms(lambda: model.predict_proba(array), repeat)
    return {
        "predict_proba_dataframe_ms": median_ms(lambda: model.predict_proba(frame), repeat),
        "predict_proba_numpy_ms": numpy_ms,
        "dataframe_build_ms": median_ms(
            lambda: pd.DataFrame({n: [record[n]] for n in FEATURES}, columns=list(FEATURES)),
            repeat,
        ),
    }


# --- MLflow -------------------------------------------------------------------------------------


def mlflow_python() -> Path:
    return MLFLOW_VENV / "bin" / "python"


def train_mlflow_model(folder: Path, data: Data, probe: np.ndarray) -> dict[str, Any]:
    """Fit and save MLflow's copy in MLflow's virtualenv (bench/serving_mlflow.py)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = folder / "data.npz"
    np.savez(
        arrays,
        features=np.array(FEATURES),
        x_train=data.x_train,
        y_train=data.y_train,
        x_probe=probe,
    )
    model_dir = folder / "model"
    log("mlflow: fitting and saving its copy of the model in its virtualenv")
    result = subprocess.run(
        [
            str(mlflow_python()),
            str(REPO / "bench" / "serving_mlflow.py"),
            str(arrays),
            str(model_dir),
            json.dumps(MODEL_PARAMS),
        ],
        cwd=folder,
        env=mlflow_env(folder),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"serving_mlflow.py failed:\n{result.stderr[-3000:]}")
    trained: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    trained["model_dir"] = str(model_dir)
    return trained


@contextlib.contextmanager
def mlflow_serve(
    processes: Processes, mlflow: Path, folder: Path, model_dir: Path
) -> Iterator[Server]:
    port = free_port()
    cmd = [
        str(mlflow),
        "models",
        "serve",
        "-m",
        str(model_dir),
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log_path = folder / "mlflow-serve.log"
    env = mlflow_env(folder)
    # It runs `uvicorn` from PATH, as in an activated virtualenv.
    env["PATH"] = f"{MLFLOW_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    proc = processes.start("mlflow models serve", cmd, cwd=folder, env=env, log_path=log_path)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/ping", proc=proc, log_path=log_path, timeout=180)
        yield Server(
            MLFLOW,
            "mlflow models serve --workers 1 (uvicorn)",
            f"{base}/invocations",
            {"Content-Type": "application/json"},
            proc.pid,
            wrap=lambda records: {"dataframe_records": records},
            answer_key="predictions",
        )
    finally:
        processes.stop(proc)


# --- Servers and the client ---------------------------------------------------------------------


@dataclass
class Server:
    name: str
    description: str
    url: str
    headers: dict[str, str]
    pid: int
    wrap: Callable[[list[dict[str, float]]], Any] = lambda records: records
    answer_key: str | None = "probabilities"  # where the probabilities are; None: not checked
    ok_answers: int = 0  # every 200 answer, warm-up included (the portal logs each)
    results: dict[str, Any] = field(default_factory=dict)

    def body(self, records: list[dict[str, float]]) -> bytes:
        return json.dumps(self.wrap(records)).encode()

    def probabilities(self, response: requests.Response, rows: int) -> list[list[float]] | None:
        if response.status_code != 200:
            raise RuntimeError(f"{self.name}: HTTP {response.status_code}: {response.text[:500]}")
        self.ok_answers += 1
        if self.answer_key is None:
            return None
        answer = response.json()[self.answer_key]
        if len(answer) != rows:
            raise RuntimeError(f"{self.name}: {len(answer)} answers for {rows} rows")
        return [list(map(float, row)) for row in answer]


def client_session() -> requests.Session:
    """The one client of every server: a keep-alive ``requests.Session`` that does not consult
    the environment. With ``trust_env`` on, requests scans every environment variable twice per
    request looking for proxies (about 0.6 ms of CPU per request on this machine, half of the
    client's cost); loopback takes no proxy, so that scan is only noise on 2 shared cores."""
    session = new_session(KEEP_ALIVE)
    session.trust_env = False
    return session


def interleaved(
    servers: Sequence[Server],
    bodies: dict[str, list[bytes]],
    rows: int,
    *,
    count: int,
    warmup: int,
) -> dict[str, dict[str, Any]]:
    """Sequential requests, one server after another request by request (order reversed every
    round), each through its own keep-alive session; latencies and server CPU per request."""
    sessions = {s.name: client_session() for s in servers}

    def one(server: Server, index: int) -> float:
        body = bodies[server.name][index % len(bodies[server.name])]
        elapsed, response = timed(
            sessions[server.name], "POST", server.url, data=body, headers=server.headers
        )
        server.probabilities(response, rows)
        return elapsed

    for index in range(warmup):
        for server in servers:
            one(server, index)
    if count == 0:
        return {}
    cpu_before = {s.name: tree_cpu_seconds(s.pid) for s in servers}
    seconds: dict[str, list[float]] = {s.name: [] for s in servers}
    for index in range(count):
        for server in servers if index % 2 == 0 else list(reversed(servers)):
            seconds[server.name].append(one(server, index))
    results = {}
    for server in servers:
        stats = Stats.of(seconds[server.name])
        cpu = tree_cpu_seconds(server.pid) - cpu_before[server.name]
        results[server.name] = {
            "stats": stats.as_dict(),
            "rows_per_request": rows,
            "rows_per_second": round(stats.per_second * rows, 1),
            "server_cpu_ms_per_request": round(cpu / count * 1000, 3),
            "connections": connection_use(sessions[server.name]),
        }
    return results


def client_loop(
    url: str,
    headers: dict[str, str],
    bodies: list[bytes],
    offset: int,
    start_at: float,
    end_at: float,
    cpu_clock: Callable[[], float],
) -> dict[str, Any]:
    """One concurrent client: one keep-alive session sending one-row requests back to back
    until ``end_at``; counts what completes inside [start_at, end_at] (time.monotonic)."""
    session = client_session()
    latencies: list[float] = []
    errors = 0
    ok_total = 0
    first_error = ""
    cpu_start: float | None = None
    index = offset
    while True:
        now = time.monotonic()
        if now >= end_at:
            break
        if cpu_start is None and now >= start_at:
            cpu_start = cpu_clock()
        body = bodies[index % len(bodies)]
        index += 1
        began = time.perf_counter()
        problem = ""
        try:
            response = session.post(url, data=body, headers=headers, timeout=60)
            content = response.content
            if response.status_code != 200 or not content.startswith(b"{"):
                problem = f"HTTP {response.status_code}: {content[:200]!r}"
        except requests.RequestException as exc:
            problem = repr(exc)[:300]
        elapsed = time.perf_counter() - began
        finished = time.monotonic()
        if not problem:
            ok_total += 1
        if start_at <= finished <= end_at:
            if problem:
                errors += 1
                first_error = first_error or problem
            else:
                latencies.append(elapsed)
    cpu = cpu_clock() - cpu_start if cpu_start is not None else 0.0
    return {
        "latencies": latencies,
        "errors": errors,
        "first_error": first_error,
        "ok_total": ok_total,
        "cpu_seconds": cpu,
    }


ClientArgs = tuple[str, dict[str, str], list[bytes], int, float, float]


def _client_process(connection: multiprocessing.connection.Connection, args: ClientArgs) -> None:
    try:
        connection.send(client_loop(*args, cpu_clock=time.process_time))
    except BaseException as exc:  # the parent reports it
        connection.send({"crash": repr(exc)})
    finally:
        connection.close()


def concurrent(server: Server, bodies: list[bytes], workload: Workload) -> dict[str, Any]:
    """``workload.clients`` clients at once against one server: warm-up, then the timed window."""
    start_at = time.monotonic() + workload.warmup_seconds + 1.0  # clients start within ~1 s
    end_at = start_at + workload.duration
    outcomes: list[dict[str, Any]] = []
    if workload.client_mode == "processes":
        # fork: the clients inherit the prepared bodies and imported modules and start at once.
        context = multiprocessing.get_context("fork")
        pipes = []
        children = []
        for index in range(workload.clients):
            receiver, sender = context.Pipe(duplex=False)
            args: ClientArgs = (server.url, server.headers, bodies, index * 61, start_at, end_at)
            child = context.Process(target=_client_process, args=(sender, args), daemon=True)
            child.start()
            sender.close()
            pipes.append(receiver)
            children.append(child)
    else:
        threads = []
        lock = threading.Lock()

        def run(index: int) -> None:
            outcome = client_loop(
                server.url,
                server.headers,
                bodies,
                index * 61,
                start_at,
                end_at,
                cpu_clock=time.thread_time,
            )
            with lock:
                outcomes.append(outcome)

        for index in range(workload.clients):
            thread = threading.Thread(target=run, args=(index,), daemon=True)
            thread.start()
            threads.append(thread)
    time.sleep(max(0.0, start_at - time.monotonic()))
    cpu_before = tree_cpu_seconds(server.pid)
    machine_before = _proc_stat()
    time.sleep(max(0.0, end_at - time.monotonic()))
    cpu_after = tree_cpu_seconds(server.pid)
    machine_after = _proc_stat()
    if workload.client_mode == "processes":
        for receiver, child in zip(pipes, children, strict=True):
            if not receiver.poll(120):
                raise RuntimeError(f"{server.name}: a client process did not report")
            outcomes.append(receiver.recv())
            child.join(10)
    else:
        for thread in threads:
            thread.join(120)
    crashed = [o["crash"] for o in outcomes if "crash" in o]
    if crashed or len(outcomes) != workload.clients:
        raise RuntimeError(f"{server.name}: clients failed: {crashed or len(outcomes)}")
    latencies = [x for o in outcomes for x in o["latencies"]]
    errors = sum(o["errors"] for o in outcomes)
    server.ok_answers += sum(o["ok_total"] for o in outcomes)
    completed = len(latencies)
    stats = Stats.of(latencies) if latencies else None
    busy_idle = machine_after[0] - machine_before[0]
    busy_total = machine_after[1] - machine_before[1]
    client_cpu = sum(o["cpu_seconds"] for o in outcomes)
    return {
        "clients": workload.clients,
        "client_mode": workload.client_mode,
        "seconds": workload.duration,
        "completed": completed,
        "requests_per_second": round(completed / workload.duration, 1),
        "errors": errors,
        "first_error": next((o["first_error"] for o in outcomes if o["first_error"]), ""),
        "latency": stats.as_dict() if stats else None,
        "server_cpu_ms_per_request": round((cpu_after - cpu_before) / max(completed, 1) * 1000, 3),
        "server_cores_busy": round((cpu_after - cpu_before) / workload.duration, 2),
        "client_cpu_ms_per_request": round(client_cpu / max(completed, 1) * 1000, 3),
        "client_cores_busy": round(client_cpu / workload.duration, 2),
        "machine_busy": round(1 - busy_idle / max(busy_total, 1), 3),
    }


def _proc_stat() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return values[3] + values[4], sum(values)


# --- The portal: from upload to a live deployment, through the API ------------------------------


def api_session(token: str) -> requests.Session:
    session = new_session(KEEP_ALIVE)
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def retire_seed_jobs(portal: Portal) -> int:
    """Mark the seed's queued jobs failed before the worker starts: it then ignores their
    messages (as for any job no longer queued) and runs only the benchmark's."""
    code = (
        "from django.utils import timezone\n"
        "from apps.jobs.models import Job\n"
        "print(Job.objects.filter(status=Job.Status.QUEUED).update(status=Job.Status.FAILED, "
        "finished_at=timezone.now(), "
        "message='Not run: retired by bench/serving.py before its worker started'))\n"
    )
    result = subprocess.run(
        [str(VENV_BIN / "python"), str(REPO / "manage.py"), "shell", "-c", code],
        cwd=REPO,
        env=portal_env(portal.var_dir, portal.password),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"retiring the seed's jobs failed:\n{result.stderr[-2000:]}")
    return int(result.stdout.strip().splitlines()[-1])


def start_worker(processes: Processes, portal: Portal) -> subprocess.Popen[bytes]:
    cmd = [
        str(VENV_BIN / "celery"),
        "-A",
        "mlops_portal",
        "worker",
        "--queues",
        WORKER_QUEUES,
        "--concurrency",
        "1",
        "--hostname",
        "bench-serving@%h",
        "--without-mingle",
        "--without-gossip",
    ]
    return processes.start(
        "celery worker",
        cmd,
        cwd=REPO,
        env=portal_env(portal.var_dir, portal.password),
        log_path=portal.var_dir / "celery-worker.log",
    )


def poll(
    what: str,
    fetch: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    failed: Callable[[dict[str, Any]], str | None],
    worker: subprocess.Popen[bytes],
    worker_log: Path,
    timeout: float = 600,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = fetch()
        if done(state):
            return state
        problem = failed(state)
        if problem:
            raise RuntimeError(f"{what}: {problem}")
        if worker.poll() is not None:
            raise RuntimeError(f"{what}: the worker exited:\n{tail(worker_log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not done after {timeout:.0f} s: {state}")
        time.sleep(0.5)


@dataclass
class Api:
    """The three people of the flow, with their tokens, and the worker that runs their jobs."""

    url: str
    alice: requests.Session
    ivan: requests.Session
    rita: requests.Session
    worker: subprocess.Popen[bytes]
    worker_log: Path

    @classmethod
    def of(cls, portal: Portal, worker: subprocess.Popen[bytes]) -> Api:
        alice, ivan, rita = (
            api_session(portal_token(portal.base_url, user, portal.password))
            for user in (DATA_SCIENTIST, MODEL_OPS, RISK_OWNER)
        )
        return cls(
            f"{portal.base_url}/api/v1",
            alice,
            ivan,
            rita,
            worker,
            portal.var_dir / "celery-worker.log",
        )

    def approved_version(
        self, slug: str, number: int, artifact: bytes, holdout: bytes, timeline: dict[str, float]
    ) -> None:
        """Upload version ``number``, wait for its validation, request review, approve it."""
        started = time.monotonic()
        version_url = f"{self.url}/models/{slug}/versions/{number}/"
        response = self.alice.post(
            f"{self.url}/models/{slug}/versions/",
            files={
                "artifact": ("model.skops", artifact, "application/octet-stream"),
                "holdout": ("holdout.csv", holdout, "text/csv"),
            },
            data={"target_column": TARGET, "notes": "bench/serving.py"},
            timeout=120,
        )
        expect(response, 201, f"upload version {number}")
        timeline["uploaded"] = time.monotonic() - started
        log(f"portal: {slug} v{number} uploaded; waiting for its validation")

        def validation_problem(state: dict[str, Any]) -> str | None:
            if state["status"] != "validation_failed":
                return None
            report = self.alice.get(f"{version_url}validation/", timeout=60).json()
            return "validation failed: " + json.dumps(report, default=str)[:3000]

        poll(
            "validation",
            lambda: self.alice.get(version_url, timeout=60).json(),
            lambda s: s["status"] == "validated",
            validation_problem,
            self.worker,
            self.worker_log,
        )
        timeline["validated"] = time.monotonic() - started
        self.document(version_url)
        response = self.alice.post(
            f"{version_url}review/",
            json={"summary": "Serving benchmark model; please approve for staging."},
            timeout=60,
        )
        expect(response, 201, "request review")
        for reviewer, who in ((self.ivan, MODEL_OPS), (self.rita, RISK_OWNER)):
            response = reviewer.post(
                f"{version_url}decisions/",
                json={"decision": "approve", "reason": f"Benchmark model; approved by {who}."},
                timeout=60,
            )
            expect(response, 201, f"{who} approves")
        status = self.alice.get(version_url, timeout=60).json()["status"]
        if status != "approved":
            raise RuntimeError(f"after both approvals the version is {status}")
        timeline["approved"] = time.monotonic() - started

    def document(self, version_url: str) -> None:
        """Write the narrative sections the risk tier's documentation policy requires before a
        review (alice, as the model's data scientist), so the review is not a policy exception."""
        url = f"{version_url}documentation/"
        response = self.alice.get(url, timeout=60)
        expect(response, 200, "read the documentation")
        body = response.json()
        missing = set(body["missing_for_review"])
        sections = {
            part["key"]: f"{part['title']}: written for bench/serving.py, which times the "
            "serving endpoint with a synthetic credit-default model (10 numeric features, "
            "StandardScaler + LogisticRegression); not a model anyone uses."
            for part in body["parts"]
            if part["kind"] == "narrative" and part["title"] in missing
        }
        if not sections:
            return
        response = self.alice.patch(url, json={"sections": sections}, timeout=60)
        expect(response, 200, "write the documentation's required sections")
        left = response.json()["missing_for_review"]
        if left:
            raise RuntimeError(f"documentation still missing for review: {left}")

    def live(self, asked: dict[str, Any]) -> dict[str, Any]:
        """Request a deployment (``asked`` is the API's body) and wait until it is live."""
        response = self.ivan.post(f"{self.url}/deployments/", json=asked, timeout=60)
        expect(response, 202, f"request the deployment {asked}")
        deployment_id = response.json()["id"]
        log(f"portal: deployment {deployment_id} requested; waiting for it to go live")
        return poll(
            "deployment",
            lambda: self.ivan.get(f"{self.url}/deployments/{deployment_id}/", timeout=60).json(),
            lambda s: s["status"] == "live",
            lambda s: f"{s['status']}: {s['message']}" if s["status"] == "failed" else None,
            self.worker,
            self.worker_log,
        )

    def serving_key(self, slug: str, environment: str) -> str:
        response = self.ivan.post(
            f"{self.url}/serving-keys/",
            json={"model": slug, "environment": environment, "name": "bench"},
            timeout=60,
        )
        expect(response, 201, "create a serving key")
        return str(response.json()["key"])


def deploy_through_api(
    processes: Processes, portal: Portal, artifact: bytes, holdout: bytes
) -> dict[str, Any]:
    """Register, upload, validate, review, approve, deploy to staging, create a serving key."""
    retired = retire_seed_jobs(portal)
    log(f"portal: retired {retired} queued seed jobs; starting a celery worker")
    worker = start_worker(processes, portal)
    timeline: dict[str, float] = {}
    try:
        api = Api.of(portal, worker)
        response = api.alice.post(
            f"{api.url}/models/",
            json={
                "name": MODEL_NAME,
                "use_case": "Benchmark of the serving endpoint",
                "description": "bench/serving.py: scaled logistic regression, 10 features.",
                "team": TEAM,
                "risk_tier": "medium",
                "risk_owner": RISK_OWNER,
                "tags": ["bench"],
            },
            timeout=60,
        )
        expect(response, 201, "register the model")
        slug = str(response.json()["slug"])
        started = time.monotonic()
        api.approved_version(slug, 1, artifact, holdout, timeline)
        deployment = api.live({"model": slug, "version": 1, "environment": ENVIRONMENT})
        timeline["live"] = time.monotonic() - started
        key = api.serving_key(slug, ENVIRONMENT)
    finally:
        stopped = stop_worker(processes, worker)
        log(f"portal: celery worker stopped ({stopped} s)")
    return {
        "slug": slug,
        "key": key,
        "deployment": deployment,
        "retired_seed_jobs": retired,
        "seconds_from_upload": {k: round(v, 1) for k, v in timeline.items()},
    }


def shadow_through_api(
    processes: Processes, portal: Portal, slug: str, artifact: bytes, holdout: bytes
) -> dict[str, Any]:
    """For the shadow's cost, after the other timings: version 1 also live in production (it
    answers alone there), and version 2 (the same model) as a shadow beside it in staging."""
    log("portal: a celery worker again, for the shadow challenger's set-up")
    worker = start_worker(processes, portal)
    try:
        api = Api.of(portal, worker)
        api.live({"model": slug, "version": 1, "environment": SHADOW_FREE})
        key = api.serving_key(slug, SHADOW_FREE)
        api.approved_version(slug, 2, artifact, holdout, {})
        shadow = api.live(
            {"model": slug, "version": 2, "environment": ENVIRONMENT, "mode": "shadow"}
        )
    finally:
        stopped = stop_worker(processes, worker)
        log(f"portal: celery worker stopped ({stopped} s)")
    return {"key": key, "shadow": shadow}


def challenger_cost(
    alone: Server, shadowed: Server, data: Data, workload: Workload
) -> dict[str, Any]:
    """The same version answering alone (production) and with a shadow scoring every request
    after it (staging), on the same server: one-row p50 sequentially, interleaved request by
    request, and requests per second at ``workload.clients`` in alternating windows."""
    records = [data.records(i, 1) for i in range(DISTINCT_SINGLE_ROWS)]
    bodies = {s.name: [s.body(r) for r in records] for s in (alone, shadowed)}
    servers = [alone, shadowed]
    log("timing: the live version alone and with a shadow, one-row requests, interleaved")
    single = interleaved(servers, bodies, 1, count=workload.requests, warmup=workload.warmup)
    on: list[float] = []
    off: list[float] = []
    for round_ in range(LOGGING_ROUNDS):
        order = [(shadowed, on), (alone, off)]
        for server, into in order if round_ % 2 == 0 else order[::-1]:
            log(f"timing: shadow cost, round {round_ + 1}, {server.name}")
            into.append(concurrent(server, bodies[server.name], workload)["requests_per_second"])
            time.sleep(1.0)
    p50 = {s.name: single[s.name]["stats"]["p50"] for s in servers}
    return {
        "single_row": single,
        "p50_shadow_over_alone": round(p50[shadowed.name] / p50[alone.name], 3),
        "with_shadow_rps": on,
        "alone_rps": off,
        "rps_shadow_over_alone": round(statistics.median(on) / statistics.median(off), 3),
    }


def portal_server(
    portal: Portal,
    slug: str,
    key: str,
    name: str,
    description: str,
    environment: str = ENVIRONMENT,
) -> Server:
    return Server(
        name,
        description,
        f"{portal.base_url}/serve/{slug}/{environment}/predict",
        {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        portal.pid,
    )


def floor_server(processes: Processes, folder: Path) -> Server:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "floor_app.py").write_text(FLOOR_APP)
    port = free_port()
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "floor_app:application",
        "--chdir",
        str(folder),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
        "--timeout",
        "120",
        "--access-logfile",
        "-",
    ]
    log_path = folder / "floor.log"
    proc = processes.start(
        "HTTP floor gunicorn", cmd, cwd=folder, env=os.environ, log_path=log_path
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base}/", proc=proc, log_path=log_path)
    return Server(
        FLOOR,
        "gunicorn, Procfile flags (2 workers x 4 threads, access log), 10-line WSGI app",
        f"{base}/serve/floor/{ENVIRONMENT}/predict",
        {"Content-Type": "application/json"},
        proc.pid,
        answer_key=None,
    )


@dataclass
class Tier:
    """The serving tier's server, with what it takes to ask it what it holds."""

    server: Server
    base_url: str
    status_token: str
    ready_seconds: float  # from starting gunicorn to its first answer (models preloaded)
    command: list[str]
    process: subprocess.Popen[bytes]


def serving_tier(
    processes: Processes,
    portal: Portal,
    slug: str,
    key: str,
    name: str = TIER,
    extra_env: dict[str, str] | None = None,
) -> Tier:
    """``gunicorn mlops_portal.serving_wsgi`` with the flags of docker-compose.yml's `serving`
    service (bound to a free local port), on the portal's data folder: the same database, so
    the same deployment and serving key. A status token is set so /serve/_status answers;
    ``extra_env`` adds settings (PORTAL_SERVING_ONNX=false for ``TIER_SKLEARN``)."""
    token = "bench-status-" + os.urandom(16).hex()
    env = {
        **portal_env(portal.var_dir, portal.password),
        "PORTAL_SERVING_STATUS_TOKEN": token,
        **(extra_env or {}),
    }
    port = free_port()
    log_path = portal.var_dir / f"{name}-{port}.log"
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "mlops_portal.serving_wsgi",
        "--preload",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(TIER_WORKERS),
        "--threads",
        str(TIER_THREADS),
        "--env",
        f"PORTAL_SERVING_MAX_MODELS={TIER_MAX_MODELS}",
        "--timeout",
        "120",
        "--access-logfile",
        "-",
    ]
    started = time.monotonic()
    proc = processes.start(f"{name} gunicorn", cmd, cwd=REPO, env=env, log_path=log_path)
    base = f"http://127.0.0.1:{port}"
    # Any path it does not serve is its JSON 404 (the compose file's health check).
    wait_for_http(f"{base}/serve/", proc=proc, log_path=log_path, timeout=180)
    ready = time.monotonic() - started
    session = client_session()
    page = session.get(f"{base}/login/", timeout=30)
    if page.status_code != 404 or not page.headers.get("Content-Type", "").startswith(
        "application/json"
    ):
        raise RuntimeError(
            f"the serving tier answered /login/ with HTTP {page.status_code} "
            f"{page.headers.get('Content-Type')}: it should answer /serve/ only"
        )
    settings = "".join(f", {k}={v}" for k, v in (extra_env or {}).items())
    server = Server(
        name,
        f"serving tier: gunicorn mlops_portal.serving_wsgi --preload, {TIER_WORKERS} workers x "
        f"{TIER_THREADS} threads, PORTAL_SERVING_MAX_MODELS={TIER_MAX_MODELS} (docker-compose "
        f"`serving`){settings}",
        f"{base}/serve/{slug}/{ENVIRONMENT}/predict",
        {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        proc.pid,
    )
    command = [*(f"{k}={v}" for k, v in (extra_env or {}).items()), Path(cmd[0]).name, *cmd[1:]]
    return Tier(server, base, token, round(ready, 2), command, proc)


def tier_status(tier: Tier, tries: int = 60) -> dict[str, Any]:
    """``GET /serve/_status`` until every worker answered once (each request on a new
    connection, so that whichever worker accepts it answers): what each process holds."""
    session = new_session(CLOSE)
    session.trust_env = False
    headers = {"Authorization": f"Bearer {tier.status_token}"}
    by_pid: dict[str, Any] = {}
    for _ in range(tries):
        response = session.get(f"{tier.base_url}/serve/_status", headers=headers, timeout=30)
        expect(response, 200, "the serving tier's /serve/_status")
        body = response.json()
        by_pid[str(body["pid"])] = {
            "max_models": body["max_models"],
            "models": [
                f"{m['model']} v{m['version']} in {m['environment']} on "
                f"{m.get('serving_path', 'scikit-learn')}"
                for m in body["models"]
            ],
            "prediction_log": body["prediction_log"],
        }
        if len(by_pid) >= TIER_WORKERS:
            break
    return by_pid


def libraries_mapped(pid: int) -> dict[str, list[str]]:
    """For ``pid`` and its descendants: which of ``HEAVY_LIBRARIES`` have shared objects mapped
    (from /proc/<pid>/maps), i.e. were imported by that process or by its parent before a fork."""
    found: dict[str, list[str]] = {}
    for process in descendants(pid):
        try:
            maps = Path(f"/proc/{process}/maps").read_text()
        except OSError:
            continue
        found[str(process)] = [
            name for name in HEAVY_LIBRARIES if f"/site-packages/{name}/" in maps
        ]
    return found


def prediction_logs(
    var_dir: Path, deployment: int, expected: int, wait: float = 15.0
) -> dict[str, Any]:
    """The benchmark deployment's rows in deployments_predictionlog (the demo seed logged its
    own model's two weeks there too), waiting for the background flushes to catch up."""
    database = var_dir / "portal.sqlite3"
    query = (
        "SELECT COUNT(*), COALESCE(SUM(rows), 0) FROM deployments_predictionlog "
        "WHERE deployment_id = {}"
    )
    deadline = time.monotonic() + wait
    while True:
        if os.environ.get("BENCH_DATABASE_URL"):
            import psycopg

            with psycopg.connect(os.environ["BENCH_DATABASE_URL"]) as connection:
                found = connection.execute(query.format("%s"), (deployment,)).fetchone()
                count, rows = found if found is not None else (0, 0)
        else:
            with contextlib.closing(
                sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
            ) as connection:
                count, rows = connection.execute(query.format("?"), (deployment,)).fetchone()
        if count >= expected or time.monotonic() > deadline:
            return {"records": int(count), "rows": int(rows), "expected_records": expected}
        time.sleep(0.5)


# --- The run ------------------------------------------------------------------------------------

SERVING_CODE = (
    "apps/deployments/serving.py",
    "apps/deployments/inputs.py",
    "mlops_portal/wsgi.py",
    "mlops_portal/serving_wsgi.py",
    "apps/validation/evidence.py",
)


def serving_code() -> dict[str, str]:
    """A fingerprint of the portal's serving code: which code a figure measured."""
    return {
        path: hashlib.sha256((REPO / path).read_bytes()).hexdigest()[:12] for path in SERVING_CODE
    }


def same_model_check(
    servers: Sequence[Server], records: list[dict[str, float]], reference: np.ndarray
) -> dict[str, Any]:
    """Every server's probabilities on the same rows against the portal-side model's own."""
    session = client_session()
    result: dict[str, Any] = {"rows": len(records)}
    reference_classes = reference.argmax(axis=1)
    for server in servers:
        if server.answer_key is None:
            continue
        response = session.post(
            server.url, data=server.body(records), headers=server.headers, timeout=120
        )
        answer = np.asarray(server.probabilities(response, len(records)))
        entry: dict[str, Any] = {
            "max_abs_difference": float(np.max(np.abs(answer - reference))),
            "same_class_rows": int(np.sum(answer.argmax(axis=1) == reference_classes)),
        }
        if server.name in (PORTAL, PORTAL_ONE, *TIERS):
            body = response.json()
            entry["predictions_equal_argmax"] = bool(
                np.array_equal(
                    np.asarray(body["predictions"]),
                    np.asarray(body["classes"])[answer.argmax(axis=1)],
                )
            )
        result[server.name] = entry
    return result


def run_servers(
    servers: list[Server],
    data: Data,
    workload: Workload,
    reference: np.ndarray,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    check_records = data.records(0, CHECK_ROWS)
    single_records = [data.records(i, 1) for i in range(DISTINCT_SINGLE_ROWS)]
    batch_records = [
        data.records(i * 97 % (HOLDOUT_ROWS - BATCH_ROWS), BATCH_ROWS) for i in range(5)
    ]
    single = {s.name: [s.body(r) for r in single_records] for s in servers}
    batch = {s.name: [s.body(r) for r in batch_records] for s in servers}

    log("warm-up: every server, one-row and batch requests")
    interleaved(servers, single, 1, count=0, warmup=workload.warmup)
    interleaved(servers, batch, BATCH_ROWS, count=0, warmup=max(5, workload.warmup // 20))
    results["same_model"] = same_model_check(servers, check_records, reference)
    busy = {}
    for server in servers:
        busy[server.name] = round(wait_for_quiet(server.pid), 3)
        server.results["memory_after_warmup"] = tree_memory(server.pid)
    results["machine_busy_before_timing"] = busy

    results["serving_code_at_timing"] = serving_code()
    log(f"timing: {workload.requests} one-row requests per server, interleaved")
    results["single_row"] = interleaved(servers, single, 1, count=workload.requests, warmup=0)
    log(f"timing: {workload.batch_requests} requests of {BATCH_ROWS} rows per server, interleaved")
    results["batch"] = interleaved(
        servers, batch, BATCH_ROWS, count=workload.batch_requests, warmup=0
    )
    results["concurrent"] = {}
    for server in servers:
        log(
            f"timing: {workload.clients} concurrent clients on {server.name} for "
            f"{workload.duration:.0f} s (+{workload.warmup_seconds:.0f} s warm-up)"
        )
        results["concurrent"][server.name] = concurrent(server, single[server.name], workload)
        server.results["memory_after_load"] = tree_memory(server.pid)
        server.results["libraries_after_load"] = libraries_mapped(server.pid)
        time.sleep(1.0)  # let the portal's log thread write before the next server's window
    names = {s.name: s for s in servers}
    if PORTAL in names and PORTAL_NOLOG in names:
        results["logging_cost"] = logging_cost(
            names[PORTAL], names[PORTAL_NOLOG], single[PORTAL], workload
        )
    results["memory"] = {
        s.name: {
            "after_warmup": s.results["memory_after_warmup"],
            "after_load": s.results["memory_after_load"],
            "libraries_mapped_after_load": s.results["libraries_after_load"],
        }
        for s in servers
    }
    results["ok_answers"] = {s.name: s.ok_answers for s in servers}
    return results


def logging_cost(
    logging: Server, silent: Server, bodies: list[bytes], workload: Workload
) -> dict[str, Any]:
    """The same portal with prediction logging and error counting on and off, under the same
    concurrent load in alternating windows (the order swapped every round, so that drift of
    the machine reaches both alike): the median requests per second of each, and their ratio."""
    on: list[float] = []
    off: list[float] = []
    for round_ in range(LOGGING_ROUNDS):
        order = [(logging, on), (silent, off)]
        for server, into in order if round_ % 2 == 0 else order[::-1]:
            log(f"timing: logging cost, round {round_ + 1}, {server.name}")
            into.append(concurrent(server, bodies, workload)["requests_per_second"])
            time.sleep(1.0)
    ratio_ = statistics.median(on) / statistics.median(off)
    return {"logging_on_rps": on, "logging_off_rps": off, "on_over_off": round(ratio_, 3)}


def run_inprocess(portal: Portal, slug: str, key: str, data: Data, repeat: int) -> dict[str, Any]:
    rows_file = portal.var_dir / "inprocess-rows.json"
    rows_file.write_text(
        json.dumps({"one": data.records(0, 1), "batch": data.records(0, BATCH_ROWS)})
    )
    log("in process: the portal's ServingApp without HTTP, stage by stage, and a profile")
    result = subprocess.run(
        [
            str(VENV_BIN / "python"),
            str(REPO / "bench" / "serving_inprocess.py"),
            slug,
            ENVIRONMENT,
            key,
            str(rows_file),
            str(repeat),
        ],
        cwd=REPO,
        env=portal_env(portal.var_dir, portal.password),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"serving_inprocess.py failed:\n{result.stderr[-3000:]}")
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def bench(args: argparse.Namespace, workload: Workload, results: dict[str, Any]) -> None:
    data = synthetic_data()
    model = fit_model(data)
    artifact = skops.io.dumps(model)
    reference = model.predict_proba(
        pd.DataFrame(data.x_holdout[:CHECK_ROWS], columns=list(FEATURES))
    )
    results["model"] = {
        "pipeline": "StandardScaler + LogisticRegression",
        "params": MODEL_PARAMS,
        "features": list(FEATURES),
        "train_rows": TRAIN_ROWS,
        "holdout_rows": HOLDOUT_ROWS,
        "seed": SEED,
        "artifact_bytes": len(artifact),
        "portal_side": fitted_parameters(model),
    }
    log("floor: the model's own predict_proba in this process")
    results["model_floor"] = model_floor(model, data, workload.inprocess_repeat * 3)
    mlflow = None if args.skip_mlflow else ensure_mlflow_venv()
    with Processes() as processes, scratch_dir("bench-serving-", keep=args.keep_temp) as tmp:
        if mlflow is not None:
            trained = train_mlflow_model(tmp / "mlflow", data, data.x_holdout[:CHECK_ROWS])
            results["mlflow_model"] = {
                "versions": trained["versions"],
                "timings": trained["timings"],
                "files": trained["model_dir_files"],
                "fitted": trained["fitted"],
                "max_abs_parameter_difference": max(
                    float(np.max(np.abs(np.asarray(trained["fitted"][k]) - np.asarray(v))))
                    for k, v in fitted_parameters(model).items()
                ),
                "in_process_probe_max_abs_difference": float(
                    np.max(np.abs(np.asarray(trained["probe_probabilities"]) - reference))
                ),
            }
        password = "bench-" + os.urandom(9).hex()
        portal = start_portal(processes, tmp / "portal", password=password)
        deployed = deploy_through_api(processes, portal, artifact, data.holdout_csv())
        results["deployment"] = {k: v for k, v in deployed.items() if k != "key"}
        slug, key = deployed["slug"], deployed["key"]
        servers = [floor_server(processes, tmp / "floor")]
        servers.append(
            portal_server(
                portal,
                slug,
                key,
                PORTAL,
                "portal: gunicorn mlops_portal.wsgi, 2 workers x 4 threads",
            )
        )
        tiers = [
            serving_tier(processes, portal, slug, key),
            serving_tier(
                processes, portal, slug, key, TIER_SKLEARN, {"PORTAL_SERVING_ONNX": "false"}
            ),
        ]
        results["serving_tiers"] = {}
        for tier in tiers:
            servers.append(tier.server)
            results["serving_tiers"][tier.server.name] = {
                "command": tier.command,
                "ready_seconds": tier.ready_seconds,
                "status_at_start": tier_status(tier),
                "libraries_mapped_at_start": libraries_mapped(tier.server.pid),
            }
        silent = serve_portal(
            processes,
            portal.var_dir,
            password=password,
            name="portal gunicorn (logging off)",
            extra_env={"PORTAL_PREDICTION_LOGGING": "false"},
        )
        servers.append(
            portal_server(
                silent,
                slug,
                key,
                PORTAL_NOLOG,
                "portal: gunicorn mlops_portal.wsgi, 2 workers x 4 threads, prediction "
                "logging off (PORTAL_PREDICTION_LOGGING=false), for the cost of logging",
            )
        )
        if workload.portal_one_worker:
            one = serve_portal(
                processes,
                portal.var_dir,
                password=password,
                workers=1,
                threads=4,
                name="portal gunicorn (1 worker)",
            )
            servers.append(
                portal_server(
                    one,
                    slug,
                    key,
                    PORTAL_ONE,
                    "portal: gunicorn mlops_portal.wsgi, 1 worker x 4 threads",
                )
            )
        with contextlib.ExitStack() as stack:
            if mlflow is not None:
                servers.append(
                    stack.enter_context(
                        mlflow_serve(processes, mlflow, tmp / "mlflow", tmp / "mlflow" / "model")
                    )
                )
            results["servers"] = {s.name: s.description for s in servers}
            results["runs"] = run_servers(servers, data, workload, reference)
        for tier in tiers:
            results["serving_tiers"][tier.server.name]["status_after_load"] = tier_status(tier)
        # Every server that logs predictions writes to the same deployment's log.
        portal_answers = sum(
            s.ok_answers for s in servers if s.name in (PORTAL, PORTAL_ONE, *TIERS)
        )
        log("portal: counting the prediction logs written")
        results["prediction_logs"] = prediction_logs(
            portal.var_dir, int(deployed["deployment"]["id"]), portal_answers
        )
        results["prediction_logs"]["rows_sent_expected_note"] = (
            "records = one per 200 answer (warm-up and checks included)"
        )
        for tier in tiers:  # their logs are counted; the steps below do not use them
            processes.stop(tier.process)
        if not args.skip_shadow:
            shadowing = shadow_through_api(processes, portal, slug, artifact, data.holdout_csv())
            results["shadow_deployment"] = shadowing["shadow"]
            alone = portal_server(
                portal,
                slug,
                shadowing["key"],
                PORTAL_ALONE,
                "the portal, version 1 alone (production)",
                environment=SHADOW_FREE,
            )
            shadowed = portal_server(
                portal, slug, key, PORTAL_SHADOWED, "the portal, version 1 with a shadow (staging)"
            )
            results["shadow_cost"] = challenger_cost(alone, shadowed, data, workload)
            ivan = api_session(portal_token(portal.base_url, MODEL_OPS, portal.password))
            response = ivan.post(
                f"{portal.base_url}/api/v1/deployments/challenger/stop/",
                json={"model": slug, "environment": ENVIRONMENT, "reason": "Timed."},
                timeout=60,
            )
            expect(response, 200, "stop the shadow (the in-process run times version 1 alone)")
        processes.stop_all()  # the in-process run gets the machine to itself
        results["portal_in_process"] = run_inprocess(
            portal, slug, key, data, workload.inprocess_repeat
        )


# --- Report -------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def goal_line(label: str, value: float | None, need: float) -> str:
    if value is None:
        return f"  {label}: n/a"
    verdict = "MET" if value >= need else "NOT MET"
    return f"  {label}: {value:.2f}x (goal >= {need:g}x) -> {verdict}"


def goals(runs: dict[str, Any], portal: str = PORTAL) -> dict[str, float | None]:
    single, concurrent_ = runs["single_row"], runs["concurrent"]
    if MLFLOW not in single or portal not in single:
        return {"p50_ratio": None, "throughput_ratio": None}
    return {
        "p50_ratio": ratio(single[MLFLOW]["stats"]["p50"], single[portal]["stats"]["p50"]),
        "throughput_ratio": ratio(
            concurrent_[portal]["requests_per_second"], concurrent_[MLFLOW]["requests_per_second"]
        ),
    }


def tier_goals(runs: dict[str, Any], tier: str = TIER) -> dict[str, dict[str, Any]]:
    """The serving tier's three goals, each with its measured value and PASS/MISS (None when a
    server it needs was skipped)."""
    single, concurrent_ = runs["single_row"], runs["concurrent"]
    if tier not in single:
        return {}

    def p50(name: str) -> float | None:
        return single[name]["stats"]["p50"] if name in single else None

    def rps(name: str) -> float | None:
        return concurrent_[name]["requests_per_second"] if name in concurrent_ else None

    tier_p50, floor_p50 = p50(tier), p50(FLOOR)
    above = None if tier_p50 is None or floor_p50 is None else tier_p50 - floor_p50
    measured = {
        "p50_ratio": (ratio(p50(MLFLOW), tier_p50), TIER_P50_GOAL, "at_least"),
        "p50_above_floor_ms": (above, TIER_FLOOR_GOAL_MS, "at_most"),
        "throughput_ratio": (ratio(rps(tier), rps(MLFLOW)), TIER_THROUGHPUT_GOAL, "at_least"),
    }
    result: dict[str, dict[str, Any]] = {
        name: {
            "value": None if value is None else round(value, 3),
            "goal": goal,
            "goal_is": way,
            "passed": None
            if value is None
            else (value >= goal if way == "at_least" else value <= goal),
        }
        for name, (value, goal, way) in measured.items()
    }

    def cpu_per_request(name: str) -> float | None:
        if name not in concurrent_:
            return None
        entry = concurrent_[name]
        return round(entry["server_cpu_ms_per_request"] + entry["client_cpu_ms_per_request"], 3)

    # The ceiling of the ratio in this run: the 8 clients run on the same cores as the server
    # (and whatever else runs on the machine), so the HTTP floor, a server doing nothing, shows
    # the most any server could reach against MLflow here.
    for label, value in (
        ("floor_over_mlflow", ratio(rps(FLOOR), rps(MLFLOW))),
        ("tier_over_floor", ratio(rps(tier), rps(FLOOR))),
    ):
        result["throughput_ratio"][label] = None if value is None else round(value, 3)
    result["throughput_ratio"]["cpu_ms_per_request_server_plus_clients"] = {
        name: cpu_per_request(name) for name in (tier, MLFLOW, FLOOR)
    }
    return result


def verdict(passed: bool | None) -> str:
    return "n/a" if passed is None else ("PASS" if passed else "MISS")


def render_tier(results: dict[str, Any]) -> list[str]:
    """The serving tier next to the portal's gunicorn, MLflow and the floor, and its goals."""
    runs = results["runs"]
    tiers = results["serving_tiers"]
    work = results["workload"]
    out = ["", "== The serving tier on its own, next to the portal, MLflow and the HTTP floor =="]
    for name, tier in tiers.items():
        out.append(
            f"  {name}: {' '.join(tier['command'])}; first answer {tier['ready_seconds']:.1f} s "
            "after start"
        )
        for moment in ("status_at_start", "status_after_load"):
            held = tier.get(moment) or {}
            described = "; ".join(
                f"pid {pid}: {', '.join(entry['models']) or 'nothing'} "
                f"(log: {entry['prediction_log']['written']} written)"
                for pid, entry in held.items()
            )
            when = moment.removeprefix("status_").replace("_", " ")
            out.append(f"    /serve/_status {when}: {described}")
    names = [n for n in (*TIERS, PORTAL, MLFLOW, FLOOR) if n in runs["single_row"]]
    floor_p50 = runs["single_row"].get(FLOOR, {}).get("stats", {}).get("p50")
    rows = []
    for name in names:
        single = runs["single_row"][name]
        c = runs["concurrent"][name]
        memory = runs["memory"][name]["after_load"]
        rows.append(
            [
                name,
                fmt(single["stats"]["p50"]),
                fmt(single["stats"]["p95"]),
                fmt(
                    None
                    if floor_p50 is None or name == FLOOR
                    else single["stats"]["p50"] - floor_p50
                ),
                fmt(single["server_cpu_ms_per_request"]),
                fmt(c["requests_per_second"], 0),
                fmt(c["server_cpu_ms_per_request"]),
                str(memory["processes"]),
                fmt(memory["rss"], 1),
                fmt(memory["pss"], 1),
            ]
        )
    out.append(
        format_table(
            [
                "server",
                "1-row p50 ms",
                "p95 ms",
                "p50-floor",
                "CPU ms/req",
                f"req/s {work['clients']} clients",
                "CPU ms/req",
                "processes",
                "RSS MiB",
                "PSS MiB",
            ],
            rows,
        )
    )
    out.append(
        "  memory per process after the load (MiB, from /proc; the first row of each server is "
        "its parent process):"
    )
    rows = []
    for name in names:
        memory = runs["memory"][name]
        libraries = memory.get("libraries_mapped_after_load", {})
        for process in memory["after_load"]["by_process"]:
            rows.append(
                [
                    name,
                    str(process["pid"]),
                    Path(process["command"].split(" ")[1]).name
                    if " " in process["command"]
                    else process["command"],
                    fmt(process["rss"], 1),
                    fmt(process["pss"], 1),
                    fmt(process["uss"], 1),
                    ",".join(libraries.get(str(process["pid"]), [])) or "-",
                ]
            )
    out.append(
        format_table(["  server", "pid", "program", "RSS", "PSS", "USS", "libraries mapped"], rows)
    )

    labels = {
        "p50_ratio": ("MLflow one-row p50 / tier one-row p50", "x", ">="),
        "p50_above_floor_ms": ("tier one-row p50 - HTTP floor p50", " ms", "<="),
        "throughput_ratio": (f"tier req/s / MLflow req/s at {work['clients']} clients", "x", ">="),
    }
    for name in tiers:
        measured = results.get("goals_measured", {}).get(name) or tier_goals(runs, name)
        heading = (
            "The serving tier's goals (issue 17; same run)"
            if name == TIER
            else f"For comparison, the same goals for {name} (ONNX fast path off)"
        )
        out += ["", f"== {heading} =="]
        for key, (label, unit, sign) in labels.items():
            entry = measured.get(key)
            if not entry:
                continue
            value = "n/a" if entry["value"] is None else f"{entry['value']:.2f}{unit}"
            out.append(
                f"  {label}: {value} (goal {sign} {entry['goal']:g}{unit}) -> "
                f"{verdict(entry['passed'])}"
            )
        throughput = measured.get("throughput_ratio") or {}
        if throughput.get("floor_over_mlflow") is not None:
            cpu = throughput["cpu_ms_per_request_server_plus_clients"]
            out.append(
                f"    ceiling in this run: the HTTP floor (a server doing nothing) reached "
                f"{throughput['floor_over_mlflow']:.2f}x MLflow's req/s, and {name} "
                f"{throughput['tier_over_floor']:.0%} of the floor's; the {work['clients']} "
                f"clients share the {results['machine']['cpus']} cores with the server (CPU per "
                f"request, server + clients: {name} {cpu[name]:.2f} ms, floor "
                f"{cpu[FLOOR] or 0:.2f} ms, MLflow {cpu[MLFLOW]:.2f} ms)"
            )
    return out


def render(results: dict[str, Any]) -> str:
    out: list[str] = []
    work = results["workload"]
    runs = results["runs"]
    names = list(results["servers"])
    machine = results["machine"]
    out.append(
        f"Serving benchmark {results['started_utc']}  |  {work['requests']} one-row and "
        f"{work['batch_requests']} {BATCH_ROWS}-row requests per server (sequential, servers "
        f"interleaved), {work['clients']} concurrent clients for {work['duration']:.0f} s each"
    )
    out.append(
        f"machine: {machine['cpus']} CPUs, load average at start {machine['load_average']}, at "
        f"end {machine.get('load_average_at_end')}, Python {machine['python']}, requests "
        f"{machine['requests']}"
    )
    code = results["code"]
    out.append(f"code: commit {code['commit']} with {code['uncommitted_paths']} uncommitted paths")
    fingerprints = [
        results["serving_code_at_start"],
        results["runs"].get("serving_code_at_timing"),
        results.get("serving_code_at_end"),
    ]
    out.append(
        "serving code measured (sha256/12): "
        + ", ".join(f"{Path(k).name} {v}" for k, v in fingerprints[0].items())
    )
    if any(f != fingerprints[0] for f in fingerprints[1:]):
        out.append(
            f"  WARNING: the serving code CHANGED DURING THE RUN (at timing start: "
            f"{fingerprints[1]}, at the end: {fingerprints[2]}); servers started before the change "
            "run the older code"
        )
    for name, description in results["servers"].items():
        out.append(f"  {name:<11} {description}")
    model = results["model"]
    out.append(
        f"model: {model['pipeline']} {model['params']}, {len(model['features'])} features, "
        f"{model['train_rows']} training rows (seed {model['seed']}), .skops "
        f"{model['artifact_bytes']} bytes"
    )
    mlflow_model = results.get("mlflow_model")
    if mlflow_model:
        versions = mlflow_model["versions"]
        out.append(
            f"versions: portal venv scikit-learn {results['portal_versions']['scikit-learn']}, "
            f"numpy {results['portal_versions']['numpy']}, pandas "
            f"{results['portal_versions']['pandas']}; MLflow venv mlflow {versions['mlflow']}, "
            f"scikit-learn {versions['scikit-learn']}, numpy {versions['numpy']}, pandas "
            f"{versions['pandas']}"
        )
    deployment = results["deployment"]
    out.append(
        f"deployment: {deployment['slug']} v1 live in {ENVIRONMENT} through the API "
        f"(seconds after upload: {deployment['seconds_from_upload']}); "
        f"{deployment['retired_seed_jobs']} seed jobs retired before the worker started"
    )
    out.append(
        "client: requests.Session (keep-alive, trust_env off), bodies encoded beforehand; latency "
        "= send to whole body read"
    )

    out += ["", "== Same model in every server =="]
    check = runs["same_model"]
    if mlflow_model:
        out.append(
            f"  fitted parameters, portal copy vs MLflow copy: max |difference| "
            f"{mlflow_model['max_abs_parameter_difference']:.3g}; MLflow pyfunc in its own "
            f"process vs portal-side model on {check['rows']} rows: max |difference| "
            f"{mlflow_model['in_process_probe_max_abs_difference']:.3g}"
        )
    for name in names:
        if name not in check:
            continue
        entry = check[name]
        extra = ""
        if "predictions_equal_argmax" in entry:
            extra = f", predictions = classes[argmax]: {entry['predictions_equal_argmax']}"
        out.append(
            f"  {name:<11} {check['rows']} rows over HTTP vs the model in this process: max "
            f"|probability difference| {entry['max_abs_difference']:.3g}, same class on "
            f"{entry['same_class_rows']}/{check['rows']} rows{extra}"
        )
    answered = {n: check[n]["max_abs_difference"] for n in names if n in check}
    same = all(v <= 1e-6 for v in answered.values()) and all(
        check[n]["same_class_rows"] == check["rows"] for n in answered
    )
    out.append(
        f"  -> {'SAME MODEL' if same else 'DIFFERENT ANSWERS'} (portal rounds probabilities to "
        "6 decimals; tolerance 1e-6)"
    )

    floor_p50 = runs["single_row"].get(FLOOR, {}).get("stats", {}).get("p50")
    out += [
        "",
        f"== One row per request, sequential ({work['requests']} per server, interleaved) ==",
    ]
    rows = []
    for name in names:
        entry = runs["single_row"][name]
        s = entry["stats"]
        above = None if floor_p50 is None or name == FLOOR else s["p50"] - floor_p50
        rows.append(
            [
                name,
                fmt(s["p50"]),
                fmt(s["p95"]),
                fmt(s["p99"]),
                fmt(s["mean"]),
                fmt(s["max"]),
                fmt(s["per_second"], 0),
                fmt(above),
                fmt(entry["server_cpu_ms_per_request"]),
                f"{entry['connections']['connections']}/{entry['connections']['requests']}",
            ]
        )
    out.append(
        format_table(
            [
                "server",
                "p50 ms",
                "p95",
                "p99",
                "mean",
                "max",
                "req/s",
                "p50-floor",
                "CPU ms/req",
                "conns/reqs",
            ],
            rows,
        )
    )

    out += [
        "",
        f"== {BATCH_ROWS:,} rows per request, sequential ({work['batch_requests']} per server, "
        "interleaved) ==",
    ]
    rows = []
    for name in names:
        entry = runs["batch"][name]
        s = entry["stats"]
        rows.append(
            [
                name,
                fmt(s["p50"], 1),
                fmt(s["p99"], 1),
                fmt(entry["rows_per_second"], 0),
                fmt(entry["server_cpu_ms_per_request"], 1),
            ]
        )
    out.append(format_table(["server", "p50 ms", "p99 ms", "rows/s", "CPU ms/req"], rows))

    out += [
        "",
        f"== {work['clients']} concurrent clients ({work['client_mode']}), one row per request, "
        f"{work['duration']:.0f} s each after {work['warmup_seconds']:.0f} s warm-up, one server "
        "at a time ==",
    ]
    rows = []
    for name in names:
        c = runs["concurrent"][name]
        latency = c["latency"] or {}
        rows.append(
            [
                name,
                fmt(c["requests_per_second"], 1),
                str(c["errors"]),
                fmt(latency.get("p50")),
                fmt(latency.get("p99")),
                fmt(c["server_cpu_ms_per_request"]),
                fmt(c["server_cores_busy"]),
                fmt(c["client_cpu_ms_per_request"]),
                fmt(c["client_cores_busy"]),
                f"{c['machine_busy']:.0%}",
            ]
        )
    out.append(
        format_table(
            [
                "server",
                "req/s",
                "errors",
                "p50 ms",
                "p99 ms",
                "srv CPU ms/req",
                "srv cores",
                "client CPU ms/req",
                "client cores",
                "machine busy",
            ],
            rows,
        )
    )
    for name in names:
        if runs["concurrent"][name]["first_error"]:
            out.append(f"  {name} first error: {runs['concurrent'][name]['first_error']}")

    out += ["", "== Memory of each server's process tree (MiB, from /proc) =="]
    rows = []
    for name in names:
        after = runs["memory"][name]["after_load"]
        warm = runs["memory"][name]["after_warmup"]
        rows.append(
            [
                name,
                str(after["processes"]),
                fmt(after["rss"], 1),
                fmt(after["pss"], 1),
                fmt(after["uss"], 1),
                fmt(warm["rss"], 1),
            ]
        )
    out.append(
        format_table(
            ["server", "processes", "RSS", "PSS", "USS", "RSS after warm-up"],
            rows,
        )
    )
    out.append(
        "  (RSS counts shared pages once per process; PSS shares them out; USS = private pages)"
    )

    out += ["", "== Floors =="]
    floor = results["model_floor"]
    out.append(
        f"  model in process (portal venv): predict_proba one row as DataFrame "
        f"{floor['predict_proba_dataframe_ms']:.3f} ms, as numpy array "
        f"{floor['predict_proba_numpy_ms']:.3f} ms; building a one-row DataFrame from a dict "
        f"{floor['dataframe_build_ms']:.3f} ms"
    )
    if mlflow_model:
        timings = mlflow_model["timings"]
        out.append(
            f"  model in process (MLflow venv): pyfunc predict one row "
            f"{timings['pyfunc_predict_one_row_ms']:.3f} ms (schema check + predict_proba), "
            f"bare predict_proba on a one-row DataFrame "
            f"{timings['sklearn_predict_proba_one_row_ms']:.3f} ms"
        )
    if floor_p50 is not None:
        out.append(
            f"  HTTP round trip on loopback, same client, trivial server ({FLOOR}): p50 "
            f"{floor_p50:.3f} ms, {runs['concurrent'][FLOOR]['requests_per_second']:.0f} req/s "
            f"at {work['clients']} clients"
        )
    inproc = results.get("portal_in_process")
    if inproc:
        one = inproc["sizes"]["one_row"]["stages"]
        whole = "whole ServingApp call (no HTTP)"
        batch_ms = inproc["sizes"]["batch"]["stages"][whole]["median_ms"]
        out.append(
            f"  portal ServingApp in one process, no HTTP: one row {one[whole]['median_ms']:.3f} "
            f"ms, {BATCH_ROWS} rows {batch_ms:.1f} ms (median)"
        )

    logs = results["prediction_logs"]
    out += ["", "== Prediction logs =="]
    out.append(
        f"  deployments_predictionlog: {logs['records']} records ({logs['rows']} rows) for "
        f"{logs['expected_records']} predictions the portal answered with 200 (warm-up, checks "
        f"and every portal and serving-tier server included) -> "
        f"{'ALL WRITTEN' if logs['records'] == logs['expected_records'] else 'MISMATCH'}"
    )

    out += ["", "== Goals (portal as in production: 2 workers x 4 threads) =="]
    main_goals = goals(runs)
    out.append(goal_line("MLflow p50 / portal p50, one row", main_goals["p50_ratio"], P50_GOAL))
    out.append(
        goal_line(
            f"portal req/s / MLflow req/s, {work['clients']} clients",
            main_goals["throughput_ratio"],
            THROUGHPUT_GOAL,
        )
    )
    if "logging_cost" in runs:
        cost = runs["logging_cost"]
        out.append(
            goal_line(
                f"portal req/s with logging / without, {work['clients']} clients (median of "
                f"{LOGGING_ROUNDS} alternating windows)",
                cost["on_over_off"],
                LOGGING_COST_GOAL,
            )
        )
    if "shadow_cost" in results:
        shadow = results["shadow_cost"]
        p50 = {n: shadow["single_row"][n]["stats"]["p50"] for n in (PORTAL_ALONE, PORTAL_SHADOWED)}
        verdict = "MET" if shadow["p50_shadow_over_alone"] <= SHADOW_P50_GOAL else "NOT MET"
        out.append(
            f"  one-row p50 with a shadow / alone: {p50[PORTAL_SHADOWED]:.2f} / "
            f"{p50[PORTAL_ALONE]:.2f} ms = {shadow['p50_shadow_over_alone']:.2f}x "
            f"(goal <= {SHADOW_P50_GOAL:g}x) -> {verdict}"
        )
        out.append(
            f"  req/s with a shadow / alone, {work['clients']} clients (median of "
            f"{LOGGING_ROUNDS} alternating windows): {shadow['rps_shadow_over_alone']:.2f}x "
            f"({statistics.median(shadow['with_shadow_rps']):,.0f} / "
            f"{statistics.median(shadow['alone_rps']):,.0f}; the shadow scores every request "
            "too, on the same 2 cores)"
        )
    if PORTAL_ONE in runs["single_row"]:
        one_goals = goals(runs, PORTAL_ONE)
        out.append(
            "  for comparison, the portal with 1 worker x 4 threads (MLflow's process count):"
        )
        out.append(goal_line("  MLflow p50 / portal-1w p50", one_goals["p50_ratio"], P50_GOAL))
        out.append(
            goal_line(
                "  portal-1w req/s / MLflow req/s", one_goals["throughput_ratio"], THROUGHPUT_GOAL
            )
        )
    if floor_p50 is not None and MLFLOW in runs["single_row"]:
        portal_above = runs["single_row"][PORTAL]["stats"]["p50"] - floor_p50
        mlflow_above = runs["single_row"][MLFLOW]["stats"]["p50"] - floor_p50
        out.append(
            f"  above the HTTP floor (p50): portal {portal_above:.2f} ms, MLflow "
            f"{mlflow_above:.2f} ms -> {ratio(mlflow_above, portal_above) or 0:.2f}x"
        )

    if "serving_tiers" in results:
        out += render_tier(results)

    if inproc:
        out += ["", "== Where the portal's time goes (ServingApp in one process, no HTTP) =="]
        for size in ("one_row", "batch"):
            entry = inproc["sizes"][size]
            out.append(
                f"  {entry['rows']} row(s), body {entry['body_bytes']} bytes; log write "
                f"{entry['log_flush']['ms_per_record']:.3f} ms per record (background thread)"
            )
            stage_rows = [
                [stage, fmt(value["median_ms"], 3), fmt(value["p99_ms"], 3)]
                for stage, value in entry["stages"].items()
            ]
            out.append(format_table(["  stage", "median ms", "p99 ms"], stage_rows))
            other_rows = [
                [label, fmt(value["median_ms"], 3), fmt(value["p99_ms"], 3)]
                for label, value in entry.get("alternatives", {}).items()
            ]
            if other_rows:
                out.append(
                    format_table(
                        [
                            "  model work done other ways (comparison)",
                            "median ms",
                            "p99 ms",
                        ],
                        other_rows,
                    )
                )
        profile = inproc["sizes"]["one_row"]["profile"]
        out.append(
            f"  cProfile, one-row requests ({profile['requests']}): "
            f"{profile['function_calls_per_request']:.0f} Python function calls per request; "
            "self time per request by library (ms, profiled, so inflated):"
        )
        libraries = list(profile["self_ms_by_library"].items())[:10]
        out.append("    " + ", ".join(f"{k} {v:.3f}" for k, v in libraries))
        out.append("  top cumulative (ms per request):")
        for row in profile["top_cumulative"][:18]:
            out.append(
                f"    {row['cumulative_ms_per_request']:8.3f}  {row['calls_per_request']:5.1f}x  "
                f"{row['function']}  [{row['library']}]"
            )
    return "\n".join(out)


# --- Main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument(
        "--requests", type=int, default=None, help="one-row requests per server (2000; quick 200)"
    )
    parser.add_argument(
        "--batch-requests", type=int, default=None, help=f"{BATCH_ROWS}-row requests (100; 10)"
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds of concurrent load (15; 4)"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument(
        "--client",
        choices=["processes", "threads"],
        default="processes",
        help="concurrent clients as processes (one session each) or threads of this process",
    )
    parser.add_argument("--skip-mlflow", action="store_true", help="benchmark the portal only")
    parser.add_argument(
        "--skip-one-worker", action="store_true", help="skip the portal with --workers 1"
    )
    parser.add_argument(
        "--skip-shadow",
        action="store_true",
        help="skip the live version with and without a shadow challenger",
    )
    parser.add_argument("--keep-temp", action="store_true", help="keep the data folders")
    args = parser.parse_args(argv)
    defaults = (200, 10, 4.0) if args.quick else (2000, 100, 15.0)
    args.requests = args.requests if args.requests is not None else defaults[0]
    args.batch_requests = args.batch_requests if args.batch_requests is not None else defaults[1]
    args.duration = args.duration if args.duration is not None else defaults[2]
    if args.requests < 1 or args.batch_requests < 1 or args.duration <= 0 or args.clients < 1:
        parser.error("--requests, --batch-requests, --duration and --clients must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    workload = Workload(
        requests=args.requests,
        batch_requests=args.batch_requests,
        warmup=50 if args.quick else 200,
        clients=args.clients,
        duration=args.duration,
        warmup_seconds=2.0 if args.quick else 3.0,
        client_mode=args.client,
        inprocess_repeat=300 if args.quick else 2000,
        portal_one_worker=not args.skip_one_worker,
    )
    stamp = utc_stamp()
    import sklearn

    results: dict[str, Any] = {
        "benchmark": "serving",
        "started_utc": stamp,
        "machine": machine_info(),
        "code": git_state(),
        "workload": asdict(workload),
        "mlflow_version": None if args.skip_mlflow else MLFLOW_VERSION,
        "portal_versions": {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "goals": {
            "p50_ratio": P50_GOAL,
            "throughput_ratio": THROUGHPUT_GOAL,
            TIER: {
                "p50_ratio_at_least": TIER_P50_GOAL,
                "p50_above_floor_ms_at_most": TIER_FLOOR_GOAL_MS,
                "throughput_ratio_at_least": TIER_THROUGHPUT_GOAL,
            },
        },
        "serving_code_at_start": serving_code(),
    }
    try:
        bench(args, workload, results)
    except KeyboardInterrupt:
        log("interrupted: servers stopped, temporary folders removed")
        return 130
    except Exception:
        traceback.print_exc()
        log("failed: servers stopped, temporary folders removed")
        return 1
    results["machine"]["load_average_at_end"] = machine_info()["load_average"]
    results["serving_code_at_end"] = serving_code()
    results["goals_measured"] = {
        PORTAL: goals(results["runs"]),
        PORTAL_ONE: goals(results["runs"], PORTAL_ONE)
        if PORTAL_ONE in results["runs"]["single_row"]
        else None,
        **{tier: tier_goals(results["runs"], tier) for tier in TIERS},
    }
    print(render(results))
    path = write_results("serving", results, stamp)
    print(f"\nJSON: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
