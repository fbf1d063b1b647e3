"""The fraud guard's proof-of-work challenge, solved by a real browser.

The example project (its default fraud guard; the console backend) is served on
127.0.0.1, so every request comes from one network: its first three codes to different
numbers go out at once, the fourth is in the guard's throttle zone ("one network sending
to many numbers"). Headless Chromium asks for codes to four numbers on django-textlink's
own verify page; the fourth answers with the challenge, which proof_of_work.js solves at
the default difficulty and sends on its own, and the code goes out. The server checked
the solution (a page without JavaScript would have stayed on the challenge).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import chromium_page, collect_js_errors
from tests.support.example_server import run_example

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

pytestmark = [pytest.mark.browser, pytest.mark.own_database]

#: Four numbers in four different ranges: only the network's count asks for the challenge.
PHONES = ["+12025550143", "+13125550101", "+14155550199", "+16175550123"]
CODE_SENT_RE = re.compile(r"To: (\+\d+)")


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page() as page:
        yield page


def _ask_for_a_code(page: Page, url: str, phone: str) -> None:
    page.goto(f"{url}textlink/verify/")
    page.get_by_label(re.compile(r"^Phone number:?$")).fill(phone)
    page.get_by_role("button", name="Send me a code").click()


def _codes_sent_to(log_path: Path) -> list[str]:
    return CODE_SENT_RE.findall(log_path.read_text())


def test_a_browser_solves_the_proof_of_work_and_gets_its_code(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    js_errors = collect_js_errors(page)
    statuses: list[tuple[int, str]] = []

    def on_response(answer: Response) -> None:
        if "/textlink/verify/" in answer.url and answer.request.method == "POST":
            statuses.append((answer.status, answer.url))

    page.on("response", on_response)
    with run_example(tmp_path, TEXTLINK_API_KEY="") as (url, log_path):
        for phone in PHONES[:3]:
            _ask_for_a_code(page, url, phone)
            expect(page.get_by_role("heading", name="Enter the code")).to_be_visible()
        assert [status for status, _url in statuses] == [302, 302, 302]

        _ask_for_a_code(page, url, PHONES[3])
        # The challenge page shows first (403), then the browser sends the form again with
        # its solution and lands on the confirm step of the fourth number.
        expect(page.get_by_role("heading", name="Enter the code")).to_be_visible(timeout=30_000)
        expect(page.locator("main")).to_contain_text(f"We sent a code by SMS to {PHONES[3]}.")
        deadline = time.monotonic() + 10
        while len(_codes_sent_to(log_path)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        sent = _codes_sent_to(log_path)
        log = log_path.read_text()

    assert [status for status, _url in statuses] == [302, 302, 302, 403, 302]
    assert sent == PHONES  # one code each: the challenge itself sent nothing
    # Chromium reports the challenge page's 403 on its console; nothing else may be there.
    assert [error for error in js_errors if "status of 403" not in error] == []
    assert "Traceback" not in log


def test_without_javascript_the_challenge_stays_and_nothing_is_sent(tmp_path: Path) -> None:
    """The challenge is checked by the server: a browser that cannot solve it (JavaScript
    off) stays on the challenge, and no code goes out."""
    from playwright.sync_api import expect

    with (
        chromium_page() as page,
        run_example(tmp_path, TEXTLINK_API_KEY="") as (url, log_path),
    ):
        for phone in PHONES[:3]:
            _ask_for_a_code(page, url, phone)
            expect(page.get_by_role("heading", name="Enter the code")).to_be_visible()
        page.context.route("**/proof_of_work.js", lambda route: route.abort())
        _ask_for_a_code(page, url, PHONES[3])
        expect(page.locator("[data-textlink-proof-of-work]")).to_be_attached()
        expect(page.get_by_role("heading", name="Verify your phone number")).to_be_visible()
        # Sent as it is, with an empty solution: refused again, with a new challenge.
        page.get_by_role("button", name="Send me a code").click()
        expect(page.locator("[data-textlink-proof-of-work]")).to_be_attached()
        expect(page.locator("main")).to_contain_text("The check did not succeed")
        time.sleep(0.5)
        assert _codes_sent_to(log_path) == PHONES[:3]
