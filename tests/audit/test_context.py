"""Whose address a request carries: the peer's, unless the peer is a proxy the portal trusts."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from apps.core.client import client_ip


def address(peer: str, forwarded: str | None = None) -> str | None:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=peer, headers=headers))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("192.0.2.66", None, "192.0.2.66"),
        # Not a trusted proxy: whatever it forwards may be made up.
        ("192.0.2.66", "203.0.113.7", "192.0.2.66"),
        ("10.0.1.9", "203.0.113.7", "10.0.1.9"),
        # The proxy appends its client; what the client wrote itself stands to the left.
        ("10.0.0.2", "203.0.113.7", "203.0.113.7"),
        ("10.0.0.2", "1.2.3.4, 203.0.113.7", "203.0.113.7"),
        # Proxies chained in the trusted network: each hop is skipped, right to left.
        ("10.0.0.2", "1.2.3.4, 203.0.113.7, 172.16.5.5", "203.0.113.7"),
        # A trusted proxy that forwarded nothing usable is the last address known.
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "unknown", "10.0.0.2"),
        ("10.0.0.2", "203.0.113.7, unknown", "10.0.0.2"),
        # A server listening on IPv6 sees IPv4 peers as mapped addresses.
        ("::ffff:10.0.0.2", "2001:db8::7", "2001:db8::7"),
        ("::ffff:192.0.2.66", "203.0.113.7", "192.0.2.66"),
        ("not-an-address", "203.0.113.7", None),
    ],
)
def test_forwarded_addresses_count_only_from_trusted_proxies(settings, peer, forwarded, expected):
    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.2/32", "172.16.0.0/12"]
    assert address(peer, forwarded) == expected


def test_with_no_trusted_proxy_the_header_is_never_read(settings):
    settings.PORTAL_TRUSTED_PROXIES = []
    assert address("10.0.0.2", "203.0.113.7") == "10.0.0.2"
