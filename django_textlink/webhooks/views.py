"""Webhook views for TextLink's four webhooks: authenticate -> parse -> store -> dispatch.

TextLink posts a JSON body with the shared ``secret`` inside it (no header, no
signature), no event type (one URL per kind) and no event id, and it does not redeliver:
anything but a 200 only e-mails the account owner. So each view answers 200 as soon as
the event is safely stored, even when processing it fails later (the stored event is
marked ``failed`` and can be replayed from the admin).

=====  ======================================================================
200    accepted (also for a duplicate of an event already stored)
400    not a JSON object, nested deeper than ``MAX_DEPTH``, a number out of range, a field
       of the wrong type, or an event the database cannot store (the reason is in the body)
403    wrong or missing secret (or no secret configured while DEBUG is off)
405    any method but POST
413    body larger than ``TEXTLINK["WEBHOOK_MAX_BODY"]`` (64 KiB)
=====  ======================================================================

Whatever the body, the answer is one of these, never a 500: the depth of a body is
measured without recursion and limited, numbers no database can hold (``1e400``, a
5,000-digit integer, a ``textlink_id`` beyond 64 bits) are refused, and every case variant
of the ``secret`` key (``Secret``, ``SECRET``, even one with a long s, U+017F) is removed
before anything stores, logs or signals the payload.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from django_textlink.conf import conf
from django_textlink.models import WebhookEvent
from django_textlink.webhooks.parsing import (
    WebhookError,
    authenticate,
    parse_object,
    read_body,
    validate,
    without_secret,
)
from django_textlink.webhooks.store import UnstorableEvent, accept

logger = logging.getLogger("django_textlink.webhooks")


def _error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"ok": False, "error": reason}, status=status)


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
            payload = without_secret(data)
            validate(payload)
        except WebhookError as err:
            if err.status == 403:
                logger.warning("TextLink %s webhook refused: %s", self.kind, err.reason)
            return _error(err.status, err.reason)
        try:
            event, created = self.accept(payload)
        except UnstorableEvent as err:
            # Not a duplicate, and nothing was stored: a 400 with the reason, never a 500.
            logger.error("TextLink %s webhook event not stored: %s", self.kind, err)
            return _error(400, err.reason)
        return JsonResponse({"ok": True, "event": event.pk, "duplicate": not created})

    def accept(self, payload: dict[str, Any]) -> tuple[WebhookEvent, bool]:
        """Store the event once and process it; override to change what happens. An
        :class:`~django_textlink.webhooks.store.UnstorableEvent` it raises is answered 400."""
        return accept(self.kind, payload)


class ReceivedWebhookView(WebhookView):
    kind = WebhookEvent.Kind.RECEIVED


class SentWebhookView(WebhookView):
    kind = WebhookEvent.Kind.SENT


class FailedWebhookView(WebhookView):
    kind = WebhookEvent.Kind.FAILED


class TagWebhookView(WebhookView):
    kind = WebhookEvent.Kind.TAG
