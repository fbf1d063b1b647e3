"""Django admin for django-textlink: messages, contacts, bulk sends, webhook events and
verified numbers, and a "send an SMS" action any site can add to its own ``ModelAdmin``
with :func:`send_sms_action`::

    from django_textlink.admin import send_sms_action

    class CustomerAdmin(admin.ModelAdmin):
        actions = [send_sms_action(phone_field="phone")]

The action leads to a confirmation page (like Django's "delete selected"): the text, an
optional SIM card, how many recipients it goes to and which numbers are skipped and why,
and a live character counter (GSM-7 or UCS-2, SMS parts). Confirming stores a
:class:`~django_textlink.models.Broadcast` with
:func:`~django_textlink.messaging.create_broadcast`, reading the selected rows as one
streaming query, and opens the bulk send's progress page.

One module per model admin (:mod:`.sms`, :mod:`.contacts`, :mod:`.broadcasts`,
:mod:`.events`, :mod:`.verified`, :mod:`.guard`: the fraud guard's blocks and
figures), the action in :mod:`.actions`; importing this package
registers them on the default admin site.
"""

from __future__ import annotations

from django_textlink.admin._common import REPLY_PERMISSION, SEND_PERMISSION
from django_textlink.admin.actions import (
    RecipientSummary,
    SendSMSForm,
    send_sms_action,
    summarize_recipients,
)
from django_textlink.admin.broadcasts import BroadcastAdmin
from django_textlink.admin.contacts import ContactAdmin, ReplyForm, SetTagForm
from django_textlink.admin.events import WebhookEventAdmin
from django_textlink.admin.guard import VerificationBlockAdmin
from django_textlink.admin.sms import SMSMessageAdmin
from django_textlink.admin.verified import VerifiedPhoneNumberAdmin

__all__ = [
    "REPLY_PERMISSION",
    "SEND_PERMISSION",
    "BroadcastAdmin",
    "ContactAdmin",
    "RecipientSummary",
    "ReplyForm",
    "SMSMessageAdmin",
    "SendSMSForm",
    "SetTagForm",
    "VerificationBlockAdmin",
    "VerifiedPhoneNumberAdmin",
    "WebhookEventAdmin",
    "send_sms_action",
    "summarize_recipients",
]
