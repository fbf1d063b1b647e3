"""Data retention: ``manage.py textlink_purge --days N [--contacts] [--dry-run]`` deletes
old webhook events and anonymises old SMS messages (text removed, phone masked, contact
unlinked), keeping recent ones; with ``--contacts`` it deletes contacts gone quiet, never
an opted-out one."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from django_textlink.management.commands import textlink_purge
from django_textlink.models import Contact, SMSMessage, WebhookEvent

pytestmark = pytest.mark.django_db

PHONE = "+381601234567"
US_PHONE = "+12025550143"
OUT = SMSMessage.Direction.OUTBOUND
IN = SMSMessage.Direction.INBOUND


def ago(**delta: float) -> Any:
    return timezone.now() - timedelta(**delta)


def event(name: str, received_at: Any) -> WebhookEvent:
    return WebhookEvent.objects.create(
        kind="received", payload={"phone_number": PHONE, "text": name}, dedup_key=name,
        received_at=received_at,
    )  # fmt: skip


def message(text: str, created_at: Any, **fields: Any) -> SMSMessage:
    values: dict[str, Any] = {
        "direction": OUT,
        "phone_number": PHONE,
        "text": text,
        "status": SMSMessage.Status.SENT,
        "created_at": created_at,
    }
    values.update(fields)
    return SMSMessage.objects.create(**values)


@pytest.fixture
def data() -> dict[str, Any]:
    contact = Contact.objects.create(phone_number=PHONE, name="John", tag="Cold")
    return {
        "old_events": [event("old-1", ago(days=40)), event("old-2", ago(days=31))],
        "new_events": [event("new-1", ago(days=29, hours=23)), event("new-2", ago(minutes=1))],
        "old_messages": [
            message("Your code is 123456", ago(days=45), custom_id="cid-old", contact=contact),
            message("Hi there", ago(days=31), direction=IN, status=SMSMessage.Status.RECEIVED),
            message(
                "Failed one",
                ago(days=60),
                phone_number=US_PHONE,
                status=SMSMessage.Status.FAILED,
                error=f"TextLink refused {US_PHONE}",
            ),
        ],
        "new_messages": [
            message("Recent", ago(days=29, hours=23)),
            message("Now", ago(seconds=1), direction=IN, status=SMSMessage.Status.RECEIVED),
        ],
    }


def purge(*args: str, **options: Any) -> str:
    out = StringIO()
    call_command("textlink_purge", *args, stdout=out, **options)
    return out.getvalue()


def snapshot() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    return (
        list(WebhookEvent.objects.order_by("pk").values()),
        list(SMSMessage.objects.order_by("pk").values()),
        list(Contact.objects.order_by("pk").values()),
    )


def test_dry_run_counts_and_changes_nothing(data):
    before = snapshot()

    output = purge(days=30, dry_run=True)

    assert "Would delete 2 webhook events and anonymise 3 SMS messages" in output
    assert "dry run" in output
    assert snapshot() == before


def test_dry_run_from_the_command_line_spelling(data):
    before = snapshot()
    output = purge("--days", "30", "--dry-run")
    assert "Would delete 2 webhook events and anonymise 3 SMS messages" in output
    assert snapshot() == before


def test_purge_deletes_old_events_and_anonymises_old_messages(data):
    new_messages_before = list(
        SMSMessage.objects.filter(pk__in=[m.pk for m in data["new_messages"]])
        .order_by("pk")
        .values()
    )

    output = purge(days=30)

    assert "Deleted 2 webhook events and anonymised 3 SMS messages" in output
    assert sorted(WebhookEvent.objects.values_list("dedup_key", flat=True)) == ["new-1", "new-2"]

    first, second, third = (SMSMessage.objects.get(pk=m.pk) for m in data["old_messages"])
    assert (first.text, first.phone_number) == ("", "+381*******67")
    assert (second.text, second.phone_number) == ("", "+381*******67")
    assert (third.text, third.phone_number) == ("", "+1********43")
    assert third.error == ""  # the error text held the phone number
    assert first.contact_id is None  # the contact holds the full number and the name
    assert Contact.objects.filter(phone_number=PHONE).exists()  # kept without --contacts
    # What statistics need stays.
    assert (first.direction, first.status, first.custom_id) == (OUT, "sent", "cid-old")
    assert (second.direction, second.status) == (IN, "received")
    assert third.status == SMSMessage.Status.FAILED
    assert first.created_at == data["old_messages"][0].created_at
    # Recent messages are untouched.
    assert (
        list(
            SMSMessage.objects.filter(pk__in=[m.pk for m in data["new_messages"]])
            .order_by("pk")
            .values()
        )
        == new_messages_before
    )


def test_the_dry_run_counts_what_the_real_run_then_does(data):
    dry = purge(days=30, dry_run=True)
    real = purge(days=30)
    assert "2 webhook events" in dry
    assert "3 SMS messages" in dry
    assert "Deleted 2 webhook events and anonymised 3 SMS messages" in real


def test_running_twice_is_a_no_op(data):
    purge(days=30)
    after_first = snapshot()

    output = purge(days=30)

    assert "Deleted 0 webhook events and anonymised 0 SMS messages" in output
    assert snapshot() == after_first
    assert "Would delete 0 webhook events and anonymise 0 SMS messages" in purge(
        days=30, dry_run=True
    )


def test_an_old_message_with_empty_text_is_still_masked():
    old = message("", ago(days=90))
    assert "anonymised 1 SMS messages" in purge(days=30)
    old.refresh_from_db()
    assert old.phone_number == "+381*******67"
    assert "anonymised 0 SMS messages" in purge(days=30)


def test_days_zero_purges_everything_older_than_now(data):
    output = purge(days=0)
    assert "Deleted 4 webhook events and anonymised 5 SMS messages" in output
    assert WebhookEvent.objects.count() == 0
    assert set(SMSMessage.objects.values_list("text", flat=True)) == {""}


def test_anonymising_works_in_batches(monkeypatch):
    monkeypatch.setattr(textlink_purge, "BATCH", 3)
    for n in range(8):
        message(f"Message {n}", ago(days=40), phone_number=f"+1202555{n:04d}")

    output = purge(days=30)

    assert "anonymised 8 SMS messages" in output
    assert set(SMSMessage.objects.values_list("text", flat=True)) == {""}
    assert all("*" in phone for phone in SMSMessage.objects.values_list("phone_number", flat=True))


def test_a_malformed_stored_number_is_masked_too():
    odd = message("Hi", ago(days=40), phone_number="0601234567")
    purge(days=30)
    odd.refresh_from_db()
    assert odd.phone_number == "********67"


@pytest.mark.parametrize("days", [-1, -30])
def test_negative_days_is_an_error(data, days):
    before = snapshot()
    with pytest.raises(CommandError, match="--days"):
        purge(days=days)
    assert snapshot() == before


def test_days_is_required():
    with pytest.raises(CommandError, match="--days"):
        purge()


def contact_updated(phone: str, updated_at: Any, **fields: Any) -> Contact:
    contact = Contact.objects.create(phone_number=phone, **fields)
    Contact.objects.filter(pk=contact.pk).update(updated_at=updated_at)  # bypass auto_now
    return contact


@pytest.fixture
def address_book() -> dict[str, Contact]:
    book = {
        "quiet": contact_updated("+12025550101", ago(days=40), name="Quiet"),
        "old messages only": contact_updated("+12025550102", ago(days=40), name="Old"),
        "recent message": contact_updated("+12025550103", ago(days=40), name="Active"),
        "opted out": contact_updated("+12025550104", ago(days=400), opted_out=True),
        "recently changed": contact_updated("+12025550105", ago(days=2), name="New"),
    }
    message("Long ago", ago(days=60), contact=book["old messages only"])
    message("Long ago", ago(days=60), contact=book["recent message"])
    message("Yesterday", ago(days=1), contact=book["recent message"])
    message("STOP", ago(days=300), direction=IN, contact=book["opted out"])
    return book


def test_contacts_gone_quiet_are_deleted_with_the_contacts_option(address_book):
    dry = purge(days=30, contacts=True, dry_run=True)
    assert "anonymise 3 SMS messages older than 30 days and delete 2 contacts, and" in dry
    assert "(dry run)" in dry

    output = purge("--days", "30", "--contacts")

    assert "anonymised 3 SMS messages older than 30 days and deleted 2 contacts, and" in output
    assert set(Contact.objects.values_list("name", flat=True)) == {"Active", "", "New"}
    assert Contact.objects.filter(phone_number="+12025550104", opted_out=True).exists()
    # Their old messages stay, anonymised, for the statistics.
    assert SMSMessage.objects.filter(text="", contact=None).count() == 3
    assert SMSMessage.objects.get(text="Yesterday").contact == address_book["recent message"]


def test_an_opted_out_contact_is_never_deleted(address_book):
    purge(days=0, contacts=True)
    assert list(Contact.objects.values_list("phone_number", flat=True)) == ["+12025550104"]


def test_without_the_contacts_option_no_contact_is_deleted(address_book):
    output = purge(days=30)
    assert "contacts" not in output
    assert Contact.objects.count() == len(address_book)


# -- the verification flow's expired state ------------------------------------------------------


def test_expired_verification_state_is_purged_whatever_the_days(clock) -> None:
    from django_textlink.models import VerificationState
    from django_textlink.verification.store import DatabaseStore

    store = DatabaseStore()
    store.set("textlink:test:old", "1", clock.now + 60)
    store.set("textlink:test:live", "1", clock.now + 7200)
    clock.advance(3600)

    dry = purge(days=365, dry_run=True)
    assert "delete 1 expired verification state entries (dry run)" in dry
    assert VerificationState.objects.count() == 2

    output = purge(days=365)
    assert "deleted 1 expired verification state entries" in output
    assert list(VerificationState.objects.values_list("key", flat=True)) == ["textlink:test:live"]
    assert store.get("textlink:test:live") == "1"
