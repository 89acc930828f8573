"""Who is acting, from where: the request context every audit event carries.

The web middleware binds it per request; Celery tasks bind it per job. Stored in a context variable
so that it follows the thread (gunicorn) or task that set it and nothing else.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest


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


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, the one rule for the audit trail, sign-in lock-outs and API rate
    limits: the peer's address, unless the peer is one of ``PORTAL_TRUSTED_PROXIES``.

    Then X-Forwarded-For is read from the right. Each proxy appends the address it received the
    request from, so the entries a trusted proxy wrote are true, and the first address that is not
    a trusted proxy is the client. What stands left of it came from the client and may be forged;
    from a peer that is not a trusted proxy, the whole header may be.
    """
    address = _address(request.META.get("REMOTE_ADDR", ""))
    trusted = _networks(tuple(settings.PORTAL_TRUSTED_PROXIES))
    hops = request.headers.get("X-Forwarded-For", "").split(",")
    while address is not None and hops and any(address in net for net in trusted):
        forwarded = _address(hops.pop())
        if forwarded is None:  # a trusted proxy forwarded no address: it is the last we know
            break
        address = forwarded
    return str(address) if address is not None else None


def _address(raw: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    # A server listening on IPv6 sees IPv4 clients as ::ffff:a.b.c.d; they are the same client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@functools.cache
def _networks(configured: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(item) for item in configured)


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record so log lines join up with audit events."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _current.get()
        record.request_id = ctx.request_id if ctx else "-"
        return True
