"""The clock of the verification flow's security state: the limits' windows and every
expiry in the limit store are read from :data:`clock` (seconds since the epoch). Tests
replace it (``monkeypatch.setattr(clock, "clock", fake)``) to hit each limit's boundary
to the second."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings

#: The clock every limit and store expiry reads.
clock: Callable[[], float] = time.time


def now() -> float:
    return clock()


def as_datetime(seconds: float) -> datetime:
    """The moment ``seconds`` as the database wants it: aware in UTC, or naive UTC when
    ``USE_TZ`` is off (every value the store and the fraud guard write and compare is made
    the same way)."""
    moment = datetime.fromtimestamp(seconds, tz=dt_timezone.utc)
    return moment if settings.USE_TZ else moment.replace(tzinfo=None)


def as_seconds(moment: datetime) -> float:
    """``moment`` (aware, or naive UTC when ``USE_TZ`` is off) in seconds since the epoch."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt_timezone.utc)
    return moment.timestamp()
