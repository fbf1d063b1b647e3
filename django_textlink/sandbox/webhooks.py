"""Playing TextLink's part towards the site: building and posting the four webhooks.

The payloads follow TextLink's published examples (see ``docs/sandbox.md``): a JSON
body, the shared ``secret`` inside it, ``timestamp`` in JavaScript milliseconds. Only
HTTP 200 counts as delivered, as for TextLink.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

from django_textlink import __version__
from django_textlink.sandbox.config import SandboxConfig

BODY_EXCERPT = 300


@dataclass
class WebhookOutcome:
    """One webhook the sandbox posted (or tried to): where, and what the site said."""

    id: int
    kind: str
    url: str | None
    phone_number: str
    #: The site's HTTP status, None when no answer came (no site URL, connection error).
    status: int | None = None
    ok: bool = False
    error: str = ""
    #: The start of the site's answer (its reason for a 400/403, for example).
    body: str = ""
    elapsed_ms: int = 0
    message_id: int | None = None
    at: float = field(default_factory=time.time)
    #: What was posted, without the secret.
    payload: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        target = self.url or "(no site URL)"
        if self.ok:
            return f"{self.kind} webhook to {target}: HTTP {self.status}"
        if self.status is not None:
            reason = f" ({self.body.strip()[:120]})" if self.body.strip() else ""
            return f"{self.kind} webhook to {target} failed: HTTP {self.status}{reason}"
        return f"{self.kind} webhook to {target} failed: {self.error}"


def now_ms() -> int:
    return int(time.time() * 1000)


class WebhookSender:
    """Posts webhooks to the site with one keep-alive session."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.session = requests.Session()
        # The site is usually on this machine: never send its webhooks through a proxy.
        self.session.trust_env = False
        self.session.headers["User-Agent"] = f"TextLinkSandbox/{__version__} (django-textlink)"

    def close(self) -> None:
        self.session.close()

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def send(
        self, kind: str, payload: dict[str, Any], *, message_id: int | None = None
    ) -> WebhookOutcome:
        """Post ``payload`` (the secret is added here) to the ``kind`` webhook URL."""
        url = self.config.webhook_url(kind)
        outcome = WebhookOutcome(
            id=self._next_id(),
            kind=kind,
            url=url,
            phone_number=str(payload.get("phone_number", "")),
            message_id=message_id,
            payload=dict(payload),
        )
        if url is None:
            outcome.error = "No site URL is configured (start the sandbox with --site-url)."
            return outcome
        body = dict(payload)
        if self.config.webhook_secret:
            body["secret"] = self.config.webhook_secret
        started = time.monotonic()
        try:
            response = self.session.post(
                url, json=body, timeout=self.config.webhook_timeout, allow_redirects=False
            )
        except requests.RequestException as err:
            outcome.error = f"{type(err).__name__}: the site did not answer ({_reason(err)})"
        else:
            outcome.status = response.status_code
            outcome.ok = response.status_code == 200
            outcome.body = response.text[:BODY_EXCERPT]
            response.close()
        outcome.elapsed_ms = round((time.monotonic() - started) * 1000)
        return outcome


def _reason(err: requests.RequestException) -> str:
    if isinstance(err, requests.Timeout):
        return "timed out"
    if isinstance(err, requests.ConnectionError):
        return "could not connect, or the connection broke"
    return str(err)[:200]
