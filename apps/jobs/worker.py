"""A Celery worker bootstep that records the worker's heartbeat every few seconds.

Imported by mlops_portal/celery.py before Django is set up, so models are imported lazily.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from celery import bootsteps
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


class HeartbeatStep(bootsteps.StartStopStep):
    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.timer_ref: Any = None
        self.started_at: datetime | None = None

    def start(self, worker: Any) -> None:
        self.started_at = timezone.now()
        self.beat(worker)
        self.timer_ref = worker.timer.call_repeatedly(
            settings.PORTAL_WORKER_HEARTBEAT_SECONDS, self.beat, (worker,), priority=10
        )

    def stop(self, worker: Any) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None

    def beat(self, worker: Any) -> None:
        from django.db import close_old_connections

        from apps.jobs.services import record_heartbeat, run_janitors

        try:
            close_old_connections()
            queues = sorted(q.name for q in worker.app.amqp.queues.consume_from.values())
            assert self.started_at is not None
            record_heartbeat(
                hostname=worker.hostname,
                pid=os.getpid(),
                queues=queues,
                started_at=self.started_at,
                live_pids=_processes(worker),
            )
            run_janitors()
        except Exception:
            # A database blip must not stop the worker; /healthz shows the missing heartbeat.
            logger.exception("could not record the worker heartbeat")


def _processes(worker: Any) -> set[int] | None:
    """The processes that run this worker's tasks: its pool's children (prefork), or itself
    (solo and thread pools). None when the pool does not say, so no job is judged by it."""
    try:
        info = worker.pool.info
    except Exception:
        return None
    processes = info.get("processes") if isinstance(info, dict) else None
    if processes is None:
        return None
    return {int(pid) for pid in processes if pid}
