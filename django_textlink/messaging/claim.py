"""Claiming a chunk's messages: ``queued`` -> ``sending`` atomically, so two workers on
the same range never get the same message.

On PostgreSQL and SQLite a claim is one ``UPDATE ... RETURNING`` (PostgreSQL: with ``FOR
UPDATE SKIP LOCKED``, so concurrent workers skip each other's rows; SQLite's single writer
serializes them); elsewhere a conditional ORM update and a read-back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connections, router
from django.db.models import F, Field
from django.utils import timezone

from django_textlink.messaging.single import Claimed
from django_textlink.models import SMSMessage

Status = SMSMessage.Status


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


def claim(broadcast_id: int, first_pk: int, last_pk: int, limit: int) -> list[Claimed]:
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
        # Raw SQL because the ORM cannot say UPDATE ... RETURNING (nor FOR UPDATE SKIP LOCKED
        # in an UPDATE's sub-select); the names come from _meta (see _claim_sql). One
        # statement: atomic on its own (in autocommit mode, or as part of the caller's
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
