"""The test suite's own helpers: a server that fails to start is stopped, not left behind."""

from __future__ import annotations

import pytest

from tests.support.gunicorn import Gunicorn
from tests.support.services import free_port


class NeverReady(Gunicorn):
    """A server that is up and asked, but never found ready (as one stuck in start-up)."""

    def _answers(self) -> bool:
        super()._answers()
        return False


@pytest.mark.django_db(transaction=True)
def test_a_gunicorn_that_is_not_ready_in_time_is_stopped():
    server = NeverReady()
    server.ready_within = 8
    with pytest.raises(AssertionError, match="timed out"), server:
        pass
    assert server.process is not None and server.process.poll() is not None


@pytest.mark.django_db(transaction=True)
def test_a_gunicorn_that_exits_at_start_up_is_reported_with_its_output():
    server = Gunicorn(SECRET_KEY="too-short")
    with pytest.raises(RuntimeError, match="SECRET_KEY"), server:
        pass
    assert server.process is not None and server.process.poll() is not None


def test_free_ports_are_not_handed_out_twice_by_one_process():
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(20000 <= port < 32768 for port in ports)  # below the kernel's ephemeral ports
