"""Whether a browser sent a request from another site's page.

Any web page can make its visitors' browsers POST to the verification API (a form, or a
``fetch`` with ``mode: "no-cors"``): the browser does not let the page read the answer, but
the request is made, so the page could have codes sent, by SMS at the site's cost, from
each visitor's IP address (spreading the per-IP limit over all of them). Browsers say where
such a request comes from, in headers a page cannot set or forge:

``Sec-Fetch-Site``
    ``same-origin``, ``same-site`` or ``none`` (the user's own action) are accepted;
    ``cross-site`` is refused unless its ``Origin`` is allowed. An unknown value falls back
    to the ``Origin`` rule below.
``Origin``
    When there is no ``Sec-Fetch-Site`` (older browsers): refused when it is ``null`` (a
    sandboxed frame, a ``data:`` or ``file:`` page, some redirects) or differs from the
    request's own origin (scheme and host, from ``request.is_secure()`` and
    ``request.get_host()``), unless it is allowed.

Requests with neither header (mobile apps, curl, server-to-server calls) are not a
browser's and are accepted: this guards the visitors' browsers, not the API against clients
that choose their own headers (the service's limits do that).

Allowed origins are ``TEXTLINK["ALLOWED_ORIGINS"]``: exact origins
(``"https://app.example.com"``; the default port may be written or left out) or wildcard
hosts (``"https://*.example.com"``: any subdomain of example.com, not example.com itself).
Allowing an origin does not add CORS headers: a page there that must read the answers (or
send JSON) also needs them, e.g. from django-cors-headers.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

from django.http import HttpRequest

from django_textlink.conf import conf

#: Sec-Fetch-Site values of requests that do not come from another site's page.
NOT_CROSS_SITE = frozenset({"same-origin", "same-site", "none"})
CROSS_SITE = "cross-site"
DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int | None

    def matches(self, allowed: Origin) -> bool:
        """Whether this (a request's) origin is ``allowed``, which may be a wildcard."""
        if (self.scheme, self.port) != (allowed.scheme, allowed.port):
            return False
        if allowed.host.startswith("*."):
            return self.host.endswith(allowed.host[1:])
        return self.host == allowed.host


def parse_origin(value: str) -> Origin | None:
    """``scheme://host[:port]`` as an :class:`Origin` (the default port filled in), or None
    for ``null`` and anything else that is not an http(s) origin."""
    try:
        parts = urlsplit(value.strip().rstrip("/").lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return None
    return Origin(parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme])


def request_origin(request: HttpRequest) -> Origin | None:
    """The request's own origin: its scheme and ``Host`` (as Django validates them against
    ``ALLOWED_HOSTS``; a proxy's scheme counts with ``SECURE_PROXY_SSL_HEADER``)."""
    scheme = "https" if request.is_secure() else "http"
    return parse_origin(f"{scheme}://{request.get_host()}")


def origin_allowed(origin: str | None) -> bool:
    """Whether ``origin`` (an ``Origin`` header) is in ``TEXTLINK["ALLOWED_ORIGINS"]``."""
    parsed = parse_origin(origin) if origin else None
    if parsed is None:
        return False
    for item in conf.ALLOWED_ORIGINS:
        allowed = parse_origin(item)
        if allowed is not None and parsed.matches(allowed):
            return True
    return False


def _shown(origin: str | None) -> str:
    """``origin`` for a log line (it is the client's: quoted, and cut short)."""
    return repr(origin if origin is None or len(origin) <= 100 else origin[:100] + "...")


def cross_site_refusal(request: HttpRequest) -> str | None:
    """Why ``request`` is refused as a browser's cross-site request (a sentence for logs,
    not for the client), or None to accept it."""
    origin = request.headers.get("Origin")
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        fetch_site = fetch_site.strip().lower()
        if fetch_site in NOT_CROSS_SITE:
            return None
        if fetch_site == CROSS_SITE:
            if origin_allowed(origin):
                return None
            return f"Sec-Fetch-Site is cross-site and the origin {_shown(origin)} is not allowed"
    if origin is None:
        return None
    if origin.strip().lower() == "null":
        return "the Origin is null"
    parsed = parse_origin(origin)
    if parsed is not None and parsed == request_origin(request):
        return None
    if origin_allowed(origin):
        return None
    return f"the origin {_shown(origin)} is not the site's own and is not allowed"
