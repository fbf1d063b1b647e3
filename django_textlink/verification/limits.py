"""Atomic sliding-window rate limits, for the verification flow.

A :class:`WindowLimit` allows at most ``limit`` hits in any ``window`` seconds. It keeps
one counter per slice of the window (``window / slices`` seconds) in a
:class:`~django_textlink.verification.store.Store` (the database by default), and each counter
expires ``window`` seconds after the *last* hit it counted: a hit is counted for at least
``window`` seconds (so it is a sliding window, not a fixed one that lets ``2 * limit``
through around a boundary), and ``Retry-After`` is never longer than the window.

Each hit increments its slice, then adds the live earlier slices. A hit that finds the
total over the limit is refused and leaves nothing counted. :func:`acquire_all` decides
all the limits of one request in one :meth:`~django_textlink.verification.store.Store.atomic`
block: in the database store that is a transaction whose ``UPDATE`` holds the counter's
lock until the decision commits, so concurrent requests, threads or processes are
admitted exactly ``limit`` times, and a refusal rolls back every hit of the request. In
the cache store each hit counts itself and every hit before it, and none after it (the
value its own ``incr`` returned), and a refusal takes its increments back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django_textlink.verification.clock import now

if TYPE_CHECKING:
    from django_textlink.verification.store import Store


@dataclass(frozen=True)
class Hit:
    """A hit that was counted, so it can be taken back (:meth:`WindowLimit.release`)."""

    limit: WindowLimit
    slice_key: str


class _Refused(Exception):
    def __init__(self, limit: WindowLimit, retry_after: float) -> None:
        super().__init__(limit.name)
        self.limit = limit
        self.retry_after = retry_after


class WindowLimit:
    """At most ``limit`` hits per ``window`` seconds for one key."""

    def __init__(
        self,
        store: Store,
        name: str,
        key: str,
        *,
        limit: int,
        window: int,
        slices: int = 12,
    ) -> None:
        self.store = store
        self.name = name
        self.key = key
        self.limit = limit
        self.window = window
        self.slice_seconds = max(1, math.ceil(window / slices))
        self.slices = math.ceil(window / self.slice_seconds)

    def _slice_key(self, index: int) -> str:
        return f"{self.key}:{self.slice_seconds}:{index}"

    def _keys(self, at: float) -> list[str]:
        """The slices that can hold hits of the last ``window`` seconds, oldest first and
        the current one last, then the next one: a request whose clock was read a moment
        before another's sees the other's hit even when it fell in the next slice."""
        current = int(at // self.slice_seconds)
        return [self._slice_key(i) for i in range(current - self.slices, current + 2)]

    def _own_key(self, at: float) -> str:
        """The slice a hit at ``at`` is counted in."""
        return self._slice_key(int(at // self.slice_seconds))

    def hit(self) -> tuple[Hit | None, float]:
        """Count one hit. Returns ``(hit, 0)`` when allowed, ``(None, retry_after)`` when
        the limit is reached (nothing is counted then)."""
        hits, _refused, retry_after = acquire_all([self])
        return (hits[0] if hits else None), retry_after

    def _count_hit(self, at: float) -> Hit:
        """Count one hit in a store that is not transactional; raise :class:`_Refused`,
        after taking it back, when it is one too many."""
        self._refuse_if_closed()
        keys = self._keys(at)
        own = self._own_key(at)
        value = self.store.incr(own, at + self.window)
        counts = self.store.counts(keys)
        if value is not None:
            # The current slice as this hit's own increment left it: increments made later
            # by concurrent hits must not refuse this one (else a burst could admit fewer
            # than ``limit``, or none); the hit that takes the slice over is refused.
            counts[own] = (value, counts.get(own, (0, at + self.window))[1])
        if sum(count for count, _expires in counts.values()) <= self.limit:
            self.store.extend(own, at + self.window)  # counted until a window after this hit
            return Hit(self, own)
        self.store.decr(own)
        raise self._refusal(at, counts, own)

    def _refuse_if_closed(self) -> None:
        """A limit of 0 (or less) refuses every hit for a whole window."""
        if self.limit <= 0:
            raise _Refused(self, float(self.window))

    def _refusal(self, at: float, counts: dict[str, tuple[int, float]], own: str) -> _Refused:
        """The refusal of the hit counted in slice ``own``: when to retry is computed
        without it (it is not counted; the slice's expiry was left as it was)."""
        count, expires = counts.get(own, (1, at + self.window))
        counts[own] = (count - 1, expires)
        return _Refused(self, self._retry_after(at, counts))

    def peek(self) -> float:
        """Seconds until one more hit would be allowed (0 when it would be now)."""
        at = now()
        counts = self.store.counts(self._keys(at))
        if self.limit > 0 and sum(count for count, _expires in counts.values()) < self.limit:
            return 0.0
        return self._retry_after(at, counts)

    def count(self) -> int:
        """Hits counted in the current window."""
        return sum(count for count, _expires in self.store.counts(self._keys(now())).values())

    def release(self, hit: Hit) -> None:
        """Take a counted hit back (the action it allowed did not happen)."""
        self.store.decr(hit.slice_key)

    def reset(self) -> None:
        self.store.delete(self._keys(now()))

    def _retry_after(self, at: float, counts: dict[str, tuple[int, float]]) -> float:
        """When enough of the oldest hits will have left the window for one more hit:
        at most ``window`` seconds, since every counter expires by then."""
        if self.limit <= 0:
            return float(self.window)
        live = sorted((expires, count) for count, expires in counts.values() if count > 0)
        excess = sum(count for _expires, count in live) - self.limit + 1
        for expires, count in live:
            excess -= count
            if excess <= 0:
                return min(float(self.window), max(1.0, expires - at))
        return float(self.window)  # pragma: no cover - counts changed while reading


def count_all(limits: Sequence[WindowLimit]) -> dict[WindowLimit, int]:
    """:meth:`WindowLimit.count` of each of ``limits`` (one store), in one read."""
    if not limits:
        return {}
    at = now()
    keys = {limit: limit._keys(at) for limit in limits}
    counts = limits[0].store.counts([key for window in keys.values() for key in window])
    return {
        limit: sum(counts[key][0] for key in window if key in counts)
        for limit, window in keys.items()
    }


def acquire_all(limits: Sequence[WindowLimit]) -> tuple[list[Hit], WindowLimit | None, float]:
    """Hit each limit in order, all in one atomic block of their store. On the first
    refusal nothing stays counted (rolled back, or taken back) and the result is
    ``([], refusing_limit, retry_after)``; else ``(hits, None, 0)``."""
    if not limits:
        return [], None, 0.0
    store = limits[0].store
    at = now()
    try:
        with store.atomic():
            if store.transactional:
                hits = _decide_together(limits, at)
            else:
                hits = _decide_in_turn(limits, at)
    except _Refused as refusal:
        return [], refusal.limit, refusal.retry_after
    store.housekeeping()
    return hits, None, 0.0


def _decide_together(limits: Sequence[WindowLimit], at: float) -> list[Hit]:
    """A transactional store: lock each limit as a whole, count every limit's hit at once,
    read every window at once (what is read is exact: every counter of these limits stays
    locked until the transaction ends), and decide the limits in order; a refusal raises,
    and the rollback undoes every hit."""
    store = limits[0].store
    for limit in limits:
        limit._refuse_if_closed()
    # First the limit's own row (its key without a slice), the lock that serializes every
    # decision on this limit whichever slice its hits fall in; then the clock, read after
    # waiting for that lock, so hits committed meanwhile are in the window read below.
    store.incr_many({limit.key: at + limit.window for limit in limits})
    at = now()
    keys = {limit: limit._keys(at) for limit in limits}
    own = {limit: limit._own_key(at) for limit in limits}
    store.incr_many({own[limit]: at + limit.window for limit in limits})
    counts = store.counts([key for limit in limits for key in keys[limit]])
    for limit in limits:
        window = {key: counts[key] for key in keys[limit] if key in counts}
        if sum(count for count, _expires in window.values()) > limit.limit:
            raise limit._refusal(at, window, own[limit])
    # Admitted: each counter lives until a window after this hit.
    store.extend_many({own[limit]: at + limit.window for limit in limits})
    return [Hit(limit, own[limit]) for limit in limits]


def _decide_in_turn(limits: Sequence[WindowLimit], at: float) -> list[Hit]:
    """A store that is not transactional: one limit after the other, each hit counting
    itself and every hit before it; a refusal takes back the hits already counted."""
    hits: list[Hit] = []
    try:
        for limit in limits:
            hits.append(limit._count_hit(at))
    except _Refused:
        release_all(hits)
        raise
    return hits


def release_all(hits: Sequence[Hit]) -> None:
    """Take back hits that were allowed (the action did not happen)."""
    if not hits:
        return
    with hits[0].limit.store.atomic():
        for hit in hits:
            hit.limit.release(hit)
