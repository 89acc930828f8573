"""Who is acting, from where: the request context every audit event carries.

The web middleware binds it per request; Celery tasks bind it per job. Stored in a context variable
so that it follows the thread (gunicorn) or task that set it and nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest

from apps.core.client import client_ip


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip: str | None = None
    user_agent: str = ""


_current: ContextVar[RequestContext | None] = ContextVar("audit_request_context", default=None)

# A request id from a proxy is kept for correlation only when it looks like one.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def current() -> RequestContext | None:
    return _current.get()


@contextlib.contextmanager
def bound(ctx: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(inbound: str) -> str:
    """The caller's X-Request-ID when it looks like one, else a new id."""
    return inbound if _REQUEST_ID.match(inbound) else new_request_id()


def from_request(request: HttpRequest) -> RequestContext:
    return RequestContext(
        request_id=request_id_from(request.headers.get("X-Request-ID", "")),
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:300],
    )


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record so log lines join up with audit events."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _current.get()
        record.request_id = ctx.request_id if ctx else "-"
        return True
