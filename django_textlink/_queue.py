"""Handing work to the background tasks framework, for the services.

The services (messaging, contacts, webhooks) hand work to their background tasks
through this module, and the task objects in :mod:`django_textlink.tasks` call the
services: so that dependencies point one way (tasks -> services -> here), the tasks
register themselves here by name when :mod:`django_textlink.tasks` is imported (the app's
``ready()`` imports it), and the services enqueue by that name.

* Django 6: ``django.tasks`` (built in). Django 5.2: the ``django-tasks`` backport
  (``pip install django-textlink[tasks]``). Neither installed: a task runs inline when it
  is enqueued, as if through Django's ImmediateBackend.
* ``TEXTLINK["TASK_BACKEND"]`` picks the ``settings.TASKS`` alias that runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_textlink.conf import conf

_task: Callable[..., Any] | None
try:  # Django 6+
    from django.tasks import task as _task
except ImportError:  # pragma: no cover - depends on the Django version
    try:  # Django 5.2 with the django-tasks backport
        from django_tasks import task as _task  # type: ignore[import-not-found,no-redef,unused-ignore]
    except ImportError:
        _task = None

#: name -> the Task object (or, without a tasks framework, the plain function).
_registry: dict[str, Any] = {}


def tasks_available() -> bool:
    """Whether a tasks framework (django.tasks or django-tasks) is installed."""
    return _task is not None


def define(function: Callable[..., Any]) -> Any:
    """``function`` as a Task (or itself, without a tasks framework), registered under its
    name for :func:`enqueue`. The caller binds the result to the module attribute named
    like the function, so that ``Task.module_path`` resolves to the Task."""
    defined = function if _task is None else _task(function)
    _registry[function.__name__] = defined
    return defined


def enqueue(name: str, *args: Any) -> Any:
    """Hand the task registered as ``name`` to the configured backend and return its
    ``TaskResult``; without a tasks framework run it inline and return None."""
    try:
        task = _registry[name]
    except KeyError:
        raise RuntimeError(
            f"No django-textlink task named {name!r} is registered: is 'django_textlink' in "
            "INSTALLED_APPS (its ready() imports django_textlink.tasks)?"
        ) from None
    if _task is None:
        task(*args)
        return None
    return task.using(backend=conf.TASK_BACKEND).enqueue(*args)
