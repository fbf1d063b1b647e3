"""Webhook views for TextLink's four webhooks: authenticate -> parse -> store -> dispatch.

TextLink posts a JSON body with the shared ``secret`` inside it (no header, no
signature), no event type (one URL per kind) and no event id, and it does not redeliver:
anything but a 200 only e-mails the account owner. So each view answers 200 as soon as
the event is safely stored, even when processing it fails later (the stored event is
marked ``failed`` and can be replayed from the admin).

=====  ======================================================================
200    accepted (also for a duplicate of an event already stored)
400    not a JSON object, or a field of the wrong type (the reason is in the body)
403    wrong or missing secret (or no secret configured while DEBUG is off)
405    any method but POST
413    body larger than ``TEXTLINK["WEBHOOK_MAX_BODY"]`` (64 KiB)
=====  ======================================================================
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from django_textlink import events
from django_textlink.conf import conf
from django_textlink.models import WebhookEvent

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


class WebhookError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"ok": False, "error": reason}, status=status)


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


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WebhookError(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise WebhookError(400, "The body must be a JSON object.")
    return data


def _clean_text(value: object) -> bool:
    """No NUL and no lone surrogates anywhere (the database cannot store them)."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_clean_text(k) and _clean_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_clean_text(item) for item in value)
    return True


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
    if not secret_matches(data.get("secret"), secrets):
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
        limit = MAX_LENGTHS.get(field)
        if limit is not None and len(str(value)) > limit:
            raise WebhookError(400, f"'{field}' is longer than {limit} characters.")


def _names(types: tuple[type, ...]) -> str:
    words = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
    return " or ".join(words.get(t, t.__name__) for t in types)


@method_decorator(csrf_exempt, name="dispatch")
class WebhookView(View):
    """Base view; subclasses set ``kind``. Override :meth:`accept` to change what happens
    to a valid payload."""

    kind: str = ""
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            data = parse_object(read_body(request, conf.WEBHOOK_MAX_BODY))
            authenticate(data)
            payload = {key: value for key, value in data.items() if key != "secret"}
            validate(payload)
        except WebhookError as err:
            if err.status == 403:
                logger.warning("TextLink %s webhook refused: %s", self.kind, err.reason)
            return _error(err.status, err.reason)
        event, created = self.accept(payload)
        return JsonResponse({"ok": True, "event": event.pk, "duplicate": not created})

    def accept(self, payload: dict[str, Any]) -> tuple[WebhookEvent, bool]:
        """Store the event once and process it; override to change what happens."""
        return events.accept(self.kind, payload)


class ReceivedWebhookView(WebhookView):
    kind = WebhookEvent.Kind.RECEIVED


class SentWebhookView(WebhookView):
    kind = WebhookEvent.Kind.SENT


class FailedWebhookView(WebhookView):
    kind = WebhookEvent.Kind.FAILED


class TagWebhookView(WebhookView):
    kind = WebhookEvent.Kind.TAG
