"""``manage.py textlink_purge --days N [--contacts] [--dry-run]``: data retention.

Deletes webhook events received more than N days ago, and anonymises SMS messages
created more than N days ago: the text and error are removed, the phone number masked to
its country code and last two digits (``+381*******67``) and the link to the contact
dropped, so counts and statuses stay for statistics while the personal data goes.

It also deletes the expired entries of the verification flow's database store
(:class:`~django_textlink.models.VerificationState`: limit counters, live-code markers,
used tokens past their expiry), whatever ``--days`` says: they mean nothing any more.
The store deletes them on its own too, now and then, as it writes new ones. Likewise the
fraud guard's figures older than two days (:data:`GUARD_FIGURES_KEPT`; the guard and its
admin page read 24 hours), and its blocks that ended more than N days ago.

With ``--contacts`` it also deletes contacts not changed for N days that no message of
the last N days links to. Opted-out contacts are always kept: deleting one would forget
the opt-out, and the next bulk send would text that person again. (Only the local
contact goes: TextLink's API cannot delete a contact.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from django_textlink._masking import mask_phone
from django_textlink.models import Contact, SMSMessage, VerificationBlock, WebhookEvent
from django_textlink.verification import clock
from django_textlink.verification.guard import activity
from django_textlink.verification.store import DatabaseStore

#: Seconds the fraud guard's figures are kept.
GUARD_FIGURES_KEPT = 2 * 24 * 3600

BATCH = 1000
REMOVED = ""


def anonymisable(cutoff: Any) -> Any:
    """Messages older than ``cutoff`` that still hold personal data."""
    return SMSMessage.objects.filter(created_at__lt=cutoff).exclude(
        text=REMOVED, phone_number__contains="*", contact__isnull=True
    )


def deletable_contacts(cutoff: Any) -> Any:
    """Contacts unchanged since ``cutoff``, not opted out, with no message since then
    (older messages lose their link when anonymised)."""
    return Contact.objects.filter(updated_at__lt=cutoff, opted_out=False).exclude(
        messages__created_at__gte=cutoff
    )


class Command(BaseCommand):
    help = "Delete old webhook events and anonymise old SMS messages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, required=True, help="Keep the last N days.")
        parser.add_argument(
            "--contacts",
            action="store_true",
            help="Also delete contacts unchanged for N days with no recent message "
            "(opted-out contacts are kept).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be purged."
        )

    def handle(
        self, *args: Any, days: int, dry_run: bool, contacts: bool = False, **options: Any
    ) -> None:
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        cutoff = timezone.now() - timedelta(days=days)
        events = WebhookEvent.objects.filter(received_at__lt=cutoff)
        messages = anonymisable(cutoff)
        state = DatabaseStore()
        ended_blocks = VerificationBlock.objects.filter(ends_at__lt=cutoff)
        if dry_run:
            also = f" and delete {deletable_contacts(cutoff).count()} contacts" if contacts else ""
            self.stdout.write(
                f"Would delete {events.count()} webhook events and anonymise "
                f"{messages.count()} SMS messages older than {days} days{also}, and delete "
                f"{state.expired().count()} expired verification state entries (dry run)."
            )
            return
        expired = state.purge_expired()
        activity.purge(clock.now() - GUARD_FIGURES_KEPT)
        ended_blocks.delete()
        deleted, _ = events.delete()
        anonymised = 0
        while True:
            batch = list(messages.order_by("pk").only("pk", "phone_number")[:BATCH])
            if not batch:
                break
            for message in batch:
                message.phone_number = mask_phone(message.phone_number) or "*"
                message.text = REMOVED
                message.error = ""
                message.contact = None
            with transaction.atomic():
                SMSMessage.objects.bulk_update(batch, ["phone_number", "text", "error", "contact"])
            anonymised += len(batch)
        also = ""
        if contacts:
            _, per_model = deletable_contacts(cutoff).delete()
            also = f" and deleted {per_model.get(Contact._meta.label, 0)} contacts"
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {deleted} webhook events and anonymised {anonymised} SMS messages "
                f"older than {days} days{also}, and deleted {expired} expired verification "
                "state entries."
            )
        )
