"""What the fraud guard reads off a number: its type (can it be a pumping target, can it
receive an SMS at all) and its range (the number without its last digits)."""

from __future__ import annotations

import phonenumbers
from django.utils.translation import gettext_lazy as _
from phonenumbers import shortnumberinfo

from django_textlink._guard_options import NON_GEOGRAPHIC, SHORT_CODE

#: phonenumbers' region of the numbers of no country.
NON_GEOGRAPHIC_REGION = "001"

_TYPE_NAMES = {
    value: name
    for name, value in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}

#: What a user is told when their number's type is refused, by type.
NUMBER_TYPE_MESSAGES = {
    "FIXED_LINE": _(
        "This looks like a landline number, which cannot receive text messages. "
        "Enter a mobile number."
    ),
    "PREMIUM_RATE": _("Codes cannot be sent to premium-rate numbers. Enter a mobile number."),
    "SHARED_COST": _("Codes cannot be sent to shared-cost numbers. Enter a mobile number."),
    "TOLL_FREE": _("Codes cannot be sent to toll-free numbers. Enter a mobile number."),
    "PAGER": _("Codes cannot be sent to pagers. Enter a mobile number."),
    "VOICEMAIL": _("Codes cannot be sent to voicemail numbers. Enter a mobile number."),
    SHORT_CODE: _("Codes cannot be sent to short codes. Enter a mobile number."),
    NON_GEOGRAPHIC: _(
        "Codes cannot be sent to satellite phones or international network numbers. "
        "Enter a mobile number."
    ),
}
OTHER_TYPE_MESSAGE = _("Codes cannot be sent to this kind of number. Enter a mobile number.")


def number_type(phone_number: str) -> str:
    """The type phonenumbers gives the (E.164, valid) number, by name: ``"MOBILE"``,
    ``"FIXED_LINE_OR_MOBILE"``, ``"PREMIUM_RATE"``, ...; ``"SHORT_CODE"`` for a short code."""
    parsed = phonenumbers.parse(phone_number, None)
    if shortnumberinfo.is_valid_short_number(parsed):
        return SHORT_CODE
    return _TYPE_NAMES.get(phonenumbers.number_type(parsed), "UNKNOWN")


def refused_type(phone_number: str, refused: frozenset[str]) -> str | None:
    """The number's type when it is one of ``refused`` (``"NON_GEOGRAPHIC"`` for a number
    of no country, when refused), else None."""
    if NON_GEOGRAPHIC in refused:
        parsed = phonenumbers.parse(phone_number, None)
        if phonenumbers.region_code_for_number(parsed) == NON_GEOGRAPHIC_REGION:
            return NON_GEOGRAPHIC
    kind = number_type(phone_number)
    return kind if kind in refused else None


def type_message(kind: str) -> str:
    return str(NUMBER_TYPE_MESSAGES.get(kind, OTHER_TYPE_MESSAGE))


def number_range(phone_number: str, digits: int) -> str:
    """``phone_number`` without its last ``digits`` digits (at least the ``+`` and one
    digit are kept): ``"+447700900123"`` -> ``"+44770090"`` with 4 digits."""
    keep = max(2, len(phone_number) - digits)
    return phone_number[:keep]
