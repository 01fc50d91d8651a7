"""The address of the client of a request, through trusted proxies only.

`X-Forwarded-For` is read only when the request came from a proxy listed
in TAOS_TRUSTED_PROXIES (addresses or networks; default none), and only as
far back as trusted proxies wrote it: walking the list from the right, the
first address that is not a trusted proxy is the client. Whatever a client
wrote at the left of the header itself is never reached, so nobody can
choose the address they are counted under, and clients behind one load
balancer are told apart.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    """Parse addresses and CIDR networks; raise ValueError naming a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


@lru_cache(maxsize=8)
def _trusted(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(entries)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
                trusted: tuple[Network, ...]) -> bool:
    return any(address in network for network in trusted)


def client_address(request: HttpRequest) -> str:
    """Return the client's IP address as text ("" when it cannot be told)."""
    remote = _address(request.META.get("REMOTE_ADDR", "") or "")
    if remote is None:
        return ""
    trusted = _trusted(tuple(settings.TAOS_TRUSTED_PROXIES))
    if not trusted or not _is_trusted(remote, trusted):
        return str(remote)
    client = remote
    hops = (request.META.get("HTTP_X_FORWARDED_FOR", "") or "").split(",")
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Garbage where a trusted proxy should have written an address:
            # the last trusted hop is all that is known.
            break
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client)
