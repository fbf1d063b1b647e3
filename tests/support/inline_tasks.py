"""The tasks framework in tests: make django-textlink's background tasks run inline for
one test (:func:`run_tasks_inline`), or point ``settings.TASKS`` at one of the
framework's backends (:func:`tasks_setting`).

With a tasks framework installed (``django.tasks`` on Django 6, the ``django-tasks``
backport on 5.2), bulk sends and retries go to ``settings.TASKS``; tests that check what
was sent want Django's ImmediateBackend there whatever an earlier test left behind.
Without a framework, tasks run inline anyway.
"""

from __future__ import annotations

import importlib
from contextlib import suppress
from typing import Any

import django

from django_textlink import tasks


def run_tasks_inline(settings: Any) -> None:
    """Point ``TASKS["default"]`` at the ImmediateBackend (``settings``: pytest-django's
    fixture, which restores the old value after the test)."""
    if not tasks.tasks_available():
        return
    package = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
    with suppress(ImportError):  # its receiver resets the cached backends on TASKS changes
        importlib.import_module(f"{package}.signals")
    settings.TASKS = {"default": {"BACKEND": f"{package}.backends.immediate.ImmediateBackend"}}


def framework() -> Any:
    """The tasks package tasks.py uses: ``django.tasks`` or ``django_tasks``."""
    assert tasks.tasks_available(), "the test extras install a tasks framework"
    module = tasks.send_broadcast_chunk.__class__.__module__  # "<package>.base"
    package = importlib.import_module(module.rsplit(".", 1)[0])
    importlib.import_module(f"{package.__name__}.signals")  # resets backends on TASKS changes
    return package


def tasks_setting(backend: str, alias: str = "default") -> dict[str, Any]:
    return {alias: {"BACKEND": f"{framework().__name__}.backends.{backend}"}}
