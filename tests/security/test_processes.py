"""Several processes attack the same limits at once, as the workers of one site do.

Threads share one interpreter (and one LocMem cache); a deployment runs several
processes that share nothing but the database. Each test starts four real Python
processes (``tests/support/limit_worker.py``) on the test's own database (a file SQLite
database, or PostgreSQL in CI), releases them at the same moment and adds up what they
got through. None of the limits may be exceeded, and none undershot: the database store
decides one request after the other.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from django_textlink.verification import PhoneVerification
from tests.support.concurrency import file_sqlite_database
from tests.support.paths import ROOT

WORKERS = 4
PHONE = "+12025550143"
COUNTING = "tests.support.limit_worker.CountingBackend"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]  # real processes


@pytest.fixture
def shared_db(tmp_path: Path, settings: Any) -> Iterator[None]:
    settings.TEXTLINK = {
        **settings.TEXTLINK,
        "BACKEND": "tests.support.limit_worker.CountingBackend",
    }
    yield from file_sqlite_database(tmp_path)


def run_workers(
    tmp_path: Path, jobs: list[list[list[Any]]], **textlink: Any
) -> list[dict[str, Any]]:
    """Run one process per job (a list of calls), all released at once; their reports."""
    database = {
        key: connection.settings_dict[key]
        for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
        if key in connection.settings_dict
    }
    ready = tmp_path / "ready"  # each worker starts once all have set Django up
    ready.mkdir(exist_ok=True)
    processes = []
    for index, calls in enumerate(jobs):
        job = {
            "database": database,
            "textlink": textlink,
            "ready_dir": str(ready),
            "workers": len(jobs),
            "calls": calls,
        }
        job_file = tmp_path / f"job-{index}.json"
        job_file.write_text(json.dumps(job))
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.limit_worker", str(job_file)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
    reports = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:  # a failed worker must not leave the others running into the next test
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate()
    return reports


def tally(reports: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str(outcome) for report in reports for outcome in report["outcomes"])


def phone(n: int) -> str:
    return f"+1202555{n:04d}"


def test_sends_per_ip_hold_across_processes(shared_db: None, tmp_path: Path) -> None:
    jobs = [
        [["start", phone(100 + w * 10 + i), "198.51.100.7"] for i in range(10)]
        for w in range(WORKERS)
    ]
    # The per-IP limit alone: the fraud guard would challenge one IP's 4th number.
    outcomes = tally(run_workers(tmp_path, jobs, FRAUD_GUARD={"MODE": "off"}))
    assert outcomes == {"sent": 10, "sends_per_ip": 30}


def test_the_resend_cooldown_holds_across_processes(shared_db: None, tmp_path: Path) -> None:
    jobs = [
        [["start", PHONE, f"198.51.100.{w * 10 + i}"] for i in range(5)] for w in range(WORKERS)
    ]
    outcomes = tally(run_workers(tmp_path, jobs))
    assert outcomes == {"sent": 1, "resend_cooldown": 19}


def test_the_daily_budget_holds_across_processes(shared_db: None, tmp_path: Path) -> None:
    jobs = [
        [["start", phone(200 + w * 10 + i), f"203.0.113.{w * 10 + i}"] for i in range(5)]
        for w in range(WORKERS)
    ]
    # The budget alone: the fraud guard would also count the range and the /24.
    outcomes = tally(run_workers(tmp_path, jobs, DAILY_SEND_BUDGET=7, FRAUD_GUARD={"MODE": "off"}))
    assert outcomes == {"sent": 7, "daily_budget": 13}


def test_wrong_codes_hold_across_processes(shared_db: None, tmp_path: Path) -> None:
    PhoneVerification().start(PHONE)  # a live code, in the database store
    jobs = [
        [["check", PHONE, "000000", f"203.0.113.{w}"] for _ in range(5)] for w in range(WORKERS)
    ]
    reports = run_workers(tmp_path, jobs)
    assert sum(report["verify_calls"] for report in reports) == 5  # TextLink asked 5 times
    assert tally(reports) == {"checked": 5, "wrong_codes": 15}


def test_the_code_sms_is_recognised_by_another_process(shared_db: None, tmp_path: Path) -> None:
    """TextLink posts the sent webhook of the code SMS to whichever process it reaches:
    the marker written before the call is in the database, so that process drops the
    text (it carries the code) before anything stores it."""
    PhoneVerification().start(PHONE)
    payload = {"phone_number": PHONE, "text": "Your verification code is 482913", "sent": True}
    [report] = run_workers(tmp_path, [[["webhook", "sent", payload]]])
    [(stored, text)] = report["outcomes"]
    assert stored == "stored"
    assert "482913" not in str(text)


# -- the fraud guard's budgets hold across processes --------------------------------------------

#: The budgets alone decide (an attacker that solves every challenge gets through the
#: throttle zone anyway).
NO_CHALLENGE = {"CHALLENGE": None}


def test_a_range_s_budget_holds_across_processes(shared_db: None, tmp_path: Path) -> None:
    """4 processes pump one UK mobile range at once, each number from its own /24: exactly
    the range's budget (5) goes out, and every other attempt meets its block."""
    jobs = [
        [["start", f"+4474001200{w * 10 + i:02d}", f"198.{w}.{i}.7"] for i in range(10)]
        for w in range(WORKERS)
    ]
    outcomes = tally(run_workers(tmp_path, jobs, **NO_CHALLENGE))
    assert outcomes == {"sent": 5, "range_blocked": 35}


def test_a_country_s_budget_holds_across_processes(shared_db: None, tmp_path: Path) -> None:
    """4 processes send one code each to 60 ranges of one country (nobody verifies): the
    country's budget (20 unjudged codes, then 10 throttled) holds exactly, though the
    figures the guard judges by are written after each send."""
    jobs = [
        [["start", f"+44740{w * 15 + i:02d}01234", f"203.{w}.{i}.9"] for i in range(15)]
        for w in range(WORKERS)
    ]
    outcomes = tally(run_workers(tmp_path, jobs, **NO_CHALLENGE))
    assert outcomes == {"sent": 30, "country_blocked": 30}
