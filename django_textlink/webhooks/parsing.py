"""Reading a TextLink webhook post: the body (size-limited), its JSON (depth- and
range-limited), the shared secret inside it, and the fields' types and lengths.

Every refusal is a :class:`WebhookError` with the HTTP status the view answers.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from django_textlink.conf import conf

logger = logging.getLogger("django_textlink.webhooks")

#: Field -> accepted types. Every field is optional ("fields can differ"); unknown fields
#: are kept as they came. ``bool`` is not accepted where a number is expected.
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "phone_number": (str,),
    "text": (str,),
    "name": (str,),
    "tag": (str,),
    "custom_id": (str, int),
    "sim_card_id": (int,),
    "textlink_id": (int,),
    "subuser_id": (int,),
    "timestamp": (int, float),
    "portal": (bool,),
    "sent": (bool,),
    "received": (bool,),
}
MAX_LENGTHS = {"phone_number": 32, "name": 200, "tag": 100, "custom_id": 64, "text": 10_000}
#: The range of a signed 64-bit integer: a ``BigIntegerField`` on every database.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Field -> the inclusive range of the numbers accepted: what the database columns the
#: values end up in can hold (``sim_card_id`` is a ``PositiveBigIntegerField``).
FIELD_RANGES: dict[str, tuple[int, int]] = {
    "custom_id": (INT64_MIN, INT64_MAX),
    "sim_card_id": (0, INT64_MAX),
    "textlink_id": (INT64_MIN, INT64_MAX),
    "subuser_id": (INT64_MIN, INT64_MAX),
    "timestamp": (INT64_MIN, INT64_MAX),
}
#: The deepest nesting of arrays and objects accepted (the body itself is level 1).
#: TextLink's payloads are flat; the limit keeps a hostile body from exhausting the
#: recursion of whatever walks it later (``json.dumps``, the database's JSON functions).
MAX_DEPTH = 32
#: The payload key that holds the shared secret; every key that casefolds to it is removed.
AUTH_FIELD = "secret"


class WebhookError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes without reading them all."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise WebhookError(413, f"The body is larger than {limit} bytes.")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise WebhookError(413, f"The body is larger than {limit} bytes.")
    return body


class NumberOutOfRange(ValueError):
    """A number that is valid JSON but that no database can store as it came."""


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    """``float`` for ``json.loads``, refusing what overflows to infinity (``1e400``):
    neither SQLite's ``JSON_VALID`` nor PostgreSQL's ``jsonb`` accepts infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise NumberOutOfRange(text[:40])
    return value


def _parse_int(text: str) -> int:
    """``int`` for ``json.loads``: a literal with more digits than Python converts
    (``sys.get_int_max_str_digits()``) is out of range, not a crash."""
    try:
        return int(text)
    except ValueError:
        raise NumberOutOfRange(text[:40]) from None


def nesting_depth(value: object, *, limit: int | None = None) -> int:
    """How deeply arrays and objects nest in ``value`` (a scalar is 0, ``{}`` and ``[]``
    are 1), measured without recursion. With ``limit``, stops at the first level deeper
    than it and returns that level (so a hostile body is not walked to its end)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if limit is not None and deepest > limit:
                return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400: not UTF-8 JSON, ``NaN``/``Infinity``, a number
    out of range, nested too deeply for ``json`` itself or deeper than ``MAX_DEPTH``."""
    try:
        data = json.loads(
            body.decode("utf-8"),
            parse_constant=_refuse_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
        )
    except NumberOutOfRange:
        raise WebhookError(400, "The body contains a number out of range.") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WebhookError(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise WebhookError(400, "The body must be a JSON object.")
    if nesting_depth(data, limit=MAX_DEPTH) > MAX_DEPTH:
        raise WebhookError(400, f"The body is nested deeper than {MAX_DEPTH} levels.")
    return data


def _clean_string(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean_text(value: object) -> bool:
    """No NUL and no lone surrogates anywhere, keys included (the database cannot store
    them); walked without recursion, whatever the depth."""
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _clean_string(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def is_secret_key(key: object) -> bool:
    """Whether ``key`` is a case variant of ``secret``: one that casefolds to it
    (``Secret``, ``SECRET``, or with a long s, U+017F)."""
    return isinstance(key, str) and key.casefold() == AUTH_FIELD


def without_secret(data: dict[str, Any]) -> dict[str, Any]:
    """The payload to store, log and signal: every case variant of the secret removed."""
    return {key: value for key, value in data.items() if not is_secret_key(key)}


def secret_matches(given: object, secrets: list[str]) -> bool:
    """Compare ``given`` with every configured secret in constant time (no early exit)."""
    if not isinstance(given, str):
        return False
    given_bytes = given.encode("utf-8", "surrogatepass")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(given_bytes, secret.encode())
    return matched


def authenticate(data: dict[str, Any]) -> None:
    secrets = conf.WEBHOOK_SECRETS
    if not secrets:
        if settings.DEBUG:
            logger.warning(
                "Accepting a TextLink webhook without a secret because DEBUG is on: set "
                'TEXTLINK["WEBHOOK_SECRET"] before you deploy.'
            )
            return
        raise WebhookError(403, "Webhooks are refused: no WEBHOOK_SECRET is configured.")
    if not secret_matches(data.get(AUTH_FIELD), secrets):
        raise WebhookError(403, "Wrong or missing secret.")


def validate(payload: dict[str, Any]) -> None:
    if not _clean_text(payload):
        raise WebhookError(400, "The body contains NUL characters or invalid Unicode.")
    for field, types in FIELD_TYPES.items():
        if field not in payload or payload[field] is None:
            continue
        value = payload[field]
        if isinstance(value, bool) and bool not in types:
            raise WebhookError(400, f"'{field}' must be {_names(types)}, not a boolean.")
        if not isinstance(value, types):
            raise WebhookError(400, f"'{field}' must be {_names(types)}.")
        bounds = FIELD_RANGES.get(field)
        if bounds is not None and isinstance(value, int | float):
            low, high = bounds
            if not low <= value <= high:
                raise WebhookError(400, f"'{field}' is out of range ({low} to {high}).")
        limit = MAX_LENGTHS.get(field)
        if limit is not None and len(str(value)) > limit:
            raise WebhookError(400, f"'{field}' is longer than {limit} characters.")


def _names(types: tuple[type, ...]) -> str:
    words = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
    return " or ".join(words.get(t, t.__name__) for t in types)
