"""Contacts and their tags, synced both ways with TextLink.

* Local -> TextLink: :func:`set_tag` saves the tag, marks it ``pending`` and pushes it
  with ``update_contact_tag`` off the request cycle (a background task, after commit). A
  push that fails is marked ``failed`` with the reason and can be retried
  (:func:`push_tag`, or the admin action).
* TextLink -> local: a tag that arrives by webhook is saved with :func:`apply_remote_tag`
  and is *not* pushed back, so there is no echo loop.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from django_textlink.backends import BaseBackend, get_backend
from django_textlink.exceptions import TextLinkError
from django_textlink.masking import mask_phone
from django_textlink.models import Contact

logger = logging.getLogger("django_textlink.contacts")

TagSync = Contact.TagSync
#: A tag push still ``pending`` this long after it was queued is taken as lost (its task
#: never ran, e.g. a worker that died) and can be retried like a failed one. Pushing a
#: tag again is harmless: TextLink just sets the same tag.
STALE_TAG_PUSH = timedelta(minutes=5)


def retryable_tag_pushes(queryset: QuerySet[Contact]) -> QuerySet[Contact]:
    """The contacts of ``queryset`` whose tag push failed, or has been pending for longer
    than :data:`STALE_TAG_PUSH` (``updated_at`` is when it was queued)."""
    stale = timezone.now() - STALE_TAG_PUSH
    return queryset.filter(
        Q(tag_sync_state=TagSync.FAILED) | Q(tag_sync_state=TagSync.PENDING, updated_at__lt=stale)
    )


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


def set_tag(contact: Contact, tag: str, *, push: bool = True) -> Contact:
    """Set ``contact``'s tag here and (with ``push``) in TextLink, off the request cycle."""
    if not isinstance(tag, str):
        raise TypeError("tag must be a string.")
    contact.tag = tag.strip()
    if push:
        contact.tag_sync_state = TagSync.PENDING
        contact.tag_sync_error = ""
    contact.save(update_fields=["tag", "tag_sync_state", "tag_sync_error", "updated_at"])
    if push:
        contact_id = contact.pk
        transaction.on_commit(lambda: _enqueue_push(contact_id))
    return contact


def _enqueue_push(contact_id: int) -> None:
    from django_textlink.tasks import enqueue_tag_push

    enqueue_tag_push(contact_id)


def push_tag(contact_id: int, *, backend: BaseBackend | None = None) -> bool:
    """Push a contact's current tag to TextLink now; records the outcome on the contact."""
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return False
    started = timezone.now()
    try:
        (backend or get_backend()).update_contact_tag(contact.phone_number, contact.tag)
    except (TextLinkError, ValueError) as err:
        # Unless the tag changed, or another push of it (a retry that overtook this one)
        # succeeded since this one started.
        not_synced_since = Q(tag_synced_at__isnull=True) | Q(tag_synced_at__lt=started)
        Contact.objects.filter(not_synced_since, pk=contact_id, tag=contact.tag).update(
            tag_sync_state=TagSync.FAILED, tag_sync_error=str(err)[:1000]
        )
        logger.warning("Tag push for %s failed: %s", mask_phone(contact.phone_number), err)
        return False
    # Only if the tag did not change meanwhile (a newer push is on its way then).
    Contact.objects.filter(pk=contact_id, tag=contact.tag).update(
        tag_sync_state=TagSync.SYNCED, tag_sync_error="", tag_synced_at=timezone.now()
    )
    return True


def apply_remote_tag(contact: Contact, tag: str) -> str:
    """Save a tag TextLink told us about, without pushing it back. Returns the old tag."""
    old = contact.tag
    contact.tag = tag
    contact.tag_sync_state = TagSync.SYNCED
    contact.tag_sync_error = ""
    contact.tag_synced_at = timezone.now()
    contact.save(
        update_fields=["tag", "tag_sync_state", "tag_sync_error", "tag_synced_at", "updated_at"]
    )
    return old


def set_opt_out(contact: Contact, opted_out: bool) -> None:
    if contact.opted_out == opted_out:
        return
    contact.opted_out = opted_out
    contact.opted_out_at = timezone.now() if opted_out else None
    contact.save(update_fields=["opted_out", "opted_out_at", "updated_at"])
