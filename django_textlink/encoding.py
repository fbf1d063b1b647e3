"""How long an SMS is: its encoding, its size and how many parts it is sent in.

A text that only uses the GSM 03.38 alphabet is sent as GSM-7: 7-bit "septets", 160 in a
single SMS, 153 per part of a longer (concatenated) one, the other 7 carrying the header
that joins them. The characters of the extension table (``€ [ ] { } ~ ^ \\ |`` and form
feed) take two septets each (an escape, then the character). A single character outside
both tables makes the whole text UCS-2 (UTF-16): 70 code units in a single SMS, 67 per
part; characters outside the Basic Multilingual Plane (most emoji) take two units.

A character is never split between two parts: an extension character (two septets) or a
surrogate pair (two units) that does not fit in what is left of a part starts the next
one, so a long text may need one part more than its size divided by 153 (or 67).

``static/django_textlink/sms_counter.js`` mirrors this module for the admin's live
counter; keep the two in step.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

#: The GSM 03.38 basic character set, without the escape (0x1B) that introduces the
#: extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The GSM 03.38 extension table: each of these takes two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

#: ``(single, per part of a longer message)`` size limits, in septets or UTF-16 units.
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class SMSInfo:
    """What :func:`analyze` found out about a text."""

    #: ``"GSM-7"`` or ``"UCS-2"``.
    encoding: str
    #: Characters (Unicode code points) in the text.
    characters: int
    #: Size in the encoding: septets for GSM-7, UTF-16 code units for UCS-2.
    units: int
    #: SMS parts it is sent in (0 for an empty text).
    segments: int
    #: How many units one part holds: 160/70 for a single SMS, 153/67 for a longer one.
    per_segment: int
    #: The characters that force UCS-2, each once, in order of appearance.
    non_gsm_chars: tuple[str, ...]
    #: Units still free in the last part before another part is needed.
    remaining: int

    @property
    def is_unicode(self) -> bool:
        return self.encoding == UCS2

    @property
    def non_gsm_display(self) -> tuple[str, ...]:
        """:attr:`non_gsm_chars` as shown to people: invisible ones (a no-break space
        pasted from a document, a tab) as their code point, ``U+00A0``."""
        return tuple(display_char(char) for char in self.non_gsm_chars)


def display_char(char: str) -> str:
    """``char``, or ``U+XXXX`` for a space, separator or control character."""
    if unicodedata.category(char)[0] in "CZ":
        return f"U+{ord(char):04X}"
    return char


def _unit_costs(text: str) -> tuple[str, list[int], tuple[str, ...]]:
    non_gsm: dict[str, None] = {}
    for char in text:
        if char not in GSM7_BASIC and char not in GSM7_EXTENSION:
            non_gsm.setdefault(char, None)
    if non_gsm:
        return UCS2, [2 if ord(char) > 0xFFFF else 1 for char in text], tuple(non_gsm)
    return GSM7, [2 if char in GSM7_EXTENSION else 1 for char in text], ()


def analyze(text: str) -> SMSInfo:
    """The encoding, size and number of SMS parts of ``text``.

    >>> info = analyze("Hello €")
    >>> info.encoding, info.characters, info.units, info.segments
    ('GSM-7', 7, 8, 1)
    """
    encoding, costs, non_gsm = _unit_costs(text)
    single, multi = LIMITS[encoding]
    units = sum(costs)
    if units <= single:
        segments = 1 if units else 0
        return SMSInfo(encoding, len(text), units, segments, single, non_gsm, single - units)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:  # never split a character between two parts
            segments, used = segments + 1, 0
        used += cost
    return SMSInfo(encoding, len(text), units, segments, multi, non_gsm, multi - used)


__all__ = [
    "GSM7",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "LIMITS",
    "UCS2",
    "SMSInfo",
    "analyze",
    "display_char",
]
