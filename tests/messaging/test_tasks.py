"""django_textlink.tasks goes through Django's tasks framework (django.tasks on Django 6,
the django-tasks backport on 5.2), and runs inline when neither is installed.

tests/e2e/test_tasks_worker.py runs the same tasks in a real ``db_worker`` process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from django.utils.module_loading import import_string

from django_textlink import _queue, sending, tasks
from django_textlink.models import SMSMessage
from tests.support.inline_tasks import framework, tasks_setting

pytestmark = pytest.mark.django_db

NUMBERS = [f"+1202555{n:04d}" for n in range(100, 105)]
LOCMEM = "django_textlink.backends.locmem.LocMemBackend"


@pytest.fixture
def dummy_backend(settings: Any) -> Iterator[Any]:
    """Tasks are stored in memory, never run (Django's DummyBackend). Set through
    pytest-django's ``settings``, so that it is undone in order with the test's other
    setting changes (an override_settings() here would be undone before them, and their
    undoing would bring TASKS back)."""
    settings.TASKS = tasks_setting("dummy.DummyBackend")
    backend = framework().task_backends["default"]
    yield backend
    backend.clear()


def test_on_this_django_the_tasks_framework_is_the_expected_one() -> None:
    import django

    expected = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
    assert framework().__name__ == expected


@pytest.mark.parametrize(
    "name", ["send_broadcast_chunk", "send_messages", "push_contact_tag", "process_webhook_event"]
)
def test_each_task_is_found_again_by_its_module_path(name: str) -> None:
    """Workers (db_worker, RQ, Celery) import ``Task.module_path``: it must be the Task."""
    task = getattr(tasks, name)
    assert task.module_path == f"django_textlink.tasks.{name}"
    assert import_string(task.module_path) is task


def test_a_broadcast_is_enqueued_chunk_by_chunk_and_nothing_is_sent(
    dummy_backend: Any, settings: Any, django_capture_on_commit_callbacks: Any, textlink_outbox
) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "BACKEND": LOCMEM, "BULK_CHUNK_SIZE": 2}
    with django_capture_on_commit_callbacks(execute=True):
        broadcast = sending.create_broadcast(NUMBERS, "Hello")
    pks = sorted(broadcast.messages.values_list("pk", flat=True))

    results = dummy_backend.results
    chunk_task = "django_textlink.tasks.send_broadcast_chunk"
    assert [r.task.module_path for r in results] == [chunk_task] * 3
    assert [list(r.args) for r in results] == [
        [broadcast.pk, 1, pks[1]],
        [broadcast.pk, pks[1] + 1, pks[3]],
        [broadcast.pk, pks[3] + 1, pks[4]],
    ]
    assert {r.status for r in results} == {"READY"}
    assert all(r.backend == "default" for r in results)
    assert textlink_outbox == []
    assert set(broadcast.messages.values_list("status", flat=True)) == {SMSMessage.Status.QUEUED}


def test_task_backend_setting_picks_the_alias(settings: Any) -> None:
    aliases = {
        **tasks_setting("immediate.ImmediateBackend"),
        **tasks_setting("dummy.DummyBackend", alias="textlink"),
    }
    settings.TEXTLINK = {**settings.TEXTLINK, "TASK_BACKEND": "textlink"}
    with override_settings(TASKS=aliases):
        result = tasks.enqueue_messages([3, 4])
        backend = framework().task_backends["textlink"]
        assert result.backend == "textlink"
        assert [list(r.args) for r in backend.results] == [[[3, 4]]]
        assert backend.results[0].task.module_path == "django_textlink.tasks.send_messages"
        backend.clear()


def test_the_immediate_backend_sends_inline(
    settings: Any, django_capture_on_commit_callbacks: Any, textlink_outbox
) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "BACKEND": LOCMEM, "BULK_CHUNK_SIZE": 2}
    with (
        override_settings(TASKS=tasks_setting("immediate.ImmediateBackend")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        broadcast = sending.create_broadcast(NUMBERS, "Hello")
    assert sorted(entry.phone_number for entry in textlink_outbox) == NUMBERS
    assert set(broadcast.messages.values_list("status", flat=True)) == {SMSMessage.Status.SENT}
    broadcast.refresh_from_db()
    assert broadcast.finished_at is not None


def test_immediate_result_is_successful_with_the_chunk_totals(settings: Any) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "BACKEND": LOCMEM}
    broadcast = sending.create_broadcast(NUMBERS[:2], "Hello", enqueue=False)
    pks = sorted(broadcast.messages.values_list("pk", flat=True))
    with override_settings(TASKS=tasks_setting("immediate.ImmediateBackend")):
        result = tasks.enqueue_chunk(broadcast.pk, pks[0], pks[-1])
    assert result.status == "SUCCESSFUL"
    assert result.return_value == {SMSMessage.Status.SENT: 2}


def test_without_a_tasks_framework_tasks_run_inline(
    monkeypatch: pytest.MonkeyPatch, settings: Any, textlink_outbox
) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "BACKEND": LOCMEM}
    monkeypatch.setattr(_queue, "_task", None)
    plain = tasks.send_broadcast_chunk.func  # type: ignore[attr-defined]
    monkeypatch.setitem(_queue._registry, "send_broadcast_chunk", plain)
    broadcast = sending.create_broadcast(NUMBERS[:3], "Hello", enqueue=False)
    pks = sorted(broadcast.messages.values_list("pk", flat=True))

    assert tasks.enqueue_chunk(broadcast.pk, pks[0], pks[-1]) is None
    assert not tasks.tasks_available()
    assert len(textlink_outbox) == 3
    assert set(broadcast.messages.values_list("status", flat=True)) == {SMSMessage.Status.SENT}
