"""Stored webhook events: de-duplication, processing exactly once, and replay.

:func:`store_event` keeps each event once (a unique hash of its kind and payload, the
secret already removed). :func:`process_event` claims a stored event with a conditional
update, so concurrent posts or replays never process it twice, then runs its handler and
signal in one transaction: a handler or receiver that raises rolls its changes back and
leaves the event ``failed`` with the error, ready for :func:`replay`.

Only a conflict on the unique de-duplication key is a duplicate: any other error storing
an event (a value the database refuses) raises :class:`UnstorableEvent`, which the webhook
views answer with a 400.
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

from django.db import DataError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from django_textlink import _queue
from django_textlink.conf import conf
from django_textlink.models import SMSMessage, WebhookEvent
from django_textlink.verification import code_recently_sent
from django_textlink.webhooks.handlers import CODE_TEXT_REMOVED, HANDLERS, event_phone

logger = logging.getLogger("django_textlink.events")

State = WebhookEvent.State
Status = SMSMessage.Status
OUTBOUND = SMSMessage.Direction.OUTBOUND
#: An event still ``processing`` this long after it arrived was left by a dead process.
STALE_PROCESSING = timedelta(minutes=5)


class UnstorableEvent(Exception):
    """The event cannot be stored, and it is not a duplicate of one that is: a payload that
    is not JSON (infinity, a non-string key, too deep to encode) or that the database
    refuses. Nothing was stored; the webhook views answer 400 with :attr:`reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def dedup_key(kind: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{kind}\n{canonical}".encode()).hexdigest()


def _storable_key(kind: str, payload: dict[str, Any]) -> str:
    """:func:`dedup_key`, or :class:`UnstorableEvent` for a payload that is not JSON at
    all (a non-string key, an object, nesting too deep to encode)."""
    try:
        return dedup_key(kind, payload)
    except (TypeError, ValueError, RecursionError) as err:
        raise UnstorableEvent(f"The event is not storable JSON ({type(err).__name__}).") from err


def _insert_once(event: WebhookEvent) -> tuple[WebhookEvent, bool]:
    """Insert a new event; ``(event, True)``, or ``(the stored one, False)`` when the
    insert conflicts with an event of the same ``dedup_key`` (a duplicate, maybe a racing
    one). Any other refusal raises :class:`UnstorableEvent`: an IntegrityError is a
    duplicate only when a row with that key exists, and a DataError never is."""
    # In autocommit mode the INSERT commits on its own; inside a transaction (e.g.
    # ATOMIC_REQUESTS) a savepoint keeps a failed INSERT from breaking it.
    guard = transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()
    try:
        with guard:
            event.save(force_insert=True)
        return event, True
    except IntegrityError as err:
        existing = WebhookEvent.objects.filter(dedup_key=event.dedup_key).first()
        if existing is None:  # not a duplicate: a constraint that refuses this payload
            raise UnstorableEvent(_refused(err)) from err
        return existing, False
    except DataError as err:  # e.g. a value PostgreSQL's jsonb refuses
        raise UnstorableEvent(_refused(err)) from err


def _refused(err: Exception) -> str:
    # The database's message is left out: it may quote the payload.
    return f"The database refused to store the event ({type(err).__name__})."


def store_event(kind: str, payload: dict[str, Any]) -> tuple[WebhookEvent, bool]:
    """Store an event once, ``pending``. Returns ``(event, created)``; a duplicate returns
    the stored event and False, also when several identical posts race. Raises
    :class:`UnstorableEvent` when the event cannot be stored (nothing is)."""
    key = _storable_key(kind, payload)
    return _insert_once(WebhookEvent(kind=kind, payload=payload, dedup_key=key))


def without_verification_code(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """TextLink also fires the sent (and failed) webhook for the verification SMS it sent
    through ``/send-code``, with the code in its text. Such a payload, one that matches none
    of our outbound messages, for a number a code was recently sent to, loses its text
    before anything stores it."""
    if kind not in (WebhookEvent.Kind.SENT, WebhookEvent.Kind.FAILED):
        return payload
    if payload.get("portal") or payload.get("custom_id") not in (None, ""):
        return payload
    text, phone = payload.get("text"), payload.get("phone_number")
    if not isinstance(text, str) or not text or not isinstance(phone, str):
        return payload
    try:
        phone = event_phone(payload)
    except ValueError:
        return payload
    if not code_recently_sent(phone):
        return payload
    ours = SMSMessage.objects.filter(direction=OUTBOUND, phone_number=phone, text=text)
    if ours.exists():
        return payload
    return {**payload, "text": CODE_TEXT_REMOVED}


def accept(kind: str, payload: dict[str, Any]) -> tuple[WebhookEvent, bool]:
    """What a webhook view does with a valid payload: store it once and process it.
    Returns ``(event, created)``.

    Inline (the default), the event row and its effects are written in one transaction:
    when the handler or a signal receiver raises, that transaction rolls back and the
    event is stored as ``failed`` with the error, for replay. TextLink's 200 is sent after
    the commit, so an accepted event is always stored.
    With ``WEBHOOK_PROCESSING = "task"`` the event is stored ``pending`` and a task
    processes it after commit.
    Raises :class:`UnstorableEvent` when the event itself cannot be stored (nothing is).
    """
    payload = without_verification_code(kind, payload)
    if conf.WEBHOOK_PROCESSING != "inline":
        event, created = store_event(kind, payload)
        if created:
            event_id = event.pk
            transaction.on_commit(lambda: _queue.enqueue("process_webhook_event", event_id))
        return event, created
    key = _storable_key(kind, payload)
    try:
        with transaction.atomic():
            event = WebhookEvent(
                kind=kind, payload=payload, dedup_key=key, state=State.PROCESSED,
                attempts=1, processed_at=timezone.now(),
            )  # fmt: skip
            event.save(force_insert=True)
            HANDLERS[kind](event)
        return event, True
    except IntegrityError as err:
        existing = WebhookEvent.objects.filter(dedup_key=key).first()
        if existing is not None:  # a duplicate: stored (and processed) once already
            return existing, False
        # The handler's own integrity error, or the event row's (a payload a constraint
        # refuses): storing the failed event below tells which.
        failure: Exception = err
    except Exception as err:  # recorded for replay; TextLink still gets 200
        failure = err
    # The handler (or a receiver) failed: its changes were rolled back with the event row.
    # Store the event as failed, so it can be replayed. If the row itself is what failed,
    # this raises UnstorableEvent; a concurrent duplicate that got in first is returned.
    event = WebhookEvent(
        kind=kind, payload=payload, dedup_key=key, state=State.FAILED, attempts=1,
        error=f"{type(failure).__name__}: {failure}"[:2000],
    )  # fmt: skip
    event, created = _insert_once(event)
    if not created:
        return event, False
    logger.error("TextLink %s webhook event %s failed", kind, event.pk, exc_info=failure)
    return event, True


def _mark_failed(event: WebhookEvent, err: Exception) -> None:
    event.state = State.FAILED
    event.error = f"{type(err).__name__}: {err}"[:2000]
    event.processed_at = None
    event.save(update_fields=["state", "error", "processed_at"])
    logger.exception("TextLink %s webhook event %s failed", event.kind, event.pk)


def process_event(event_id: int, *, replay: bool = False) -> bool:
    """Process a stored event exactly once: a ``pending`` one, or when replaying a
    ``failed`` one (or one left ``processing`` for more than ``STALE_PROCESSING``, by a
    process that died). Returns True when it was processed successfully."""
    events = WebhookEvent.objects.filter(pk=event_id)
    if replay:
        stale = timezone.now() - STALE_PROCESSING
        events = events.filter(
            Q(state=State.FAILED) | Q(state=State.PROCESSING, received_at__lt=stale)
        )
    else:
        events = events.filter(state=State.PENDING)
    if not events.update(state=State.PROCESSING, attempts=F("attempts") + 1):
        return False
    return _process_claimed(WebhookEvent.objects.get(pk=event_id))


def _process_claimed(event: WebhookEvent) -> bool:
    """Run the handler and its signal, and record the outcome, in one transaction; on any
    error roll the handler's changes back and mark the event ``failed``."""
    try:
        with transaction.atomic():
            HANDLERS[event.kind](event)
            WebhookEvent.objects.filter(pk=event.pk).update(
                state=State.PROCESSED, error="", processed_at=timezone.now()
            )
    except Exception as err:  # any failure is recorded for replay; TextLink still gets 200
        _mark_failed(event, err)
        return False
    return True


def replay(event_ids: list[int]) -> int:
    """Process failed (or stale ``processing``) events once more; returns how many
    succeeded."""
    return sum(process_event(event_id, replay=True) for event_id in event_ids)
