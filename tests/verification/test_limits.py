"""WindowLimit and acquire_all on both limit stores, with a mocked clock.

The limits are exercised for real on the database store (the default) and on the cache
store over the LocMem cache; only the clock is replaced
(``django_textlink.verification.clock.clock``), so boundaries can be hit to the second. The
concurrency tests run the database store on a file database with real transactions.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connections

from django_textlink.verification import clock as clock_module
from django_textlink.verification import limits
from django_textlink.verification.limits import WindowLimit, acquire_all, release_all
from django_textlink.verification.store import CacheStore, DatabaseStore, Store
from tests.support.clock import T0, FakeClock
from tests.support.concurrency import file_sqlite_database

#: A start time on a slice boundary of every window used here (a multiple of a day).
HOUR = 3600

STORES = ["database", "cache"]


def new_store(kind: str) -> Store:
    return DatabaseStore() if kind == "database" else CacheStore(caches["default"])


#: The database store needs the database (the cache store does not touch it).
pytestmark = pytest.mark.django_db


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Store:
    return new_store(request.param)


def make_limit(name: str = "test", key: str = "k", *, limit: int = 5, window: int = HOUR, **kw):
    return WindowLimit(_current_store, name, f"rl-test:{key}", limit=limit, window=window, **kw)


_current_store: Store


@pytest.fixture(autouse=True)
def _use_store(store: Store) -> None:
    """Every limit a test makes lives in the store it is parametrized with."""
    global _current_store
    _current_store = store


def allowed(limit: WindowLimit) -> bool:
    hit, retry_after = limit.hit()
    if hit is None:
        assert retry_after >= 1
        return False
    assert retry_after == 0
    return True


# -- counting ------------------------------------------------------------------------------


def test_exactly_limit_hits_are_allowed_then_refused_with_retry_after(clock: FakeClock) -> None:
    limit = make_limit(limit=5)
    results = [limit.hit() for _ in range(5)]
    assert all(hit is not None and wait == 0 for hit, wait in results)

    hit, retry_after = limit.hit()
    assert hit is None
    # All five hits were made at once: the sixth is allowed exactly an hour later.
    assert retry_after == HOUR
    assert limit.count() == 5  # the refused hit was not counted

    clock.advance(retry_after - 1)
    assert not allowed(limit)
    clock.advance(1)
    assert allowed(limit)


def test_refused_hits_are_not_counted(clock: FakeClock) -> None:
    limit = make_limit(limit=2)
    assert allowed(limit)
    assert allowed(limit)
    for _ in range(20):
        assert not allowed(limit)
    assert limit.count() == 2


def test_limits_are_per_key(clock: FakeClock) -> None:
    first, second = make_limit(key="a", limit=1), make_limit(key="b", limit=1)
    assert allowed(first)
    assert not allowed(first)
    assert allowed(second)


def test_a_zero_limit_refuses_everything(clock: FakeClock) -> None:
    limit = make_limit(limit=0, window=60)
    hit, retry_after = limit.hit()
    assert hit is None
    assert retry_after == 60
    assert limit.peek() == 60
    assert limit.count() == 0


def test_retry_after_is_honest(clock: FakeClock) -> None:
    """Waiting exactly the announced time is enough, and one second less is not."""
    limit = make_limit(limit=3)
    for offset in (0, 700, 1400):
        clock.set(offset)
        assert allowed(limit)
    clock.set(2000)
    hit, retry_after = limit.hit()
    assert hit is None
    # The oldest hit (t=0) leaves the window an hour after it was made.
    assert retry_after == pytest.approx(HOUR - 2000)
    clock.advance(retry_after - 1)
    assert not allowed(limit)
    clock.advance(1)
    assert allowed(limit)


# -- sliding, not fixed ----------------------------------------------------------------------


def test_no_double_burst_across_a_window_boundary(clock: FakeClock) -> None:
    """A fixed window would reset at t=3600 and let another 5 through at once."""
    limit = make_limit(limit=5)
    clock.set(HOUR - 1)
    for _ in range(5):
        assert allowed(limit)
    clock.set(HOUR)
    assert not allowed(limit)
    clock.set(2 * HOUR - 1.001)  # still inside the hour that started at t=3599
    assert not allowed(limit)
    clock.set(2 * HOUR - 1)  # a full hour after the five hits
    assert allowed(limit)


def test_no_burst_just_after_the_window_of_the_first_hits(clock: FakeClock) -> None:
    limit = make_limit(limit=5)
    for second in range(5):
        clock.set(HOUR - 5 + second)
        assert allowed(limit)
    for offset in (HOUR, HOUR + 1, HOUR + 60, 2 * HOUR - 6):
        clock.set(offset)
        assert not allowed(limit), offset


def test_sliding_window_frees_one_hit_when_the_oldest_slice_leaves(clock: FakeClock) -> None:
    limit = make_limit(limit=5)
    step = 600  # hits spread over the hour, one per 10 minutes
    for i in range(5):
        clock.set(i * step)
        assert allowed(limit)
    clock.set(5 * step)
    hit, retry_after = limit.hit()
    assert hit is None

    # Never before the oldest hit is a full window old.
    clock.set(HOUR - 1)
    assert not allowed(limit)
    clock.set(5 * step + retry_after)
    assert clock.now - T0 >= HOUR
    assert allowed(limit)  # the t=0 hit left: exactly one more
    assert not allowed(limit)
    # The t=600 hit leaves one window after it was made.
    next_free = 5 * step + retry_after + step
    clock.set(next_free - 1)
    assert not allowed(limit)
    clock.set(next_free)
    assert allowed(limit)
    assert not allowed(limit)


def test_a_hit_is_held_for_exactly_the_window(clock: FakeClock) -> None:
    """Whatever the hit's position in its slice, it counts for the window, and the
    announced wait is never longer than the window."""
    for offset in (0, 1, 150, 299.9):
        limit = make_limit(key=f"held-{offset}", limit=1, window=HOUR)
        clock.set(offset)
        assert allowed(limit)
        clock.set(offset + HOUR - 0.001)
        hit, retry_after = limit.hit()
        assert hit is None, offset
        assert retry_after <= HOUR
        clock.set(offset + HOUR)
        assert allowed(limit), offset


def test_retry_after_never_exceeds_the_window(clock: FakeClock) -> None:
    """The lock-out attack's figure: Retry-After 3796 s for a one-hour window."""
    limit = make_limit(limit=10)
    for i in range(10):
        clock.set(290 + i)  # late in the first slice
        assert allowed(limit)
    for offset in (300, 301, 1000, 3000, HOUR + 289):
        clock.set(offset)
        hit, retry_after = limit.hit()
        assert hit is None
        assert 1 <= retry_after <= HOUR, offset
        assert retry_after == pytest.approx(290 + 9 + HOUR - offset)


def test_refused_hits_do_not_extend_the_window(clock: FakeClock) -> None:
    """Hammering a full limit must not keep it closed for longer."""
    limit = make_limit(limit=2)
    assert allowed(limit)
    assert allowed(limit)
    for second in range(1, 250):
        clock.set(second)
        assert not allowed(limit)
    clock.set(HOUR)
    assert allowed(limit)


def test_short_window_with_one_second_slices(clock: FakeClock) -> None:
    """The resend cooldown's shape: limit 1 per 60 s, 60 slices of one second."""
    limit = make_limit(limit=1, window=60, slices=60)
    assert limit.slice_seconds == 1
    clock.set(10.5)
    assert allowed(limit)
    clock.set(10.5 + 59)
    hit, retry_after = limit.hit()
    assert hit is None
    assert retry_after == pytest.approx(1)
    clock.set(10.5 + 60)
    assert allowed(limit)


# -- release, acquire_all, peek, count -------------------------------------------------------


def test_release_gives_a_hit_back(clock: FakeClock) -> None:
    limit = make_limit(limit=2)
    first, _ = limit.hit()
    second, _ = limit.hit()
    assert first is not None
    assert second is not None
    assert not allowed(limit)
    limit.release(second)
    assert limit.count() == 1
    assert allowed(limit)
    assert not allowed(limit)


def test_release_after_the_slice_expired_is_harmless(clock: FakeClock) -> None:
    limit = make_limit(limit=1)
    hit, _ = limit.hit()
    assert hit is not None
    _current_store.delete([hit.slice_key])  # the slice was dropped (purged) meanwhile
    limit.release(hit)  # no error
    assert limit.count() == 0
    assert allowed(limit)


def test_acquire_all_takes_back_earlier_hits_when_a_later_limit_refuses(clock: FakeClock) -> None:
    roomy = make_limit("roomy", key="roomy", limit=10)
    tight = make_limit("tight", key="tight", limit=1)
    later = make_limit("later", key="later", limit=10)

    hits, refused, wait = acquire_all([roomy, tight, later])
    assert refused is None
    assert wait == 0
    assert [hit.limit for hit in hits] == [roomy, tight, later]
    assert (roomy.count(), tight.count(), later.count()) == (1, 1, 1)

    for _ in range(3):
        hits, refused, wait = acquire_all([roomy, tight, later])
        assert hits == []
        assert refused is tight
        assert wait >= 1
    # The refused attempts left no trace in any limit.
    assert (roomy.count(), tight.count(), later.count()) == (1, 1, 1)


def test_release_all_gives_every_hit_back(clock: FakeClock) -> None:
    first, second = make_limit(key="a", limit=1), make_limit(key="b", limit=1)
    hits, refused, _ = acquire_all([first, second])
    assert refused is None
    release_all(hits)
    assert first.count() == second.count() == 0
    hits, refused, _ = acquire_all([first, second])
    assert refused is None
    assert len(hits) == 2


def test_peek_and_count_do_not_count(clock: FakeClock) -> None:
    limit = make_limit(limit=2)
    assert limit.peek() == 0
    assert limit.count() == 0
    assert allowed(limit)
    assert limit.peek() == 0
    assert limit.count() == 1
    assert allowed(limit)
    wait = limit.peek()
    assert wait == HOUR
    for _ in range(5):
        assert limit.peek() == wait
    assert limit.count() == 2
    clock.advance(100)
    assert limit.peek() == pytest.approx(wait - 100)
    clock.advance(wait - 100)
    assert limit.peek() == 0
    assert limit.count() == 0


def test_peek_agrees_with_hit(clock: FakeClock) -> None:
    limit = make_limit(limit=3)
    for offset in (0, 900, 1800):
        clock.set(offset)
        assert allowed(limit)
    clock.set(2000)
    wait = limit.peek()
    hit, retry_after = limit.hit()
    assert hit is None
    assert wait == retry_after


def test_reset_forgets_every_hit(clock: FakeClock) -> None:
    limit = make_limit(limit=2)
    for offset in (0, 1000):
        clock.set(offset)
        assert allowed(limit)
    limit.reset()
    assert limit.count() == 0
    assert allowed(limit)


# -- concurrency ----------------------------------------------------------------------------


@pytest.fixture
def interleave(store: Store, request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[None]:
    """Switch threads as often as possible, so hits really interleave under the GIL
    (as requests do across processes). The database store runs on a file database (or
    PostgreSQL) with real transactions, one connection per thread."""
    global _current_store
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    if isinstance(store, DatabaseStore):
        shared = file_sqlite_database(tmp_path)
        next(shared)
        _current_store = DatabaseStore()
        yield
        next(shared, None)
    else:
        yield
    sys.setswitchinterval(previous)


def rounds(count: int) -> range:
    """Fewer rounds on the database store: each hit there is a real transaction."""
    return range(count if isinstance(_current_store, CacheStore) else max(1, count // 6))


def hammer(limit: WindowLimit, threads: int) -> list[bool]:
    """``threads`` threads hit ``limit`` at once; the outcome of each."""
    barrier = threading.Barrier(threads)
    outcomes: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            hit, _ = limit.hit()
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)
            return
        finally:
            connections.close_all()
        with lock:
            outcomes.append(hit is not None)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=20)
    assert not errors
    assert len(outcomes) == threads
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("interleave")
def test_fifty_concurrent_hits_on_a_limit_of_five_admit_exactly_five(clock: FakeClock) -> None:
    for round_ in rounds(20):
        limit = make_limit(key=f"race-{round_}", limit=5)
        outcomes = hammer(limit, 50)
        assert outcomes.count(True) == 5, round_  # never more, and not fewer either
        assert limit.count() == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("interleave")
def test_concurrent_hits_with_earlier_slices_filled(clock: FakeClock) -> None:
    limit = make_limit(key="race-old", limit=5)
    for _ in range(3):
        assert allowed(limit)
    clock.advance(1000)  # a later slice: the three earlier hits still count
    outcomes = hammer(limit, 50)
    assert outcomes.count(True) == 2
    assert limit.count() == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("interleave")
def test_concurrent_double_submit_of_a_cooldown_admits_one(clock: FakeClock) -> None:
    """Two racing requests against a limit of one: exactly one goes through."""
    for round_ in rounds(20):
        limit = make_limit(key=f"double-{round_}", limit=1, window=60, slices=60)
        outcomes = hammer(limit, 2)
        assert outcomes.count(True) == 1, round_


class TickingClock:
    """A clock that moves on a little at every reading, so concurrent hits read times on
    both sides of a slice boundary."""

    def __init__(self, start: float, tick: float) -> None:
        self.now = start
        self.tick = tick
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            self.now += self.tick
            return self.now


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("interleave")
def test_concurrent_hits_across_a_slice_boundary_admit_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cooldown (1 per 60 s, one-second slices) hit by racing requests whose clocks read
    either side of a second: the hits land in two slices, and still only one is admitted
    (each decision locks the limit as a whole, then reads the clock)."""
    for round_ in rounds(20):
        ticking = TickingClock(T0 + 100 * round_ + 0.97, tick=0.011)
        monkeypatch.setattr(clock_module, "clock", ticking)
        limit = make_limit(key=f"boundary-{round_}", limit=1, window=60, slices=60)
        outcomes = hammer(limit, 4)
        if isinstance(_current_store, DatabaseStore):
            assert outcomes.count(True) == 1, round_
        else:  # never more; a racing hit in the other slice can refuse both (safe side)
            assert outcomes.count(True) <= 1, round_


def test_a_decision_with_a_stale_clock_sees_hits_in_the_next_slice(clock: FakeClock) -> None:
    """A request that read the clock just before a second boundary, then waited, must
    still see a hit made just after it."""
    limit = make_limit(key="stale", limit=1, window=60, slices=60)
    clock.set(1000.2)
    assert allowed(limit)  # counted in the slice of second 1000
    store = limit.store
    decide = limits._decide_together if store.transactional else limits._decide_in_turn
    with pytest.raises(limits._Refused), store.atomic():  # a refusal rolls back
        decide([limit], T0 + 999.9)  # the stale reading
    assert limit.count() == 1
