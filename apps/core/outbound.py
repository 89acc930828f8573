"""Requests the portal makes to addresses people typed (webhooks, MLflow servers): the SSRF guard.

A URL is typed by an administrator but the request is made from inside the bank's network, so
every request first checks where the URL leads (``check_target``): the host is resolved once,
every address is checked, and the request then goes to one of those checked addresses
(``connection_pool``: with a ``Host`` header, TLS verified against the name). Resolving again at
connect time would let a DNS answer that changes between the check and the connection (DNS
rebinding) walk around the guard.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import certifi
import urllib3
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# A host name in IDNA (ASCII) form, or an IPv4 address: what the guard accepts as a host.
HOST_NAME = re.compile(r"^[a-z0-9_.-]+$")

_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d (also :: and ::1)


class TargetRefused(Exception):
    """The URL may not be called; the message says why and what to change."""


@dataclass(frozen=True)
class Target:
    """Where a request goes, after the checks: connect only to ``addresses``."""

    scheme: str
    host: str  # lower-case, IDNA (ASCII) form; an IPv6 literal without brackets
    port: int
    path: str  # path and query, as sent on the request line
    addresses: tuple[str, ...]  # every address the host resolved to, each one checked
    allowlisted: bool = False  # an administrator allowed the exact host (or host:port)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, where the network would deliver it there."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _why_not_public(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is one.

    ``is_global`` alone is not enough: Python counts multicast, IPv6 site-local and 6to4 or
    IPv4-mapped spellings of internal IPv4 addresses as global, so those are checked by name.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = _why_not_public(embedded)
            return f"{reason} (written as the IPv6 address {ip})" if reason else None
        if ip in _IPV4_COMPATIBLE and int(ip) > 1:
            return "an IPv4-compatible IPv6 address (a deprecated form)"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (this range includes cloud metadata services)"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_ADDRESS_SPACE:
        return "a shared (carrier-grade NAT) address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private or special-purpose address"
    if not ip.is_global:
        return "not a publicly routable address"
    return None


def _why_not_allowlisted_target(ip: IPAddress) -> str | None:
    """An allowlisted host may be internal, but never an address no receiver can listen on."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    return None


def _ascii_host(host: str) -> str:
    """The host as it goes on the wire: an IP literal as is, a name in IDNA (ASCII) form."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise TargetRefused(f"{host!r} is not a valid host name.") from exc
    if not HOST_NAME.match(ascii_host) or len(ascii_host) > 253:
        raise TargetRefused(f"{host!r} is not a valid host name.")
    return ascii_host


def _resolve(host: str, port: int, what: str) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(
            f"The host {host!r} could not be resolved ({exc}). Check {what.lower()}."
        ) from exc
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetRefused(f"The host {host!r} resolved to no address. Check {what.lower()}.")
    return tuple(addresses)


def allowlist_candidates(host: str, ascii_host: str, port: int) -> set[str]:
    """The spellings an allowlist entry may use for this host: exact host (any port) or exact
    ``host:port``. Another name or spelling of the same address (``127.1`` for ``127.0.0.1``,
    ``localhost``) is not among them on purpose, and an entry with a port allows that port only,
    so allowing an internal receiver need not open the database next to it."""
    # An IPv6 literal may have been written with or without brackets; with a port it needs them.
    bracketed = {f"[{name}]" if ":" in name else name for name in (host, ascii_host)}
    return {host, ascii_host} | bracketed | {f"{name}:{port}" for name in bracketed}


def check_target(
    url: str,
    *,
    allowlisted: Callable[[set[str]], bool],
    what: str = "The URL",
    allow_advice: str = "",
) -> Target:
    """Check that ``url`` may be called from inside the bank and return where to connect.

    Refuses (``TargetRefused``) anything but http(s), URLs with credentials or without a host,
    and hosts that resolve to any address that is not public unicast, unless ``allowlisted``
    (given the host's ``allowlist_candidates``) says an administrator allowed that exact host.
    The addresses are checked after resolution, so spellings such as ``2130706433``,
    ``0x7f.0.0.1`` or ``127.1`` are judged by where they actually lead. ``what`` names the URL
    in messages ("The webhook URL"); ``allow_advice`` says where an administrator allows a host.
    """
    if any(ch <= " " or ch == "\x7f" for ch in url):
        # urlsplit silently drops tabs and newlines; refuse rather than guess what was meant.
        raise TargetRefused(f"{what} contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        port_in_url = parts.port
    except ValueError as exc:
        raise TargetRefused(f"{what} is not valid: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused(
            f"{what} must start with http:// or https://, not {parts.scheme or 'nothing'}."
        )
    if "@" in parts.netloc:
        raise TargetRefused(
            f"{what} must not contain a user name or password: credentials are configured "
            "separately and never travel in a URL."
        )
    host = parts.hostname or ""
    if not host:
        raise TargetRefused(f"{what} has no host.")
    if port_in_url == 0:
        raise TargetRefused(f"Port 0 is not a valid port ({what.lower()}).")
    port = port_in_url or (443 if scheme == "https" else 80)
    ascii_host = _ascii_host(host)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    # Percent-encode what may not appear on a request line (non-ASCII), keep everything else.
    path = quote(path, safe="/?&=%:@!$'()*+,;~-._")

    allowed = allowlisted(allowlist_candidates(host, ascii_host, port))
    addresses = _resolve(ascii_host, port, what)
    judge = _why_not_allowlisted_target if allowed else _why_not_public
    for address in addresses:
        reason = judge(ipaddress.ip_address(address))
        if reason:
            where = host if address == host else f"{host} resolves to {address}, which"
            advice = (
                ""
                if allowed
                else " Only public addresses may be reached, unless an administrator allows "
                f"this exact host{allow_advice}."
            )
            raise TargetRefused(f"{where} is {reason}.{advice}")
    return Target(
        scheme=scheme,
        host=ascii_host,
        port=port,
        path=path,
        addresses=addresses,
        allowlisted=allowed,
    )


def connection_pool(
    target: Target, address: str, timeout: urllib3.Timeout
) -> urllib3.HTTPConnectionPool:
    """A pool that connects to ``address`` itself: urllib3 never resolves the name again."""
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            # TLS is checked against the name in the URL, not the address we connect to.
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.PORTAL_CA_BUNDLE or certifi.where(),
        )
    return urllib3.HTTPConnectionPool(
        address, target.port, timeout=timeout, retries=False, maxsize=1
    )
