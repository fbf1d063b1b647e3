"""Sending SMS: one message, or one text to many recipients (a :class:`Broadcast`).

Every outbound message is a row first (``queued``), with a unique ``custom_id`` that goes
to TextLink with it, so TextLink's failed-message webhook can find it. A message moves
to ``sending`` by a *conditional* update (``WHERE status = 'queued'``): whoever wins that
update is the only one who sends it, even with several workers on the same rows. Then it
becomes ``sent``, ``failed`` (with the reason) or ``unknown`` (TextLink may or may not
have accepted it: a read timeout, a 5xx; never re-sent automatically).

Bulk sends are split into chunks of ``BULK_CHUNK_SIZE`` rows, each a background task
(:mod:`django_textlink.tasks`). A chunk claims ``BULK_CONCURRENCY`` messages at a time in
one statement, sends them at once from a pool of threads over the client's pooled
connections (paced to ``BULK_RATE_LIMIT`` per second, pausing for a 429's
``Retry-After``), and records all outcomes in one more statement. A chunk that runs twice
finds nothing left to claim; a worker killed mid-send leaves at most one claimed batch in
``sending``, which :func:`resume_broadcast` marks ``unknown`` (it may have been sent)
before sending the rest.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import timedelta
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Exists, F, Field, OuterRef, Q
from django.utils import timezone

from django_textlink.backends import BaseBackend, get_backend
from django_textlink.conf import conf
from django_textlink.exceptions import TextLinkError, TextLinkRateLimitError
from django_textlink.masking import mask_phone
from django_textlink.models import Broadcast, Contact, SMSMessage
from django_textlink.payloads import check_sim_card_id
from django_textlink.phone import InvalidPhoneNumber, normalize_phone

logger = logging.getLogger("django_textlink.sending")

Status = SMSMessage.Status
INSERT_BATCH = 1000
MAX_TEXT_LENGTH = 1600


def new_custom_id() -> str:
    return uuid.uuid4().hex


def _check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty string.")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"text is longer than {MAX_TEXT_LENGTH} characters.")
    return text


# -- one attempt ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one attempt to send a message came to."""

    pk: int
    status: str
    queued_by_textlink: bool = False
    error: str = ""
    exception: TextLinkError | None = None
    retry_after: float | None = None  # set when TextLink answered 429


@dataclass(frozen=True)
class Claimed:
    """A message this worker won the right to send."""

    pk: int
    phone_number: str
    text: str
    custom_id: str | None
    sim_card_id: int | None
    attempts: int


def attempt(backend: BaseBackend, message: Claimed) -> Outcome:
    """Send one claimed message through ``backend``; never raises for TextLink errors."""
    try:
        result = backend.send_sms(
            message.phone_number,
            message.text,
            sim_card_id=message.sim_card_id,
            custom_id=message.custom_id,
        )
    except TextLinkRateLimitError as err:  # refused before anything was sent
        wait = err.retry_after if err.retry_after is not None else 1.0
        return Outcome(message.pk, Status.QUEUED, error=str(err), exception=err, retry_after=wait)
    except TextLinkError as err:
        status = Status.UNKNOWN if err.delivery_unknown else Status.FAILED
        return Outcome(message.pk, status, error=str(err), exception=err)
    except ValueError as err:  # the backend refused the input itself
        return Outcome(message.pk, Status.FAILED, error=str(err))
    return Outcome(message.pk, Status.SENT, queued_by_textlink=result.queued)


def _record(outcomes: Sequence[Outcome], *, max_attempts: int, attempts: dict[int, int]) -> None:
    """Store the outcomes, only on rows still ``sending`` (a row that
    :func:`resume_broadcast` or an admin has since moved on keeps its new state): one
    ``UPDATE`` per distinct outcome, so a wave that went well is one statement. A
    rate-limited outcome past ``max_attempts`` becomes ``failed`` (``outcome.status`` is
    updated to match)."""
    now = timezone.now()
    groups: dict[tuple[str, bool, str], list[int]] = {}
    for outcome in outcomes:
        if outcome.status == Status.QUEUED and attempts.get(outcome.pk, 0) >= max_attempts:
            outcome.status = Status.FAILED  # rate-limited too many times
        key = (str(outcome.status), outcome.queued_by_textlink, outcome.error)
        groups.setdefault(key, []).append(outcome.pk)
    for (status, queued_by_textlink, error), pks in groups.items():
        # QuerySet.update() is a single statement, atomic on its own: no BEGIN/COMMIT.
        SMSMessage.objects.filter(pk__in=pks, status=Status.SENDING).update(
            status=status,
            queued_by_textlink=queued_by_textlink,
            error=error,
            sent_at=now if status == Status.SENT else None,
            claimed_at=None,
            updated_at=now,
        )


# -- a single message ---------------------------------------------------------------------------


def send_sms(
    phone_number: str,
    text: str,
    *,
    sim_card_id: int | None = None,
    contact: Contact | None = None,
    backend: BaseBackend | None = None,
) -> SMSMessage:
    """Store an outbound message, send it now and return it.

    A failure leaves the row ``failed`` (or ``unknown`` when TextLink may have accepted
    it) with the reason, then raises the :class:`~django_textlink.exceptions.TextLinkError`
    (the row is ``error.sms_message``). Invalid input raises ``ValueError`` (an
    :class:`~django_textlink.phone.InvalidPhoneNumber` for the number) and stores nothing.
    """
    phone = normalize_phone(phone_number)
    text = _check_text(text)
    sim_card_id = conf.SIM_CARD_ID if sim_card_id is None else check_sim_card_id(sim_card_id)
    message = SMSMessage.objects.create(
        direction=SMSMessage.Direction.OUTBOUND,
        phone_number=phone,
        text=text,
        status=Status.QUEUED,
        custom_id=new_custom_id(),
        sim_card_id=sim_card_id,
        contact=contact,
    )
    deliver(message, backend=backend)
    return message


def deliver(message: SMSMessage, *, backend: BaseBackend | None = None) -> SMSMessage:
    """Send a stored ``queued`` message now. Does nothing (returns the row as stored)
    when someone else already claimed it."""
    now = timezone.now()
    claimed = SMSMessage.objects.filter(pk=message.pk, status=Status.QUEUED).update(
        status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
    )
    if not claimed:
        message.refresh_from_db()
        return message
    outcome = attempt(
        backend or get_backend(),
        Claimed(message.pk, message.phone_number, message.text, message.custom_id,
                message.sim_card_id, message.attempts + 1),
    )  # fmt: skip
    if outcome.status == Status.QUEUED:  # 429 on a single send: report it, do not leave it
        outcome.status = Status.FAILED
    _record([outcome], max_attempts=1, attempts={})
    message.refresh_from_db()
    if outcome.exception is not None:
        logger.warning(
            "SMS %s to %s %s: %s", message.pk, mask_phone(message.phone_number),
            outcome.status, outcome.error,
        )  # fmt: skip
        outcome.exception.sms_message = message  # type: ignore[attr-defined]
        raise outcome.exception
    if outcome.status == Status.FAILED:
        raise ValueError(outcome.error)
    return message


# -- bulk -----------------------------------------------------------------------------------------

Recipient = str | tuple[str, int | None]


def create_broadcast(
    recipients: Iterable[Recipient],
    text: str,
    *,
    sim_card_id: int | None = None,
    created_by: Any = None,
    enqueue: bool = True,
) -> Broadcast:
    """Store a bulk send: one ``queued`` message per distinct valid number.

    ``recipients`` are phone numbers, or ``(phone_number, contact_id)`` pairs; they are
    read once, as an iterator, and inserted in batches, so memory and queries do not grow
    with one object per recipient. Invalid numbers are reported and skipped, duplicates
    and contacts who opted out are skipped and counted. With ``enqueue`` (the default)
    the chunks are handed to the task backend when the transaction commits.
    """
    text = _check_text(text)
    sim_card_id = conf.SIM_CARD_ID if sim_card_id is None else check_sim_card_id(sim_card_id)
    user = created_by if getattr(created_by, "is_authenticated", False) else None
    # Each batch is looked up in one IN (...) list: keep it under the parameter limit.
    limit = connections[router.db_for_write(SMSMessage)].features.max_query_params
    batch_size = INSERT_BATCH if limit is None else max(1, min(INSERT_BATCH, limit - 1))
    screen = RecipientScreen(max_examples=Broadcast.MAX_REPORTED_INVALID)
    counts = {"opted_out": 0, "recipients": 0}
    with transaction.atomic():
        broadcast = Broadcast.objects.create(text=text, sim_card_id=sim_card_id, created_by=user)
        for batch in screen.batches(recipients, batch_size):
            _insert(broadcast, batch, counts)
        Broadcast.objects.filter(pk=broadcast.pk).update(
            recipients=counts["recipients"],
            skipped_invalid=screen.invalid,
            skipped_duplicates=screen.duplicates,
            skipped_opted_out=counts["opted_out"],
            invalid_numbers=screen.invalid_examples,
            finished_at=None if counts["recipients"] else timezone.now(),
        )
        broadcast.refresh_from_db()
        if enqueue and counts["recipients"]:
            broadcast_id = broadcast.pk
            transaction.on_commit(lambda: enqueue_broadcast(broadcast_id))
    logger.info(
        "Bulk send %s stored: %d recipients, skipped %d invalid, %d duplicates, %d opted out",
        broadcast.pk, counts["recipients"], screen.invalid, screen.duplicates, counts["opted_out"],
    )  # fmt: skip
    return broadcast


@dataclass
class RecipientScreen:
    """Normalizes and de-duplicates recipients in one pass, in batches, counting (and
    keeping up to ``max_examples`` of) the invalid numbers and the duplicates. Shared by
    :func:`create_broadcast` and the admin's preview of it, so both count the same way."""

    max_examples: int
    rows: int = 0
    invalid: int = 0
    duplicates: int = 0
    invalid_examples: list[dict[str, str]] = dataclass_field(default_factory=list)
    duplicate_examples: list[str] = dataclass_field(default_factory=list)

    def batches(
        self, recipients: Iterable[Recipient], size: int = INSERT_BATCH
    ) -> Iterator[list[tuple[str, int | None]]]:
        """``(phone_number, contact_id)`` batches of distinct valid numbers, in order."""
        seen: set[str] = set()
        batch: list[tuple[str, int | None]] = []
        for recipient in recipients:
            self.rows += 1
            value, contact_id = (recipient, None) if isinstance(recipient, str) else recipient
            try:
                phone = normalize_phone(value)
            except InvalidPhoneNumber as err:
                self.invalid += 1
                if len(self.invalid_examples) < self.max_examples:
                    self.invalid_examples.append({"value": str(value)[:64], "reason": str(err)})
                continue
            if phone in seen:
                self.duplicates += 1
                if len(self.duplicate_examples) < self.max_examples:
                    self.duplicate_examples.append(phone)
                continue
            seen.add(phone)
            batch.append((phone, contact_id))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


def known_contacts(phones: Iterable[str]) -> dict[str, tuple[int, bool]]:
    """``phone -> (contact pk, opted out)`` for the contacts among ``phones`` (one query)."""
    return {
        phone: (pk, opted_out)
        for phone, pk, opted_out in Contact.objects.filter(
            phone_number__in=list(phones)
        ).values_list("phone_number", "pk", "opted_out")
    }


def _insert(
    broadcast: Broadcast, batch: list[tuple[str, int | None]], counts: dict[str, int]
) -> None:
    known = known_contacts(phone for phone, _ in batch)
    rows = []
    for phone, contact_id in batch:
        contact_pk, opted_out = known.get(phone, (None, False))
        if opted_out:
            counts["opted_out"] += 1
            continue
        rows.append(
            SMSMessage(
                direction=SMSMessage.Direction.OUTBOUND,
                phone_number=phone,
                text=broadcast.text,
                status=Status.QUEUED,
                custom_id=new_custom_id(),
                sim_card_id=broadcast.sim_card_id,
                contact_id=contact_id or contact_pk,
                broadcast=broadcast,
            )
        )
    SMSMessage.objects.bulk_create(rows, batch_size=INSERT_BATCH)
    counts["recipients"] += len(rows)


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
    from django_textlink.tasks import enqueue_chunk

    ranges = chunk_ranges(broadcast_id)
    for first_pk, last_pk in ranges:
        enqueue_chunk(broadcast_id, first_pk, last_pk)
    return len(ranges)


class Pacer:
    """A token bucket shared by a chunk's threads: on average at most ``rate`` sends per
    second, in bursts of at most ``burst`` (one wave), so the wait for the next slots
    overlaps the wait for TextLink's answers. ``pause()`` stops everyone for a 429's
    ``Retry-After``.

    Implemented as GCRA: each send is given the next theoretical slot; it may go up to
    ``(burst - 1)`` intervals early, never earlier.
    """

    def __init__(self, rate: float | None, burst: int = 1) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.tolerance = self.interval * max(0, burst - 1)
        self._tat = time.monotonic()  # theoretical arrival time of the next send
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            tat = max(self._tat, now)
            slot = max(now, tat - self.tolerance, self._paused_until)
            self._tat = max(tat, slot) + self.interval
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)


def _field(name: str) -> Field[Any, Any]:
    field = SMSMessage._meta.get_field(name)
    assert isinstance(field, Field)  # a concrete column, never a relation's reverse side
    return field


#: The columns a claim sets, filters on and returns, in :class:`Claimed`'s order.
_CLAIMED_FIELDS = ("id", "phone_number", "text", "custom_id", "sim_card_id", "attempts")


def _claim_sql(vendor: str, quote: Callable[[str], str]) -> str:
    """The claim as one ``UPDATE ... RETURNING``, a statement the ORM cannot say, with
    every table and column name taken from the model's ``_meta`` (quoted by the backend)
    and every value a parameter."""
    meta = SMSMessage._meta

    def column(name: str) -> str:
        return quote(_field(name).column or name)

    table = quote(meta.db_table)
    pk, status, broadcast = column("id"), column("status"), column("broadcast")
    select = (
        f"SELECT {pk} FROM {table} WHERE {broadcast} = %s AND {status} = %s "  # noqa: S608
        f"AND {pk} >= %s AND {pk} <= %s ORDER BY {pk} LIMIT %s"
    )
    if vendor == "postgresql":
        # ARRAY(...) runs the sub-select once. With "id IN (...)" PostgreSQL may plan a
        # semi-join that re-runs it for every row, and the LIMIT no longer bounds the
        # claim: a claim of 5 took all 30 queued messages of its range.
        target = f"{pk} = ANY(ARRAY({select} FOR UPDATE SKIP LOCKED))"
    else:
        target = f"{pk} IN ({select})"
    attempts = column("attempts")
    returning = ", ".join(column(name) for name in _CLAIMED_FIELDS)
    return (
        f"UPDATE {table} SET {status} = %s, {column('claimed_at')} = %s, "  # noqa: S608
        f"{column('updated_at')} = %s, {attempts} = {attempts} + 1 "
        f"WHERE {target} AND {status} = %s RETURNING {returning}"
    )


def _claim(broadcast_id: int, first_pk: int, last_pk: int, limit: int) -> list[Claimed]:
    """Move up to ``limit`` queued messages of the range to ``sending``, atomically, and
    return them. Two workers on the same range never get the same message."""
    now = timezone.now()
    db = router.db_for_write(SMSMessage)
    connection = connections[db]
    if connection.vendor in ("postgresql", "sqlite"):
        sql = _claim_sql(connection.vendor, connection.ops.quote_name)
        stamp = _field("updated_at").get_db_prep_value(now, connection)  # as the ORM stores it
        params: list[Any] = [
            *(Status.SENDING, stamp, stamp),
            *(broadcast_id, Status.QUEUED, first_pk, last_pk, limit),
            Status.QUEUED,
        ]
        # One statement: atomic on its own (in autocommit mode, or as part of the caller's
        # transaction), so no BEGIN/COMMIT around it.
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return sorted((Claimed(*row) for row in rows), key=lambda c: c.pk)
    # Portable path: select candidates, claim them conditionally, read back what we won.
    candidates = list(
        SMSMessage.objects.filter(
            broadcast_id=broadcast_id, status=Status.QUEUED, pk__gte=first_pk, pk__lte=last_pk
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not candidates:
        return []
    SMSMessage.objects.filter(pk__in=candidates, status=Status.QUEUED).update(
        status=Status.SENDING, claimed_at=now, updated_at=now, attempts=F("attempts") + 1
    )
    return [
        Claimed(*row)
        for row in SMSMessage.objects.filter(
            pk__in=candidates, status=Status.SENDING, claimed_at=now
        )
        .order_by("pk")
        .values_list(*_CLAIMED_FIELDS)
    ]


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
            claimed = _claim(broadcast_id, first_pk, last_pk, concurrency)
            if not claimed:
                break
            outcomes = list(pool.map(send_one, claimed))
            _record(
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
    _finish_if_done(broadcast_id)
    logger.info("Bulk send %s chunk %d-%d: %s", broadcast_id, first_pk, last_pk, totals)
    return totals


def _finish_if_done(broadcast_id: int) -> None:
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
    _finish_if_done(broadcast.pk)
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
        from django_textlink.tasks import enqueue_messages

        Broadcast.objects.filter(messages__pk__in=ids).update(finished_at=None)
        transaction.on_commit(lambda: enqueue_messages(ids))
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
        _finish_if_done(broadcast_id)
