"""Contacts and their tags, synced both ways with TextLink, and opt-outs.

* :mod:`.book`: one contact per number (:func:`upsert_contact`), opt-out (:func:`set_opt_out`).
* :mod:`.tags`: tags pushed to TextLink off the request (:func:`set_tag`, :func:`push_tag`,
  :func:`retry_tag_pushes`) and taken from it without an echo (:func:`apply_remote_tag`).
"""

from __future__ import annotations

from django_textlink.contacts.book import set_opt_out, upsert_contact
from django_textlink.contacts.tags import (
    STALE_TAG_PUSH,
    apply_remote_tag,
    push_tag,
    retry_tag_pushes,
    retryable_tag_pushes,
    set_tag,
)

__all__ = [
    "STALE_TAG_PUSH",
    "apply_remote_tag",
    "push_tag",
    "retry_tag_pushes",
    "retryable_tag_pushes",
    "set_opt_out",
    "set_tag",
    "upsert_contact",
]
