"""Signals sent by django-textlink. Connect receivers as with any Django signal.

``phone_verified``
    A phone number passed verification (the code was right).
    Arguments: ``sender`` (the PhoneVerification class), ``phone_number`` (E.164 string),
    ``request`` (the HttpRequest, or None outside a request), ``user`` (the user the
    number was verified for, or None). The code itself is never passed.
"""

from __future__ import annotations

from django.dispatch import Signal

phone_verified = Signal()

__all__ = ["phone_verified"]
