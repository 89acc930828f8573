"""Who is on the other end of a request: the one rule for the audit trail, sign-in lock-outs and
API rate limits (axes and DRF's throttles call ``client_ip``, so do the audit context's)."""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest

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
