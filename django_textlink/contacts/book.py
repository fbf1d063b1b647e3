"""The contact book: one contact per number, created or updated from what TextLink tells
us (never pushed back), and opt-outs."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from django_textlink.models import Contact


def upsert_contact(phone_number: str, **fields: Any) -> Contact:
    """The contact for ``phone_number`` (E.164), created if new; given non-None fields
    (name, tag, subuser_id) are updated. Never pushes anything to TextLink."""
    values = {key: value for key, value in fields.items() if value is not None}
    contact, created = Contact.objects.get_or_create(phone_number=phone_number, defaults=values)
    if created:
        return contact
    changed = [key for key, value in values.items() if getattr(contact, key) != value]
    if changed:
        for key in changed:
            setattr(contact, key, values[key])
        contact.save(update_fields=[*changed, "updated_at"])
    return contact


def set_opt_out(contact: Contact, opted_out: bool) -> None:
    if contact.opted_out == opted_out:
        return
    contact.opted_out = opted_out
    contact.opted_out_at = timezone.now() if opted_out else None
    contact.save(update_fields=["opted_out", "opted_out_at", "updated_at"])
