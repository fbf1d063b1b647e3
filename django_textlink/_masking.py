"""Masking for log lines: phone numbers and secrets never appear in full."""

from __future__ import annotations

import phonenumbers


def mask_phone(phone_number: object) -> str:
    """``+381601234567`` -> ``+381*******67``: the country code and the last two digits.

    Anything that is not an international number (``+`` and a known country code) keeps
    only its last two characters.
    """
    text = str(phone_number or "")
    if not text:
        return ""
    digits = "".join(ch for ch in text if ch.isdigit())
    country = ""
    if text.startswith("+"):
        try:
            country = str(phonenumbers.parse(text, None).country_code)
        except phonenumbers.NumberParseException:
            country = ""
    if country and len(digits) > len(country) + 2:
        hidden = len(digits) - len(country) - 2
        return f"+{country}{'*' * hidden}{digits[-2:]}"
    if len(text) <= 2:
        return "*" * len(text)
    return "*" * (len(text) - 2) + text[-2:]


class Secret:
    """A string that never shows itself in ``repr``/``str`` (API keys, webhook secrets)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self  # immutable: copies (e.g. Django's setUpTestData) share it

    def __reduce__(self) -> str:
        raise TypeError("A Secret cannot be pickled.")
