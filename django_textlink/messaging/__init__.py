"""Sending SMS: one message (:func:`send_sms`), or one text to many recipients (a
:class:`~django_textlink.models.Broadcast`, :func:`create_broadcast`), off the request
on background workers.

* :mod:`.single`: one message: the row first, one attempt, its outcome.
* :mod:`.recipients`: a bulk send's recipients, read once and stored in batches.
* :mod:`.claim`: workers claim a chunk's messages, never the same one twice.
* :mod:`.pacing`: the rate limit and the pause for TextLink's 429.
* :mod:`.run`: chunks, their tasks, recovery (:func:`resume_broadcast`) and retries
  (:func:`requeue`).
"""

from __future__ import annotations

from django_textlink.messaging.pacing import Pacer
from django_textlink.messaging.recipients import (
    Recipient,
    RecipientScreen,
    create_broadcast,
    known_contacts,
)
from django_textlink.messaging.run import (
    chunk_ranges,
    enqueue_broadcast,
    requeue,
    resume_broadcast,
    run_chunk,
    send_queued,
)
from django_textlink.messaging.single import MAX_TEXT_LENGTH, deliver, new_custom_id, send_sms

__all__ = [
    "MAX_TEXT_LENGTH",
    "Pacer",
    "Recipient",
    "RecipientScreen",
    "chunk_ranges",
    "create_broadcast",
    "deliver",
    "enqueue_broadcast",
    "known_contacts",
    "new_custom_id",
    "requeue",
    "resume_broadcast",
    "run_chunk",
    "send_queued",
    "send_sms",
]
