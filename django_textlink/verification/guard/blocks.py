"""The fraud guard's blocks: a number range or a country that gets no codes until a time
(:class:`~django_textlink.models.VerificationBlock` rows, in the database so that the admin
can list and lift them).

A block lasts ``BLOCK_FIRST`` seconds; one placed while the previous block of the same
range or country ended less than :data:`MEMORY` seconds ago lasts twice as long as that one,
up to ``BLOCK_MAX``. Lifting a block forgets the history: the next one starts again at
``BLOCK_FIRST``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import router
from django.db.models import Q

from django_textlink._guard_options import GuardOptions
from django_textlink.verification.clock import as_datetime, as_seconds, now

#: Seconds after a block's end during which the next block on the same range or country
#: escalates.
MEMORY = 24 * 3600

RANGE = "range"
COUNTRY = "country"


def _model() -> Any:
    from django_textlink.models import VerificationBlock

    return VerificationBlock


def _rows() -> Any:
    model = _model()
    return model.objects.using(router.db_for_write(model))


@dataclass(frozen=True)
class Standing:
    """What the blocks say about one range and its country, read in one query."""

    active: Any | None  # the VerificationBlock that refuses now, if any
    recent: tuple[Any, ...]  # blocks of the last MEMORY seconds, latest first
    country_lifted_at: float | None  # when a block of the country was last lifted

    @property
    def retry_after(self) -> float:
        if self.active is None:
            return 0.0
        return max(1.0, as_seconds(self.active.ends_at) - now())


def standing(number_range: str, country: str) -> Standing:
    """The active block (the one that ends last) on ``number_range`` or ``country``, and
    the history the next block's length and the conversion window depend on."""
    at = now()
    subjects = Q(scope=RANGE, value=number_range)
    if country:
        subjects |= Q(scope=COUNTRY, value=country)
    rows = _rows().filter(subjects, ends_at__gt=as_datetime(at - MEMORY))
    recent = tuple(rows.order_by("-ends_at"))
    live = [block for block in recent if block.lifted_at is None and as_seconds(block.ends_at) > at]
    lifts = [
        as_seconds(block.lifted_at)
        for block in recent
        if block.scope == COUNTRY and block.lifted_at is not None
    ]
    return Standing(live[0] if live else None, recent, max(lifts, default=None))


def place(
    scope: str, value: str, reason: str, options: GuardOptions, recent: Sequence[Any] = ()
) -> Any:
    """Block ``value`` (a range or a country) for ``reason``; ``recent`` are its blocks of
    the last :data:`MEMORY` seconds (:attr:`Standing.recent`), which set the level. A block
    that is still active is returned as it is (a concurrent request placed it)."""
    at = now()
    mine = [block for block in recent if block.scope == scope and block.value == value]
    # A lift forgets the history: only blocks placed after the last lift escalate.
    lifts = [block.lifted_at for block in mine if block.lifted_at is not None]
    previous = [
        block
        for block in mine
        if block.lifted_at is None and (not lifts or block.starts_at > max(lifts))
    ]
    for block in previous:
        if as_seconds(block.ends_at) > at:
            return block
    # A request that read the blocks before a concurrent one placed this block finds it here.
    placed = active(_rows().filter(scope=scope, value=value)).order_by("-ends_at").first()
    if placed is not None:
        return placed
    level = max((block.level for block in previous), default=0) + 1
    seconds = min(options.block_max, options.block_first * 2 ** min(level - 1, 30))
    return _rows().create(
        scope=scope,
        value=value,
        reason=reason,
        level=level,
        starts_at=as_datetime(at),
        ends_at=as_datetime(at + seconds),
    )


def active(blocks: Any) -> Any:
    """The blocks of queryset ``blocks`` that refuse codes now."""
    return blocks.filter(lifted_at__isnull=True, ends_at__gt=as_datetime(now()))


def lift(blocks: Iterable[Any], user: Any = None) -> int:
    """End ``blocks`` now, and give each range or country a fresh start: its guard counters
    are reset, so the next code is not refused (or challenged) on what led to the block.
    Returns how many blocks were lifted."""
    from django_textlink.verification.guard.guard import reset_counters

    at = as_datetime(now())
    lifted = 0
    for block in blocks:
        if block.lifted_at is not None:
            continue
        block.lifted_at = at
        block.lifted_by = user if user is not None and user.is_authenticated else None
        block.save(update_fields=["lifted_at", "lifted_by"])
        reset_counters(block.scope, block.value)
        lifted += 1
    return lifted
