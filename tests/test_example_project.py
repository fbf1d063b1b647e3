"""The example project (what `make demo` runs) really starts and works.

Runs the example's own manage.py in a subprocess, as a user would, on a throwaway SQLite
database (see tests/support/example_server.py). tests/test_browser.py drives it with a
real browser.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.example_server import EXAMPLE_DIR, example_env, run_example


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
        env=example_env(tmp_path, TEXTLINK_API_KEY=""),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_on_the_sandbox_says_so_and_links_to_its_inbox(tmp_path: Path) -> None:
    """What `make demo` sets (example_project/demo.py): the HTTP backend pointed at the
    offline sandbox. Nothing needs to listen there to render the home page."""
    sandbox = "http://127.0.0.1:9"
    with run_example(
        tmp_path,
        TEXTLINK_API_KEY="sandbox-key",
        TEXTLINK_BASE_URL=f"{sandbox}/api",
        TEXTLINK_SANDBOX_URL=f"{sandbox}/",
    ) as (url, _log):
        page = requests.get(url, timeout=5)
        assert "TextLinkBackend" in page.text
        assert re.search(r"offline\s+<strong>TextLink sandbox</strong>", page.text)
        assert "no SMS leaves this machine" in page.text
        assert f'<a href="{sandbox}/">sandbox inbox</a>' in page.text
        assert 'name="text"' in page.text, "the sandbox costs nothing: anyone may try it"
        assert "sandbox-key" not in page.text
