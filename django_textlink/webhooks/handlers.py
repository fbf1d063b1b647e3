"""What each kind of TextLink webhook does, once its event is stored: one handler per
kind (:data:`HANDLERS`), each run in the event's transaction (see :mod:`.store`) and
followed by its signal.

* received: the contact (created or updated, its tag taken from TextLink), opt-out and
  opt-in keywords, an inbound :class:`~django_textlink.models.SMSMessage`.
* sent / failed: the outbound message they report (by ``custom_id``, ``textlink_id``, or
  the newest with that number and text), or a new row for a message sent from TextLink's
  own console; a failed webhook that overtakes its sent webhook stays failed.
* tag: the contact's tag, taken from TextLink without pushing it back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.utils import timezone

from django_textlink import signals
from django_textlink._masking import mask_phone
from django_textlink._payloads import E164_RE
from django_textlink.conf import conf
from django_textlink.contacts import book, tags
from django_textlink.models import Contact, SMSMessage, WebhookEvent
from django_textlink.phone import InvalidPhoneNumber, normalize_phone

logger = logging.getLogger("django_textlink.events")

Status = SMSMessage.Status
OUTBOUND = SMSMessage.Direction.OUTBOUND
FAILED_BY_TEXTLINK = "TextLink reported the message as failed."
#: Stored instead of the text of a verification SMS that TextLink reports as sent/failed:
#: the code must never be stored.
CODE_TEXT_REMOVED = "[verification code SMS: text not stored]"


def event_phone(payload: dict[str, Any]) -> str:
    value = payload.get("phone_number")
    if not value:
        raise ValueError("The event has no phone_number.")
    if isinstance(value, str) and E164_RE.match(value):
        return value  # TextLink sends E.164: no need to parse it again
    try:
        return normalize_phone(value)
    except InvalidPhoneNumber:
        raise ValueError(f"The event's phone number is not valid: {mask_phone(value)}") from None


def _when(payload: dict[str, Any]) -> datetime:
    stamp = payload.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        try:
            return datetime.fromtimestamp(stamp / 1000, tz=dt_timezone.utc)
        except (OverflowError, OSError, ValueError):
            pass
    return timezone.now()


def _contact(phone: str, payload: dict[str, Any]) -> Contact:
    return book.upsert_contact(
        phone, name=payload.get("name") or None, subuser_id=payload.get("subuser_id")
    )


def handle_received(event: WebhookEvent) -> None:
    payload = event.payload
    phone = event_phone(payload)
    contact = _contact(phone, payload)
    tag = payload.get("tag")
    if isinstance(tag, str) and tag != contact.tag:
        tags.apply_remote_tag(contact, tag)
    text = str(payload.get("text") or "")
    keyword = text.strip().upper()
    if keyword in conf.OPT_OUT_KEYWORDS:
        book.set_opt_out(contact, True)
    elif keyword in conf.OPT_IN_KEYWORDS:
        book.set_opt_out(contact, False)
    message = SMSMessage(
        direction=SMSMessage.Direction.INBOUND,
        status=Status.RECEIVED,
        phone_number=phone,
        text=text,
        sim_card_id=payload.get("sim_card_id"),
        contact=contact,
        created_at=_when(payload),
    )
    message.save(force_insert=True)
    signals.sms_received.send(sender=WebhookEvent, message=message, event=event)


def _find_outbound(
    payload: dict[str, Any], phone: str | None, *, exclude: list[str]
) -> SMSMessage | None:
    outbound = SMSMessage.objects.filter(direction=OUTBOUND)
    custom_id = payload.get("custom_id")
    if custom_id not in (None, ""):
        found = outbound.filter(custom_id=str(custom_id)).first()
        if found is not None:
            return found
    textlink_id = payload.get("textlink_id")
    if textlink_id is not None:
        found = outbound.filter(textlink_id=textlink_id).first()
        if found is not None:
            return found
    if phone is None:
        return None
    # Best match: the newest message to this number with this text, not already settled
    # the same way.
    candidates = outbound.filter(phone_number=phone).exclude(status__in=exclude)
    text = payload.get("text")
    if isinstance(text, str):
        candidates = candidates.filter(text=text)
    return candidates.order_by("-created_at", "-pk").first()


def _record_outbound(
    payload: dict[str, Any], phone: str, status: str, *, error: str = ""
) -> SMSMessage:
    """Record an outbound message that TextLink reports and we do not have (one sent from
    TextLink's own console, or one we cannot find), as TextLink describes it."""
    when = _when(payload)
    message = SMSMessage(
        direction=OUTBOUND,
        status=status,
        phone_number=phone,
        text=str(payload.get("text") or ""),
        sim_card_id=payload.get("sim_card_id"),
        textlink_id=payload.get("textlink_id"),
        error=error,
        contact=_contact(phone, payload),
        created_at=when,
        sent_at=when if status == Status.SENT else None,
    )
    message.save(force_insert=True)
    return message


def handle_sent(event: WebhookEvent) -> None:
    payload = event.payload
    phone = event_phone(payload)
    if payload.get("text") == CODE_TEXT_REMOVED:
        return  # a verification SMS: not one of our messages, and not to be recorded
    message = None
    if not payload.get("portal"):
        # Any status: a message sent through the API is already ``sent`` (and one whose
        # failed webhook overtook this one is ``failed``); both are the same message.
        message = _find_outbound(payload, phone, exclude=[])
    if message is None:  # sent from TextLink's own console (or not found): record it
        message = _record_outbound(payload, phone, Status.SENT)
    else:
        # A failed webhook may overtake its sent webhook: never turn failed back to sent.
        SMSMessage.objects.filter(pk=message.pk).exclude(status=Status.FAILED).update(
            status=Status.SENT, sent_at=message.sent_at or _when(payload), updated_at=timezone.now()
        )
        message.refresh_from_db()
    signals.sms_sent.send(sender=WebhookEvent, message=message, event=event)


def handle_failed(event: WebhookEvent) -> None:
    payload = event.payload
    phone = event_phone(payload)
    if payload.get("text") == CODE_TEXT_REMOVED:
        logger.warning("TextLink reports a verification SMS to %s as failed", mask_phone(phone))
        return
    message = _find_outbound(payload, phone, exclude=[Status.FAILED])
    textlink_id = payload.get("textlink_id")
    if message is None:
        message = _record_outbound(payload, phone, Status.FAILED, error=FAILED_BY_TEXTLINK)
    else:
        message.status = Status.FAILED
        message.error = FAILED_BY_TEXTLINK
        if textlink_id is not None:
            message.textlink_id = textlink_id
        message.save(update_fields=["status", "error", "textlink_id", "updated_at"])
    signals.sms_failed.send(sender=WebhookEvent, message=message, event=event)


def handle_tag(event: WebhookEvent) -> None:
    payload = event.payload
    phone = event_phone(payload)
    contact = _contact(phone, payload)
    new_tag = str(payload.get("tag") or "")
    old_tag = tags.apply_remote_tag(contact, new_tag)
    signals.contact_tag_changed.send(
        sender=WebhookEvent, contact=contact, old_tag=old_tag, new_tag=new_tag, event=event
    )


HANDLERS: dict[str, Callable[[WebhookEvent], None]] = {
    WebhookEvent.Kind.RECEIVED: handle_received,
    WebhookEvent.Kind.SENT: handle_sent,
    WebhookEvent.Kind.FAILED: handle_failed,
    WebhookEvent.Kind.TAG: handle_tag,
}
