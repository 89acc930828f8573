"""A real gunicorn process serving the portal (``mlops_portal.wsgi``), against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Self

import requests
from django.conf import settings

from tests.support import worker as child_processes
from tests.support.services import free_port
from tests.support.worker import wait_for

ROW = [{"income": 50.0, "debt": 12.0, "tenure": 3}]


class Gunicorn:
    """``gunicorn mlops_portal.wsgi`` on a free loopback port, against the test database.
    Subclasses change what it runs through the attributes below."""

    app = "mlops_portal.wsgi"
    options: tuple[str, ...] = ()  # such as "--preload"
    workers = 1
    threads = 4
    # How long start-up may take before the server counts as failed (and is stopped).
    ready_within = 60.0

    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(settings.VAR_DIR) / f"gunicorn-{self.port}.log"
        self.env = {**os.environ, "DATABASE_URL": child_processes.test_database_url(), **env}
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                self.app,
                *self.options,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                # Each test server its own: gunicorn's default control socket is one path per
                # user, which the first server to stop removes from under the others.
                "--no-control-socket",
            ],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(self._answers, timeout=self.ready_within, message=f"gunicorn on {self.url}")
        except BaseException:
            # __exit__ is not called when __enter__ fails: stop what was started here.
            self.__exit__()
            raise
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{self.output()}")
        try:
            return requests.get(f"{self.url}/serve/", timeout=2).status_code == 404
        except requests.RequestException:
            # Not up yet, slow to answer its first request on a loaded machine, or cut off
            # half-way while starting: ask again (its exit is caught above).
            return False

    def stop(self) -> None:
        """SIGTERM: gunicorn's graceful shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def predict(
        self, key: str, environment: str = "staging", routing_key: str = ""
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"}
        if routing_key:
            headers["X-Routing-Key"] = routing_key
        return requests.post(
            f"{self.url}/serve/loan-default/{environment}/predict",
            json=ROW,
            headers=headers,
            timeout=30,
        )
