"""Background tasks, on Django's tasks framework.

* Django 6: ``django.tasks`` (built in). Django 5.2: the ``django-tasks`` backport.
  Neither installed: tasks run inline, as if through Django's ImmediateBackend.
* Which backend runs them is ``settings.TASKS`` (Django's default is the immediate,
  inline backend); ``TEXTLINK["TASK_BACKEND"]`` picks an alias other than ``"default"``.
  With ``django-tasks-db``, ``manage.py db_worker`` runs them in a separate process; RQ or
  Celery work through their ``django.tasks`` backends.

The tasks are thin: they call :mod:`django_textlink.sending`.
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


def _send_broadcast_chunk(broadcast_id: int, first_pk: int, last_pk: int) -> dict[str, int]:
    return sending.run_chunk(broadcast_id, first_pk, last_pk)


def _send_messages(message_ids: list[int]) -> None:
    sending.send_queued(message_ids)


if _task is not None:
    send_broadcast_chunk = _task(_send_broadcast_chunk)
    send_messages = _task(_send_messages)
else:  # pragma: no cover - depends on the installed packages
    send_broadcast_chunk = send_messages = None


def tasks_available() -> bool:
    """Whether a tasks framework (django.tasks or django-tasks) is installed."""
    return _task is not None


def _enqueue(task: Any, inline: Callable[..., Any], *args: Any) -> None:
    if task is None:
        inline(*args)
        return
    task.using(backend=conf.TASK_BACKEND).enqueue(*args)


def enqueue_chunk(broadcast_id: int, first_pk: int, last_pk: int) -> None:
    _enqueue(send_broadcast_chunk, _send_broadcast_chunk, broadcast_id, first_pk, last_pk)


def enqueue_messages(message_ids: list[int]) -> None:
    _enqueue(send_messages, _send_messages, list(message_ids))
