"""Real services for tests: skip when one is missing; under PORTAL_REQUIRE_SERVICES=1, fail."""

from __future__ import annotations

import os
import random
import socket
from typing import NoReturn

import pytest

REQUIRE_SERVICES = os.environ.get("PORTAL_REQUIRE_SERVICES", "") == "1"


# Each test process draws ports from a range of its own, below Linux's ephemeral ports (32768
# and up, which outgoing connections take): between finding a port free and the server a test
# starts binding it, no other process of a parallel run (pytest -n) can take it.
PORTS_PER_PROCESS = 1000
_PROCESS_NUMBER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
_PORTS = range(
    20000 + PORTS_PER_PROCESS * _PROCESS_NUMBER, 20000 + PORTS_PER_PROCESS * (_PROCESS_NUMBER + 1)
)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback TCP port nothing listens on now (for a server a test starts, or to refuse),
    from this process's range, and not one it handed out before (that server may be starting)."""
    if len(_handed_out) == len(_PORTS):  # a long run: the servers of the first are long gone
        _handed_out.clear()
    candidates = [port for port in _PORTS if port not in _handed_out]
    # Random, not in order: another pytest run on the machine (not a sibling) draws from the
    # same range, and two runs walking it in step would keep meeting.
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port left in {_PORTS}")


def unavailable(reason: str) -> NoReturn:
    if REQUIRE_SERVICES:
        pytest.fail(f"PORTAL_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def require_postgres() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        unavailable("this test needs PostgreSQL: set DATABASE_URL=postgresql://…")


def require_redis() -> None:
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        unavailable("this test needs Redis: set CELERY_BROKER_URL=redis://…")
