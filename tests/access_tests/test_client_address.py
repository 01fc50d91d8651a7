"""The client address: X-Forwarded-For only through trusted proxies."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from access.client_address import client_address


def address(remote: str, forwarded: str | None = None) -> str:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_address(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TAOS_TRUSTED_PROXIES = []
    assert address("192.0.2.1", "198.51.100.1") == "192.0.2.1"


@pytest.mark.parametrize(("remote", "forwarded", "expected"), [
    ("10.0.0.5", "198.51.100.1", "198.51.100.1"),
    ("10.0.0.5", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client's own entry is never reached
    ("10.0.0.5", "198.51.100.1, 10.0.0.9", "198.51.100.1"),  # two trusted hops
    ("10.0.0.5", "", "10.0.0.5"),
    ("10.0.0.5", "not-an-address", "10.0.0.5"),
    ("10.0.0.5", "\x00\xff, 198.51.100.1", "198.51.100.1"),
    ("10.0.0.5", "10.0.0.7, 10.0.0.9", "10.0.0.7"),  # every hop trusted: the farthest
    ("192.0.2.1", "198.51.100.1", "192.0.2.1"),  # not from a trusted proxy
    ("2001:db8::1", "198.51.100.1", "2001:db8::1"),
    ("fd00::5", "2001:db8::7", "2001:db8::7"),
    ("garbage", "198.51.100.1", ""),
])
def test_forwarded_for_is_read_through_trusted_proxies_only(settings, remote, forwarded, expected):
    settings.TAOS_TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    assert address(remote, forwarded) == expected
