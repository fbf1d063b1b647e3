"""Background tasks, on Django's tasks framework (see :mod:`django_textlink._queue` for
which framework and backend run them).

With ``django-tasks-db``, ``manage.py db_worker`` runs them in a separate process; RQ or
Celery work through their ``django.tasks`` backends (see docs/tasks.md).

The tasks are thin: each calls one service. Their arguments are plain integers
(JSON-serializable, as every backend that stores tasks requires). The services never
import this module: they enqueue by name through :func:`django_textlink._queue.enqueue`.

A worker finds a task again by its function's dotted path (``Task.module_path``, e.g.
``django_textlink.tasks.send_broadcast_chunk``), which must point at the Task object
itself: so each task is the module attribute named like its function.
"""

from __future__ import annotations

from typing import Any

from django_textlink import _queue
from django_textlink.contacts import tags
from django_textlink.messaging import run
from django_textlink.webhooks import store

tasks_available = _queue.tasks_available


def send_broadcast_chunk(broadcast_id: int, first_pk: int, last_pk: int) -> dict[str, int]:
    """Send the queued messages of one chunk of a broadcast (see ``messaging.run_chunk``)."""
    return run.run_chunk(broadcast_id, first_pk, last_pk)


def send_messages(message_ids: list[int]) -> None:
    """Send the given messages that are still queued (retries)."""
    run.send_queued(message_ids)


def push_contact_tag(contact_id: int) -> None:
    """Push a contact's tag to TextLink (see ``contacts.push_tag``)."""
    tags.push_tag(contact_id)


def process_webhook_event(event_id: int) -> None:
    """Process a stored webhook event (see ``webhooks.store.process_event``)."""
    store.process_event(event_id)


# Rebind each name to its Task, so that ``Task.module_path`` resolves to the Task.
send_broadcast_chunk = _queue.define(send_broadcast_chunk)
send_messages = _queue.define(send_messages)
push_contact_tag = _queue.define(push_contact_tag)
process_webhook_event = _queue.define(process_webhook_event)


def enqueue_chunk(broadcast_id: int, first_pk: int, last_pk: int) -> Any:
    return _queue.enqueue("send_broadcast_chunk", broadcast_id, first_pk, last_pk)


def enqueue_messages(message_ids: list[int]) -> Any:
    return _queue.enqueue("send_messages", [int(pk) for pk in message_ids])


def enqueue_tag_push(contact_id: int) -> Any:
    return _queue.enqueue("push_contact_tag", int(contact_id))


def enqueue_webhook_event(event_id: int) -> Any:
    return _queue.enqueue("process_webhook_event", int(event_id))
