"""The verification forms under their documented path: ``django_textlink.forms`` names what
:mod:`django_textlink.verification.forms` defines (``VerifiedPhoneFormMixin`` for a signup
form, ``PhoneNumberField``, the pages' ``PhoneNumberForm`` and ``CodeForm``)."""

from __future__ import annotations

from django_textlink.verification.forms import (
    PHONE_NOT_VERIFIED,
    CodeForm,
    PhoneNumberField,
    PhoneNumberForm,
    TelInput,
    VerifiedPhoneFormMixin,
)

__all__ = [
    "PHONE_NOT_VERIFIED",
    "CodeForm",
    "PhoneNumberField",
    "PhoneNumberForm",
    "TelInput",
    "VerifiedPhoneFormMixin",
]
