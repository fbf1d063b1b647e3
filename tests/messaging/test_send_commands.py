"""``manage.py textlink_send`` and ``manage.py textlink_resume``, in process.

tests/e2e/test_tasks_worker.py runs them in subprocesses against a real ``db_worker``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from django_textlink.models import Broadcast, Contact, SMSMessage
from tests.support.inline_tasks import framework, tasks_setting

pytestmark = pytest.mark.django_db

Status = SMSMessage.Status
SEND_URL = "https://textlinksms.test/api/send-sms"


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("textlink_send", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def write_csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "numbers.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- one message ------------------------------------------------------------------------------


def test_send_one(textlink_locmem: list[Any]) -> None:
    out = run("--to", "+1 202 555 0143", "--text", "Hi")
    message = SMSMessage.objects.get()
    assert f"SMS #{message.pk} to +12025550143 sent." in out
    assert message.status == Status.SENT
    assert [(e.phone_number, e.text) for e in textlink_locmem] == [("+12025550143", "Hi")]


def test_send_one_with_sim_card(textlink_locmem: list[Any]) -> None:
    run("--to", "+12025550143", "--text", "Hi", "--sim-card-id", "7")
    assert SMSMessage.objects.get().sim_card_id == 7


def test_send_one_failure_exits_non_zero_with_the_reason(mocked: Any) -> None:
    mocked.post(SEND_URL, json={"ok": False, "message": "Not enough credits"})
    with pytest.raises(CommandError, match=r"SMS #\d+ to \+12025550143 failed: Not enough credits"):
        run("--to", "+12025550143", "--text", "Hi")
    assert SMSMessage.objects.get().status == Status.FAILED


def test_send_one_unknown_outcome_says_it_may_have_been_sent(mocked: Any) -> None:
    mocked.post(SEND_URL, status=502)
    with pytest.raises(CommandError, match=r"unknown.*may have accepted it"):
        run("--to", "+12025550143", "--text", "Hi")
    assert SMSMessage.objects.get().status == Status.UNKNOWN


def test_send_one_invalid_number_stores_nothing(textlink_locmem: list[Any]) -> None:
    with pytest.raises(CommandError, match="Not sent: Enter"):
        run("--to", "12345", "--text", "Hi")
    assert not SMSMessage.objects.exists()


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_is_refused(textlink_locmem: list[Any], text: str) -> None:
    with pytest.raises(CommandError, match="--text must not be empty"):
        run("--to", "+12025550143", "--text", text)


def test_too_long_text_is_refused(textlink_locmem: list[Any]) -> None:
    with pytest.raises(CommandError, match="longer than 1600"):
        run("--to", "+12025550143", "--text", "x" * 1601)


def test_csv_options_are_refused_with_to(textlink_locmem: list[Any]) -> None:
    with pytest.raises(CommandError, match="only apply to --csv"):
        run("--to", "+12025550143", "--text", "Hi", "--enqueue")


def test_to_or_csv_is_required() -> None:
    with pytest.raises(CommandError, match="one of the arguments --to --csv is required"):
        run("--text", "Hi")


# -- a CSV file: reading -----------------------------------------------------------------------


def test_csv_header_with_the_default_column(textlink_locmem: list[Any], tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "name,Phone_Number\nAna,+12025550101\nBo,+12025550102\n\nCy,+12025550101\nDi,nope\n",
    )
    out = run("--csv", path, "--text", "Hi")
    broadcast = Broadcast.objects.get()
    assert (
        f"Bulk send #{broadcast.pk}: 2 recipients from 4 rows; skipped 1 invalid, "
        "1 duplicates, 0 opted out." in out
    )
    assert "invalid: 'nope'" in out
    assert sorted(e.phone_number for e in textlink_locmem) == ["+12025550101", "+12025550102"]


def test_csv_without_header_uses_the_first_column(
    textlink_locmem: list[Any], tmp_path: Path
) -> None:
    path = write_csv(tmp_path, "+12025550101,Ana\n+12025550102,Bo\n")
    run("--csv", path, "--text", "Hi")
    assert sorted(e.phone_number for e in textlink_locmem) == ["+12025550101", "+12025550102"]


def test_csv_named_column_and_bom(textlink_locmem: list[Any], tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text("\ufeffname,mobile\nAna,+12025550101\nBo\n", encoding="utf-8")
    out = run("--csv", str(path), "--column", "Mobile", "--text", "Hi")
    assert "1 recipients from 2 rows; skipped 1 invalid" in out
    assert [e.phone_number for e in textlink_locmem] == ["+12025550101"]


def test_csv_skips_contacts_who_opted_out(textlink_locmem: list[Any], tmp_path: Path) -> None:
    Contact.objects.create(phone_number="+12025550102", opted_out=True)
    path = write_csv(tmp_path, "+12025550101\n+12025550102\n")
    out = run("--csv", path, "--text", "Hi")
    assert "1 recipients from 2 rows; skipped 0 invalid, 0 duplicates, 1 opted out." in out


def test_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"No such file: .*missing\.csv"):
        run("--csv", str(tmp_path / "missing.csv"), "--text", "Hi")


def test_csv_missing_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "name,phone\nAna,+12025550101\n")
    with pytest.raises(CommandError, match="no column 'mobile': its first row is 'name', 'phone'"):
        run("--csv", path, "--column", "mobile", "--text", "Hi")
    assert not Broadcast.objects.exists()


def test_csv_empty_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="The CSV file is empty"):
        run("--csv", write_csv(tmp_path, ""), "--text", "Hi")


def test_csv_without_a_valid_number(textlink_locmem: list[Any], tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Nothing to send"):
        run("--csv", write_csv(tmp_path, "phone_number\nnope\n"), "--text", "Hi")


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_bytes(b"phone_number\n+12025550101\n\xff\xfe\n")
    with pytest.raises(CommandError, match="is not UTF-8 text"):
        run("--csv", str(path), "--text", "Hi")
    assert not Broadcast.objects.exists(), "the whole bulk send is rolled back"


# -- a CSV file: sending -----------------------------------------------------------------------


def test_csv_sends_here_with_a_progress_line(
    textlink_locmem: list[Any], tmp_path: Path, settings: Any
) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "BULK_CHUNK_SIZE": 100, "BULK_CONCURRENCY": 3}
    numbers = [f"+1202555{n:04d}" for n in range(100, 350)]
    out = run("--csv", write_csv(tmp_path, "\n".join(numbers)), "--text", "Hi")
    assert "\r[..............................] 0/250 sent, 0 failed" in out
    assert "\r[############..................] 100/250 sent, 0 failed" in out
    assert "\r[##############################] 250/250 sent, 0 failed\n" in out
    assert out.rstrip().endswith("250 sent, 0 failed, 0 unknown.")
    assert len(textlink_locmem) == 250
    assert Broadcast.objects.get().finished_at is not None


def test_csv_failures_are_counted_and_exit_non_zero(mocked: Any, tmp_path: Path) -> None:
    mocked.post(SEND_URL, json={"ok": False, "message": "Invalid phone number"})
    path = write_csv(tmp_path, "+12025550101\n+12025550102\n")
    with pytest.raises(CommandError, match=r"0 sent, 2 failed, 0 unknown\. Watch it"):
        run("--csv", path, "--text", "Hi")


def test_csv_enqueue_hands_the_chunks_to_the_task_backend(
    textlink_locmem: list[Any], tmp_path: Path, settings: Any
) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "BULK_CHUNK_SIZE": 2}
    with override_settings(TASKS=tasks_setting("dummy.DummyBackend")):
        backend = framework().task_backends["default"]
        path = write_csv(tmp_path, "+12025550101\n+12025550102\n+12025550103\n")
        out = run("--csv", path, "--text", "Hi", "--enqueue")
        results = list(backend.results)
        backend.clear()
    broadcast = Broadcast.objects.get()
    assert f"Bulk send #{broadcast.pk} enqueued on task backend 'default' (2 tasks)" in out
    assert f"manage.py textlink_resume {broadcast.pk}" in out
    assert len(results) == 2
    assert textlink_locmem == []
    assert set(broadcast.messages.values_list("status", flat=True)) == {Status.QUEUED}


def test_csv_enqueue_on_the_immediate_backend_sends_at_once(
    textlink_locmem: list[Any], tmp_path: Path
) -> None:
    with override_settings(TASKS=tasks_setting("immediate.ImmediateBackend")):
        out = run("--csv", write_csv(tmp_path, "+12025550101\n"), "--text", "Hi", "--enqueue")
    assert "ran the chunks at once" in out
    assert "1 sent, 0 failed, 0 unknown." in out
    assert len(textlink_locmem) == 1


# -- textlink_resume ---------------------------------------------------------------------------


def resume(*args: str) -> str:
    out = io.StringIO()
    call_command("textlink_resume", *args, stdout=out)
    return out.getvalue()


def abandoned_broadcast(claimed_ago: float) -> Broadcast:
    """Four messages: one sent, one left ``sending`` by a dead worker, two still queued."""
    from django_textlink import sending

    broadcast = sending.create_broadcast(
        [f"+1202555{n:04d}" for n in range(101, 105)], "Hi", enqueue=False
    )
    first, second, *_ = broadcast.messages.order_by("pk")
    SMSMessage.objects.filter(pk=first.pk).update(status=Status.SENT)
    SMSMessage.objects.filter(pk=second.pk).update(
        status=Status.SENDING, claimed_at=timezone.now() - timedelta(seconds=claimed_ago)
    )
    return broadcast


def test_resume_marks_abandoned_messages_unknown_and_sends_the_rest(
    textlink_locmem: list[Any],
) -> None:
    broadcast = abandoned_broadcast(claimed_ago=600)
    out = resume(str(broadcast.pk))
    assert (
        f"Bulk send #{broadcast.pk}: marked 1 unknown, enqueued 1 chunks. Now 3 sent, "
        "0 failed, 1 unknown, 0 queued, 0 sending." in out
    )
    assert len(textlink_locmem) == 2
    broadcast.refresh_from_db()
    assert broadcast.finished_at is not None


def test_resume_leaves_recent_claims_alone(textlink_locmem: list[Any]) -> None:
    broadcast = abandoned_broadcast(claimed_ago=10)
    out = resume("--stale-after", "60")
    assert "marked 0 unknown" in out
    assert "1 were claimed less than 60 s ago" in out
    assert SMSMessage.objects.filter(status=Status.SENDING).count() == 1
    resume(str(broadcast.pk), "--stale-after", "0")
    assert SMSMessage.objects.filter(status=Status.UNKNOWN).count() == 1


def test_resume_defaults_to_every_unfinished_broadcast(textlink_locmem: list[Any]) -> None:
    assert resume() == "No unfinished bulk sends.\n"
    one, two = abandoned_broadcast(600), abandoned_broadcast(600)
    out = resume()
    assert f"Bulk send #{one.pk}:" in out
    assert f"Bulk send #{two.pk}:" in out
    assert resume() == "No unfinished bulk sends.\n"


def test_resume_unknown_id() -> None:
    with pytest.raises(CommandError, match="No bulk send with id 41, 42"):
        resume("42", "41")


def test_resume_negative_stale_after() -> None:
    with pytest.raises(CommandError, match="--stale-after must be 0 or more"):
        resume("--stale-after", "-1")


def test_csv_enqueue_with_a_failing_task_backend(
    textlink_locmem: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_textlink import _queue

    def broker_down(*args: Any) -> None:
        raise ConnectionError("Error 111 connecting to localhost:6379. Connection refused.")

    monkeypatch.setattr(_queue, "enqueue", broker_down)
    with pytest.raises(CommandError) as caught:
        run("--csv", write_csv(tmp_path, "+12025550101\n"), "--text", "Hi", "--enqueue")
    broadcast = Broadcast.objects.get()
    assert str(caught.value) == (
        f"Bulk send #{broadcast.pk} is stored, but the task backend 'default' refused it: "
        "ConnectionError('Error 111 connecting to localhost:6379. Connection refused.'). "
        f"When it works again: manage.py textlink_resume {broadcast.pk}"
    )
    assert textlink_locmem == []
    assert set(broadcast.messages.values_list("status", flat=True)) == {Status.QUEUED}
