"""A bulk send's recipients: read once, normalized, de-duplicated, stored in batches.

:func:`create_broadcast` stores a :class:`~django_textlink.models.Broadcast` and one
``queued`` message per distinct valid number (skipping and counting invalid numbers,
duplicates and contacts who opted out); its chunks go to the task backend when the
transaction commits (:mod:`.run`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.db import connections, router, transaction
from django.utils import timezone

from django_textlink._payloads import check_sim_card_id
from django_textlink.conf import conf
from django_textlink.messaging.run import enqueue_broadcast
from django_textlink.messaging.single import check_text, new_custom_id
from django_textlink.models import Broadcast, Contact, SMSMessage
from django_textlink.phone import InvalidPhoneNumber, normalize_phone

logger = logging.getLogger("django_textlink.sending")

Status = SMSMessage.Status
INSERT_BATCH = 1000


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
    text = check_text(text)
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
