"""Background tasks, on Django's tasks framework.

* Django 6: ``django.tasks`` (built in). Django 5.2: the ``django-tasks`` backport
  (``pip install django-textlink[tasks]``). Neither installed: tasks run inline, as if
  through Django's ImmediateBackend.
* Which backend runs them is ``settings.TASKS`` (Django's default is the immediate,
  inline backend); ``TEXTLINK["TASK_BACKEND"]`` picks an alias other than ``"default"``.
  With ``django-tasks-db``, ``manage.py db_worker`` runs them in a separate process; RQ or
  Celery work through their ``django.tasks`` backends (see docs/tasks.md).

The tasks are thin: they call :mod:`django_textlink.sending`. Their arguments are plain
integers (JSON-serializable, as every backend that stores tasks requires).

A worker finds a task again by its function's dotted path (``Task.module_path``, e.g.
``django_textlink.tasks.send_broadcast_chunk``), which must point at the Task object
itself: so each task is the module attribute named like its function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django_textlink import sending
from django_textlink.conf import conf

logger = logging.getLogger("django_textlink.tasks")

_task: Callable[..., Any] | None
try:  # Django 6+
    from django.tasks import task as _task
except ImportError:  # pragma: no cover - depends on the Django version
    try:  # Django 5.2 with the django-tasks backport
        from django_tasks import task as _task  # type: ignore[import-not-found,no-redef,unused-ignore]
    except ImportError:
        _task = None


def send_broadcast_chunk(broadcast_id: int, first_pk: int, last_pk: int) -> dict[str, int]:
    """Send the queued messages of one chunk of a broadcast (see ``sending.run_chunk``)."""
    return sending.run_chunk(broadcast_id, first_pk, last_pk)


def send_messages(message_ids: list[int]) -> None:
    """Send the given messages that are still queued (retries)."""
    sending.send_queued(message_ids)


def push_contact_tag(contact_id: int) -> None:
    """Push a contact's tag to TextLink (see ``contacts.push_tag``)."""
    from django_textlink import contacts

    contacts.push_tag(contact_id)


def process_webhook_event(event_id: int) -> None:
    """Process a stored webhook event (see ``events.process_event``)."""
    from django_textlink import events

    events.process_event(event_id)


if _task is not None:
    # Rebind each name to its Task, so that ``Task.module_path`` resolves to the Task.
    send_broadcast_chunk = _task(send_broadcast_chunk)
    send_messages = _task(send_messages)
    push_contact_tag = _task(push_contact_tag)
    process_webhook_event = _task(process_webhook_event)


def tasks_available() -> bool:
    """Whether a tasks framework (django.tasks or django-tasks) is installed."""
    return _task is not None


def _enqueue(task: Any, *args: Any) -> Any:
    """Hand ``task`` to the configured backend and return its ``TaskResult``; without a
    tasks framework ``task`` is the plain function: run it inline, return None."""
    if _task is None:
        task(*args)
        return None
    return task.using(backend=conf.TASK_BACKEND).enqueue(*args)


def enqueue_chunk(broadcast_id: int, first_pk: int, last_pk: int) -> Any:
    return _enqueue(send_broadcast_chunk, broadcast_id, first_pk, last_pk)


def enqueue_messages(message_ids: list[int]) -> Any:
    return _enqueue(send_messages, [int(pk) for pk in message_ids])


def enqueue_tag_push(contact_id: int) -> Any:
    return _enqueue(push_contact_tag, int(contact_id))


def enqueue_webhook_event(event_id: int) -> Any:
    return _enqueue(process_webhook_event, int(event_id))
