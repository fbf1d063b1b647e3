"""The client IP a limit is keyed on.

``REMOTE_ADDR`` by default. ``X-Forwarded-For`` is read only when ``REMOTE_ADDR`` is one
of ``TEXTLINK["TRUSTED_PROXIES"]``: then the rightmost address that is not a trusted
proxy is the client (the left part of the header is whatever the client chose to send).
IPv6 clients are keyed on their /64 network: one subscriber typically holds a whole /64.

A request without a usable address (``REMOTE_ADDR`` empty, as behind nginx with
gunicorn on a Unix socket, missing, as some ASGI servers leave it, or not an IP) is never
unlimited: all such requests share one bucket, :data:`UNKNOWN_CLIENT`. With ``"unix"`` in
``TRUSTED_PROXIES`` such a peer is trusted as a proxy (it is the local reverse proxy on
the other end of the socket), and its ``X-Forwarded-For`` names the client.
"""

from __future__ import annotations

import ipaddress
import logging

from django.http import HttpRequest

from django_textlink.conf import conf

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The one bucket shared by every request without a usable client address.
UNKNOWN_CLIENT = "unknown-client"

logger = logging.getLogger("django_textlink.clientip")
_warned = False


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
    """The client's address, or None when the request has none that can be used."""
    remote = _parse(str(request.META.get("REMOTE_ADDR") or ""))
    trusted = conf.TRUSTED_PROXIES
    if remote is None:
        peer_trusted = conf.TRUSTS_UNIX_PEER
    else:
        peer_trusted = any(remote in net for net in trusted)
    if not peer_trusted:
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
    """A string identifying the client for rate limits: the IPv4 address, the IPv6 /64,
    or :data:`UNKNOWN_CLIENT` for a request without a usable address. None only without
    a request (code run from a shell or a task is not a client)."""
    if request is None:
        return None
    address = client_ip(request)
    if address is None:
        _warn_unknown_client(request)
        return UNKNOWN_CLIENT
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def _warn_unknown_client(request: HttpRequest) -> None:
    """Say once per process why every client shares one bucket, and how to fix it."""
    global _warned
    if _warned:
        return
    _warned = True
    logger.warning(
        "A request reached the phone verification without a usable client address "
        "(REMOTE_ADDR=%r): every such request shares one per-IP limit. Behind a proxy on a "
        'Unix socket, add "unix" to TEXTLINK["TRUSTED_PROXIES"] and have the proxy set '
        "X-Forwarded-For (nginx: proxy_set_header X-Forwarded-For $remote_addr).",
        str(request.META.get("REMOTE_ADDR", ""))[:64],
    )


def client_network_key(request: HttpRequest | None) -> str | None:
    """The client's network, for the fraud guard's "one network, many numbers": the IPv4
    /24 or the IPv6 /48 around :func:`client_ip`. None without a request or a usable
    address."""
    if request is None:
        return None
    address = client_ip(request)
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{address}/48", strict=False))
    return str(ipaddress.IPv4Network(f"{address}/24", strict=False))
