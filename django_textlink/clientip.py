"""The client IP a limit is keyed on.

``REMOTE_ADDR`` by default. ``X-Forwarded-For`` is read only when ``REMOTE_ADDR`` is one
of ``TEXTLINK["TRUSTED_PROXIES"]``: then the rightmost address that is not a trusted
proxy is the client (the left part of the header is whatever the client chose to send).
IPv6 clients are keyed on their /64 network: one subscriber typically holds a whole /64.
"""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest

from django_textlink.conf import conf

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(value: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; compare them (with the
    # trusted proxies too) as the IPv4 addresses they are.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip(request: HttpRequest) -> IPAddress | None:
    remote = _parse(str(request.META.get("REMOTE_ADDR", "")))
    trusted = conf.TRUSTED_PROXIES
    if remote is None or not trusted or not any(remote in net for net in trusted):
        return remote
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    for part in reversed([p for p in forwarded.split(",") if p.strip()]):
        address = _parse(part)
        if address is None:
            return remote  # a malformed hop: do not trust anything left of it
        if not any(address in net for net in trusted):
            return address
    return remote


def client_ip_key(request: HttpRequest | None) -> str | None:
    """A string identifying the client for rate limits: the IPv4 address, or the IPv6 /64."""
    if request is None:
        return None
    address = client_ip(request)
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)
