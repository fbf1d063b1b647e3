"""Signals sent by django-textlink. Connect receivers as with any Django signal.

``phone_verified``
    A phone number passed verification (the code was right).
    Arguments: ``sender`` (the PhoneVerification class), ``phone_number`` (E.164 string),
    ``request`` (the HttpRequest, or None outside a request), ``user`` (the user the
    number was verified for, or None). The code itself is never passed.

``verification_blocked``
    The fraud guard refused a code, held it back for a challenge, or (in ``"monitor"``
    mode) would have. Arguments: ``sender`` (the FraudGuard class), ``reason`` (what
    decided: ``"range_velocity"``, ``"low_conversion"``, ``"range_blocked"``,
    ``"country_blocked"``, ``"phone_backoff"``, ``"number_type"``, ``"country_mode"``,
    ``"range_near_budget"``, ``"network_many_numbers"``), ``action`` (``"blocked"``,
    ``"challenged"`` or ``"monitored"``), ``phone_number`` (E.164), ``country`` (ISO-2,
    ``""`` when unknown), ``number_range`` (the number without its last digits),
    ``request`` (or None). Log lines never carry the full number; a receiver that logs it
    should mask it too.

Webhook signals are sent once per stored webhook event, after the event's data is saved
and inside the same transaction: a receiver that raises rolls that data back and marks
the event ``failed`` (TextLink still gets its 200); replaying the event from the admin
processes it exactly once more. ``sender`` is :class:`~django_textlink.models.WebhookEvent`
and ``event`` the stored event (its ``payload`` holds TextLink's fields, secret removed).

``sms_received``
    An SMS arrived on one of your SIMs. ``message``: the inbound
    :class:`~django_textlink.models.SMSMessage` (status ``received``, linked to its
    ``contact``), ``event``.

``sms_sent``
    TextLink reports a message as sent (from the API or its own console). ``message``:
    the outbound SMSMessage, now ``sent`` (found by ``custom_id`` or content, or recorded
    for a message sent from TextLink's console), ``event``.

``sms_failed``
    TextLink reports a message as failed. ``message``: the outbound SMSMessage, now
    ``failed`` (found by ``custom_id``, else TextLink's id, else the best match), ``event``.

``contact_tag_changed``
    A contact's tag changed in TextLink (its chat app or API). ``contact``: the
    :class:`~django_textlink.models.Contact` (already saved with the new tag),
    ``old_tag``, ``new_tag`` (strings, ``""`` for none), ``event``.
"""

from __future__ import annotations

from django.dispatch import Signal

phone_verified = Signal()
sms_received = Signal()
sms_sent = Signal()
sms_failed = Signal()
contact_tag_changed = Signal()
verification_blocked = Signal()

__all__ = [
    "contact_tag_changed",
    "phone_verified",
    "sms_failed",
    "sms_received",
    "sms_sent",
    "verification_blocked",
]
