"""Per-phone back-off: after ``PHONE_FREE_SENDS`` codes to one number, each further code
waits longer after the previous one (``PHONE_BACKOFF_FIRST`` seconds, doubling up to
``PHONE_BACKOFF_MAX``, each wait moved by up to 20% either way so that retries of many
numbers do not line up). A successful check of the number forgets its count; so does a
day without codes.

The count lives in the limit store (a keyed hash of the number, never the number). Two
concurrent codes to one number are already serialized by the atomic resend cooldown, so
the back-off reads and writes its entry in turn.
"""

from __future__ import annotations

from django_textlink._guard_options import GuardOptions
from django_textlink.verification import state
from django_textlink.verification.clock import now
from django_textlink.verification.state import DAY

#: How far each wait may move either way (a share of it).
JITTER = 0.2


def _key(phone_number: str) -> str:
    return state.key("backoff", phone_number)


def read(phone_number: str) -> tuple[int, float]:
    """``(codes sent, when the last one was)`` since the count was last reset."""
    return _read(phone_number)


def _read(phone_number: str) -> tuple[int, float]:
    entry = state.store().get(_key(phone_number)) or ""
    count, _sep, last = entry.partition(":")
    try:
        return int(count), float(last)
    except ValueError:
        return 0, 0.0


def delay(phone_number: str, count: int, options: GuardOptions) -> float:
    """Seconds the code after ``count`` codes must wait after the previous one."""
    if count < options.phone_free_sends:
        return 0.0
    step = min(count - options.phone_free_sends, 30)
    base = min(float(options.phone_backoff_max), options.phone_backoff_first * 2.0**step)
    # The same number and count always get the same jitter: the wait a refusal announces
    # is the wait the next attempt finds.
    spread = int(state.hashed(f"{phone_number}:{count}")[:4], 16) / 0xFFFF
    return base * (1 - JITTER + 2 * JITTER * spread)


def wait(phone_number: str, options: GuardOptions, count: int, last: float) -> float:
    """Seconds until the next code may be sent to ``phone_number`` (0: now), after
    ``count`` codes, the last one at ``last`` (:func:`read`)."""
    if not count:
        return 0.0
    return max(0.0, last + delay(phone_number, count, options) - now())


def note_send(phone_number: str, count: int) -> None:
    """One more code to ``phone_number``, after ``count`` (:func:`read`, at the screen:
    the resend cooldown lets one code at a time through for a number)."""
    at = now()
    state.store().set(_key(phone_number), f"{count + 1}:{at:.3f}", at + DAY)


def reset(phone_number: str) -> None:
    state.store().delete([_key(phone_number)])
