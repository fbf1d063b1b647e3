"""Where the verification flow keeps its security state: the *limit store*.

Rate-limit counters, the marker of a live code, "a code was just sent to this number" and
used tokens must hold against an attacker: requests must not be able to evict them (a
LocMem cache culls a third of its entries when full, so cheap requests flushed every
limit), every process must see the same state, and a restart must not reset it. So by
default they live in the site's database (:class:`DatabaseStore`, the
:class:`~django_textlink.models.VerificationState` model). ``TEXTLINK["LIMIT_STORE"] =
"cache"`` keeps them in the cache named by ``TEXTLINK["CACHE"]`` instead
(:class:`CacheStore`), for sites with a shared cache that does not evict (Redis with
``noeviction``, say); ``check --deploy`` warns when that cache is LocMem, file-based or a
database cache, and refuses a DummyCache.

Every entry has an expiry time, read from :data:`django_textlink.verification.clock.clock` like the
limits themselves. Keys never contain a phone number, an IP address or a token: callers
pass keyed hashes.

The database store is atomic with the ORM alone, on SQLite and PostgreSQL.
:meth:`Store.atomic` wraps one decision (all the limits of one request) in a transaction,
in which :meth:`DatabaseStore.incr_many` counts every counter at once: an ``INSERT ... ON
CONFLICT DO NOTHING`` of the missing rows (``bulk_create(ignore_conflicts=True)``, in key
order), then one conditional ``UPDATE`` that adds one to the live rows and starts the
expired ones again. The ``UPDATE`` locks the rows (PostgreSQL) or the database (SQLite)
until the decision commits, so concurrent requests are admitted one after the other,
exactly; a refused request rolls back and leaves nothing behind. (Databases without
``ON CONFLICT`` fall back to :meth:`DatabaseStore.incr`: a conditional ``UPDATE``, and on a
miss an ``INSERT`` in a savepoint.)
"""

from __future__ import annotations

import logging
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.core.cache import BaseCache, caches
from django.db import DatabaseError, IntegrityError, NotSupportedError, router, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.db.models.functions import Greatest

from django_textlink.conf import conf
from django_textlink.verification import clock
from django_textlink.verification.clock import as_datetime as _when
from django_textlink.verification.clock import as_seconds as _seconds

#: How often (seconds, per process) the database store deletes expired rows on its own.
PURGE_INTERVAL = 300.0
#: Rows deleted per statement, and statements per housekeeping round (the rest waits for
#: the next round, or for ``textlink_purge``).
PURGE_BATCH = 1000
HOUSEKEEPING_BATCHES = 5

logger = logging.getLogger("django_textlink.limitstore")


class Store(ABC):
    """The operations the verification flow needs. Times are seconds since the epoch."""

    #: True when :meth:`atomic` undoes everything done inside it on an exception.
    transactional = False

    def atomic(self) -> Any:
        """A block whose changes commit together (or, for a store that is not
        transactional, a block that does nothing)."""
        return nullcontext()

    @abstractmethod
    def incr(self, key: str, expires_at: float) -> int | None:
        """Add one to counter ``key``; a counter that is missing or expired starts again
        at 1 with expiry ``expires_at`` (a live counter keeps its expiry: see
        :meth:`extend`). Returns the new count, or None when the caller reads it with
        :meth:`counts` inside the same :meth:`atomic` block (the database store: the row
        stays locked until the block ends)."""

    @abstractmethod
    def extend(self, key: str, expires_at: float) -> None:
        """Move the expiry of counter ``key`` to ``expires_at`` if that is later (done
        once a hit is admitted: a refused hit must not make a counter live longer)."""

    @abstractmethod
    def decr(self, key: str) -> None:
        """Take one from counter ``key`` (never below 0)."""

    @abstractmethod
    def counts(self, keys: Sequence[str]) -> dict[str, tuple[int, float]]:
        """``{key: (count, expires_at)}`` of the live counters among ``keys`` with a
        count above 0."""

    @abstractmethod
    def get(self, key: str) -> str | None:
        """The value of a live entry, or None."""

    @abstractmethod
    def set(self, key: str, value: str, expires_at: float) -> None:
        """Store ``value`` under ``key`` until ``expires_at``."""

    @abstractmethod
    def add(self, key: str, value: str, expires_at: float) -> bool:
        """Store ``value`` unless a live entry holds ``key``. True when it was stored.
        Inside a database transaction the entry is part of it: rolled back with it, and a
        concurrent ``add`` of the same key waits for it to commit or roll back."""

    @abstractmethod
    def delete(self, keys: Sequence[str]) -> None:
        """Forget ``keys``."""

    @abstractmethod
    def pop(self, key: str) -> bool:
        """Forget ``key``; True for exactly one of several concurrent callers when it was
        live."""

    def incr_many(self, entries: Mapping[str, float]) -> None:
        """:meth:`incr` each key of ``entries`` (key -> expiry for a new counter), inside
        an :meth:`atomic` block of a transactional store; read the counts with
        :meth:`counts` in the same block."""
        for key, expires_at in entries.items():
            self.incr(key, expires_at)

    def extend_many(self, entries: Mapping[str, float]) -> None:
        """:meth:`extend` each key of ``entries`` (key -> expiry)."""
        for key, expires_at in entries.items():
            self.extend(key, expires_at)

    def purge_expired(self, *, batches: int | None = None) -> int:
        """Delete expired entries; returns how many (0 where the store expires them
        itself)."""
        return 0

    def housekeeping(self) -> None:  # noqa: B027 - optional, nothing to do by default
        """Called after each decision: a chance to delete expired entries now and then."""


class DatabaseStore(Store):
    """The default store: the :class:`~django_textlink.models.VerificationState` table."""

    transactional = True

    def __init__(self) -> None:
        from django_textlink.models import VerificationState

        self.model = VerificationState
        self.using = router.db_for_write(VerificationState)

    def _rows(self) -> Any:
        return self.model.objects.using(self.using)

    def atomic(self) -> Any:
        return transaction.atomic(using=self.using)

    def incr(self, key: str, expires_at: float) -> int | None:
        now, expires = _when(clock.now()), _when(expires_at)
        for _attempt in range(5):
            live = self._rows().filter(key=key, expires_at__gt=now)
            if live.update(count=F("count") + 1):
                return None
            if self._insert(key, count=1, expires=expires):
                return None
            # The key is taken: by an expired row (start it again) or by a concurrent hit
            # that inserted it first (then the update above finds it next time round).
            expired = self._rows().filter(key=key, expires_at__lte=now)
            if expired.update(count=1, value="", expires_at=expires):
                return None
        raise RuntimeError(f"Could not count {key!r}: it keeps changing.")  # pragma: no cover

    def incr_many(self, entries: Mapping[str, float]) -> None:
        """All the counters of one decision in two statements: an ``INSERT`` of the
        missing ones that ignores those that exist (``bulk_create(ignore_conflicts=True)``,
        in key order, so concurrent decisions lock shared rows in the same order), then one
        ``UPDATE`` that adds one to the live ones and starts the expired ones again."""
        now = _when(clock.now())
        expiries = {key: _when(expires_at) for key, expires_at in sorted(entries.items())}
        try:
            self._rows().bulk_create(
                [self.model(key=key, expires_at=expires) for key, expires in expiries.items()],
                ignore_conflicts=True,
            )
        except NotSupportedError:  # a database without INSERT ... ON CONFLICT DO NOTHING
            super().incr_many(entries)
            return
        live = Q(expires_at__gt=now)
        self._rows().filter(key__in=list(expiries)).update(
            count=Case(When(live, then=F("count") + 1), default=Value(1)),
            expires_at=Case(
                When(live, then=F("expires_at")),
                *(When(key=key, then=Value(expires)) for key, expires in expiries.items()),
                default=F("expires_at"),
                output_field=DateTimeField(),
            ),
        )

    def extend_many(self, entries: Mapping[str, float]) -> None:
        later = Case(
            *(When(key=key, then=Value(_when(at))) for key, at in entries.items()),
            default=F("expires_at"),
            output_field=DateTimeField(),
        )
        self._rows().filter(key__in=list(entries)).update(
            expires_at=Greatest(F("expires_at"), later)
        )

    def _insert(self, key: str, *, count: int = 0, value: str = "", expires: datetime) -> bool:
        try:
            with transaction.atomic(using=self.using):  # a savepoint: a conflict breaks nothing
                self._rows().create(key=key, count=count, value=value, expires_at=expires)
        except IntegrityError:
            return False
        return True

    def extend(self, key: str, expires_at: float) -> None:
        expires = Value(_when(expires_at), output_field=DateTimeField())
        self._rows().filter(key=key).update(expires_at=Greatest(F("expires_at"), expires))

    def decr(self, key: str) -> None:
        self._rows().filter(key=key, count__gt=0).update(count=F("count") - 1)

    def counts(self, keys: Sequence[str]) -> dict[str, tuple[int, float]]:
        rows = self._rows().filter(
            key__in=list(keys), expires_at__gt=_when(clock.now()), count__gt=0
        )
        return {
            key: (count, _seconds(expires_at))
            for key, count, expires_at in rows.values_list("key", "count", "expires_at")
        }

    def get(self, key: str) -> str | None:
        live = self._rows().filter(key=key, expires_at__gt=_when(clock.now()))
        value: str | None = live.values_list("value", flat=True).first()
        return value

    def set(self, key: str, value: str, expires_at: float) -> None:
        expires = _when(expires_at)
        entry = self.model(key=key, value=value, count=0, expires_at=expires)
        try:  # one INSERT ... ON CONFLICT (key) DO UPDATE
            self._rows().bulk_create(
                [entry],
                update_conflicts=True,
                unique_fields=["key"],
                update_fields=["value", "count", "expires_at"],
            )
            return
        except NotSupportedError:  # a database without it: update, else insert
            pass
        for _attempt in range(5):
            if self._rows().filter(key=key).update(value=value, count=0, expires_at=expires):
                return
            if self._insert(key, value=value, expires=expires):
                return
        raise RuntimeError(f"Could not store {key!r}: it keeps changing.")  # pragma: no cover

    def add(self, key: str, value: str, expires_at: float) -> bool:
        now, expires = _when(clock.now()), _when(expires_at)
        if self._insert(key, value=value, expires=expires):
            return True
        expired = self._rows().filter(key=key, expires_at__lte=now)
        return bool(expired.update(value=value, count=0, expires_at=expires))

    def delete(self, keys: Sequence[str]) -> None:
        self._rows().filter(key__in=list(keys)).delete()

    def pop(self, key: str) -> bool:
        live = self._rows().filter(key=key, expires_at__gt=_when(clock.now()))
        deleted: int = live.delete()[0]
        return deleted > 0

    def expired(self) -> Any:
        """The rows past their expiry."""
        return self._rows().filter(expires_at__lte=_when(clock.now()))

    def purge_expired(self, *, batches: int | None = None) -> int:
        """Delete expired rows, :data:`PURGE_BATCH` at a time (at most ``batches`` of
        them); returns how many."""
        expired = self.expired()
        deleted = 0
        done = 0
        while batches is None or done < batches:
            keys = list(expired.values_list("key", flat=True)[:PURGE_BATCH])
            if not keys:
                break
            count, _per_model = self._rows().filter(key__in=keys).delete()
            deleted += count
            done += 1
        return deleted

    def housekeeping(self) -> None:
        """Delete expired rows at most once per :data:`PURGE_INTERVAL` per process, a few
        batches at a time, and never inside a transaction of the caller's (its locks are
        not held longer for housekeeping). A failure is logged, never raised: the request
        it runs in has been decided already."""
        global _next_purge
        at = clock.now()
        if at < _next_purge or transaction.get_connection(self.using).in_atomic_block:
            return
        _next_purge = at + PURGE_INTERVAL * random.uniform(0.5, 1.5)  # noqa: S311 - timing only
        try:
            self.purge_expired(batches=HOUSEKEEPING_BATCHES)
        except DatabaseError:
            logger.warning("Could not delete expired verification state", exc_info=True)


#: When this process next deletes expired rows (see DatabaseStore.housekeeping).
_next_purge = 0.0


class CacheStore(Store):
    """The store on a Django cache, by explicit choice (``LIMIT_STORE = "cache"``). The
    cache must be shared by every process and must not evict (LocMem, file-based and
    database caches are a deploy warning). ``cache.add`` + ``cache.incr`` are atomic on
    Redis and Memcached; an expiry is kept next to each counter (``<key>:e``)."""

    def __init__(self, cache: BaseCache | None = None) -> None:
        self.cache = cache if cache is not None else caches[conf.CACHE]

    @staticmethod
    def _ttl(expires_at: float) -> int:
        return max(1, math.ceil(expires_at - clock.now()) + 1)

    def incr(self, key: str, expires_at: float) -> int | None:
        ttl = self._ttl(expires_at)
        for _attempt in range(3):
            self.cache.add(key, 0, timeout=ttl)
            try:
                value = int(self.cache.incr(key))
            except ValueError:  # the counter expired between add and incr
                continue
            if value == 1 or not isinstance(self.cache.get(f"{key}:e"), float):
                self.cache.set(f"{key}:e", float(expires_at), timeout=ttl)
            return value
        raise RuntimeError(f"Could not count {key!r}: the cache keeps dropping it.")

    def extend(self, key: str, expires_at: float) -> None:
        previous = self.cache.get(f"{key}:e")
        if not isinstance(previous, float) or previous < expires_at:
            ttl = self._ttl(expires_at)
            self.cache.set(f"{key}:e", float(expires_at), timeout=ttl)
            self.cache.touch(key, timeout=ttl)

    def decr(self, key: str) -> None:
        try:
            if int(self.cache.decr(key)) < 0:
                self.cache.incr(key)
        except ValueError:  # expired meanwhile: nothing left to take back
            pass

    def counts(self, keys: Sequence[str]) -> dict[str, tuple[int, float]]:
        wanted = list(keys)
        found = self.cache.get_many([*wanted, *(f"{key}:e" for key in wanted)])
        at = clock.now()
        result = {}
        for key in wanted:
            count, expires_at = found.get(key), found.get(f"{key}:e")
            if count and isinstance(expires_at, float) and expires_at > at:
                result[key] = (int(count), expires_at)
        return result

    def get(self, key: str) -> str | None:
        entry = self.cache.get(key)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[1] > clock.now():
            return str(entry[0])
        return None

    def set(self, key: str, value: str, expires_at: float) -> None:
        self.cache.set(key, (value, float(expires_at)), timeout=self._ttl(expires_at))

    def add(self, key: str, value: str, expires_at: float) -> bool:
        # The cache drops the entry about a second after it expires; until then an add
        # of the same key is refused, which errs on the safe side.
        return bool(self.cache.add(key, (value, float(expires_at)), timeout=self._ttl(expires_at)))

    def delete(self, keys: Sequence[str]) -> None:
        self.cache.delete_many([*keys, *(f"{key}:e" for key in keys)])

    def pop(self, key: str) -> bool:
        return bool(self.cache.delete(key))


def get_store() -> Store:
    """The store ``TEXTLINK["LIMIT_STORE"]`` names."""
    if conf.LIMIT_STORE == "cache":
        return CacheStore()
    return DatabaseStore()
