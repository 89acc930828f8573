"""A test's own `redis-server`, which it may stop and start again, and Celery pointed at it.

Never the machine's Redis: each server listens on a free loopback port, keeps nothing on disk
(``--save "" --appendonly no``, so a restart comes back empty, as a crashed broker without
persistence would) and is stopped by its own PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu.pools
import redis
from celery import Celery

from tests.support.services import free_port, unavailable

# What mlops_portal/settings.py sets when CELERY_BROKER_URL is a redis:// URL.
REDIS_TRANSPORT_OPTIONS: dict[str, Any] = {"visibility_timeout": 2 * 3600}


class RedisServer:
    def __init__(self, folder: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            unavailable("redis-server is not installed (apt-get install redis-server)")
        self.executable = executable
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = folder / f"redis-{self.port}.log"

    def start(self, timeout: float = 10) -> RedisServer:
        """Start (or start again, on the same port and empty) and wait until it answers PING."""
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.executable,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.folder),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited at start-up:\n{self.output()}")
                with contextlib.suppress(redis.ConnectionError):
                    if client.ping():
                        return self
                time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise RuntimeError(f"redis-server did not answer in {timeout} s:\n{self.output()}")

    def stop(self) -> None:
        """Stop this server (SIGTERM to its PID; SIGKILL if it lingers). Its data is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""


def _drop_connections(app: Celery) -> None:
    """Forget the app's pooled broker connections, so the next send connects afresh.

    kombu also keeps producer pools in a registry of its own, keyed by the broker's URL: closed
    but kept there, the next test sending to the usual broker would get "Acquire on closed pool".
    """
    pool = app._pool  # type: ignore[attr-defined]
    if pool is not None:
        with contextlib.suppress(Exception):
            pool.force_close_all()
    kombu.pools.reset()
    app._pool = None  # type: ignore[attr-defined]
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


_URL_VARIABLES = ("CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL")


@contextlib.contextmanager
def celery_sends_to(app: Celery, url: str, transport_options: dict[str, Any]) -> Iterator[None]:
    """Make this process's Celery app, and workers started meanwhile, use ``url``; then undo.

    ``app.conf`` is read from Django's settings once, so overriding the settings is not enough.
    And Celery prefers the CELERY_BROKER_URL environment variable (CI sets it) to its conf, so
    that is pointed at ``url`` too: WorkerProcess passes the environment on to the worker.
    Enter it before overriding Django's settings: what it restores is what it finds.
    """
    conf_before = (app.conf.get("broker_url"), app.conf.get("broker_transport_options"))
    env_before = {name: os.environ.get(name) for name in _URL_VARIABLES}
    _drop_connections(app)
    for name in _URL_VARIABLES:
        os.environ.pop(name, None)
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.broker_url = url
    app.conf.broker_transport_options = transport_options
    try:
        yield
    finally:
        _drop_connections(app)
        app.conf.broker_url, app.conf.broker_transport_options = conf_before
        for name, value in env_before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
