"""The fraud guard's figures: codes sent and numbers verified, per number range and
:data:`PERIOD` (the :class:`~django_textlink.models.VerificationActivity` rows).

Counting is one ``UPDATE`` adding to the period's row (row-locked, so concurrent
processes never lose a count); the first event of a period inserts the row first, ignoring
one a concurrent event inserted (``bulk_create(ignore_conflicts=True)``), and updates again.
Sliding windows are read as the sum of the periods they overlap, so a window is exact to
:data:`PERIOD` seconds.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from django.db import DatabaseError, router
from django.db.models import F, Sum
from django.db.models.functions import Coalesce

from django_textlink.verification.clock import as_datetime, now

#: Seconds of one row of figures.
PERIOD = 300

logger = logging.getLogger("django_textlink.verification.guard")


class Figures(NamedTuple):
    sends: int
    verified: int

    @property
    def conversion(self) -> float | None:
        """Verified per code sent, or None before any code was sent."""
        return self.verified / self.sends if self.sends else None


def _model() -> Any:
    from django_textlink.models import VerificationActivity

    return VerificationActivity


def _rows() -> Any:
    model = _model()
    return model.objects.using(router.db_for_write(model))


def period_of(at: float) -> Any:
    """The start of the period that holds moment ``at``, as the database stores it."""
    return as_datetime(at - at % PERIOD)


def record(country: str, number_range: str, *, sends: int = 0, verified: int = 0) -> None:
    """Count codes sent and numbers verified in ``number_range`` now. A database failure
    is logged, never raised: the code it counts was sent already."""
    period = period_of(now())
    rows = _rows()
    this_period = rows.filter(number_range=number_range, period=period)
    add = {"sends": F("sends") + sends, "verified": F("verified") + verified}
    try:
        if not this_period.update(**add):
            rows.bulk_create(
                [_model()(period=period, country=country, number_range=number_range)],
                ignore_conflicts=True,
            )
            this_period.update(**add)
    except DatabaseError:
        logger.warning("Could not count the fraud guard's figures", exc_info=True)


def _sums(rows: Any) -> Figures:
    totals = rows.aggregate(sends=Coalesce(Sum("sends"), 0), verified=Coalesce(Sum("verified"), 0))
    return Figures(int(totals["sends"]), int(totals["verified"]))


def country_figures(country: str, since: float) -> Figures:
    """Codes sent to and numbers verified in ``country`` since ``since`` (seconds)."""
    return _sums(_rows().filter(country=country, period__gte=period_of(since)))


def range_figures(number_range: str, since: float) -> Figures:
    return _sums(_rows().filter(number_range=number_range, period__gte=period_of(since)))


def by_country(since: float) -> list[dict[str, Any]]:
    """``[{"country", "sends", "verified"}]`` since ``since``, most codes sent first."""
    rows = _rows().filter(period__gte=period_of(since)).values("country")
    return list(
        rows.annotate(sends=Sum("sends"), verified=Sum("verified")).order_by("-sends", "country")
    )


def top_ranges(since: float, limit: int = 20) -> list[dict[str, Any]]:
    """The ``limit`` ranges with the most codes sent since ``since``."""
    rows = _rows().filter(period__gte=period_of(since)).values("country", "number_range")
    annotated = rows.annotate(sends=Sum("sends"), verified=Sum("verified"))
    return list(annotated.order_by("-sends", "number_range")[:limit])


def purge(before: float) -> int:
    """Delete the figures of periods that ended before ``before``; returns how many rows."""
    deleted: int = _rows().filter(period__lt=period_of(before)).delete()[0]
    return deleted
