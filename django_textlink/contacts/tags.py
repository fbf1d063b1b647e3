"""Contact tags, synced both ways with TextLink.

* Local -> TextLink: :func:`set_tag` saves the tag, marks it ``pending`` and pushes it
  with ``update_contact_tag`` off the request cycle (a background task, after commit). A
  push that fails is marked ``failed`` with the reason and can be retried
  (:func:`retry_tag_pushes`, which the admin's action calls, or :func:`push_tag`).
* TextLink -> local: a tag that arrives by webhook is saved with :func:`apply_remote_tag`
  and is *not* pushed back, so there is no echo loop.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from django_textlink import _queue
from django_textlink._masking import mask_phone
from django_textlink.backends import BaseBackend, get_backend
from django_textlink.exceptions import TextLinkError
from django_textlink.models import Contact

logger = logging.getLogger("django_textlink.contacts")

TagSync = Contact.TagSync
#: A tag push still ``pending`` this long after it was queued is taken as lost (its task
#: never ran, e.g. a worker that died) and can be retried like a failed one. Pushing a
#: tag again is harmless: TextLink just sets the same tag.
STALE_TAG_PUSH = timedelta(minutes=5)
#: Contacts locked and marked per statement by :func:`retry_tag_pushes`.
RETRY_BATCH = 500


def retryable_tag_pushes(queryset: QuerySet[Contact]) -> QuerySet[Contact]:
    """The contacts of ``queryset`` whose tag push failed, or has been pending for longer
    than :data:`STALE_TAG_PUSH` (``updated_at`` is when it was queued)."""
    stale = timezone.now() - STALE_TAG_PUSH
    return queryset.filter(
        Q(tag_sync_state=TagSync.FAILED) | Q(tag_sync_state=TagSync.PENDING, updated_at__lt=stale)
    )


def retry_tag_pushes(queryset: QuerySet[Contact]) -> list[int]:
    """Mark the contacts of ``queryset`` whose tag push failed or is stuck (see
    :func:`retryable_tag_pushes`) ``pending`` again, and push their current tag after the
    commit, as :func:`set_tag` does; returns their primary keys (empty: nothing to retry).
    Other contacts are left alone. Each batch is locked while it is marked, so two
    retries at once queue each push once."""
    pks = list(retryable_tag_pushes(queryset.order_by("pk")).values_list("pk", flat=True))
    queued: list[int] = []
    with transaction.atomic():
        for start in range(0, len(pks), RETRY_BATCH):
            batch = pks[start : start + RETRY_BATCH]
            marked = list(
                retryable_tag_pushes(
                    Contact.objects.select_for_update().filter(pk__in=batch)
                ).values_list("pk", flat=True)
            )
            Contact.objects.filter(pk__in=marked).update(
                tag_sync_state=TagSync.PENDING, tag_sync_error="", updated_at=timezone.now()
            )
            queued.extend(marked)
        for pk in queued:
            transaction.on_commit(partial(_queue.enqueue, "push_contact_tag", pk))
    return queued


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
        transaction.on_commit(lambda: _queue.enqueue("push_contact_tag", contact_id))
    return contact


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
