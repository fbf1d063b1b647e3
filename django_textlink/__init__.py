"""django-textlink: SMS sending and phone verification for Django through TextLink.

This module stays import-light: importing it never touches Django settings, so
the pytest plugin and ``django_textlink.outbox`` work before Django is set up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from django_textlink.backends.locmem import OutboxEntry
    from django_textlink.models import SMSMessage

#: Everything the LocMemBackend "sent", in order. Emptied before every test by the
#: bundled pytest plugin (and by ``django_textlink.testing.TextLinkTestMixin``).
outbox: list[OutboxEntry] = []


def send_sms(phone_number: str, text: str, **options: Any) -> SMSMessage:
    """Store an outbound :class:`~django_textlink.models.SMSMessage`, send it now and
    return it; see :func:`django_textlink.messaging.send_sms` for the options."""
    from django_textlink.messaging import send_sms as _send_sms

    return _send_sms(phone_number, text, **options)


__all__ = ["__version__", "outbox", "send_sms"]
