"""Helpers shared by the portal's benchmarks (registry today; serving and validation next).

- ``Processes``: starts servers in their own process groups and stops every one of them, by
  process-group id, whatever way the benchmark ends (error, Ctrl-C, SIGTERM).
- ``start_portal``: the portal as production runs it (gunicorn, embedded SQLite and filesystem
  broker), in a fresh data folder of its own, with the demo users seeded.
- ``new_session``/``timed``/``measure``: one HTTP client (``requests``) for every server, in two
  connection modes, with latencies taken around the whole request and the body read.
- ``Stats``, ``format_table``, ``machine_info``, ``write_results``: reporting.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

import requests
import urllib3.connection

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
RESULTS_DIR = REPO / "bench" / "results"

KEEP_ALIVE = "keep-alive"
CLOSE = "close"
MODES = (KEEP_ALIVE, CLOSE)

# Variables that would point the portal away from its embedded default (PostgreSQL, Redis, a
# developer's var/ folder, the test settings) if the caller's shell happened to export them.
_PORTAL_ENV_BLOCKLIST = ("DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "PYTEST_VERSION")


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- Processes --------------------------------------------------------------------------------


def free_port() -> int:
    """A port the OS just handed out on 127.0.0.1 (free unless someone grabs it in between)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


class Processes:
    """Every server a benchmark starts, each the leader of its own process group.

    Servers fork workers (gunicorn, uvicorn, MLflow's job runner), so stopping only the PID we
    started would orphan them; signalling the group we created reaches all of them and nothing
    else on the machine.
    """

    def __init__(self) -> None:
        self._running: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(
        self, name: str, cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path
    ) -> subprocess.Popen[bytes]:
        log_file = log_path.open("ab")
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own group: Ctrl-C reaches us only, and we stop it ourselves
        )
        self._running.append((name, proc, log_file))
        log(f"started {name} (pid {proc.pid}); log {log_path}")
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
        for index, (name, candidate, log_file) in enumerate(self._running):
            if candidate is proc:
                del self._running[index]
                _stop_group(name, proc, timeout)
                log_file.close()
                return

    def stop_all(self) -> None:
        while self._running:
            self.stop(self._running[-1][1])


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_group(name: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to the group (graceful shutdown), SIGKILL to whatever is left after ``timeout``."""
    pgid = proc.pid  # start_new_session made the child the leader of a group with its own id
    if _signal_group(pgid, signal.SIGTERM):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.2)
            if not _group_alive(pgid):
                break
        else:
            log(f"{name} still running {timeout:.0f}s after SIGTERM; sending SIGKILL")
            _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    log(f"stopped {name} (pid {proc.pid})")


def exit_on_sigterm() -> None:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt, so ``finally`` blocks stop the servers."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def run_checked(
    cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path, timeout: float
) -> None:
    """Run a set-up command to completion; on failure show the end of its output."""
    with log_path.open("ab") as log_file:
        result = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {result.returncode}:\n{tail(log_path)}")


def installed_version(python: Path, package: str) -> str | None:
    """The version of ``package`` in the virtualenv of ``python``, or None."""
    if not python.exists():
        return None
    result = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def ensure_tool_venv(venv: Path, package: str, version: str, also: Sequence[str] = ()) -> Path:
    """A tool's own virtualenv (never the portal's: its pins clash with ours), created once and
    reused while ``package==version`` holds; ``also`` are extra requirements for the install.
    Returns its python."""
    python = venv / "bin" / "python"
    installed = installed_version(python, package)
    if installed == version:
        log(f"{package} {version}: reusing {venv}")
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    install_log = venv.parent / f"{package}-install.log"
    if not python.exists():
        base = shutil.which("python3.11") or sys.executable
        log(f"{package} {version}: creating {venv}")
        run_checked(
            [base, "-m", "venv", str(venv)],
            cwd=venv.parent,
            env=os.environ,
            log_path=install_log,
            timeout=300,
        )
    log(f"{package} {version}: installing into {venv} (was {installed or 'absent'}); a few minutes")
    run_checked(
        [str(python), "-m", "pip", "install", "--quiet", f"{package}=={version}", *also],
        cwd=venv.parent,
        env=os.environ,
        log_path=install_log,
        timeout=1800,
    )
    if installed_version(python, package) != version:
        raise RuntimeError(f"{package} {version} did not install into {venv}; see {install_log}")
    return python


def wait_for_http(
    url: str, *, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 90.0
) -> None:
    """Wait until ``url`` answers below 500, failing early if the server process died."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            response = requests.get(url, timeout=2, allow_redirects=False)
        except requests.RequestException as exc:
            last = str(exc)
        else:
            if response.status_code < 500:
                return
            last = f"HTTP {response.status_code}"
        time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s ({last}):\n{tail(log_path)}")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and its live descendants.

    Contention on a small machine inflates latencies; server CPU per request does not move with
    it, so it tells "slow code" apart from "busy machine".
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for process in descendants(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def tree_memory(pid: int) -> dict[str, Any]:
    """Memory of ``pid`` and its live descendants, in MiB, from /proc (Linux).

    ``rss`` adds up each process's resident set, so pages the processes share (a forked
    server's code and libraries) count once per process; ``pss`` shares each page among the
    processes mapping it, so it adds up to what the tree really occupies; ``uss`` is the memory
    private to the tree's processes, what stopping it would give back at least.
    """
    totals = {"rss": 0.0, "pss": 0.0, "uss": 0.0}
    by_process: list[dict[str, Any]] = []
    for process in descendants(pid):
        try:
            status = Path(f"/proc/{process}/status").read_text()
            rollup = Path(f"/proc/{process}/smaps_rollup").read_text()
            argv = Path(f"/proc/{process}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        kib: dict[str, int] = {}
        for line in (*status.splitlines(), *rollup.splitlines()):
            name, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                kib[name] = int(parts[0])
        sizes = {
            "rss": kib.get("VmRSS", 0) / 1024,
            "pss": kib.get("Pss", 0) / 1024,
            "uss": (kib.get("Private_Clean", 0) + kib.get("Private_Dirty", 0)) / 1024,
        }
        for key, value in sizes.items():
            totals[key] += value
        command = " ".join(a.decode(errors="replace") for a in argv[:3] if a)[:120]
        by_process.append(
            {"pid": process, "command": command, **{k: round(v, 1) for k, v in sizes.items()}}
        )
    return {
        **{key: round(value, 1) for key, value in totals.items()},
        "processes": len(by_process),
        "by_process": by_process,
    }


def cpu_busy_fraction(interval: float = 1.0) -> float:
    """Share of all cores busy over ``interval`` seconds, from /proc/stat."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return idle, sum(values)

    idle1, total1 = sample()
    time.sleep(interval)
    idle2, total2 = sample()
    return 1.0 - (idle2 - idle1) / max(total2 - total1, 1)


def wait_for_quiet(pid: int, max_wait: float = 120.0) -> float:
    """Wait until the server ``pid`` (with its children) has finished starting up.

    A server can answer requests while its other processes are still importing (MLflow's job
    runner and its consumers take about 45 CPU-seconds); timing then would measure that. Quiet
    means under 5% of one core for two seconds in a row. Returns how busy the whole machine was
    at that point: other work on it is recorded, not waited out.
    """
    deadline = time.monotonic() + max_wait
    quiet_seconds = 0
    while quiet_seconds < 2 and time.monotonic() < deadline:
        before = tree_cpu_seconds(pid)
        time.sleep(1.0)
        quiet_seconds = quiet_seconds + 1 if tree_cpu_seconds(pid) - before < 0.05 else 0
    if quiet_seconds < 2:
        log(f"server {pid} still busy after {max_wait:.0f}s; timing anyway")
    return cpu_busy_fraction()


# --- The portal -------------------------------------------------------------------------------


@dataclass
class Portal:
    base_url: str
    var_dir: Path
    password: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def scratch_tmp(folder: Path) -> Path:
    """A TMPDIR inside ``folder``: temporary files a server leaves behind go when it goes."""
    path = folder / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def portal_env(var_dir: Path, password: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _PORTAL_ENV_BLOCKLIST and not k.startswith("PORTAL_")
    }
    env["PORTAL_VAR_DIR"] = str(var_dir)
    # An empty PostgreSQL database for the portal instead of the embedded SQLite, to measure
    # what production runs on (e.g. BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/bench).
    if os.environ.get("BENCH_DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    env["PORTAL_DEMO_PASSWORD"] = password
    env["TMPDIR"] = str(scratch_tmp(var_dir))
    return env


def start_portal(
    processes: Processes,
    var_dir: Path,
    *,
    password: str,
    workers: int = 2,
    threads: int = 4,
) -> Portal:
    """Migrate, collect static files, seed the demo users, then serve with gunicorn.

    Every file the portal writes goes under ``var_dir`` (database, broker folders, uploads,
    static files, secret key; temporary files too, through TMPDIR). No Celery worker runs:
    queued jobs simply wait.
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    env = portal_env(var_dir, password)
    setup_log = var_dir / "setup.log"
    manage = [str(VENV_BIN / "python"), str(REPO / "manage.py")]
    log("portal: migrate, collectstatic, seed_demo")
    for command in (
        ["migrate", "--noinput"],
        # The pages reference static files through whitenoise's manifest; without it they 500.
        ["collectstatic", "--noinput", "--verbosity", "0"],
        ["seed_demo"],
    ):
        run_checked([*manage, *command], cwd=REPO, env=env, log_path=setup_log, timeout=600)
    return serve_portal(processes, var_dir, password=password, workers=workers, threads=threads)


def serve_portal(
    processes: Processes,
    var_dir: Path,
    *,
    password: str,
    workers: int = 2,
    threads: int = 4,
    name: str = "portal gunicorn",
    extra_env: dict[str, str] | None = None,
) -> Portal:
    """gunicorn as in the Procfile on a data folder ``start_portal`` already set up.

    Calling it again on the same folder gives a second server on the same database (another
    worker count, or a setting in ``extra_env``) without repeating the set-up.
    """
    env = {**portal_env(var_dir, password), **(extra_env or {})}
    port = free_port()
    log_path = var_dir / f"gunicorn-{port}.log"
    # The Procfile's command (what `make run` serves), bound to a free local port.
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "mlops_portal.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "120",
        "--access-logfile",
        "-",
    ]
    proc = processes.start(name, cmd, cwd=REPO, env=env, log_path=log_path)
    base_url = f"http://127.0.0.1:{port}"
    # /login/ needs only the database; /healthz would answer 503 without a Celery worker.
    wait_for_http(f"{base_url}/login/", proc=proc, log_path=log_path)
    return Portal(base_url, var_dir, password, proc, log_path)


def portal_token(base_url: str, username: str, password: str, name: str = "bench") -> str:
    """One personal API token (the endpoint allows 10 a minute per client: get one, reuse it)."""
    response = requests.post(
        f"{base_url}/api/v1/auth/token/",
        json={"username": username, "password": password, "name": name},
        timeout=30,
    )
    if response.status_code != 201:
        raise RuntimeError(f"token request: HTTP {response.status_code} {response.text[:300]}")
    return str(response.json()["token"])


_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def portal_login(session: requests.Session, base_url: str, username: str, password: str) -> None:
    """Sign ``session`` in through the login form, as a browser does."""
    page = session.get(f"{base_url}/login/", timeout=30)
    match = _CSRF_INPUT.search(page.text)
    if page.status_code != 200 or match is None:
        raise RuntimeError(f"login page: HTTP {page.status_code}, no CSRF token")
    response = session.post(
        f"{base_url}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": match[1]},
        headers={"Referer": f"{base_url}/login/"},
        timeout=30,
    )
    if response.status_code != 200 or response.url.rstrip("/").endswith("/login"):
        raise RuntimeError(f"login as {username} failed: HTTP {response.status_code}")


# --- The client -------------------------------------------------------------------------------


def new_session(mode: str) -> requests.Session:
    """``keep-alive`` reuses one connection; ``close`` asks the server to close after each answer,
    so every request opens a new connection (the same library either way)."""
    session = requests.Session()
    if mode == CLOSE:
        session.headers["Connection"] = "close"
    elif mode != KEEP_ALIVE:
        raise ValueError(mode)
    return session


class _ConnectionCounter:
    """Counts TCP connects per session: the proof that ``close`` really opens a connection per
    request and ``keep-alive`` really reuses one. Counted where urllib3 connects (also when it
    reconnects a pooled connection the server closed, which its pool statistics miss)."""

    def __init__(self) -> None:
        self.total = 0
        self.connects: weakref.WeakKeyDictionary[requests.Session, int] = (
            weakref.WeakKeyDictionary()
        )
        self.requests: weakref.WeakKeyDictionary[requests.Session, int] = (
            weakref.WeakKeyDictionary()
        )
        original = urllib3.connection.HTTPConnection.connect

        def counting_connect(connection: urllib3.connection.HTTPConnection) -> None:
            self.total += 1
            original(connection)

        urllib3.connection.HTTPConnection.connect = counting_connect  # type: ignore[method-assign,assignment]

    def record(self, session: requests.Session, connects: int) -> None:
        self.connects[session] = self.connects.get(session, 0) + connects
        self.requests[session] = self.requests.get(session, 0) + 1


_COUNTER = _ConnectionCounter()


def connection_use(session: requests.Session) -> dict[str, int]:
    """Requests sent through ``timed`` with this session, and TCP connections they opened."""
    return {
        "requests": _COUNTER.requests.get(session, 0),
        "connections": _COUNTER.connects.get(session, 0),
    }


def timed(
    session: requests.Session, method: str, url: str, **kwargs: Any
) -> tuple[float, requests.Response]:
    """Seconds from sending the request to having read the whole body."""
    connects = _COUNTER.total
    start = time.perf_counter()
    response = session.request(method, url, timeout=120, **kwargs)
    _ = response.content
    elapsed = time.perf_counter() - start
    _COUNTER.record(session, _COUNTER.total - connects)
    return elapsed, response


def expect(response: requests.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{what}: expected HTTP {status}, got {response.status_code}: {response.text[:500]}"
        )


# A request to time: sends it through the given session, checks the answer (raising on a wrong
# one) and returns the seconds ``timed`` measured, so checking costs no time in the figures.
Call = Callable[[requests.Session], float]


def measure(
    sessions: Mapping[str, requests.Session],
    call: Call,
    *,
    requests_per_mode: int,
    warmup: int,
) -> dict[str, list[float]]:
    """Latencies of ``call`` in every mode, modes alternating request by request.

    Alternating (rather than one mode after the other) exposes both modes to the same background
    load on a shared machine.
    """
    for _ in range(warmup):
        for session in sessions.values():
            call(session)
    samples: dict[str, list[float]] = {mode: [] for mode in sessions}
    order = list(sessions)
    for index in range(requests_per_mode):
        for mode in order if index % 2 == 0 else reversed(order):
            samples[mode].append(call(sessions[mode]))
    return samples


# --- Reporting --------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default) on sorted data."""
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Stats:
    """Latency figures in milliseconds; ``per_second`` is sequential throughput (n / time)."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    max: float
    per_second: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Stats:
        ordered = sorted(seconds)
        total = sum(ordered)
        return cls(
            n=len(ordered),
            p50=percentile(ordered, 0.50) * 1000,
            p95=percentile(ordered, 0.95) * 1000,
            p99=percentile(ordered, 0.99) * 1000,
            mean=total / len(ordered) * 1000 if ordered else float("nan"),
            max=ordered[-1] * 1000 if ordered else float("nan"),
            per_second=len(ordered) / total if total else float("nan"),
        )

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain aligned text: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
            for i, c in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def machine_info() -> dict[str, Any]:
    load1, load5, load15 = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "requests": requests.__version__,
    }


def git_state() -> dict[str, Any]:
    """Which code was measured: the commit, and how many files differ from it."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    changed = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_paths": len(changed)}


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_results(name: str, data: Mapping[str, Any], stamp: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


@contextlib.contextmanager
def scratch_dir(prefix: str, *, keep: bool = False) -> Iterator[Path]:
    """A fresh temporary folder, removed afterwards unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            log(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


# --- Celery worker and administration -----------------------------------------------------------


def start_worker(
    processes: Processes,
    portal: Portal,
    *,
    queues: Sequence[str],
    concurrency: int = 2,
    hostname: str = "bench-worker@%h",
    timeout: float = 120.0,
) -> subprocess.Popen[bytes]:
    """A Celery worker on ``portal``'s data folder, started with the Procfile's worker command
    (without ``apps.jobs.supervise``: a worker that dies must fail the benchmark, not be
    restarted under it), in its own process group. Returns once ``/healthz`` sees a worker
    heartbeat."""
    cmd = [
        str(VENV_BIN / "celery"),
        "-A",
        "mlops_portal",
        "worker",
        "--queues",
        ",".join(queues),
        "--concurrency",
        str(concurrency),
        "--hostname",
        hostname,
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        "INFO",
    ]
    log_path = portal.var_dir / f"worker-{hostname.split('@')[0]}.log"
    env = portal_env(portal.var_dir, portal.password)
    proc = processes.start("celery worker", cmd, cwd=REPO, env=env, log_path=log_path)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            health = requests.get(f"{portal.base_url}/healthz", timeout=5)
        except requests.RequestException:
            health = None
        if health is not None and health.status_code == 200:
            return proc
        if time.monotonic() > deadline:
            raise RuntimeError(f"no worker heartbeat after {timeout:.0f}s:\n{tail(log_path)}")
        time.sleep(0.5)


def csrf_token(session: requests.Session, url: str) -> str:
    """The CSRF token of the form at ``url`` (GET with ``session``)."""
    page = session.get(url, timeout=30)
    match = _CSRF_INPUT.search(page.text)
    if page.status_code != 200 or match is None:
        raise RuntimeError(f"{url}: HTTP {page.status_code}, no CSRF token")
    return match[1]


def admin_add(
    session: requests.Session, base_url: str, model_path: str, data: Mapping[str, Any]
) -> requests.Response:
    """Add an object through the Django admin's add form, as an administrator does in the
    browser: ``session`` is signed in as one, ``model_path`` is e.g. ``notifications/webhook``.
    Raises with the form's errors unless the admin redirected to its list."""
    url = f"{base_url}/admin/{model_path}/add/"
    token = csrf_token(session, url)
    response = session.post(
        url,
        data={**data, "csrfmiddlewaretoken": token, "_save": "Save"},
        headers={"Referer": url},
        timeout=60,
    )
    if response.status_code != 200 or not response.history or response.url.endswith("/add/"):
        errors = re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.text, re.S)
        found = "; ".join(re.sub(r"<[^>]+>", " ", e).strip() for e in errors) or response.text[:500]
        raise RuntimeError(f"admin add {model_path}: HTTP {response.status_code}: {found}")
    return response
