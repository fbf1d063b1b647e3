"""Parsers of plain values, shared by :mod:`django_textlink.conf` and the option groups it
reads (the fraud guard's): they read no settings, and raise :class:`InvalidValue`."""

from __future__ import annotations

import math


class InvalidValue(ValueError):
    """A value a parser refuses. Its text completes a sentence that starts with the name of
    what holds the value: ``"must be a whole number >= 1, got 0."``."""


def parse_whole_number(value: object, minimum: int = 1) -> int:
    """An ``int`` (not a ``bool``) >= ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidValue(f"must be a whole number >= {minimum}, got {value!r}.")
    return value


def is_number(value: object, *, allow_zero: bool = False) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )


def parse_number(value: object, *, allow_zero: bool = False, unit: str = "seconds") -> float:
    """A finite ``int`` or ``float`` (not a ``bool``) > 0, or >= 0 with ``allow_zero``."""
    if not is_number(value, allow_zero=allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidValue(f"must be a finite number of {unit} {bound}, got {value!r}.")
    return float(value)  # type: ignore[arg-type]


def parse_country(value: object) -> str | None:
    """None, or an ISO 3166-1 alpha-2 code (returned upper-case)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 2 or not value.isalpha():
        raise InvalidValue(f"must be ISO 3166-1 alpha-2 codes such as 'US', got {value!r}.")
    return value.upper()
