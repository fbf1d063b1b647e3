"""Bulk sends through a real background worker: the example project with
``TEXTLINK_TASKS=db`` (django-tasks-db), its ``manage.py db_worker`` in a separate process,
and the TextLink sandbox (django_textlink.sandbox.run_sandbox) in this process.

* A CSV file enqueued with ``textlink_send --enqueue`` is sent by the worker, every number
  exactly once.
* A worker killed with SIGKILL mid-send: ``textlink_resume`` marks the messages it had
  claimed ``unknown`` (they may have been sent) and enqueues the rest; a new worker
  finishes, and no number is ever sent twice.

Every wait has a deadline, and every child process is killed on the way out.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

import pytest

from django_textlink.models import SMSMessage
from django_textlink.sandbox import RunningSandbox, run_sandbox
from tests.support.example_server import example_env
from tests.support.paths import EXAMPLE_DIR

# The example project and its db_worker, on their own SQLite database (own_database).
pytestmark = [pytest.mark.worker, pytest.mark.own_database]

Status = SMSMessage.Status
TABLE = SMSMessage._meta.db_table
COMMAND_TIMEOUT = 120  # one manage.py command (migrate is the slowest)


def numbers(count: int) -> list[str]:
    return [f"+1202555{n:04d}" for n in range(100, 100 + count)]


def write_csv(path: Path, phones: list[str]) -> Path:
    path.write_text("name,phone_number\n" + "".join(f"n{i},{p}\n" for i, p in enumerate(phones)))
    return path


def worker_env(tmp_path: Path, server: RunningSandbox, **extra: str) -> dict[str, str]:
    return example_env(
        tmp_path,
        TEXTLINK_TASKS="db",
        TEXTLINK_API_KEY=server.api_key,
        TEXTLINK_BASE_URL=server.base_url,
        **extra,
    )


def manage(env: dict[str, str], *args: str) -> str:
    """Run one manage.py command of the example; its output, or the test fails."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{output}"
    return output


@contextmanager
def db_worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``manage.py db_worker`` in its own process (no autoreloader: one process to kill)."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.1",
             "--no-startup-delay"],
            cwd=EXAMPLE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def stop_gracefully(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a process manager stops a worker; its exit status."""
    process.terminate()
    return process.wait(timeout=15)


def wait_for(
    condition: Callable[[], bool],
    what: str,
    *,
    timeout: float,
    workers: list[subprocess.Popen[bytes]],
    log_path: Path,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if any(worker.poll() is not None for worker in workers):
            pytest.fail(f"the worker exited while waiting for {what}:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}:\n{log_path.read_text()}")
        time.sleep(0.01)


def sent_phones(server: RunningSandbox) -> list[str]:
    """Every send-sms request the sandbox received (on arrival, before its answer)."""
    return [call.request["phone_number"] for call in server.api_calls("send-sms")]


def statuses(db_path: Path, broadcast_id: int) -> dict[str, str]:
    """``{phone_number: status}`` of the bulk send, read from the example's SQLite file."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as db:
        rows = db.execute(
            f"SELECT phone_number, status FROM {TABLE} WHERE broadcast_id = ?",  # noqa: S608
            (broadcast_id,),
        ).fetchall()
    return dict(rows)


def broadcast_finished(db_path: Path, broadcast_id: int) -> bool:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as db:
        (finished_at,) = db.execute(
            "SELECT finished_at FROM django_textlink_broadcast WHERE id = ?", (broadcast_id,)
        ).fetchone()
    return finished_at is not None


def enqueue_csv(env: dict[str, str], csv_path: Path) -> int:
    output = manage(env, "textlink_send", "--csv", str(csv_path), "--text", "hi", "--enqueue")
    found = re.search(r"Bulk send #(\d+) enqueued on task backend 'default'", output)
    assert found, output
    return int(found.group(1))


def test_db_worker_sends_an_enqueued_csv_once_per_number(tmp_path: Path) -> None:
    phones = numbers(30)
    log_path = tmp_path / "worker.log"
    db_path = tmp_path / "example.sqlite3"
    with run_sandbox() as server:
        env = worker_env(tmp_path, server, TEXTLINK_BULK_CHUNK_SIZE="10")
        manage(env, "migrate", "--noinput", "-v0")
        broadcast_id = enqueue_csv(env, write_csv(tmp_path / "numbers.csv", phones))
        assert sent_phones(server) == [], "--enqueue leaves the sending to the worker"
        assert set(statuses(db_path, broadcast_id).values()) == {Status.QUEUED}

        with db_worker(env, log_path) as worker:
            wait_for(
                lambda: (
                    len(sent_phones(server)) >= 30 and broadcast_finished(db_path, broadcast_id)
                ),
                "30 messages sent",
                timeout=60,
                workers=[worker],
                log_path=log_path,
            )
            assert stop_gracefully(worker) == 0

        assert Counter(sent_phones(server)) == Counter(phones), "every number exactly once"
        calls = server.api_calls()
        for call in calls:
            assert call.headers["Authorization"] == f"Bearer {server.api_key}"
            assert call.request["text"] == "hi"
        assert len({call.request["custom_id"] for call in calls}) == 30
    assert statuses(db_path, broadcast_id) == dict.fromkeys(phones, Status.SENT)
    log = log_path.read_text()
    assert log.count("path=django_textlink.tasks.send_broadcast_chunk state=SUCCESSFUL") == 3


def test_killed_worker_then_resume_sends_every_number_at_most_once(tmp_path: Path) -> None:
    phones = numbers(60)
    log_path = tmp_path / "worker.log"
    db_path = tmp_path / "example.sqlite3"
    # 5 at a time, 0.5 s per answer: about 6 s of sending, so the kill lands mid-send.
    with run_sandbox(latency=0.5) as server, ExitStack() as cleanup:
        env = worker_env(
            tmp_path, server, TEXTLINK_BULK_CHUNK_SIZE="20", TEXTLINK_BULK_CONCURRENCY="5"
        )
        manage(env, "migrate", "--noinput", "-v0")
        broadcast_id = enqueue_csv(env, write_csv(tmp_path / "numbers.csv", phones))

        first = cleanup.enter_context(db_worker(env, log_path))
        # Some batches answered, the next one just sent and waiting for its answers: kill.
        wait_for(
            lambda: len(sent_phones(server)) >= 15,
            "15 requests",
            timeout=60,
            workers=[first],
            log_path=log_path,
        )
        first.kill()  # SIGKILL: no cleanup of any kind in the worker
        first.wait(timeout=10)
        seen_before_kill = set(sent_phones(server))
        at_kill = statuses(db_path, broadcast_id)
        claimed_by_killed = {phone for phone, status in at_kill.items() if status == Status.SENDING}
        assert 15 <= len(seen_before_kill) < 60, "killed mid-send"
        assert claimed_by_killed, f"the killed worker held a claimed batch: {at_kill}"

        output = manage(env, "textlink_resume", "--stale-after", "0")
        assert f"Bulk send #{broadcast_id}: marked {len(claimed_by_killed)} unknown" in output

        second = cleanup.enter_context(db_worker(env, log_path))
        wait_for(
            lambda: broadcast_finished(db_path, broadcast_id),
            "the bulk send to finish",
            timeout=90,
            workers=[second],
            log_path=log_path,
        )
        assert stop_gracefully(second) == 0

        requested = Counter(sent_phones(server))
    final = statuses(db_path, broadcast_id)
    assert [phone for phone, times in requested.items() if times > 1] == [], "nobody twice"
    assert set(final.values()) <= {Status.SENT, Status.UNKNOWN}, final
    unknown = {phone for phone, status in final.items() if status == Status.UNKNOWN}
    sent = {phone for phone, status in final.items() if status == Status.SENT}
    assert unknown == claimed_by_killed, "unknown: exactly what the killed worker had claimed"
    assert len(sent) + len(unknown) == 60
    assert sent <= set(requested), "every message marked sent reached TextLink"
    assert set(requested) <= set(phones)


@pytest.mark.parametrize("tasks", ["immediate", "db"])
def test_example_task_settings_pass_system_checks(tmp_path: Path, tasks: str) -> None:
    env = example_env(tmp_path, TEXTLINK_API_KEY="", TEXTLINK_TASKS=tasks)
    output = manage(env, "check", "--fail-level", "WARNING")
    assert "no issues" in output


def test_example_refuses_an_unknown_task_setting(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=EXAMPLE_DIR,
        env=example_env(tmp_path, TEXTLINK_TASKS="celery"),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert result.returncode != 0
    assert "TEXTLINK_TASKS must be 'immediate' or 'db', got 'celery'" in result.stderr
