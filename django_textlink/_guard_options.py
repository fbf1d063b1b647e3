"""``TEXTLINK["FRAUD_GUARD"]``: the fraud guard's options, one dict parsed into one
:class:`GuardOptions` (read as ``conf.FRAUD_GUARD``).

Every key is optional; :data:`GUARD_DEFAULTS` holds the defaults and
``docs/fraud-guard.md`` the reasoning behind each. An unknown key, or a value out of its
range, is refused with the key's name (and, for a misspelt key, the nearest known one), so a
typo cannot switch a defence off silently.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

from django_textlink._values import InvalidValue, is_number, parse_country, parse_whole_number

#: The guard's modes: decide and refuse ("guard"), decide and only report ("monitor"), or
#: nothing at all ("off").
GUARD_MODES = ("guard", "monitor", "off")
#: Per-country modes (``COUNTRIES``): the guard skips the country, refuses it, or only
#: reports what it would have done there.
COUNTRY_MODES = ("allow", "block", "monitor")
#: The number types ``REFUSED_NUMBER_TYPES`` may name: phonenumbers' types, and short codes.
SHORT_CODE = "SHORT_CODE"
#: Numbers of no country: international networks and satellite phones (+800, +808, +870,
#: +881, +882, +883, +888, +979), the classic targets of international revenue share fraud.
NON_GEOGRAPHIC = "NON_GEOGRAPHIC"
NUMBER_TYPES = frozenset(
    name
    for name, value in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
) | {SHORT_CODE, NON_GEOGRAPHIC}

GUARD_DEFAULTS: dict[str, Any] = {
    "MODE": "guard",
    # Numbers that cannot be pumping targets (or cannot receive an SMS at all).
    "REFUSED_NUMBER_TYPES": (
        "PREMIUM_RATE",
        "SHARED_COST",
        "TOLL_FREE",
        "UAN",
        "PAGER",
        "VOICEMAIL",
        "PERSONAL_NUMBER",
        "FIXED_LINE",
        SHORT_CODE,
        NON_GEOGRAPHIC,
    ),
    # Range velocity: a range is the number without its last RANGE_DIGITS digits.
    "RANGE_DIGITS": 4,
    "RANGE_SENDS_PER_HOUR": 5,
    "RANGE_SENDS_PER_VERIFIED": 2,
    "RANGE_MAX_SENDS_PER_HOUR": 50,
    # Conversion guard, per country, over a sliding window.
    "CONVERSION_WINDOW": 3600,
    "COUNTRY_MIN_SENDS": 20,
    "COUNTRY_MIN_CONVERSION": 0.2,
    "COUNTRY_THROTTLED_SENDS": 10,
    # Escalating blocks: BLOCK_FIRST seconds, doubling up to BLOCK_MAX.
    "BLOCK_FIRST": 300,
    "BLOCK_MAX": 12 * 3600,
    # Step-up: the share of a budget after which a send asks for a challenge, and sends per
    # hour from one network before each further one does.
    "CHALLENGE_FROM": 0.5,
    "NETWORK_FREE_SENDS": 3,
    # Per-phone back-off, reset by a successful check.
    "PHONE_FREE_SENDS": 3,
    "PHONE_BACKOFF_FIRST": 60,
    "PHONE_BACKOFF_MAX": 32 * 60,
    # Per-country modes, and numbers and ranges the guard leaves alone.
    "COUNTRIES": {},
    "SAFE_LIST": (),
}


@dataclass(frozen=True)
class GuardOptions:
    """``TEXTLINK["FRAUD_GUARD"]`` parsed (see :data:`GUARD_DEFAULTS`); times in seconds."""

    mode: str
    refused_number_types: frozenset[str]
    range_digits: int
    range_sends_per_hour: int
    range_sends_per_verified: int
    range_max_sends_per_hour: int
    conversion_window: int
    country_min_sends: int
    country_min_conversion: float
    country_throttled_sends: int
    block_first: int
    block_max: int
    challenge_from: float
    network_free_sends: int
    phone_free_sends: int
    phone_backoff_first: int
    phone_backoff_max: int
    countries: Mapping[str, str]
    safe_list: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def country_mode(self, country: str | None) -> str:
        """``"allow"``, ``"block"`` or ``"monitor"`` from ``COUNTRIES``, else the guard's
        own mode."""
        return self.countries.get(country or "", self.mode)

    def is_safe(self, phone_number: str) -> bool:
        """The number is on the safe list, itself or by one of its ranges (prefixes)."""
        return any(phone_number.startswith(entry) for entry in self.safe_list)


def _fraction(value: object) -> float:
    if not is_number(value, allow_zero=True) or float(value) > 1:  # type: ignore[arg-type]
        raise InvalidValue(f"must be a number from 0 to 1, got {value!r}.")
    return float(value)  # type: ignore[arg-type]


def _mode(value: object) -> str:
    if value not in GUARD_MODES:
        raise InvalidValue(f"must be one of {', '.join(map(repr, GUARD_MODES))}, got {value!r}.")
    return str(value)


def _number_types(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise InvalidValue(
            f"must be a list of number types such as ['PREMIUM_RATE'], got {value!r}."
        )
    names = [str(item).upper() for item in value]
    unknown = sorted(set(names) - NUMBER_TYPES)
    if unknown:
        raise InvalidValue(
            f"names unknown number types {unknown}; known: {', '.join(sorted(NUMBER_TYPES))}."
        )
    return frozenset(names)


def _range_digits(value: object) -> int:
    digits = parse_whole_number(value, minimum=1)
    if digits > 8:
        raise InvalidValue(f"must be a whole number from 1 to 8, got {value!r}.")
    return digits


def _countries(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidValue(f"must be a dict such as {{'US': 'allow'}}, got {value!r}.")
    modes = {}
    for country, mode in value.items():
        code = parse_country(country)
        if mode not in COUNTRY_MODES:
            raise InvalidValue(
                f"[{country!r}] must be one of {', '.join(map(repr, COUNTRY_MODES))}, got {mode!r}."
            )
        modes[code or ""] = str(mode)
    return modes


def _safe_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise InvalidValue(f"must be a list of E.164 numbers or prefixes, got {value!r}.")
    entries = []
    for item in value:
        digits = item[1:] if isinstance(item, str) and item.startswith("+") else ""
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 15:
            raise InvalidValue(
                "must be a list of E.164 numbers or their prefixes ('+15555550100', "
                f"'+1555555'), got {item!r}."
            )
        entries.append(item)
    return tuple(entries)


def _at_least_one(value: object) -> int:
    return parse_whole_number(value, minimum=1)


def _zero_or_more(value: object) -> int:
    return parse_whole_number(value, minimum=0)


_PARSERS = {
    "MODE": _mode,
    "REFUSED_NUMBER_TYPES": _number_types,
    "RANGE_DIGITS": _range_digits,
    "RANGE_SENDS_PER_HOUR": _at_least_one,
    "RANGE_SENDS_PER_VERIFIED": _zero_or_more,
    "RANGE_MAX_SENDS_PER_HOUR": _at_least_one,
    "CONVERSION_WINDOW": _at_least_one,
    "COUNTRY_MIN_SENDS": _at_least_one,
    "COUNTRY_MIN_CONVERSION": _fraction,
    "COUNTRY_THROTTLED_SENDS": _zero_or_more,
    "BLOCK_FIRST": _at_least_one,
    "BLOCK_MAX": _at_least_one,
    "CHALLENGE_FROM": _fraction,
    "NETWORK_FREE_SENDS": _zero_or_more,
    "PHONE_FREE_SENDS": _at_least_one,
    "PHONE_BACKOFF_FIRST": _at_least_one,
    "PHONE_BACKOFF_MAX": _at_least_one,
    "COUNTRIES": _countries,
    "SAFE_LIST": _safe_list,
}
assert _PARSERS.keys() == GUARD_DEFAULTS.keys()


def parse_fraud_guard(value: object) -> GuardOptions:
    """``TEXTLINK["FRAUD_GUARD"]``: None or a dict of the keys of :data:`GUARD_DEFAULTS`."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise InvalidValue(f"must be a dict of the fraud guard's options, got {value!r}.")
    for key in value:
        if key not in GUARD_DEFAULTS:
            near = difflib.get_close_matches(str(key), GUARD_DEFAULTS, n=1)
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise InvalidValue(f"has an unknown key {key!r}.{hint}")
    parsed: dict[str, Any] = {}
    for key, parse in _PARSERS.items():
        try:
            parsed[key.lower()] = parse(value.get(key, GUARD_DEFAULTS[key]))
        except InvalidValue as err:
            raise InvalidValue(f'["{key}"] {err}') from err
    if parsed["block_max"] < parsed["block_first"]:
        raise InvalidValue('["BLOCK_MAX"] must be >= BLOCK_FIRST.')
    if parsed["phone_backoff_max"] < parsed["phone_backoff_first"]:
        raise InvalidValue('["PHONE_BACKOFF_MAX"] must be >= PHONE_BACKOFF_FIRST.')
    if parsed["range_max_sends_per_hour"] < parsed["range_sends_per_hour"]:
        raise InvalidValue('["RANGE_MAX_SENDS_PER_HOUR"] must be >= RANGE_SENDS_PER_HOUR.')
    return GuardOptions(**parsed)


def parse_challenge(value: object) -> str | None:
    """``TEXTLINK["CHALLENGE"]``: the dotted path of the step-up challenge class, or None
    (step-up off)."""
    if value is None:
        return None
    if not isinstance(value, str) or "." not in value:
        raise InvalidValue(f"must be the dotted path of a challenge class, or None, got {value!r}.")
    return value
