from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import caches

from django_textlink.verification import clock as clock_module
from tests.support.clock import FakeClock


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
