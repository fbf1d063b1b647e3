"""The limit store (django_textlink.verification.store) on its own: both stores, one contract.

The window limits on top of it are in tests/verification/test_limits.py; here the entries, their
expiry (on the limits' clock, which tests move), single use, and the database store's
housekeeping.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.cache import caches
from django.db import DatabaseError

from django_textlink.models import VerificationState
from django_textlink.verification import store as limitstore
from django_textlink.verification.store import CacheStore, DatabaseStore, Store, get_store
from tests.support.clock import FakeClock

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["database", "cache"])
def store(request: pytest.FixtureRequest, clock: FakeClock) -> Store:
    return DatabaseStore() if request.param == "database" else CacheStore(caches["default"])


def rounded(counts: dict[str, tuple[int, float]]) -> dict[str, tuple[int, float]]:
    """Expiry times to the millisecond (the database keeps microseconds)."""
    return {key: (count, round(expires, 3)) for key, (count, expires) in counts.items()}


def test_get_store_follows_the_setting(settings: Any) -> None:
    assert isinstance(get_store(), DatabaseStore)  # the default
    settings.TEXTLINK = {**settings.TEXTLINK, "LIMIT_STORE": "cache"}
    assert isinstance(get_store(), CacheStore)


def test_set_and_get_until_expiry(store: Store, clock: FakeClock) -> None:
    store.set("k", "v1", clock.now + 60)
    assert store.get("k") == "v1"
    store.set("k", "v2", clock.now + 60)  # replaces
    assert store.get("k") == "v2"
    clock.advance(59.9)
    assert store.get("k") == "v2"
    clock.advance(0.1)
    assert store.get("k") is None
    assert store.get("never-set") is None


def test_add_stores_once(store: Store, clock: FakeClock) -> None:
    assert store.add("token", "1", clock.now + 60) is True
    assert store.add("token", "1", clock.now + 60) is False
    assert store.get("token") == "1"


def test_add_after_expiry_in_the_database_store(clock: FakeClock) -> None:
    """An expired row does not hold its key (the cache store relies on the cache's TTL,
    which the fake clock does not move)."""
    store = DatabaseStore()
    assert store.add("token", "1", clock.now + 60)
    clock.advance(61)
    assert store.add("token", "2", clock.now + 60) is True
    assert store.get("token") == "2"


def test_pop_is_true_once(store: Store, clock: FakeClock) -> None:
    store.set("issue", "abc", clock.now + 60)
    assert store.pop("issue") is True
    assert store.pop("issue") is False
    assert store.get("issue") is None


def test_delete_forgets(store: Store, clock: FakeClock) -> None:
    store.set("a", "1", clock.now + 60)
    store.set("b", "1", clock.now + 60)
    store.delete(["a", "b", "c"])
    assert store.get("a") is None
    assert store.get("b") is None


def test_counters_expire_and_extend(store: Store, clock: FakeClock) -> None:
    with store.atomic():
        store.incr("c", clock.now + 100)
        store.incr("c", clock.now + 100)
    assert rounded(store.counts(["c"])) == {"c": (2, round(clock.now + 100, 3))}
    store.extend("c", clock.now + 50)  # earlier: no change
    assert store.counts(["c"])["c"][1] == round(clock.now + 100, 3)
    store.extend("c", clock.now + 200)
    assert store.counts(["c"])["c"][1] == round(clock.now + 200, 3)
    store.decr("c")
    assert store.counts(["c"])["c"][0] == 1
    clock.advance(200)
    assert rounded(store.counts(["c"])) == {}


def test_an_expired_counter_starts_again(clock: FakeClock) -> None:
    store = DatabaseStore()
    with store.atomic():
        store.incr_many({"c": clock.now + 10, "d": clock.now + 10})
        store.incr_many({"c": clock.now + 10})
    assert rounded(store.counts(["c", "d"])) == {
        "c": (2, round(clock.now + 10, 3)),
        "d": (1, round(clock.now + 10, 3)),
    }
    clock.advance(11)
    with store.atomic():
        store.incr_many({"c": clock.now + 10})
    assert rounded(store.counts(["c"])) == {"c": (1, round(clock.now + 10, 3))}


def test_the_store_keeps_working_without_time_zones(settings: Any, clock: FakeClock) -> None:
    settings.USE_TZ = False
    store = DatabaseStore()
    store.set("k", "v", clock.now + 60)
    assert store.get("k") == "v"
    with store.atomic():
        store.incr_many({"c": clock.now + 60})
    assert rounded(store.counts(["c"])) == {"c": (1, round(clock.now + 60, 3))}
    clock.advance(61)
    assert store.get("k") is None
    assert store.purge_expired() == 2


# -- housekeeping ---------------------------------------------------------------------------------


@pytest.fixture
def due(monkeypatch: pytest.MonkeyPatch) -> None:
    """Housekeeping is due now (it runs at most once per PURGE_INTERVAL per process)."""
    monkeypatch.setattr(limitstore, "_next_purge", 0.0)


@pytest.mark.django_db(transaction=True)  # housekeeping never runs inside a transaction
def test_housekeeping_deletes_expired_rows_now_and_then(
    clock: FakeClock, due: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limitstore, "PURGE_BATCH", 3)
    monkeypatch.setattr(limitstore, "HOUSEKEEPING_BATCHES", 2)
    store = DatabaseStore()
    for n in range(10):
        store.set(f"old-{n}", "1", clock.now + 10)
    store.set("live", "1", clock.now + 3600)
    clock.advance(11)

    store.housekeeping()
    assert VerificationState.objects.count() == 11 - 6  # two batches of three
    store.housekeeping()  # not due again yet
    assert VerificationState.objects.count() == 5
    clock.advance(limitstore.PURGE_INTERVAL * 1.5)
    store.housekeeping()
    assert list(VerificationState.objects.values_list("key", flat=True)) == ["live"]


def test_housekeeping_waits_outside_the_callers_transaction(clock: FakeClock, due: None) -> None:
    store = DatabaseStore()
    store.set("old", "1", clock.now + 10)
    clock.advance(11)
    store.housekeeping()  # the test's own transaction is open: nothing happens
    assert VerificationState.objects.filter(key="old").exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_housekeeping_is_logged_not_raised(
    clock: FakeClock, due: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**_options: Any) -> int:
        raise DatabaseError("database is locked")

    store = DatabaseStore()
    monkeypatch.setattr(store, "purge_expired", broken)
    with caplog.at_level(logging.WARNING, logger="django_textlink.limitstore"):
        store.housekeeping()
    assert "Could not delete expired verification state" in caplog.text
