"""Pacing a chunk's sends to ``BULK_RATE_LIMIT`` per second, and pausing for a 429."""

from __future__ import annotations

import threading
import time


class Pacer:
    """A token bucket shared by a chunk's threads: on average at most ``rate`` sends per
    second, in bursts of at most ``burst`` (one wave), so the wait for the next slots
    overlaps the wait for TextLink's answers. ``pause()`` stops everyone for a 429's
    ``Retry-After``.

    Implemented as GCRA: each send is given the next theoretical slot; it may go up to
    ``(burst - 1)`` intervals early, never earlier.
    """

    def __init__(self, rate: float | None, burst: int = 1) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.tolerance = self.interval * max(0, burst - 1)
        self._tat = time.monotonic()  # theoretical arrival time of the next send
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            tat = max(self._tat, now)
            slot = max(now, tat - self.tolerance, self._paused_until)
            self._tat = max(tat, slot) + self.interval
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
