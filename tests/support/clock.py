"""A controllable clock for django_textlink.verification.clock (the clock every limit reads)."""

from __future__ import annotations

T0 = 1_728_000_000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.start = now
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set(self, offset: float) -> None:
        """Move to ``start + offset``."""
        self.now = self.start + offset
