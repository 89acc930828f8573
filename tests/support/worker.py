"""A real `celery worker` process against the test database and broker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

from apps.jobs.models import WorkerHeartbeat

BASE_DIR = Path(settings.BASE_DIR)


def test_database_url() -> str:
    """The URL of the database the tests run on (its test name), for a child process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{auth}{db.get('HOST') or ''}{port}/{db['NAME']}"


QUEUES = "default,validation,deployment,monitoring"


def purge(queues: str = QUEUES) -> int:
    """Drop every message waiting in these queues; how many there were."""
    from mlops_portal.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        return sum(channel.queue_purge(queue) or 0 for queue in queues.split(","))


class WorkerProcess:
    """Starts in its own process group, so that kill() takes the pool children down with it."""

    def __init__(
        self,
        queues: str = QUEUES,
        concurrency: int = 1,
        hostname: str | None = None,
    ):
        self.hostname = hostname or f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.queues = queues
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(settings.VAR_DIR) / f"worker-{self.hostname.split('@')[0]}.log"

    def start(self, timeout: float = 60) -> WorkerProcess:
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "PORTAL_WORKER_HEARTBEAT_SECONDS": "1",
        }
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "mlops_portal",
                "worker",
                "--queues",
                self.queues,
                "--concurrency",
                str(self.concurrency),
                "--hostname",
                self.hostname,
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.launched = time.time()
        try:
            return self.wait_for_heartbeat(timeout)
        except RuntimeError:
            self.stop()
            raise

    def wait_for_heartbeat(self, timeout: float = 60) -> WorkerProcess:
        """Until this process's heartbeat is on record (not one left by an earlier worker of the
        same name)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.output()}")
            beat = WorkerHeartbeat.objects.filter(hostname=self.hostname).first()
            if beat is not None and beat.started_at.timestamp() >= self.launched:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"worker did not report a heartbeat in {timeout} s:\n{self.output()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def settle(self, timeout: float = 30) -> bool:
        """Wait until this worker runs nothing and nothing waits in its queues, so that the next
        test finds it as a new one: tasks a test left queued are dropped, tasks it left running
        end first, and tasks held for later (a countdown) are revoked. False if it did not settle
        in time (the caller then stops it)."""
        from mlops_portal.celery import app

        inspect = app.control.inspect(destination=[self.hostname], timeout=5, limit=1)
        revoked: set[str] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            dropped = purge(self.queues)
            running = (inspect.active() or {}).get(self.hostname)
            # A revoked task stays in the worker's timer until its time, then is dropped.
            later = {t["request"]["id"] for t in (inspect.scheduled() or {}).get(self.hostname, [])}
            if later - revoked:
                app.control.revoke(sorted(later - revoked), destination=[self.hostname])
                revoked |= later
                continue
            if running is not None and not running and not dropped:
                return True
            time.sleep(0.2)
        return False

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9 the worker and its pool, as a crashed machine would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is not None:
            self.log.close()
            return
        try:
            # A cold shutdown: tests have nothing in flight worth finishing, and a warm one
            # waits for the pool.
            os.killpg(self.process.pid, signal.SIGQUIT)
            self.process.wait(timeout=15)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        finally:
            self.log.close()


def wait_for(predicate, timeout: float = 30, interval: float = 0.2, message: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")
