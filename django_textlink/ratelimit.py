"""Atomic rate limits on Django's cache, for the verification flow.

A :class:`WindowLimit` allows at most ``limit`` hits in any ``window`` seconds. It keeps
one counter per slice of the window (``window / slices`` seconds) and sums the slices
that cover the last ``window`` seconds, so it is a sliding window, not a fixed one that
lets ``2 * limit`` through around a boundary.

Each hit first increments its slice with ``cache.add`` + ``cache.incr`` (atomic on every
cache Django ships except the database and file caches), then adds the earlier slices to
the value its own ``incr`` returned. A hit that finds that total over the limit takes its
increment back and is refused. Each hit counts itself and every hit before it, and none
after it, so concurrent requests admit exactly ``limit``: never more, and not fewer
because racing requests saw each other's increments.

The cache must be shared by every process (Redis, Memcached); a per-process LocMem cache
multiplies the limits by the number of processes (a deploy check warns about it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass

from django.core.cache import BaseCache

#: The clock every limit reads; tests replace it (``django_textlink.ratelimit.clock``).
clock: Callable[[], float] = time.time


def now() -> float:
    return clock()


@dataclass(frozen=True)
class Hit:
    """A hit that was counted, so it can be taken back (:meth:`WindowLimit.release`)."""

    limit: WindowLimit
    slice_key: str


class WindowLimit:
    """At most ``limit`` hits per ``window`` seconds for one key."""

    def __init__(
        self,
        cache: BaseCache,
        name: str,
        key: str,
        *,
        limit: int,
        window: int,
        slices: int = 12,
    ) -> None:
        self.cache = cache
        self.name = name
        self.key = key
        self.limit = limit
        self.window = window
        self.slice_seconds = max(1, math.ceil(window / slices))
        self.slices = math.ceil(window / self.slice_seconds)

    def _slice_key(self, index: int) -> str:
        return f"{self.key}:{self.slice_seconds}:{index}"

    def _indexes(self, at: float) -> range:
        current = int(at // self.slice_seconds)
        return range(current - self.slices, current + 1)

    def _ttl(self) -> int:
        return self.window + 2 * self.slice_seconds

    def hit(self) -> tuple[Hit | None, float]:
        """Count one hit. Returns ``(hit, 0)`` when allowed, ``(None, retry_after)`` when
        the limit is reached (nothing is counted then)."""
        at = now()
        indexes = self._indexes(at)
        slice_key = self._slice_key(indexes[-1])
        if self.limit <= 0:
            return None, float(self.window)
        for _ in range(3):
            self.cache.add(slice_key, 0, timeout=self._ttl())
            try:
                value = int(self.cache.incr(slice_key))
                break
            except ValueError:  # the slice expired between add and incr
                continue
        else:  # pragma: no cover - a cache that keeps dropping keys
            return None, float(self.slice_seconds)
        counts = self._counts(indexes)
        # The current slice as this hit's own increment left it: increments made later by
        # concurrent hits must not refuse this one (else a burst could admit fewer than
        # ``limit``, or none); the hit that takes the slice over the limit is refused.
        counts[indexes[-1]] = value
        if sum(counts.values()) <= self.limit:
            return Hit(self, slice_key), 0.0
        self._decr(slice_key)
        # When to retry is computed without this refused hit, which is not counted.
        counts[indexes[-1]] = value - 1
        return None, self._retry_after(at, {i: n for i, n in counts.items() if n > 0})

    def peek(self) -> float:
        """Seconds until one more hit would be allowed (0 when it would be now)."""
        at = now()
        counts = self._counts(self._indexes(at))
        if self.limit > 0 and sum(counts.values()) < self.limit:
            return 0.0
        return self._retry_after(at, counts)

    def count(self) -> int:
        """Hits counted in the current window."""
        return sum(self._counts(self._indexes(now())).values())

    def release(self, hit: Hit) -> None:
        """Take a counted hit back (the action it allowed did not happen)."""
        self._decr(hit.slice_key)

    def reset(self) -> None:
        self.cache.delete_many([self._slice_key(i) for i in self._indexes(now())])

    def _counts(self, indexes: range) -> dict[int, int]:
        keys = {self._slice_key(i): i for i in indexes}
        found = self.cache.get_many(list(keys))
        return {keys[key]: int(value) for key, value in found.items() if value}

    def _decr(self, slice_key: str) -> None:
        with suppress(ValueError):  # expired meanwhile: nothing left to take back
            self.cache.decr(slice_key)

    def _retry_after(self, at: float, counts: dict[int, int]) -> float:
        """When enough of the oldest slices will have left the window for one more hit."""
        if self.limit <= 0:
            return float(self.window)
        excess = sum(counts.values()) - self.limit + 1
        for index in sorted(counts):
            excess -= counts[index]
            if excess <= 0:
                leaves_at = (index + self.slices + 1) * self.slice_seconds
                return max(1.0, leaves_at - at)
        return float(self.window)  # pragma: no cover - counts changed while reading


def acquire_all(limits: Sequence[WindowLimit]) -> tuple[list[Hit], WindowLimit | None, float]:
    """Hit each limit in order. On the first refusal, take back the hits already counted
    and return ``([], refusing_limit, retry_after)``; else ``(hits, None, 0)``."""
    hits: list[Hit] = []
    for limit in limits:
        hit, retry_after = limit.hit()
        if hit is None:
            release_all(hits)
            return [], limit, retry_after
        hits.append(hit)
    return hits, None, 0.0


def release_all(hits: Sequence[Hit]) -> None:
    for hit in hits:
        hit.limit.release(hit)
