"""Sending one message: the row first, then one attempt, then its outcome.

Every outbound message is a row first (``queued``), with a unique ``custom_id`` that goes
to TextLink with it, so TextLink's failed-message webhook can find it. A message moves
to ``sending`` by a *conditional* update (``WHERE status = 'queued'``): whoever wins that
update is the only one who sends it, even with several workers on the same rows. Then it
becomes ``sent``, ``failed`` (with the reason) or ``unknown`` (TextLink may or may not
have accepted it: a read timeout, a 5xx; never re-sent automatically).

:func:`attempt` and :func:`record` are shared with the bulk sends (:mod:`.run`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import F
from django.utils import timezone

from django_textlink._masking import mask_phone
from django_textlink._payloads import check_sim_card_id
from django_textlink.backends import BaseBackend, get_backend
from django_textlink.conf import conf
from django_textlink.exceptions import TextLinkError, TextLinkRateLimitError
from django_textlink.models import Contact, SMSMessage
from django_textlink.phone import normalize_phone

logger = logging.getLogger("django_textlink.sending")

Status = SMSMessage.Status
MAX_TEXT_LENGTH = 1600


def new_custom_id() -> str:
    return uuid.uuid4().hex


def check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty string.")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"text is longer than {MAX_TEXT_LENGTH} characters.")
    return text


@dataclass
class Outcome:
    """What one attempt to send a message came to."""

    pk: int
    status: str
    queued_by_textlink: bool = False
    error: str = ""
    exception: TextLinkError | None = None
    retry_after: float | None = None  # set when TextLink answered 429


@dataclass(frozen=True)
class Claimed:
    """A message this worker won the right to send."""

    pk: int
    phone_number: str
    text: str
    custom_id: str | None
    sim_card_id: int | None
    attempts: int


def attempt(backend: BaseBackend, message: Claimed) -> Outcome:
    """Send one claimed message through ``backend``; never raises for TextLink errors."""
    try:
        result = backend.send_sms(
            message.phone_number,
            message.text,
            sim_card_id=message.sim_card_id,
            custom_id=message.custom_id,
        )
    except TextLinkRateLimitError as err:  # refused before anything was sent
        wait = err.retry_after if err.retry_after is not None else 1.0
        return Outcome(message.pk, Status.QUEUED, error=str(err), exception=err, retry_after=wait)
    except TextLinkError as err:
        status = Status.UNKNOWN if err.delivery_unknown else Status.FAILED
        return Outcome(message.pk, status, error=str(err), exception=err)
    except ValueError as err:  # the backend refused the input itself
        return Outcome(message.pk, Status.FAILED, error=str(err))
    return Outcome(message.pk, Status.SENT, queued_by_textlink=result.queued)


def record(outcomes: Sequence[Outcome], *, max_attempts: int, attempts: dict[int, int]) -> None:
    """Store the outcomes, only on rows still ``sending`` (a row that
    :func:`resume_broadcast` or an admin has since moved on keeps its new state): one
    ``UPDATE`` per distinct outcome, so a wave that went well is one statement. A
    rate-limited outcome past ``max_attempts`` becomes ``failed`` (``outcome.status`` is
    updated to match)."""
    now = timezone.now()
    groups: dict[tuple[str, bool, str], list[int]] = {}
    for outcome in outcomes:
        if outcome.status == Status.QUEUED and attempts.get(outcome.pk, 0) >= max_attempts:
            outcome.status = Status.FAILED  # rate-limited too many times
        key = (str(outcome.status), outcome.queued_by_textlink, outcome.error)
        groups.setdefault(key, []).append(outcome.pk)
    for (status, queued_by_textlink, error), pks in groups.items():
        # QuerySet.update() is a single statement, atomic on its own: no BEGIN/COMMIT.
        SMSMessage.objects.filter(pk__in=pks, status=Status.SENDING).update(
            status=status,
            queued_by_textlink=queued_by_textlink,
            error=error,
            sent_at=now if status == Status.SENT else None,
            claimed_at=None,
            updated_at=now,
        )


def send_sms(
    phone_number: str,
    text: str,
    *,
    sim_card_id: int | None = None,
    contact: Contact | None = None,
    backend: BaseBackend | None = None,
) -> SMSMessage:
    """Store an outbound message, send it now and return it.

    A failure leaves the row ``failed`` (or ``unknown`` when TextLink may have accepted
    it) with the reason, then raises the :class:`~django_textlink.exceptions.TextLinkError`
    (the row is ``error.sms_message``). Invalid input raises ``ValueError`` (an
    :class:`~django_textlink.phone.InvalidPhoneNumber` for the number) and stores nothing.
    """
    phone = normalize_phone(phone_number)
    text = check_text(text)
    sim_card_id = conf.SIM_CARD_ID if sim_card_id is None else check_sim_card_id(sim_card_id)
    message = SMSMessage.objects.create(
        direction=SMSMessage.Direction.OUTBOUND,
        phone_number=phone,
        text=text,
        status=Status.QUEUED,
        custom_id=new_custom_id(),
        sim_card_id=sim_card_id,
        contact=contact,
    )
    deliver(message, backend=backend)
    return message


def deliver(message: SMSMessage, *, backend: BaseBackend | None = None) -> SMSMessage:
    """Send a stored ``queued`` message now. Does nothing (returns the row as stored)
    when someone else already claimed it."""
    now = timezone.now()
    claimed = SMSMessage.objects.filter(pk=message.pk, status=Status.QUEUED).update(
        status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
    )
    if not claimed:
        message.refresh_from_db()
        return message
    outcome = attempt(
        backend or get_backend(),
        Claimed(message.pk, message.phone_number, message.text, message.custom_id,
                message.sim_card_id, message.attempts + 1),
    )  # fmt: skip
    if outcome.status == Status.QUEUED:  # 429 on a single send: report it, do not leave it
        outcome.status = Status.FAILED
    record([outcome], max_attempts=1, attempts={})
    message.refresh_from_db()
    if outcome.exception is not None:
        logger.warning(
            "SMS %s to %s %s: %s", message.pk, mask_phone(message.phone_number),
            outcome.status, outcome.error,
        )  # fmt: skip
        outcome.exception.sms_message = message  # type: ignore[attr-defined]
        raise outcome.exception
    if outcome.status == Status.FAILED:
        raise ValueError(outcome.error)
    return message
