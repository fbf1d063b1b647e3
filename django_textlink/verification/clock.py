"""The clock of the verification flow's security state: the limits' windows and every
expiry in the limit store are read from :data:`clock` (seconds since the epoch). Tests
replace it (``monkeypatch.setattr(clock, "clock", fake)``) to hit each limit's boundary
to the second."""

from __future__ import annotations

import time
from collections.abc import Callable

#: The clock every limit and store expiry reads.
clock: Callable[[], float] = time.time


def now() -> float:
    return clock()
