from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.core.cache import caches

from django_textlink.verification import clock as clock_module
from tests.support.clock import FakeClock


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL run (``TEXTLINK_TEST_DB=postgres``, which make test-postgres sets
    after make test ran everything on SQLite), leave out the tests marked ``own_database``:
    they run the example project on its own SQLite database, so the suite's database
    changes nothing in them. pytest reports them as deselected."""
    if os.environ.get("TEXTLINK_TEST_DB") != "postgres":
        return
    kept = [item for item in items if item.get_closest_marker("own_database") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


@pytest.fixture(autouse=True)
def _clear_caches() -> Iterator[None]:
    """Rate-limit counters live in the cache: every test starts from zero."""
    for cache in caches.all():
        cache.clear()
    yield
    for cache in caches.all():
        cache.clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Freezes the rate limits' clock at ``T0``; move it with ``.advance()`` / ``.set()``."""
    fake = FakeClock()
    monkeypatch.setattr(clock_module, "clock", fake)
    return fake


@pytest.fixture
def fraud_guard_off(settings) -> None:
    """For the tests of one base limit (per phone, per IP, the budget) on its own: the fraud
    guard, on by default, would also decide (a range's budget, the challenge for one
    network sending to many numbers, the per-phone back-off). Its own tests are in
    tests/verification/guard/."""
    settings.TEXTLINK = {**settings.TEXTLINK, "FRAUD_GUARD": {"MODE": "off"}}
