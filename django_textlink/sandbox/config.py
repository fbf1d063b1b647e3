"""The sandbox's configuration and fault injection settings (stdlib only, no Django).

A *fault answer* is what the sandbox says instead of the real answer for one phone
number. It is written the same way everywhere (command line, control API, Python API):

=============================  ==============================================================
``500``                        HTTP 500 with ``{"ok": false, "message": "Sandbox: injected ..."}``
``200``                        HTTP 200 with ``{"ok": true}``
``json:{"ok": false, ...}``    HTTP 200 with that JSON body
``400:json:{...}``             HTTP 400 with that JSON body
``text:Bad gateway``           HTTP 200 with a ``text/plain`` body (not JSON)
``502:text:<html>...``         HTTP 502 with a ``text/plain`` body
``drop``                       close the connection without answering
``{"status": 429, ...}``       the object form below, as JSON (the only one with headers)
=============================  ==============================================================

The object form (the control API's, and ``parse_answer``'s for a dict) is
``{"status": 429, "body": {...}, "headers": {"Retry-After": "30"}}``, or with ``"text"``
instead of ``"body"``, or ``{"drop": true}``. ``headers`` are sent with the answer; a
``Content-Type`` there replaces the sandbox's own. The sandbox frames every answer itself,
so ``Content-Length``, ``Transfer-Encoding`` and ``Connection`` cannot be given.

A fault applies to every endpoint for that number (``+12025550143=500``), or to one
endpoint only when the key names it (``send-code:+12025550143=500``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8025
DEFAULT_API_KEY = "sandbox-key"
DEFAULT_SITE_URL = "http://127.0.0.1:8000"
#: Where django-textlink's webhook views live under the site (``path("textlink/", ...)``).
DEFAULT_WEBHOOK_PATH = "/textlink/webhooks"
DEFAULT_EXPIRATION_MS = 600_000
DEFAULT_WEBHOOK_TIMEOUT = 10.0
DEFAULT_MAX_MESSAGES = 10_000
#: How many API calls the sandbox remembers by default, the oldest forgotten first.
DEFAULT_MAX_CALLS = 1000
MAX_LATENCY = 600.0

#: TextLink's endpoints, as TextLink spells them (``update-contect-tag`` sic).
ENDPOINTS = ("send-sms", "send-code", "verify-code", "update-contect-tag")
WEBHOOK_KINDS = ("received", "sent", "failed", "tag")

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
_STATUS_RE = re.compile(r"^\d{3}$")
#: An HTTP header name (RFC 9110 token).
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: Headers the sandbox sets itself to frame the answer.
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection"}


def is_e164(value: object) -> bool:
    return isinstance(value, str) and E164_RE.match(value) is not None


def clean_phone(value: object) -> str | None:
    """``"+1 (202) 555-0143"`` -> ``"+12025550143"``; None when it is not E.164 then."""
    if not isinstance(value, str):
        return None
    compact = re.sub(r"[\s().\-]", "", value)
    return compact if is_e164(compact) else None


@dataclass(frozen=True)
class Answer:
    """A canned answer: ``status`` with a JSON ``body`` (or a text one when ``text``) and
    extra response ``headers`` (``{"Retry-After": "30"}``), or no answer at all
    (``drop``: the connection is closed)."""

    status: int = 200
    body: Any = None
    text: bool = False
    drop: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.drop and self.headers:
            raise ValueError("A dropped connection sends no headers.")
        object.__setattr__(self, "headers", _check_headers(self.headers))

    def to_dict(self) -> dict[str, Any]:
        if self.drop:
            return {"drop": True}
        data: dict[str, Any] = {"status": self.status}
        data["text" if self.text else "body"] = self.body
        if self.headers:
            data["headers"] = dict(self.headers)
        return data

    def spec(self) -> str:
        """The command-line form of this answer (the JSON object form when it has
        headers, which the short forms cannot carry)."""
        if self.drop:
            return "drop"
        if self.headers:
            return json.dumps(self.to_dict(), ensure_ascii=False)
        if self.text:
            return f"{self.status}:text:{self.body}"
        return f"{self.status}:json:{json.dumps(self.body, ensure_ascii=False)}"


def _check_headers(headers: object) -> dict[str, str]:
    """A copy of ``headers`` as ``{name: value}`` strings; ValueError for a name that is
    not a token, a value with a line break, or a header that frames the answer."""
    if not isinstance(headers, Mapping):
        raise ValueError('Answer headers must be an object such as {"Retry-After": "30"}.')
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME_RE.match(name):
            raise ValueError(f"{name!r} is not an HTTP header name.")
        if name.lower() in _FRAMING_HEADERS:
            raise ValueError(f"The sandbox sets {name} itself; it cannot be scripted.")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            raise ValueError(f"The {name} header needs a one-line string value, not {value!r}.")
        checked[name] = value
    return checked


def default_body(status: int) -> dict[str, Any]:
    if 200 <= status < 300:
        return {"ok": True}
    return {"ok": False, "message": f"Sandbox: injected HTTP {status}"}


def _status(value: object) -> int:
    if isinstance(value, str) and _STATUS_RE.match(value.strip()):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
        raise ValueError(f"An HTTP status must be a number from 100 to 599, got {value!r}.")
    if value < 200 or value in (204, 304):
        raise ValueError(f"HTTP {value} cannot carry a body; use 200-599 (but not 204/304).")
    return value


def parse_answer(value: object) -> Answer:
    """An :class:`Answer` from an int status, a spec string (see the module docstring) or a
    dict ``{"status": 500, "body": {...}}`` / ``{"status": 502, "text": "..."}`` /
    ``{"drop": true}``, each optionally with ``"headers": {"Retry-After": "30"}``. Raises
    ``ValueError`` with a readable reason."""
    if isinstance(value, Answer):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        status = _status(value)
        return Answer(status, default_body(status))
    if isinstance(value, str):
        return _parse_answer_spec(value.strip())
    if isinstance(value, Mapping):
        unknown = set(value) - {"status", "body", "text", "drop", "headers"}
        if unknown:
            raise ValueError(f"Unknown fault answer fields: {', '.join(sorted(unknown))}.")
        headers = _check_headers(value.get("headers") or {})
        if value.get("drop"):
            return Answer(drop=True, headers=headers)
        if "body" in value and "text" in value:
            raise ValueError("A fault answer has either a JSON 'body' or a 'text', not both.")
        status = _status(value.get("status", 200))
        if "text" in value:
            if not isinstance(value["text"], str):
                raise ValueError("A fault answer's 'text' must be a string.")
            return Answer(status, value["text"], text=True, headers=headers)
        body = value["body"] if "body" in value else default_body(status)
        _check_json(body)
        return Answer(status, body, headers=headers)
    raise ValueError(f"A fault answer must be a status, a spec string or an object, not {value!r}.")


def _check_json(body: object) -> None:
    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"A fault answer's body must be JSON: {err}") from None


def _parse_answer_spec(spec: str) -> Answer:
    if spec == "drop":
        return Answer(drop=True)
    if spec.startswith("{"):  # the object form, as JSON
        try:
            data = json.loads(spec)
        except ValueError as err:
            raise ValueError(f"Not a valid JSON object in {spec!r}: {err}") from None
        if not isinstance(data, dict):
            raise ValueError(f"Not a JSON object: {spec!r}.")
        return parse_answer(data)
    status_text, sep, rest = spec.partition(":")
    if not sep:
        status = _status(status_text)
        return Answer(status, default_body(status))
    if _STATUS_RE.match(status_text):
        status = _status(status_text)
    else:  # "json:..." / "text:..." without a status
        status, rest = 200, spec
    kind, sep, payload = rest.partition(":")
    if kind == "json" and sep:
        try:
            body = json.loads(payload)
        except ValueError as err:
            raise ValueError(f"Not valid JSON after 'json:' in {spec!r}: {err}") from None
        _check_json(body)
        return Answer(status, body)
    if kind == "text" and sep:
        return Answer(status, payload, text=True)
    raise ValueError(
        f"Cannot read the fault answer {spec!r}: use STATUS, json:{{...}}, STATUS:json:{{...}}, "
        'text:..., STATUS:text:..., drop or {"status": ..., "headers": {...}, ...}.'
    )


def parse_fault_key(key: object) -> str:
    """``"+12025550143"`` or ``"send-code:+12025550143"``, checked."""
    if not isinstance(key, str):
        raise ValueError(f"A fault key must be a phone number, not {key!r}.")
    key = key.strip()
    endpoint, sep, phone = key.rpartition(":")
    if sep and endpoint not in ENDPOINTS:
        raise ValueError(f"Unknown endpoint {endpoint!r} in {key!r}; use one of {ENDPOINTS}.")
    if not is_e164(phone):
        raise ValueError(f"{phone!r} is not a phone number in E.164 form such as +12025550143.")
    return key


def parse_fault(spec: str) -> tuple[str, Answer]:
    """``"+12025550143=500"`` -> ``("+12025550143", Answer(500, ...))``."""
    key, sep, answer = spec.partition("=")
    if not sep:
        raise ValueError(
            f"A fault looks like +12025550143=500 or +1...=json:{{...}}, not {spec!r}."
        )
    return parse_fault_key(key), parse_answer(answer)


def _number(value: object, high: float) -> float | None:
    """``value`` (a number, or a string of one) as a float when it is finite and from 0 to
    ``high``, else None. A string that is no number raises ValueError."""
    if isinstance(value, str):
        value = float(value)
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 <= value <= high
    ):
        return None
    return float(value)


def _rate(name: str, value: object) -> float:
    number = _number(value, 1)
    if number is None:
        shown = float(value) if isinstance(value, str) else value
        raise ValueError(f"{name} must be a number from 0 to 1, got {shown!r}.")
    return number


def _seconds(name: str, value: object) -> float:
    number = _number(value, MAX_LATENCY)
    if number is None:
        raise ValueError(f"{name} must be a number of seconds from 0 to {MAX_LATENCY:g}.")
    return number


def check_rate(value: str) -> float:
    """For argparse: a fraction from 0 to 1."""
    return _rate("The rate", value)


def check_seconds(value: str) -> float:
    """For argparse: seconds from 0 to :data:`MAX_LATENCY`."""
    return _seconds("The latency", value)


@dataclass(frozen=True)
class Faults:
    """What goes wrong on purpose. ``latency`` (seconds) delays every API call;
    ``error_rate`` answers that fraction of calls with HTTP 500; ``queued_rate`` answers
    that fraction of accepted ``send-sms`` calls with ``{"ok": true, "queued": true}``;
    ``numbers`` gives fixed answers for some phone numbers."""

    latency: float = 0.0
    error_rate: float = 0.0
    queued_rate: float = 0.0
    numbers: Mapping[str, Answer] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "error_rate": self.error_rate,
            "queued_rate": self.queued_rate,
            "numbers": {key: answer.to_dict() for key, answer in self.numbers.items()},
        }

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with the keys present in ``changes`` replaced (``numbers`` as a whole).
        Raises ``ValueError`` for an unknown key or a bad value, changing nothing."""
        unknown = set(changes) - {"latency", "error_rate", "queued_rate", "numbers"}
        if unknown:
            raise ValueError(f"Unknown fault settings: {', '.join(sorted(unknown))}.")
        new = self
        if "latency" in changes:
            new = replace(new, latency=_seconds("latency", changes["latency"]))
        if "error_rate" in changes:
            new = replace(new, error_rate=_rate("error_rate", changes["error_rate"]))
        if "queued_rate" in changes:
            new = replace(new, queued_rate=_rate("queued_rate", changes["queued_rate"]))
        if "numbers" in changes:
            numbers = changes["numbers"] or {}
            if not isinstance(numbers, Mapping):
                raise ValueError('numbers must be an object such as {"+12025550143": 500}.')
            new = replace(
                new,
                numbers={parse_fault_key(k): parse_answer(v) for k, v in numbers.items()},
            )
        return new

    def answer_for(self, endpoint: str, phone: str) -> Answer | None:
        return self.numbers.get(f"{endpoint}:{phone}") or self.numbers.get(phone)

    def describe(self) -> str:
        parts = []
        if self.latency:
            parts.append(f"latency {self.latency:g} s")
        if self.error_rate:
            parts.append(f"error rate {self.error_rate:.0%}")
        if self.queued_rate:
            parts.append(f"queued rate {self.queued_rate:.0%}")
        parts.extend(f"{key} -> {answer.spec()}" for key, answer in self.numbers.items())
        return ", ".join(parts) or "none"


@dataclass(frozen=True)
class SandboxConfig:
    """Everything the sandbox is started with. ``site_url`` is where the webhooks go
    (``<site_url>/textlink/webhooks/<kind>/``) unless ``webhook_base`` replaces that
    prefix; with neither, the webhook buttons report that no site is configured.

    With ``tls_cert`` (a PEM certificate file, and ``tls_key`` its private key unless the
    certificate file holds it) the sandbox serves HTTPS, as TextLink does;
    ``run_sandbox(tls=True)`` makes a throwaway self-signed pair."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    api_key: str = DEFAULT_API_KEY
    site_url: str | None = None
    webhook_base: str | None = None
    webhook_secret: str | None = None
    webhook_timeout: float = DEFAULT_WEBHOOK_TIMEOUT
    faults: Faults = field(default_factory=Faults)
    seed: int | None = None
    verbose: bool = False
    #: Fire the webhooks TextLink fires on its own: ``sent`` after each accepted send,
    #: ``tag`` after each update-contect-tag.
    auto_webhooks: bool = False
    #: Seconds between auto-refreshes of the inbox by default (0: off).
    refresh: int = 0
    max_messages: int = DEFAULT_MAX_MESSAGES
    #: API calls remembered (``RunningSandbox.api_calls()``, ``/_sandbox/calls``, the inbox).
    max_calls: int = DEFAULT_MAX_CALLS
    tls_cert: str | None = None
    tls_key: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.api_key, str) or not self.api_key:
            raise ValueError("The sandbox needs a non-empty API key.")
        for name in ("max_messages", "max_calls"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number from 1, got {value!r}.")
        if self.tls_key is not None and self.tls_cert is None:
            raise ValueError("tls_key needs the tls_cert it belongs to.")
        for name in ("site_url", "webhook_base"):
            value = getattr(self, name)
            if value is not None and not re.match(r"^https?://[^/\s]+", value):
                raise ValueError(f"{name} must be an http(s) URL, got {value!r}.")

    @property
    def scheme(self) -> str:
        """``"https"`` with a certificate, else ``"http"``."""
        return "https" if self.tls_cert else "http"

    def webhook_url(self, kind: str) -> str | None:
        if self.webhook_base:
            base = self.webhook_base
        elif self.site_url:
            base = self.site_url.rstrip("/") + DEFAULT_WEBHOOK_PATH
        else:
            return None
        return f"{base.rstrip('/')}/{kind}/"


def mask_key(key: str) -> str:
    """The default key is shown as is; any other only by its first characters."""
    if key == DEFAULT_API_KEY:
        return key
    return key[:4] + "…" if len(key) > 8 else "…"


__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_HOST",
    "DEFAULT_MAX_CALLS",
    "DEFAULT_MAX_MESSAGES",
    "DEFAULT_PORT",
    "DEFAULT_SITE_URL",
    "ENDPOINTS",
    "WEBHOOK_KINDS",
    "Answer",
    "Faults",
    "SandboxConfig",
    "clean_phone",
    "is_e164",
    "parse_answer",
    "parse_fault",
]
