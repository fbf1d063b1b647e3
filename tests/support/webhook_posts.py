"""What the webhook test modules share: the URL of each webhook and its signal."""

from __future__ import annotations

from django.dispatch import Signal
from django.urls import reverse

from django_textlink import signals

#: The signal each webhook kind fires once per stored event.
SIGNALS: dict[str, Signal] = {
    "received": signals.sms_received,
    "sent": signals.sms_sent,
    "failed": signals.sms_failed,
    "tag": signals.contact_tag_changed,
}


def url(kind: str) -> str:
    """The default account's webhook URL for ``kind``."""
    return reverse(f"textlink:webhook-{kind}")
