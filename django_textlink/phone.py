"""Phone numbers: parse at the edge, normalize to E.164, never send anything else."""

from __future__ import annotations

import phonenumbers
from django.utils.translation import gettext as _

from django_textlink.conf import conf


class InvalidPhoneNumber(ValueError):
    """The input is not a valid phone number. The message is safe to show to a user."""


def normalize_phone(value: object, region: str | None = None) -> str:
    """Return ``value`` in E.164 form (``+11234567890``) or raise :class:`InvalidPhoneNumber`.

    A number without a leading ``+`` is read as a national number of ``region``
    (default: ``settings.TEXTLINK["DEFAULT_REGION"]``).
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidPhoneNumber(_("Enter a phone number."))
    # phonenumbers only knows upper-case regions; accept "rs" as the setting does.
    region = region.upper() if isinstance(region, str) else conf.DEFAULT_REGION
    try:
        parsed = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException as err:
        if err.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE and not region:
            raise InvalidPhoneNumber(
                _("Enter the number in international format, starting with + and the country code.")
            ) from None
        raise InvalidPhoneNumber(_("Enter a valid phone number.")) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(_("Enter a valid phone number."))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def region_of(phone_number: str) -> str | None:
    """The ISO-2 region of an E.164 number (``"US"``), or None when unknown."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone_number, None))
    except phonenumbers.NumberParseException:
        return None
