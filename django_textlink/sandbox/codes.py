"""Verification codes as TextLink keeps them: the one model shared by the sandbox
(:mod:`django_textlink.sandbox.state`) and the console/locmem backends
(:mod:`django_textlink.backends.simulated`). Standard library only: importing it never
touches Django settings.

The rules, for every phone number:

* :meth:`CodeBook.issue` makes a new random 6-digit code, valid for ``lifetime_ms``
  milliseconds. The phone's previous code, if it was still pending, is *superseded*:
  only the newest code can be used.
* :meth:`CodeBook.check` compares in constant time, surrounding whitespace ignored,
  and answers a :class:`CheckOutcome`:

  - ``VALID``: the current code, in time. It is used up (single use).
  - ``WRONG``: another code. The current one stays valid.
  - ``EXPIRED``: the current code, but at or after its expiry.
  - ``NO_CODE``: no pending code (never sent, already used, or superseded).

* A code expires when the clock reaches ``expires_at`` (``now >= expires_at``).

Each user words the outcomes its own way (the sandbox answers ``"Invalid code"`` or
``"Code expired"``, as TextLink does; the backends say what happened).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Literal

CODE_DIGITS = 6
#: TextLink's default lifetime of a code (10 minutes), in milliseconds.
DEFAULT_LIFETIME_MS = 600_000

#: What a code is now: ``"expired"`` is computed from the clock, never stored.
CodeStatus = Literal["pending", "used", "superseded", "expired"]


def random_code() -> str:
    """Six digits from :mod:`secrets`."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


class CheckOutcome(Enum):
    """The result of :meth:`CodeBook.check` (see the module docstring)."""

    VALID = "valid"
    WRONG = "wrong"
    EXPIRED = "expired"
    NO_CODE = "no_code"

    def __bool__(self) -> bool:
        return self is CheckOutcome.VALID


@dataclass
class IssuedCode:
    """One code sent to ``phone_number``. ``state`` changes from ``"pending"`` to
    ``"used"`` or ``"superseded"``; :meth:`status` adds ``"expired"``."""

    phone_number: str
    code: str
    issued_at: float
    expires_at: float
    state: Literal["pending", "used", "superseded"] = "pending"

    def status(self, now: float) -> CodeStatus:
        if self.state == "pending" and now >= self.expires_at:
            return "expired"
        return self.state


class CodeBook:
    """The current code of each phone number. Thread-safe.

    ``clock`` gives wall-clock seconds (called at every issue and check, so a test can
    move time); ``generate`` makes a code (the sandbox passes a seeded one for
    ``--seed``)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        generate: Callable[[], str] = random_code,
    ) -> None:
        self.clock = clock
        self.generate = generate
        self._current: dict[str, IssuedCode] = {}
        self._lock = threading.Lock()

    def issue(self, phone_number: str, lifetime_ms: int = DEFAULT_LIFETIME_MS) -> IssuedCode:
        """A new code for ``phone_number``, valid ``lifetime_ms`` milliseconds; the
        previous pending one is superseded."""
        if lifetime_ms <= 0:
            raise ValueError("A code's lifetime must be a positive number of milliseconds.")
        with self._lock:
            now = self.clock()
            issued = IssuedCode(phone_number, self.generate(), now, now + lifetime_ms / 1000)
            previous = self._current.get(phone_number)
            if previous is not None and previous.state == "pending":
                previous.state = "superseded"
            self._current[phone_number] = issued
            return issued

    def check(self, phone_number: str, given: str) -> CheckOutcome:
        """Check ``given`` against the phone's current code; a valid code is used up."""
        attempt = str(given).strip().encode("utf-8", "surrogatepass")
        with self._lock:
            current = self._current.get(phone_number)
            if current is None or current.state != "pending":
                return CheckOutcome.NO_CODE
            if not hmac.compare_digest(attempt, current.code.encode()):
                return CheckOutcome.WRONG
            if current.status(self.clock()) == "expired":
                return CheckOutcome.EXPIRED
            current.state = "used"
            del self._current[phone_number]
            return CheckOutcome.VALID

    def current(self, phone_number: str) -> IssuedCode | None:
        """The phone's newest code while it can still be checked (pending or expired)."""
        with self._lock:
            return self._current.get(phone_number)

    def clear(self) -> None:
        """Forget every code."""
        with self._lock:
            self._current.clear()


__all__ = [
    "CODE_DIGITS",
    "DEFAULT_LIFETIME_MS",
    "CheckOutcome",
    "CodeBook",
    "CodeStatus",
    "IssuedCode",
    "random_code",
]
