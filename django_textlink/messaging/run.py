"""Running bulk sends: chunks, their tasks, recovery and retries.

Bulk sends are split into chunks of ``BULK_CHUNK_SIZE`` rows, each a background task
(:mod:`django_textlink.tasks`). A chunk claims ``BULK_CONCURRENCY`` messages at a time in
one statement (:mod:`.claim`), sends them at once from a pool of threads over the client's
pooled connections (paced to ``BULK_RATE_LIMIT`` per second, pausing for a 429's
``Retry-After``: :mod:`.pacing`), and records the outcomes, one statement per distinct
outcome. A chunk that runs twice finds nothing left to claim; a worker killed mid-send
leaves at most one claimed batch in ``sending``, which :func:`resume_broadcast` marks
``unknown`` (it may have been sent) before sending the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from django_textlink import _queue
from django_textlink.backends import BaseBackend, get_backend
from django_textlink.conf import conf
from django_textlink.exceptions import TextLinkError
from django_textlink.messaging.claim import claim
from django_textlink.messaging.pacing import Pacer
from django_textlink.messaging.single import Claimed, Outcome, attempt, deliver, record
from django_textlink.models import Broadcast, SMSMessage

logger = logging.getLogger("django_textlink.sending")

Status = SMSMessage.Status


def chunk_ranges(broadcast_id: int, chunk_size: int | None = None) -> list[tuple[int, int]]:
    """``(first_pk, last_pk)`` ranges covering the broadcast's queued messages."""
    chunk_size = chunk_size or conf.BULK_CHUNK_SIZE
    queued = SMSMessage.objects.filter(broadcast_id=broadcast_id, status=Status.QUEUED)
    ranges = []
    for start, end in _pk_bounds(queued, chunk_size):
        ranges.append((start, end))
    return ranges


def _pk_bounds(queryset: Any, chunk_size: int) -> Iterator[tuple[int, int]]:
    """Walk the primary keys in steps of ``chunk_size`` rows (one query per chunk)."""
    last = 0
    while True:
        pks = list(
            queryset.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[chunk_size - 1 : chunk_size]
        )
        if pks:
            yield last + 1, pks[0]
            last = pks[0]
            continue
        tail = queryset.filter(pk__gt=last).order_by("-pk").values_list("pk", flat=True).first()
        if tail is not None:
            yield last + 1, tail
        return


def enqueue_broadcast(broadcast_id: int) -> int:
    """Hand every chunk of a broadcast to the task backend; returns the number of chunks."""
    ranges = chunk_ranges(broadcast_id)
    for first_pk, last_pk in ranges:
        _queue.enqueue("send_broadcast_chunk", broadcast_id, first_pk, last_pk)
    return len(ranges)


def run_chunk(
    broadcast_id: int, first_pk: int, last_pk: int, *, backend: BaseBackend | None = None
) -> dict[str, int]:
    """Send every queued message of one chunk. Safe to run twice, or on two workers."""
    backend = backend or get_backend()
    concurrency = conf.BULK_CONCURRENCY
    max_attempts = conf.BULK_MAX_ATTEMPTS
    pacer = Pacer(conf.BULK_RATE_LIMIT, burst=concurrency)
    totals: dict[str, int] = {}

    def send_one(message: Claimed) -> Outcome:
        pacer.wait()
        outcome = attempt(backend, message)
        if outcome.retry_after is not None:
            pacer.pause(outcome.retry_after)
        return outcome

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="textlink-send") as pool:
        while True:
            claimed = claim(broadcast_id, first_pk, last_pk, concurrency)
            if not claimed:
                break
            outcomes = list(pool.map(send_one, claimed))
            record(
                outcomes,
                max_attempts=max_attempts,
                attempts={message.pk: message.attempts for message in claimed},
            )
            for outcome in outcomes:
                key = str(outcome.status)  # "sent", not Status.SENT, in logs and totals
                totals[key] = totals.get(key, 0) + 1
            # A short claim, or one that reached the end of the range, took every message
            # still queued in it: unless some were put back (429), spare the empty claim.
            exhausted = len(claimed) < concurrency or claimed[-1].pk == last_pk
            if exhausted and not any(outcome.status == Status.QUEUED for outcome in outcomes):
                break
    finish_if_done(broadcast_id)
    logger.info("Bulk send %s chunk %d-%d: %s", broadcast_id, first_pk, last_pk, totals)
    return totals


def finish_if_done(broadcast_id: int) -> None:
    pending = SMSMessage.objects.filter(
        broadcast_id=OuterRef("pk"), status__in=[Status.QUEUED, Status.SENDING]
    )
    Broadcast.objects.filter(pk=broadcast_id, finished_at__isnull=True).exclude(
        Exists(pending)
    ).update(finished_at=timezone.now())


def resume_broadcast(broadcast: Broadcast, *, stale_after: int | None = None) -> dict[str, int]:
    """Recover a bulk send after a worker died: messages left ``sending`` for longer than
    ``stale_after`` seconds (default ``CLAIM_TIMEOUT``) become ``unknown`` (they may have
    been sent: they are never re-sent automatically), and the queued rest is enqueued."""
    stale_after = conf.CLAIM_TIMEOUT if stale_after is None else stale_after
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    abandoned = SMSMessage.objects.filter(broadcast=broadcast, status=Status.SENDING).filter(
        Q(claimed_at__lte=cutoff) | Q(claimed_at__isnull=True)
    )
    marked = abandoned.update(
        status=Status.UNKNOWN,
        error="The worker stopped while sending: TextLink may or may not have accepted it.",
        updated_at=timezone.now(),
    )
    chunks = enqueue_broadcast(broadcast.pk)
    finish_if_done(broadcast.pk)
    return {"marked_unknown": marked, "chunks": chunks}


def requeue(messages: Iterable[SMSMessage] | Any, *, include_unknown: bool = False) -> int:
    """Put ``failed`` (and, only when asked, ``unknown``) outbound messages back in the
    queue and enqueue them; returns how many. Unknown ones may already have reached the
    phone: resending them needs an explicit decision."""
    statuses = [Status.FAILED] + ([Status.UNKNOWN] if include_unknown else [])
    pks = [m.pk if isinstance(m, SMSMessage) else int(m) for m in messages]
    queryset = SMSMessage.objects.filter(
        pk__in=pks, direction=SMSMessage.Direction.OUTBOUND, status__in=statuses
    )
    ids = list(queryset.values_list("pk", flat=True))
    count = SMSMessage.objects.filter(pk__in=ids, status__in=statuses).update(
        status=Status.QUEUED, error="", attempts=0, updated_at=timezone.now()
    )
    if ids:
        Broadcast.objects.filter(messages__pk__in=ids).update(finished_at=None)
        transaction.on_commit(lambda: _queue.enqueue("send_messages", ids))
    return count


def send_queued(message_ids: Sequence[int], *, backend: BaseBackend | None = None) -> None:
    """Send the given messages that are still queued (used by retries), then mark their
    broadcasts finished when nothing of them is left to send (:func:`requeue` reopened
    them)."""
    backend = backend or get_backend()
    for message in SMSMessage.objects.filter(pk__in=message_ids, status=Status.QUEUED):
        with suppress(TextLinkError, ValueError):  # the outcome is recorded on the row
            deliver(message, backend=backend)
    broadcast_ids = (
        SMSMessage.objects.filter(pk__in=message_ids, broadcast__isnull=False)
        .values_list("broadcast_id", flat=True)
        .distinct()
    )
    for broadcast_id in set(broadcast_ids):
        finish_if_done(broadcast_id)
