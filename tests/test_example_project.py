"""The example project (what `make demo` runs) really starts and works.

Runs the example's own manage.py in a subprocess, as a user would, on a throwaway SQLite
database: migrate, then the development server on a free port.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "example_project"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEXTLINK_", "DJANGO_")) and key != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'example.sqlite3'}",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@contextmanager
def run_example(tmp_path: Path, **extra: str) -> Iterator[tuple[str, Path]]:
    env = _env(tmp_path, **extra)
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput", "-v0"], cwd=EXAMPLE_DIR, env=env, check=True, timeout=120
    )
    port = _free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=EXAMPLE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(url, timeout=2)
                    break
                except requests.ConnectionError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"example server did not start:\n{log_path.read_text()}")
                    time.sleep(0.2)
            yield url, log_path
        finally:
            server.terminate()
            server.wait(timeout=10)


def test_example_without_api_key_runs_on_console_backend_and_sends(tmp_path: Path) -> None:
    with run_example(tmp_path, TEXTLINK_API_KEY="") as (url, log_path):
        session = requests.Session()
        page = session.get(url, timeout=5)
        assert page.status_code == 200
        assert "ConsoleBackend" in page.text
        assert "no SMS leaves this machine" in page.text

        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "the test-SMS form is offered on the console backend"
        answer = session.post(
            url,
            data={
                "csrfmiddlewaretoken": token.group(1),
                "phone_number": "+1 202 555 0143",
                "text": "Hello from the example",
            },
            headers={"Referer": url},
            timeout=5,
        )
        assert answer.status_code == 200
        assert "Message accepted." in answer.text
        deadline = time.monotonic() + 5
        while "Hello from the example" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = log_path.read_text()
        assert "Hello from the example" in log
        assert "To: +12025550143" in log


def test_example_with_api_key_uses_http_backend_and_hides_the_form(tmp_path: Path) -> None:
    with run_example(tmp_path, TEXTLINK_API_KEY="tl-example-key") as (url, _log):
        page = requests.get(url, timeout=5)
        assert "TextLinkBackend" in page.text
        assert "https://textlinksms.com/api" in page.text
        assert "tl-example-key" not in page.text
        assert 'name="text"' not in page.text, "anonymous visitors cannot spend SMS credit"


def test_example_settings_pass_system_checks(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=EXAMPLE_DIR,
        env=_env(tmp_path, TEXTLINK_API_KEY=""),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
