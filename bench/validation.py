"""Validation benchmark: the portal's validation of a version against the same work done bare.

Run it from the repository root (about 2 minutes on 2 cores with the defaults)::

    .venv/bin/python bench/validation.py [--runs 3] [--broker redis://127.0.0.1:6379/5]
    .venv/bin/python bench/validation.py --runs 2 --rows 20000 --train-rows 5000   # quick check

The report goes to stdout, progress to stderr, and every figure to
``bench/results/validation-<UTC timestamp>.json``.

What it measures, in one run:

1. Data: a synthetic credit-default holdout (``--rows``, default 100,000 rows) of 20 numeric
   features, the target ``default`` and a 3-group ``segment`` column (fairness is measured
   across it); two models trained on training sets of their own (``--train-rows``, default
   20,000 rows, each also uploaded as that version's reference sample): a
   GradientBoostingClassifier (100 trees, depth 3) and a StandardScaler + LogisticRegression
   pipeline, both fitted on DataFrames (so ``feature_names_in_`` is recorded) and saved with
   ``skops.io.dump``; the data as CSV.
2. Portal: a fresh data folder (``PORTAL_VAR_DIR``), the embedded default (SQLite + kombu's
   filesystem broker) or Redis with ``--broker``; migrate, seed_demo; the seed's queued
   validation jobs are marked failed before the worker starts (their messages are then ignored
   by the worker, as for any job that is not queued); one real Celery worker (concurrency 1).
   This process configures Django for the same folder and uploads versions as ``alice`` through
   ``apps.registry.services.upload_version`` (not timed), which queues the validation job when
   its transaction commits. Timed: from ``Job.created_at`` (set inside the upload's transaction,
   just before it commits and dispatches the task) to the moment this process sees the job's
   ``ValidationReport`` row, polling the database every ``--poll`` seconds (20 ms, one
   precompiled query per poll). The breakdown: queue wait (``Job.created_at`` to
   ``started_at``), pre-sandbox (to the start of ``bwrap`` running ``engine/child.py``, read from
   /proc), sandbox (to its exit, seen by a thread blocked on a pidfd), storing (to the report
   row); inside the sandbox, the child's stages dated by the progress it reports (the worker
   stamps ``Job.heartbeat_at`` with each); the report's ``timings``, ``duration_ms`` and
   ``peak_memory_mb``; CPU seconds of the sandboxed Python and of the worker's pool process.
3. Bare: per model, a fresh ``.venv/bin/python -I -B bench/validation_bare.py`` with an empty
   environment (as the worker starts the child) doing what the sandboxed child computes through
   the same engine functions, with no sandbox, broker, worker or database; timed from launch to
   exit, plus build() alone and peak RSS measured inside it.

Bare and portal runs alternate (which one goes first flips each round) so that other load on the
machine reaches both sides alike. A warm-up round (``--warmup``, default 1) runs first and is
reported apart: it pays the worker's once-per-process costs (the sandbox probe) and fills caches.

Goal (product owner): per model, the portal's median enqueue-to-report time is at most
1.5 x the bare process's median time + 1 s of fixed overhead (sandbox start included). Peak
memory of the sandboxed child and of the bare process is reported beside it.

The worker is stopped by its process id (SIGTERM; SIGKILL to its process group if anything is
left 30 s later) and the temporary folder is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import skops.io

# Run as a script, bench/ is first on sys.path: its helpers import as a top-level module.
from common import (
    REPO,
    VENV_BIN,
    Processes,
    exit_on_sigterm,
    format_table,
    git_state,
    log,
    machine_info,
    percentile,
    portal_env,
    run_checked,
    tail,
    utc_stamp,
    write_results,
)
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

BARE_SCRIPT = REPO / "bench" / "validation_bare.py"
ENGINE_PARENT = REPO / "apps" / "validation"  # the folder holding the engine package

RATIO_GOAL = 1.5
FIXED_OVERHEAD_S = 1.0

TARGET = "default"
SENSITIVE = "segment"
SEGMENTS = ("retail", "small_business", "private_banking")
FEATURES = (
    "age",
    "annual_income",
    "loan_amount",
    "credit_score",
    "debt_to_income",
    "years_employed",
    "open_accounts",
    "late_payments_12m",
    "credit_utilisation",
    "months_since_delinquency",
    "inquiries_6m",
    "savings_balance",
    "monthly_expenses",
    "customer_tenure_months",
    "dependants",
    "property_value",
    "mortgage_balance",
    "card_limit_total",
    "avg_monthly_spend",
    "overdraft_days_90d",
)
PORTAL_USER = "alice"  # data scientist in team retail-credit
RISK_OWNER = "rita"
TEAM = "retail-credit"
WORKER_QUEUES = "default,validation,deployment,monitoring"


# --- Data and models ----------------------------------------------------------------------------


def synthetic_applications(rows: int, seed: int) -> pd.DataFrame:
    """Credit applications whose default risk follows plausible, partly non-linear drivers.

    The non-linear terms (a utilisation threshold, a savings-debt interaction) give the boosted
    trees something the logistic regression cannot fit, so the two models score differently.
    """
    rng = np.random.default_rng(seed)
    n = rows
    segment = rng.choice(np.array(SEGMENTS), size=n, p=[0.6, 0.3, 0.1])
    age = rng.integers(21, 76, n)
    income = np.round(rng.lognormal(10.6, 0.5, n), -2)
    loan = np.round(rng.uniform(1_000, 60_000, n), -2)
    utilisation = np.round(rng.beta(2, 5, n), 3)
    card_limit = np.round(income * rng.uniform(0.05, 0.4, n), -2)
    property_value = np.round(rng.lognormal(12.4, 0.4, n), -3)
    frame = pd.DataFrame(
        {
            "age": age,
            "annual_income": income,
            "loan_amount": loan,
            "credit_score": np.clip(rng.normal(680, 70, n), 300, 850).round(),
            "debt_to_income": np.round(loan / income + rng.uniform(0, 0.4, n), 3),
            "years_employed": np.minimum(rng.integers(0, 40, n), age - 18),
            "open_accounts": rng.poisson(4, n),
            "late_payments_12m": rng.poisson(0.4, n),
            "credit_utilisation": utilisation,
            "months_since_delinquency": rng.integers(0, 121, n),
            "inquiries_6m": rng.poisson(1.2, n),
            "savings_balance": np.round(rng.lognormal(8, 1.2, n), 2),
            "monthly_expenses": np.round(income / 12 * rng.uniform(0.3, 0.9, n), 2),
            "customer_tenure_months": rng.integers(1, 301, n),
            "dependants": rng.poisson(1.1, n),
            "property_value": property_value,
            "mortgage_balance": np.round(property_value * rng.uniform(0, 0.9, n), -2),
            "card_limit_total": card_limit,
            "avg_monthly_spend": np.round(card_limit * utilisation * rng.uniform(0.5, 1.2, n), 2),
            "overdraft_days_90d": rng.poisson(1.5, n),
        }
    )
    segment_offset = np.select(
        [segment == "small_business", segment == "private_banking"], [0.12, -0.15], 0.0
    )
    logit = (
        -2.4
        + 2.0 * (frame["debt_to_income"] - 0.6)
        - 0.011 * (frame["credit_score"] - 680)
        + 0.5 * frame["late_payments_12m"]
        + 1.4 * (frame["credit_utilisation"] > 0.55)
        + 0.15 * frame["inquiries_6m"]
        - 0.02 * frame["years_employed"]
        + 0.08 * frame["overdraft_days_90d"]
        - 0.12 * np.log1p(frame["savings_balance"]) * (frame["debt_to_income"] > 0.8)
        + segment_offset
        + rng.normal(0, 0.5, n)
    )
    frame[SENSITIVE] = segment
    frame[TARGET] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@dataclass(frozen=True)
class ModelFiles:
    key: str
    label: str
    artifact: Path
    reference: Path


@dataclass(frozen=True)
class Dataset:
    holdout: Path
    models: list[ModelFiles]
    train_seconds: dict[str, float]


MODEL_FACTORIES: dict[str, tuple[str, Callable[[], Any]]] = {
    "gbc": (
        "GradientBoostingClassifier(100, depth 3)",
        lambda: GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
    ),
    "logreg": (
        "StandardScaler + LogisticRegression",
        lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    ),
}


def build_dataset(folder: Path, *, rows: int, train_rows: int) -> Dataset:
    folder.mkdir(parents=True, exist_ok=True)
    holdout_path = folder / "holdout.csv"
    synthetic_applications(rows, seed=3).to_csv(holdout_path, index=False)
    models, train_seconds = [], {}
    for seed, (key, (label, factory)) in enumerate(MODEL_FACTORIES.items(), start=1):
        # Each model its own training data; the same rows are its version's reference sample.
        train = synthetic_applications(train_rows, seed=seed)
        started = time.perf_counter()
        estimator = factory().fit(train[list(FEATURES)], train[TARGET])
        train_seconds[key] = round(time.perf_counter() - started, 2)
        names = [str(c) for c in getattr(estimator, "feature_names_in_", [])]
        assert names == list(FEATURES), f"{key} did not record its feature names"
        artifact = folder / f"{key}.skops"
        skops.io.dump(estimator, artifact)
        reference = folder / f"reference-{key}.csv"
        train.to_csv(reference, index=False)
        models.append(ModelFiles(key, label, artifact, reference))
    return Dataset(holdout_path, models, train_seconds)


# --- The bare side ------------------------------------------------------------------------------


def bare_spec(
    folder: Path, model: ModelFiles, dataset: Dataset, engine_settings: dict[str, Any]
) -> Path:
    """What child.validate is given, as plain paths, with the portal's settings for the rest."""
    spec = {
        **engine_settings,
        "engine_parent": str(ENGINE_PARENT),
        "artifact": str(model.artifact),
        "holdout": str(dataset.holdout),
        "reference": str(model.reference),
        "target": TARGET,
        "sensitive": SENSITIVE,
        "check_rows": 1000,  # run_validation's check_rows
        "out_dir": str(folder / f"bare-out-{model.key}"),
    }
    path = folder / f"bare-{model.key}.json"
    path.write_text(json.dumps(spec))
    return path


def run_bare(spec: Path, *, timeout: float) -> dict[str, Any]:
    """One fresh process from launch to exit, with its CPU time from the kernel's accounting."""
    command = [str(VENV_BIN / "python"), "-I", "-B", str(BARE_SCRIPT), str(spec)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    launched = time.time()
    started = time.perf_counter()
    # An empty environment, as the worker gives the sandboxed child.
    done = subprocess.run(
        command, env={}, cwd=spec.parent, capture_output=True, timeout=timeout, check=False
    )
    wall = time.perf_counter() - started
    exited = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(
            f"bare process exited with {done.returncode}:\n{done.stderr.decode()[-3000:]}"
        )
    result = json.loads(done.stdout)
    if not result["predictions_match"]:
        raise RuntimeError("bare process: the canonical copy does not predict the same")
    report = result.pop("report")
    stages = result["stages_s"]
    return {
        "process_s": round(wall, 4),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 3),
        "in_process_s": result["in_process_s"],
        # Interpreter start-up and exit: what the process took beyond the script's own code.
        "interpreter_s": round(wall - result["in_process_s"], 4),
        "stages_s": stages,
        # The same cut as the sandboxed child's stages (see child_stages).
        "child_stages_s": {
            "startup_imports": round(
                result["script_started_epoch"] - launched + stages["import_engine"], 4
            ),
            "load_model": stages["load_model"],
            "read_data": stages["read_data"],
            "build": stages["build"],
            "canonical_exit": round(
                stages["canonical_copy"] + exited - result["script_finished_epoch"], 4
            ),
        },
        "build_s": stages["build"],
        "build_timings_s": report["timings"],
        "peak_memory_mb": result["peak_memory_mb"],
        "ru_maxrss_mb": result["ru_maxrss_mb"],
        "comparable": comparable(report),
        "roc_auc": report["metrics"].get("roc_auc"),
    }


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The parts of a report that do not depend on timing: equal on both sides, or a bug."""
    return {k: report.get(k) for k in ("metrics", "stability", "fairness", "importance")}


# --- The portal side ----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 on (index 0 = state), past the parenthesised name."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def _vm_hwm_mb(pid: int) -> float | None:
    """A process's own peak resident size so far (VmHWM), unlike ru_maxrss free of its parent's."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


class SandboxWatcher:
    """Times the sandboxed child from outside: bwrap running engine/child.py under the worker.

    Start: the outer bwrap process's start time from /proc (clock ticks since boot, 10 ms),
    turned into wall-clock time. End: the moment a thread blocked on a pidfd of that process sees
    it exit (the first poll that no longer finds it, if pidfds are unavailable). The sandbox probe
    the worker runs once per process (``python -c pass``) is not mistaken for it. Once found, a
    poll reads one /proc file, so that watching costs the machine next to nothing.
    """

    def __init__(self, worker_pid: int) -> None:
        self.worker_pid = worker_pid
        self.hz = os.sysconf("SC_CLK_TCK")
        self.reset()

    def reset(self) -> None:
        self.start: float | None = None
        self.python_start: float | None = None
        self.python_cpu_s: float | None = None
        self.python_hwm_mb: float | None = None
        self.exited: float | None = None
        self.gone: float | None = None
        self.outer_pid: int | None = None
        self.python_pid: int | None = None
        self._waiter: threading.Thread | None = None
        pools = _children(self.worker_pid)
        # With --concurrency 1 the worker has one pool process, which runs the task.
        self.pool_pid = pools[0] if len(pools) == 1 else None
        self._pool_cpu = self._cpu(self.pool_pid)
        self._main_cpu = self._cpu(self.worker_pid)
        self.pool_cpu_s: float | None = None
        self.main_cpu_s: float | None = None

    @property
    def end(self) -> float | None:
        return self.exited if self.exited is not None else self.gone

    def _cpu(self, pid: int | None) -> float | None:
        fields = None if pid is None else _stat_fields(pid)
        return None if fields is None else (int(fields[11]) + int(fields[12])) / self.hz

    def _started(self, fields: list[str]) -> float:
        boot_offset = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
        return boot_offset + int(fields[19]) / self.hz  # field 22: starttime

    def _find(self, root: int, *, bwrap: bool) -> int | None:
        """The first process below ``root`` (parents first) running child.py: bwrap or not."""
        todo = _children(root)
        while todo:
            pid = todo.pop(0)
            argv = _argv(pid)
            if argv and argv[-1].endswith("/child.py") and (Path(argv[0]).name == "bwrap") == bwrap:
                return pid
            todo += _children(pid)
        return None

    def _wait_for_exit(self, fd: int) -> None:
        try:
            select.select([fd], [], [])
            self.exited = time.time()
        finally:
            os.close(fd)

    def poll(self) -> None:
        if self.end is not None:
            return
        if self.outer_pid is None:
            pid = self._find(self.pool_pid or self.worker_pid, bwrap=True)
            fields = None if pid is None else _stat_fields(pid)
            if pid is None or fields is None:
                return
            self.outer_pid, self.start = pid, self._started(fields)
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                pass
            else:
                self._waiter = threading.Thread(target=self._wait_for_exit, args=(fd,), daemon=True)
                self._waiter.start()
        if self.python_pid is None:
            self.python_pid = self._find(self.outer_pid, bwrap=False)
            fields = None if self.python_pid is None else _stat_fields(self.python_pid)
            if fields is not None:
                self.python_start = self._started(fields)
        if self.python_pid is not None:
            # The last value seen before it exits: short of its total by at most one poll.
            cpu = self._cpu(self.python_pid)
            if cpu is not None:
                self.python_cpu_s = cpu
            hwm = _vm_hwm_mb(self.python_pid)
            if hwm is not None:
                self.python_hwm_mb = hwm
        if self._waiter is None and not Path(f"/proc/{self.outer_pid}").exists():
            self.gone = time.time()

    def settle(self) -> None:
        """Let the exit thread record its moment (the sandbox has exited by now)."""
        if self._waiter is not None:
            self._waiter.join(timeout=2)
        now = self._cpu(self.pool_pid)
        if now is not None and self._pool_cpu is not None:
            self.pool_cpu_s = round(now - self._pool_cpu, 3)
        now = self._cpu(self.worker_pid)
        if now is not None and self._main_cpu is not None:
            self.main_cpu_s = round(now - self._main_cpu, 3)


def _epoch(value: datetime | str) -> float:
    """A timestamp column read without the ORM: naive values are UTC (USE_TZ)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class PortalDriver:
    """The portal's own services, called in this process with Django set up for the bench's
    data folder (the same environment the worker gets)."""

    def __init__(self, env: dict[str, str]) -> None:
        for key in list(os.environ):
            if key not in env:
                del os.environ[key]
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "mlops_portal.settings"
        sys.path.insert(0, str(REPO))
        import django

        django.setup()

    def close(self) -> None:
        from django.db import connections

        connections.close_all()

    def retire_queued_jobs(self) -> int:
        """Mark every queued job failed, so that the worker ignores the seed's messages."""
        from django.utils import timezone

        from apps.jobs.models import Job

        return Job.objects.filter(status=Job.Status.QUEUED).update(
            status=Job.Status.FAILED,
            finished_at=timezone.now(),
            message="Not run: retired by bench/validation.py before its worker started",
        )

    def engine_settings(self) -> dict[str, Any]:
        """The settings run_validation hands the sandboxed child."""
        from django.conf import settings

        return {
            "trusted_types": list(settings.PORTAL_SKOPS_TRUSTED_TYPES),
            "max_members": settings.PORTAL_SKOPS_MAX_MEMBERS,
            "max_total_bytes": settings.PORTAL_SKOPS_MAX_BYTES,
        }

    def worker_alive(self, hostname_prefix: str) -> bool:
        from apps.jobs.models import WorkerHeartbeat

        return WorkerHeartbeat.objects.filter(hostname__startswith=hostname_prefix).exists()

    def register(self, name: str, description: str) -> int:
        from django.contrib.auth.models import User

        from apps.accounts.models import Team
        from apps.registry.services import register_model

        model = register_model(
            actor=User.objects.get(username=PORTAL_USER),
            name=name,
            use_case="Benchmark of validation",
            team=Team.objects.get(slug=TEAM),
            risk_tier="medium",
            risk_owner=User.objects.get(username=RISK_OWNER),
            description=description,
            tags=["bench"],
        )
        return int(model.pk)

    def upload(
        self, model_pk: int, artifact: bytes, holdout: bytes, reference: bytes
    ) -> dict[str, Any]:
        from django.contrib.auth.models import User
        from django.core.files.uploadedfile import SimpleUploadedFile

        from apps.jobs.models import Job
        from apps.registry.services import upload_version
        from apps.validation.services import VALIDATION

        called = time.time()
        version = upload_version(
            model_pk,
            actor=User.objects.get(username=PORTAL_USER),
            artifact=SimpleUploadedFile("model.skops", artifact),
            holdout=SimpleUploadedFile("holdout.csv", holdout),
            target_column=TARGET,
            reference=SimpleUploadedFile("reference.csv", reference),
            sensitive_column=SENSITIVE,
            notes="bench/validation.py",
        )
        # upload_version returns after its transaction committed and the task was dispatched.
        returned = time.time()
        job = Job.objects.get(
            kind=VALIDATION.name, target_type__model="modelversion", target_id=str(version.pk)
        )
        return {
            "version": version.number,
            "job_pk": job.pk,
            "job_uuid": str(job.uuid),
            "upload_called": called,
            "upload_returned": returned,
        }

    def wait_for_report(
        self, job_pk: int, watcher: SandboxWatcher, *, poll: float, timeout: float
    ) -> dict[str, Any]:
        """Poll until the job's report row exists.

        Each poll also reads the job row: the worker stamps ``heartbeat_at`` whenever the child
        reports progress, so the first sighting of each new message dates that step of the
        sandboxed child (a step shorter than a poll can be missed; its time then joins the next).
        """
        from django.db import connection
        from django.db.models import Exists, OuterRef

        from apps.jobs.models import Job
        from apps.validation.models import ValidationReport

        # One query per poll, compiled once: through the ORM each poll would cost ten times the
        # CPU, taken from the worker on a busy machine.
        query = (
            Job.objects.filter(pk=job_pk)
            .annotate(has_report=Exists(ValidationReport.objects.filter(job_id=OuterRef("pk"))))
            .values("status", "progress", "message", "heartbeat_at", "has_report")
        )
        sql, params = query.query.sql_with_params()
        deadline = time.monotonic() + timeout
        steps: dict[int, float] = {}
        seen_messages: set[str] = set()
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        polls = 0
        with connection.cursor() as cursor:
            while True:
                polls += 1
                watcher.poll()
                cursor.execute(sql, params)
                status, progress, message, heartbeat_at, has_report = cursor.fetchone()
                if has_report:
                    seen = time.time()
                    break
                if status == Job.Status.FAILED:
                    # A failed job stores no report: say why instead of waiting out the timeout.
                    raise RuntimeError(f"validation job failed: {message}")
                if status == Job.Status.RUNNING and message not in seen_messages:
                    seen_messages.add(message)
                    if heartbeat_at is not None:
                        steps.setdefault(progress, _epoch(heartbeat_at))
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no validation report after {timeout:.0f} s")
                time.sleep(poll)
        after = resource.getrusage(resource.RUSAGE_SELF)
        watcher.settle()
        return {
            "seen": seen,
            "job": Job.objects.get(pk=job_pk),
            "report": ValidationReport.objects.get(job_id=job_pk),
            "steps": steps,
            "polls": polls,
            # What polling cost this process: CPU the worker could not use on a busy machine.
            "poller_cpu_s": (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime),
        }


CHILD_STAGES = ("startup_imports", "load_model", "read_data", "build", "canonical_exit")

# Progress percentages child.py and report.build report at the start of their steps.
STEP_CHECKING_MODEL, STEP_LOADING_MODEL, STEP_READING = 10, 15, 20
STEP_SCORING, STEP_METRICS, STEP_CANONICAL = 35, 45, 93


def _first(steps: dict[int, float], *percents: int) -> float | None:
    return next((steps[p] for p in percents if p in steps), None)


def child_stages(
    start: float | None, end: float | None, steps: dict[int, float]
) -> dict[str, float | None]:
    """The sandboxed child's stages, from the bwrap start, its progress steps and its exit."""
    # A step shorter than a poll may be missed; the next step of the same stage stands in.
    marks = [
        start,
        _first(steps, STEP_CHECKING_MODEL, STEP_LOADING_MODEL),
        steps.get(STEP_READING),
        _first(steps, STEP_SCORING, STEP_METRICS),
        steps.get(STEP_CANONICAL),
        end,
    ]
    return {
        name: None if a is None or b is None else round(b - a, 4)
        for name, a, b in zip(CHILD_STAGES, marks, marks[1:], strict=False)
    }


def portal_run(
    driver: PortalDriver,
    watcher: SandboxWatcher,
    model_pk: int,
    files: dict[str, bytes],
    *,
    poll: float,
    timeout: float,
) -> dict[str, Any]:
    watcher.reset()
    uploaded = driver.upload(model_pk, files["artifact"], files["holdout"], files["reference"])
    waited = driver.wait_for_report(uploaded["job_pk"], watcher, poll=poll, timeout=timeout)
    seen, job, report = waited["seen"], waited["job"], waited["report"]
    created = job.created_at.timestamp()
    started = job.started_at.timestamp()
    finished = job.finished_at.timestamp()
    end = watcher.end

    def since_created(moment: float | None) -> float | None:
        return None if moment is None else round(moment - created, 4)

    record: dict[str, Any] = {
        "version": uploaded["version"],
        "job": uploaded["job_uuid"],
        "outcome": report.outcome,
        "reasons": report.reasons,
        "isolated": report.isolated,
        "job_created_utc": job.created_at.isoformat(),
        # Every moment in seconds after Job.created_at (negative: before it).
        "moments_s": {
            "upload_called": since_created(uploaded["upload_called"]),
            "upload_returned_after_commit_and_dispatch": since_created(uploaded["upload_returned"]),
            "job_started": since_created(started),
            "sandbox_started": since_created(watcher.start),
            "sandbox_python_started": since_created(watcher.python_start),
            **{f"step_{p}": since_created(t) for p, t in sorted(waited["steps"].items())},
            "sandbox_exited": since_created(watcher.end),
            "report_row_created": since_created(report.created_at.timestamp()),
            "job_finished": since_created(finished),
            "report_seen": since_created(seen),
        },
        "enqueue_to_report_s": round(seen - created, 4),
        "queue_wait_s": round(started - created, 4),
        "execute_ms": report.duration_ms,  # run_validation: file checks, copies and the sandbox
        "child_stages_s": child_stages(watcher.start, end, waited["steps"]),
        "build_timings_s": report.data.get("timings", {}),
        "peak_memory_mb": report.data.get("peak_memory_mb"),
        "sandbox_vm_hwm_mb_at_least": watcher.python_hwm_mb,
        # CPU seconds of the sandboxed Python (its last value seen, at most one poll short) and
        # of the worker's pool process itself (claim, file checks and copies, progress, storing).
        "sandbox_cpu_s": watcher.python_cpu_s,
        "worker_cpu_s": watcher.pool_cpu_s,
        "worker_main_cpu_s": watcher.main_cpu_s,  # consuming from the broker, heartbeats
        "polls": waited["polls"],
        "poller_cpu_s": round(waited["poller_cpu_s"], 3),
        "roc_auc": report.data.get("metrics", {}).get("roc_auc"),
        "comparable": comparable(report.data),
    }
    if watcher.start is not None and end is not None:
        record["pre_sandbox_s"] = round(watcher.start - started, 4)
        record["sandbox_s"] = round(end - watcher.start, 4)
        record["storing_s"] = round(seen - end, 4)
        if watcher.python_start is not None:
            # + 0.0: both ends are in 10 ms ticks, and -0.0 reads oddly in the table.
            record["bwrap_setup_s"] = round(watcher.python_start - watcher.start, 4) + 0.0
    else:
        log("  the sandbox process was not seen; no sandbox breakdown for this run")
    if report.outcome not in ("passed", "failed"):
        log(f"  report outcome {report.outcome!r}: {report.reasons} {report.data.get('error')}")
    return record


# --- Running it ---------------------------------------------------------------------------------


def check_broker(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme != "redis" or parsed.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("--broker must be redis://127.0.0.1:6379/<db> (a local Redis)")
    if parsed.path.strip("/") in ("", "0"):
        raise SystemExit("--broker: use a Redis database other than 0, e.g. redis://...:6379/5")
    return url


def start_worker(
    processes: Processes, driver: PortalDriver, env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
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
        "bench@%h",
        "--without-mingle",
        "--without-gossip",
    ]
    worker = processes.start("celery worker", cmd, cwd=REPO, env=env, log_path=log_path)
    deadline = time.monotonic() + 120
    while not driver.worker_alive("bench@"):
        if worker.poll() is not None:
            raise RuntimeError(f"worker exited with {worker.returncode}:\n{tail(log_path)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker wrote no heartbeat in 120 s:\n{tail(log_path)}")
        time.sleep(0.2)
    return worker


def summary(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(percentile(ordered, 0.5), 4),
        "min": round(ordered[0], 4),
        "max": round(ordered[-1], 4),
        "n": len(ordered),
    }


def stage_summaries(runs: list[dict[str, float | None]]) -> dict[str, dict[str, float]]:
    names = {name for run in runs for name in run}
    return {
        name: summary(values)
        for name in sorted(names)
        if (values := [v for run in runs if (v := run.get(name)) is not None])
    }


def summarise(bare: list[dict[str, Any]], portal: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in portal if r["outcome"] in ("passed", "failed")]
    bare_s = summary([r["process_s"] for r in bare])
    result: dict[str, Any] = {
        "bare_process_s": bare_s,
        "bare_build_s": summary([r["build_s"] for r in bare]),
        "bare_interpreter_s": summary([r["interpreter_s"] for r in bare]),
        "bare_peak_memory_mb": summary([r["peak_memory_mb"] for r in bare]),
        "bare_cpu_s": summary([r["cpu_s"] for r in bare]),
        "errors": len(portal) - len(good),
    }
    for stage in ("import_engine", "load_model", "read_data", "canonical_copy"):
        result[f"bare_{stage}_s"] = summary([r["stages_s"][stage] for r in bare])
    result["bare_build_timings_sum_s"] = summary([sum(r["build_timings_s"].values()) for r in bare])
    result["bare_child_stages_s"] = stage_summaries([r["child_stages_s"] for r in bare])
    if not good:
        return result
    result["sandbox_child_stages_s"] = stage_summaries([r["child_stages_s"] for r in good])
    for name in ("sandbox_cpu_s", "worker_cpu_s", "worker_main_cpu_s"):
        values = [r[name] for r in good if r.get(name) is not None]
        if values:
            result[name] = summary(values)
    result["poller_cpu_share_of_a_core"] = summary(
        [r["poller_cpu_s"] / r["enqueue_to_report_s"] for r in good]
    )
    for name in ("enqueue_to_report_s", "queue_wait_s", "pre_sandbox_s", "sandbox_s", "storing_s"):
        values = [r[name] for r in good if r.get(name) is not None]
        if values:
            result[name] = summary(values)
    bwrap = [r["bwrap_setup_s"] for r in good if r.get("bwrap_setup_s") is not None]
    if bwrap:
        result["bwrap_setup_s"] = summary(bwrap)
    result["execute_s"] = summary([r["execute_ms"] / 1000 for r in good])
    result["portal_build_timings_sum_s"] = summary(
        [sum(r["build_timings_s"].values()) for r in good]
    )
    result["sandbox_peak_memory_mb"] = summary([r["peak_memory_mb"] for r in good])
    hwm = [r["sandbox_vm_hwm_mb_at_least"] for r in good if r["sandbox_vm_hwm_mb_at_least"]]
    if hwm:
        result["sandbox_vm_hwm_mb"] = summary(hwm)
    portal_median = result["enqueue_to_report_s"]["median"]
    budget = RATIO_GOAL * bare_s["median"] + FIXED_OVERHEAD_S
    result["ratio"] = round(portal_median / bare_s["median"], 3)
    result["budget_s"] = round(budget, 4)
    result["goal_met"] = portal_median <= budget
    # Runs paired by round: each portal run against the bare run of the same round.
    result["runs_within_own_budget"] = sum(
        p["enqueue_to_report_s"] <= RATIO_GOAL * b["process_s"] + FIXED_OVERHEAD_S
        for p, b in zip(portal, bare, strict=True)
        if p["outcome"] in ("passed", "failed")
    )
    result["same_results_as_bare"] = all(
        p["comparable"] == bare[0]["comparable"] for p in good
    ) and all(b["comparable"] == bare[0]["comparable"] for b in bare)
    return result


def fmt(stats: dict[str, float] | None, digits: int = 2) -> str:
    if not stats:
        return "n/a"
    return f"{stats['median']:.{digits}f} ({stats['min']:.{digits}f}-{stats['max']:.{digits}f})"


def render(results: dict[str, Any]) -> str:
    runs = results["workload"]["runs"]
    lines = [
        f"Validation benchmark: {results['workload']['rows']:,} holdout rows x "
        f"{len(FEATURES)} features, reference {results['workload']['train_rows']:,} rows, "
        f"broker {results['broker']}, {runs} runs per model (+{results['workload']['warmup']} "
        f"warm-up), {results['machine']['cpus']} CPUs, load average "
        f"{results['machine']['load_average']} at start, "
        f"{results['machine']['load_average_at_end']} at end",
        "Seconds: median (min-max). Portal = Job.created_at (in the upload's transaction, before "
        "commit) to the ValidationReport row seen by a 20 ms poll.",
        "",
    ]
    rows = []
    for model in results["models"]:
        s = results["summary"][model["key"]]
        met = "n/a" if "goal_met" not in s else ("yes" if s["goal_met"] else "NO")
        rows.append(
            [
                model["key"],
                fmt(s["bare_process_s"]),
                fmt(s.get("enqueue_to_report_s")),
                f"{s['ratio']:.2f}x" if "ratio" in s else "n/a",
                f"{s['budget_s']:.2f}" if "budget_s" in s else "n/a",
                met,
                f"{s.get('runs_within_own_budget', 0)}/{runs}",
                "yes" if s.get("same_results_as_bare") else "NO",
            ]
        )
    lines.append(
        format_table(
            [
                "model",
                "bare process",
                "portal enqueue->report",
                "ratio",
                "budget 1.5xbare+1s",
                "goal met",
                "runs in budget",
                "same metrics",
            ],
            rows,
        )
    )
    lines += ["", "Where the portal's time goes (seconds, median (min-max)):"]
    rows = []
    for model in results["models"]:
        s = results["summary"][model["key"]]
        sandbox_vs_bare = "n/a"
        if "sandbox_s" in s:
            sandbox_vs_bare = f"{s['sandbox_s']['median'] - s['bare_process_s']['median']:+.2f}"
        rows.append(
            [
                model["key"],
                fmt(s.get("queue_wait_s")),
                fmt(s.get("pre_sandbox_s")),
                fmt(s.get("sandbox_s")),
                fmt(s.get("bwrap_setup_s"), 3),
                fmt(s.get("storing_s")),
                sandbox_vs_bare,
            ]
        )
    lines.append(
        format_table(
            [
                "model",
                "queue wait",
                "pre-sandbox",
                "sandbox",
                "of it bwrap",
                "storing",
                "sandbox - bare",
            ],
            rows,
        )
    )
    lines += [
        "  queue wait: Job.created_at -> started_at (commit, dispatch, broker, claim); "
        "pre-sandbox: started_at -> bwrap start (claim audit, SHA-256 checks and copies of the "
        "files); sandbox: bwrap start -> exit (/proc); storing: sandbox exit -> report row seen "
        "(policy checks, canonical copy stored, report, audit, commit, <= 1 poll)",
        "",
        "The sandboxed child and the bare process, stage by stage (seconds, median (min-max)):",
    ]
    rows = []
    for model in results["models"]:
        s = results["summary"][model["key"]]
        for side, stages, sums in (
            ("bare", s["bare_child_stages_s"], s["bare_build_timings_sum_s"]),
            ("sandbox", s.get("sandbox_child_stages_s", {}), s.get("portal_build_timings_sum_s")),
        ):
            rows.append(
                [
                    f"{model['key']} {side}",
                    *(fmt(stages.get(name)) for name in CHILD_STAGES),
                    fmt(sums),
                ]
            )
    lines.append(
        format_table(
            [
                "model side",
                "start+imports",
                "load model",
                "read CSVs",
                "build()",
                "canonical+exit",
                "build stages",
            ],
            rows,
        )
    )
    lines += [
        "  sandbox stages: bwrap start, then the worker's progress stamps (Job.heartbeat_at) of "
        "the child's steps 10, 20, 35 and 93 %, then its exit; bare: the same cut, timed inside "
        "the process (start-up: launch to the script's first line). build stages: sum of the "
        "report's own timings (scoring, metrics, stability, fairness, importance, latency)",
        "",
        "CPU seconds (load-independent, median (min-max)):",
    ]
    rows = []
    for model in results["models"]:
        s = results["summary"][model["key"]]
        rows.append(
            [
                model["key"],
                fmt(s["bare_cpu_s"]),
                fmt(s.get("sandbox_cpu_s")),
                fmt(s.get("worker_cpu_s")),
                fmt(s.get("worker_main_cpu_s")),
                fmt(s.get("poller_cpu_share_of_a_core")),
            ]
        )
    lines.append(
        format_table(
            [
                "model",
                "bare process",
                "sandboxed child (>=)",
                "worker pool process",
                "worker main process",
                "this poller, share of a core",
            ],
            rows,
        )
    )
    lines += ["", "Peak resident memory (MB, median (min-max)):"]
    rows = []
    for model in results["models"]:
        s = results["summary"][model["key"]]
        sandbox = s.get("sandbox_peak_memory_mb")
        ratio = "n/a"
        if sandbox:
            ratio = f"{sandbox['median'] / s['bare_peak_memory_mb']['median']:.2f}x"
        rows.append(
            [
                model["key"],
                fmt(sandbox, 1),
                fmt(s.get("sandbox_vm_hwm_mb"), 1),
                fmt(s["bare_peak_memory_mb"], 1),
                ratio,
            ]
        )
    lines.append(
        format_table(
            [
                "model",
                "sandboxed child (report)",
                "sandboxed child (VmHWM)",
                "bare process (VmHWM)",
                "report / bare",
            ],
            rows,
        )
    )
    lines.append(
        "  report: the child's peak_memory_mb (its ru_maxrss); VmHWM of the sandboxed child from "
        "/proc (last poll before it exits); bare: its own VmHWM (its ru_maxrss would include the "
        "benchmark's resident size, which Linux carries into a child at fork)"
    )

    lines += ["", "Every run (seconds):"]
    rows = []
    for entry in results["runs"]:
        p, b = entry["portal"], entry["bare"]
        rows.append(
            [
                f"{entry['round']} {entry['model']}",
                "warm-up" if entry["warmup"] else entry["first"],
                f"{b['process_s']:.2f}",
                f"{b['build_s']:.2f}",
                f"{p['enqueue_to_report_s']:.2f}",
                f"{p['queue_wait_s']:.2f}",
                f"{p.get('pre_sandbox_s', float('nan')):.2f}",
                f"{p.get('sandbox_s', float('nan')):.2f}",
                f"{p.get('storing_s', float('nan')):.2f}",
                f"{sum(p['build_timings_s'].values()):.2f}",
                p["outcome"],
                f"{entry['load1']:.2f}",
            ]
        )
    lines.append(
        format_table(
            [
                "round model",
                "first",
                "bare",
                "bare build",
                "portal",
                "queue",
                "pre",
                "sandbox",
                "storing",
                "portal build",
                "outcome",
                "load1",
            ],
            rows,
        )
    )
    errors = [e for e in results["runs"] if e["portal"]["outcome"] not in ("passed", "failed")]
    for entry in errors:
        lines.append(
            f"  round {entry['round']} {entry['model']}: outcome {entry['portal']['outcome']}: "
            + "; ".join(entry["portal"]["reasons"])
        )
    return "\n".join(lines)


def run_rounds(
    args: argparse.Namespace,
    dataset: Dataset,
    driver: PortalDriver,
    watcher: SandboxWatcher,
    model_pks: dict[str, int],
    files: dict[str, dict[str, bytes]],
    specs: dict[str, Path],
) -> list[dict[str, Any]]:
    runs = []
    rounds = [True] * args.warmup + [False] * args.runs
    for number, warmup in enumerate(rounds, start=1):
        # The warm-up round validates the first model only: it exists to pay one-time costs, not
        # to be measured.
        keys = [dataset.models[0].key] if warmup else [m.key for m in dataset.models]
        bare_first = number % 2 == 1
        for key in keys:
            label = "warm-up" if warmup else f"round {number - args.warmup}"
            log(f"{label}: {key}, {'bare' if bare_first else 'portal'} first")

            def do_bare(key: str = key) -> dict[str, Any]:
                return run_bare(specs[key], timeout=args.timeout)

            def do_portal(key: str = key) -> dict[str, Any]:
                return portal_run(
                    driver,
                    watcher,
                    model_pks[key],
                    files[key],
                    poll=args.poll,
                    timeout=args.timeout,
                )

            if bare_first:
                bare, portal = do_bare(), do_portal()
            else:
                portal, bare = do_portal(), do_bare()
            log(
                f"  bare {bare['process_s']:.2f} s, portal {portal['enqueue_to_report_s']:.2f} s "
                f"({portal['outcome']})"
            )
            runs.append(
                {
                    "round": "w" if warmup else number - args.warmup,
                    "warmup": warmup,
                    "model": key,
                    "first": "bare" if bare_first else "portal",
                    "load1": os.getloadavg()[0],
                    "bare": bare,
                    "portal": portal,
                }
            )
    return runs


def stop_worker(
    processes: Processes, worker: subprocess.Popen[bytes], timeout: float = 30
) -> float:
    """SIGTERM to the worker's PID (Celery's warm shutdown, which stops its pool process), then
    SIGKILL to its process group if anything is left after ``timeout``. Returns the seconds taken.

    Only the main process is sent SIGTERM: signalling the whole group also hits the pool process
    directly, which Celery then reports as a pool process killed by a signal.
    """
    started = time.monotonic()
    with contextlib.suppress(ProcessLookupError):
        os.kill(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout)
    except subprocess.TimeoutExpired:
        log(f"celery worker still running {timeout:.0f} s after SIGTERM; sending SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)  # its group: the pool process, if it outlived it
    elapsed = round(time.monotonic() - started, 2)
    processes.stop(worker)  # forgets it and closes its log; nothing is left to signal
    return elapsed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per model (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--rows", type=int, default=100_000, help="holdout rows (100,000)")
    parser.add_argument(
        "--train-rows",
        type=int,
        default=20_000,
        help="rows of each model's training set, also its reference sample (20,000)",
    )
    parser.add_argument(
        "--broker", help="redis://127.0.0.1:6379/<db, not 0> instead of the filesystem broker"
    )
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between polls (0.02)")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds to wait for one validation (600)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.rows < 100 or args.train_rows < 100:
        parser.error("--runs >= 1, --warmup >= 0, --rows and --train-rows >= 100")
    if args.broker:
        check_broker(args.broker)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    stamp = utc_stamp()
    results: dict[str, Any] = {
        "benchmark": "validation",
        "started_utc": stamp,
        "machine": machine_info(),
        "code": git_state(),
        "workload": {
            "runs": args.runs,
            "warmup": args.warmup,
            "rows": args.rows,
            "train_rows": args.train_rows,
            "features": len(FEATURES),
            "poll_s": args.poll,
        },
        "broker": args.broker or "filesystem (embedded default)",
        "goal": f"portal median <= {RATIO_GOAL} x bare median + {FIXED_OVERHEAD_S} s",
        "timing": (
            "portal: Job.created_at (set inside upload_version's transaction, before it commits "
            "and dispatches) to the first poll that sees the ValidationReport row; bare: "
            "subprocess launch to exit"
        ),
    }
    root = Path(tempfile.mkdtemp(prefix="bench-validation-"))
    driver: PortalDriver | None = None
    try:
        with Processes() as processes:
            log(f"data folder {root}")
            log(f"building data ({args.rows:,} holdout rows) and training the models")
            dataset = build_dataset(root / "data", rows=args.rows, train_rows=args.train_rows)
            results["models"] = [{"key": m.key, "label": m.label} for m in dataset.models]
            results["train_seconds"] = dataset.train_seconds
            results["file_bytes"] = {
                "holdout": dataset.holdout.stat().st_size,
                **{f"{m.key}.skops": m.artifact.stat().st_size for m in dataset.models},
                **{f"reference-{m.key}": m.reference.stat().st_size for m in dataset.models},
            }

            var_dir = root / "var"
            env = portal_env(var_dir, "bench-" + os.urandom(9).hex())
            if args.broker:
                env["CELERY_BROKER_URL"] = args.broker
            manage = [str(VENV_BIN / "python"), str(REPO / "manage.py")]
            log("portal: migrate, seed_demo")
            for command in (["migrate", "--noinput"], ["seed_demo"]):
                run_checked(
                    [*manage, *command],
                    cwd=REPO,
                    env=env,
                    log_path=var_dir / "setup.log",
                    timeout=900,
                )
            driver = PortalDriver(env)
            retired = driver.retire_queued_jobs()
            log(f"portal: marked the seed's {retired} queued validation jobs failed")
            results["demo_jobs_retired"] = retired
            model_pks = {
                m.key: driver.register(f"Bench validation {m.key} {stamp}", m.label)
                for m in dataset.models
            }
            holdout = dataset.holdout.read_bytes()
            files = {
                m.key: {
                    "artifact": m.artifact.read_bytes(),
                    "holdout": holdout,
                    "reference": m.reference.read_bytes(),
                }
                for m in dataset.models
            }
            engine_settings = driver.engine_settings()
            specs = {
                m.key: bare_spec(root / "data", m, dataset, engine_settings) for m in dataset.models
            }

            worker_log = var_dir / "worker.log"
            worker = start_worker(processes, driver, env, worker_log)
            try:
                results["runs"] = run_rounds(
                    args, dataset, driver, SandboxWatcher(worker.pid), model_pks, files, specs
                )
            finally:
                results["worker_stop_s"] = stop_worker(processes, worker)
            if any(e["portal"]["outcome"] not in ("passed", "failed") for e in results["runs"]):
                results["worker_log_tail"] = tail(worker_log, 60)
    except KeyboardInterrupt:
        log("interrupted: worker stopped")
        return 130
    except Exception:
        traceback.print_exc()
        log("failed: worker stopped")
        return 1
    finally:
        if driver is not None:
            driver.close()
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    timed_runs = [e for e in results["runs"] if not e["warmup"]]
    results["summary"] = {
        m["key"]: summarise(
            [e["bare"] for e in timed_runs if e["model"] == m["key"]],
            [e["portal"] for e in timed_runs if e["model"] == m["key"]],
        )
        for m in results["models"]
    }
    # The per-run reports' comparable parts were only needed for the check above.
    for entry in results["runs"]:
        entry["bare"].pop("comparable", None)
        entry["portal"].pop("comparable", None)
    results["machine"]["load_average_at_end"] = machine_info()["load_average"]
    results["finished_utc"] = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    print(render(results))
    path = write_results("validation", results, stamp)
    print(f"\nJSON: {path.relative_to(REPO)}")
    errors = sum(s["errors"] for s in results["summary"].values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
