"""django_textlink.rows: the webhook path's one-row INSERT and unique-column SELECT.

They replace ``Model.save()`` and ``QuerySet.get()`` on the hot path, so every test holds
them to what the ORM does: the same stored columns, the same saved-instance state, the
same errors and transaction behaviour, the model signals when anyone listens, and the
same values read back. Runs on SQLite and on PostgreSQL (``make test-postgres``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, models, transaction
from django.db.models import Model
from django.db.models.functions import Now
from django.db.models.signals import post_save, pre_save
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext, isolate_apps
from django.utils import timezone

from django_textlink import rows
from django_textlink.models import Broadcast, Contact, SMSMessage, WebhookEvent
from tests.support.webhook_posts import url
from tests.test_webhooks import SECRET

pytestmark = pytest.mark.django_db

#: Set by the database or by ``auto_now``/``auto_now_add``: differs between two saves.
VOLATILE = {"id", "updated_at"}


def stored_row(instance: Model) -> dict[str, Any]:
    """The row as the database holds it (raw column values, no ORM conversion)."""
    meta = instance._meta
    quote = connection.ops.quote_name
    columns = [field.column for field in meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(meta.db_table)} "  # noqa: S608
            f"WHERE {quote(meta.pk.column)} = %s",
            [instance.pk],
        )
        row = cursor.fetchone()
    assert row is not None, "the row is not in the database"
    return dict(zip(columns, row, strict=True))


def comparable(row: dict[str, Any], *, ignore: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {column: value for column, value in row.items() if column not in VOLATILE | ignore}


def contact(**fields: Any) -> Contact:
    values = {"phone_number": "+381601234567", "name": "Ana", "tag": "vip"} | fields
    return Contact.objects.create(**values)


def message_fields(owner: Contact, broadcast: Broadcast) -> dict[str, Any]:
    """Every kind of column SMSMessage has: text, NULLs, integers, a boolean, datetimes
    (aware), foreign keys."""
    return {
        "direction": SMSMessage.Direction.OUTBOUND,
        "status": SMSMessage.Status.FAILED,
        "phone_number": owner.phone_number,
        "text": "Zdravo 👋 — ćao\nline two",
        "custom_id": "order-42",
        "sim_card_id": 2**40,
        "textlink_id": -7,
        "queued_by_textlink": True,
        "error": "TextLink reported the message as failed.",
        "attempts": 3,
        "claimed_at": None,
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "sent_at": datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC),
        "contact": owner,
        "broadcast": broadcast,
    }


def ran(statement: str, captured: str) -> bool:
    """Whether ``captured`` (with its parameters filled in) is ``statement``. The ORM's
    own SQL for the same work differs: it qualifies columns in WHERE and RETURNING."""
    head, tail = statement.split("%s")[0], statement.rsplit("%s", 1)[1]
    return captured.startswith(head) and captured.endswith(tail)


# -- insert --------------------------------------------------------------------------------------


def test_insert_stores_exactly_the_columns_save_stores() -> None:
    owner = contact()
    broadcast = Broadcast.objects.create(text="hello")
    saved = SMSMessage(**message_fields(owner, broadcast))
    saved.save(force_insert=True)
    inserted = SMSMessage(**message_fields(owner, broadcast) | {"custom_id": "order-43"})
    rows.insert(inserted)

    assert comparable(stored_row(inserted), ignore=frozenset({"custom_id"})) == comparable(
        stored_row(saved), ignore=frozenset({"custom_id"})
    )
    assert stored_row(inserted)["custom_id"] == "order-43"
    assert (
        SMSMessage.objects.get(pk=inserted.pk).created_at
        == message_fields(owner, broadcast)["created_at"]
    )


def test_insert_stores_a_json_payload_as_save_does() -> None:
    payload = {
        "phone_number": "+381601234567",
        "text": 'quotes " and \\ backslash, ünïcode, emoji 🎉',
        "nested": {"list": [1, 2.5, None, True], "empty": {}},
    }
    saved = WebhookEvent(kind="received", payload=payload, dedup_key="a" * 64)
    saved.save(force_insert=True)
    inserted = WebhookEvent(kind="received", payload=payload, dedup_key="b" * 64)
    rows.insert(inserted)

    ignore = frozenset({"dedup_key", "received_at"})
    assert comparable(stored_row(inserted), ignore=ignore) == comparable(
        stored_row(saved), ignore=ignore
    )
    assert WebhookEvent.objects.get(pk=inserted.pk).payload == payload
    # The stored JSON is the payload itself, whatever the backend's column type.
    stored = stored_row(inserted)["payload"]
    assert (json.loads(stored) if isinstance(stored, str) else stored) == payload


def test_insert_applies_defaults_and_auto_now_like_save() -> None:
    before = timezone.now()
    message = SMSMessage(direction=SMSMessage.Direction.INBOUND, phone_number="+38160", text="x")
    rows.insert(message)
    after = timezone.now()

    reloaded = SMSMessage.objects.get(pk=message.pk)
    assert reloaded.status == SMSMessage.Status.QUEUED
    assert reloaded.attempts == 0
    assert reloaded.queued_by_textlink is False
    assert before <= reloaded.created_at <= after
    assert before <= reloaded.updated_at <= after  # auto_now, set as save() sets it
    assert message.updated_at == reloaded.updated_at  # ... and on the instance too


def test_insert_leaves_a_saved_instance_whose_next_save_updates_it() -> None:
    message = SMSMessage(direction=SMSMessage.Direction.INBOUND, phone_number="+38160", text="x")
    rows.insert(message)

    assert isinstance(message.pk, int)
    assert message._state.adding is False
    assert message._state.db == "default"
    message.text = "changed"
    message.save()
    assert SMSMessage.objects.count() == 1
    assert SMSMessage.objects.get(pk=message.pk).text == "changed"


@pytest.mark.parametrize("model", [WebhookEvent, SMSMessage, Contact])
def test_insert_runs_its_own_statement_when_no_model_signal_is_listened_to(model) -> None:
    """The shortcut is really taken for the package's models (the ORM's SQL differs)."""
    statement = rows._insert_statement(model, connections["default"])
    assert statement is not None
    instance = {
        WebhookEvent: WebhookEvent(kind="tag", payload={}, dedup_key="c" * 64),
        SMSMessage: SMSMessage(direction="inbound", phone_number="+38160", text="x"),
        Contact: Contact(phone_number="+381601231231"),
    }[model]
    with CaptureQueriesContext(connection) as queries:
        rows.insert(instance)
    assert len(queries) == 1
    assert ran(statement.sql, queries[0]["sql"])


def test_an_expression_value_is_left_to_save() -> None:
    message = SMSMessage(direction="inbound", phone_number="+38160", text="x", created_at=Now())
    rows.insert(message)
    reloaded = SMSMessage.objects.get(pk=message.pk)
    assert abs(reloaded.created_at - timezone.now()) < timedelta(minutes=1)


@pytest.fixture
def model_signals() -> Iterator[list[tuple[str, Any, bool]]]:
    """pre_save and post_save receivers for SMSMessage, as a user's project may have."""
    calls: list[tuple[str, Any, bool]] = []

    def on_pre_save(sender: Any, instance: Any, **kwargs: Any) -> None:
        calls.append(("pre_save", instance, instance._state.adding))

    def on_post_save(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
        calls.append(("post_save", instance, created))

    pre_save.connect(on_pre_save, sender=SMSMessage, weak=False)
    post_save.connect(on_post_save, sender=SMSMessage, weak=False)
    try:
        yield calls
    finally:
        pre_save.disconnect(on_pre_save, sender=SMSMessage)
        post_save.disconnect(on_post_save, sender=SMSMessage)


def test_insert_sends_pre_save_and_post_save_when_a_receiver_listens(model_signals) -> None:
    message = SMSMessage(direction=SMSMessage.Direction.INBOUND, phone_number="+38160", text="x")
    rows.insert(message)

    assert [(name, created) for name, _, created in model_signals] == [
        ("pre_save", True),
        ("post_save", True),
    ]
    assert all(instance is message for _, instance, _ in model_signals)
    assert SMSMessage.objects.filter(pk=message.pk).exists()


def test_a_post_save_receiver_sees_the_inbound_message_of_a_received_webhook(
    client, model_signals
) -> None:
    body = {"secret": SECRET, "phone_number": "+381601234567", "text": "hi there"}
    response = client.post(url("received"), json.dumps(body), content_type="application/json")

    assert response.status_code == 200
    created = [instance for name, instance, flag in model_signals if name == "post_save" and flag]
    assert [message.text for message in created] == ["hi there"]
    assert created[0].pk == SMSMessage.objects.get().pk


def test_insert_of_a_duplicate_unique_key_raises_integrity_error_and_rolls_back() -> None:
    WebhookEvent.objects.create(kind="tag", payload={}, dedup_key="d" * 64)

    def write_both() -> None:
        with transaction.atomic():
            Contact.objects.create(phone_number="+381609999999")
            rows.insert(WebhookEvent(kind="tag", payload={"x": 1}, dedup_key="d" * 64))

    with pytest.raises(IntegrityError):
        write_both()

    assert WebhookEvent.objects.count() == 1
    assert not Contact.objects.filter(phone_number="+381609999999").exists()


@pytest.mark.parametrize("how", ["save", "insert"])
def test_a_caught_integrity_error_breaks_the_transaction_as_with_save(how: str) -> None:
    """Catching the error inside atomic() without a savepoint must not let the
    transaction go on, exactly as with save()."""
    WebhookEvent.objects.create(kind="tag", payload={}, dedup_key="e" * 64)
    duplicate = WebhookEvent(kind="tag", payload={}, dedup_key="e" * 64)

    with transaction.atomic():
        try:
            if how == "save":
                duplicate.save(force_insert=True)
            else:
                rows.insert(duplicate)
        except IntegrityError:
            pass
        with pytest.raises(TransactionManagementError):
            WebhookEvent.objects.count()


def test_insert_refuses_an_unsaved_related_object_as_save_does() -> None:
    message = SMSMessage(
        direction=SMSMessage.Direction.INBOUND,
        phone_number="+38160",
        text="x",
        contact=Contact(phone_number="+381601111111"),
    )
    with pytest.raises(ValueError, match="unsaved related object 'contact'"):
        rows.insert(message)
    assert not SMSMessage.objects.exists()


def test_insert_of_an_instance_with_a_primary_key_is_left_to_save() -> None:
    message = SMSMessage(
        pk=4242, direction=SMSMessage.Direction.INBOUND, phone_number="+38160", text="x"
    )
    rows.insert(message)
    assert SMSMessage.objects.get().pk == 4242


# -- get_by --------------------------------------------------------------------------------------


def field_values(instance: Model) -> dict[str, Any]:
    fields = instance._meta.concrete_fields
    return {field.attname: getattr(instance, field.attname) for field in fields}


def test_get_by_reads_the_same_values_as_the_orm() -> None:
    stored = contact(
        opted_out=True,
        opted_out_at=datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC),
        subuser_id=2**40,
        tag_sync_state=Contact.TagSync.FAILED,
        tag_sync_error="TextLink said no",
    )

    found = rows.get_by(Contact, "phone_number", stored.phone_number)

    assert found is not None
    expected = Contact.objects.get(pk=stored.pk)
    assert field_values(found) == field_values(expected)
    assert found.opted_out is True  # a bool, not SQLite's 1
    assert found.opted_out_at is not None
    assert found.opted_out_at.utcoffset() == timedelta(0)
    assert found._state.adding is False
    assert found._state.db == "default"


def test_get_by_reads_nulls_and_false_as_the_orm_does() -> None:
    stored = contact(name="", tag="")
    found = rows.get_by(Contact, "phone_number", stored.phone_number)
    assert found is not None
    assert field_values(found) == field_values(Contact.objects.get(pk=stored.pk))
    assert found.opted_out is False
    assert found.opted_out_at is None
    assert found.subuser_id is None


def test_get_by_returns_none_when_there_is_no_such_row() -> None:
    contact()
    assert rows.get_by(Contact, "phone_number", "+381600000000") is None


def test_get_by_gives_an_instance_that_saves_as_an_update() -> None:
    stored = contact()
    found = rows.get_by(Contact, "phone_number", stored.phone_number)
    assert found is not None
    found.name = "Ana Anić"
    found.save(update_fields=["name", "updated_at"])
    assert Contact.objects.count() == 1
    assert Contact.objects.get().name == "Ana Anić"


def test_get_by_runs_its_own_statement() -> None:
    stored = contact()
    statement = rows._select_statement(Contact, connections["default"], "phone_number")
    assert statement is not None
    with CaptureQueriesContext(connection) as queries:
        rows.get_by(Contact, "phone_number", stored.phone_number)
    assert len(queries) == 1
    assert ran(statement.sql, queries[0]["sql"])


def test_get_by_none_finds_the_row_with_null_as_the_orm_does() -> None:
    message = SMSMessage.objects.create(direction="inbound", phone_number="+38160", text="x")
    assert message.custom_id is None
    found = rows.get_by(SMSMessage, "custom_id", None)
    assert found is not None
    assert found.pk == message.pk


def test_get_by_a_field_that_is_not_unique_falls_back_to_the_orm() -> None:
    assert rows.SelectStatement.build(Contact, connection, "name") is None
    stored = contact(name="Only one")
    found = rows.get_by(Contact, "name", "Only one")
    assert found is not None
    assert found.pk == stored.pk
    assert rows.get_by(Contact, "name", "nobody") is None


# -- where the shortcut is not taken -------------------------------------------------------------


def models_the_shortcut_must_leave_to_the_orm() -> dict[str, type[Model]]:
    """Models (never migrated: only inspected) that the statements could get wrong."""
    with isolate_apps("django_textlink"):

        class Inspected(Model):
            class Meta:
                abstract = True
                app_label = "django_textlink"

            def __str__(self) -> str:
                return str(self.pk)

        class Plain(Inspected):
            name = models.CharField(max_length=10)

        class OwnSave(Inspected):
            name = models.CharField(max_length=10)

            def save(self, *args: Any, **kwargs: Any) -> None:
                self.name = self.name.upper()
                super().save(*args, **kwargs)

        class Binary(Inspected):
            data = models.BinaryField()

        class DbDefault(Inspected):
            created = models.DateTimeField(db_default=Now())

        class Ordered(Inspected):
            parent = models.ForeignKey(Plain, on_delete=models.CASCADE)

            class Meta(Inspected.Meta):
                order_with_respect_to = "parent"

        class Child(Plain):
            extra = models.CharField(max_length=10)

            class Meta:
                app_label = "django_textlink"

        class UUIDKey(Inspected):
            id = models.UUIDField(primary_key=True, default=uuid.uuid4)

    return {
        "plain": Plain,
        "own save()": OwnSave,
        "BinaryField (a placeholder)": Binary,
        "db_default": DbDefault,
        "order_with_respect_to": Ordered,
        "multi-table inheritance": Child,
        "client-side primary key": UUIDKey,
    }


def test_models_the_statements_could_get_wrong_are_left_to_the_orm() -> None:
    built = {
        name: rows.InsertStatement.build(model, connection) is not None
        for name, model in models_the_shortcut_must_leave_to_the_orm().items()
    }
    assert built == {name: name == "plain" for name in built}


@pytest.mark.parametrize("vendor", ["mysql", "oracle", "microsoft"])
def test_other_databases_are_left_to_the_orm(vendor: str) -> None:
    other = SimpleNamespace(vendor=vendor)
    assert rows.InsertStatement.build(SMSMessage, other) is None  # type: ignore[arg-type]
    assert rows.SelectStatement.build(Contact, other, "phone_number") is None  # type: ignore[arg-type]


def test_the_statements_name_every_concrete_column_once() -> None:
    insert = rows.InsertStatement.build(SMSMessage, connection)
    select = rows.SelectStatement.build(Contact, connection, "phone_number")
    assert insert is not None
    assert select is not None
    inserted = [str(field.column) for field in insert.fields]
    assert sorted(inserted) == sorted(
        str(field.column) for field in SMSMessage._meta.concrete_fields if not field.primary_key
    )
    assert insert.sql.count("%s") == len(inserted)
    assert select.attnames == tuple(field.attname for field in Contact._meta.concrete_fields)


# -- what the webhook path runs ------------------------------------------------------------------


def test_a_received_webhook_from_a_known_contact_runs_three_statements(client) -> None:
    """Insert the event, look up the contact, insert the message: the statements that
    the webhook benchmark's hot path costs (bench/webhooks.py)."""
    contact(name="Ana", tag="vip")
    body = {
        "secret": SECRET,
        "phone_number": "+381601234567",
        "text": "hello",
        "name": "Ana",
        "tag": "vip",
    }
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url("received"), json.dumps(body), content_type="application/json")

    assert response.status_code == 200
    statements = [
        query["sql"].lstrip().split()[0].upper()
        for query in queries
        if query["sql"].lstrip().split()[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}
    ]
    assert statements == ["INSERT", "SELECT", "INSERT"]
    message = SMSMessage.objects.get()
    assert message.contact is not None
    assert message.contact.phone_number == "+381601234567"
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
