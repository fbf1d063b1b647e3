"""A real browser signs up on the example project, reading the code from the server's console.

Headless Chromium (Debian's ``chromium``, driven by Playwright's sync API) goes through the
example project served by tests/support/example_server.py on the console backend: home page,
signup form, django-textlink's confirm page (the resend countdown runs in JavaScript), a wrong
code, the right code read from the server's stdout, and the home page signed in.

Without ``chromium`` on PATH or the ``playwright`` package the test is skipped, or fails when
``TEXTLINK_REQUIRE_BROWSER=1`` (CI sets it). With ``TEXTLINK_SCREENSHOTS_DIR`` set, the
confirm page's screenshot is copied there as ``verify-confirm.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.browser import chromium_page, collect_js_errors
from tests.support.example_server import run_example

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

# The example project, on its own SQLite database (own_database).
pytestmark = [pytest.mark.browser, pytest.mark.own_database]

CODE_RE = re.compile(r"verification code is (\d{6})")
PHONE = "+12025550143"


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page() as page:
        yield page


def _wait_for_code(log_path: Path, timeout: float = 10) -> str:
    """The verification code the console backend printed on the server's stdout."""
    deadline = time.monotonic() + timeout
    while True:
        codes = CODE_RE.findall(log_path.read_text())
        if codes:
            assert len(codes) == 1, f"one code sent, not {len(codes)}"
            return str(codes[0])
        if time.monotonic() > deadline:
            pytest.fail(f"no verification code in the server log:\n{log_path.read_text()}")
        time.sleep(0.1)


def test_signup_with_phone_verification_in_a_real_browser(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    seen: list[str] = []  # every URL and page HTML the browser had

    def step() -> None:
        seen.extend([page.url, page.content()])

    js_errors = collect_js_errors(page)  # uncaught exceptions and console errors
    failed: list[str] = []  # every answer of 400 or more (the favicon included)

    def on_response(answer: Response) -> None:
        if answer.status >= 400:
            failed.append(answer.url)

    page.on("response", on_response)

    with run_example(tmp_path, TEXTLINK_API_KEY="") as (url, log_path):
        page.goto(url)
        step()
        page.get_by_role("link", name="Sign up with phone verification").click()
        expect(page).to_have_url(f"{url}signup/")
        step()

        # Django's labels end with ":" ("Password:"), django-textlink's do not ("Code").
        page.get_by_label(re.compile(r"^Username:?$")).fill("ada")
        page.get_by_label(re.compile(r"^Password:?$")).fill("correct-horse-battery-staple")
        page.get_by_label(re.compile(r"^Password confirmation:?$")).fill(
            "correct-horse-battery-staple"
        )
        page.get_by_label(re.compile(r"^Phone number:?$")).fill("+1 202 555 0143")
        page.get_by_role("button", name="Sign up").click()

        # django-textlink's confirm page, coming back to the example's /signup/complete/.
        expect(page).to_have_url(f"{url}textlink/verify/confirm/?next=%2Fsignup%2Fcomplete%2F")
        expect(page.get_by_role("heading", name="Enter the code")).to_be_visible()
        expect(page.locator("main")).to_contain_text(f"We sent a code by SMS to {PHONE}.")
        step()

        # countdown.js disabled the resend button (the server renders it enabled) and
        # rewrote the server's "in 60 seconds." as its own "in N s.", counting down.
        resend = page.get_by_role("button", name="Send a new code")
        expect(resend).to_be_disabled()
        # "Verify" and "Send a new code", one above the other, are one size.
        heights = {
            round(box["height"])
            for box in (
                page.get_by_role("button", name="Verify").bounding_box(),
                resend.bounding_box(),
            )
            if box is not None
        }
        assert len(heights) == 1, heights
        countdown = page.locator("#resend-countdown")
        expect(countdown).to_have_text(re.compile(r"You can request a new code in \d+ s\."))
        match = re.search(r"in (\d+) s\.", countdown.inner_text())
        assert match
        first = int(match.group(1))
        assert 0 < first <= 61  # RESEND_COOLDOWN=60, rounded up to the next 1 s slice
        expect(countdown).not_to_have_text(f"You can request a new code in {first} s.")
        step()
        screenshot = tmp_path / "verify-confirm.png"
        page.screenshot(path=screenshot, full_page=True)
        if os.environ.get("TEXTLINK_SCREENSHOTS_DIR"):
            target = Path(os.environ["TEXTLINK_SCREENSHOTS_DIR"])
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(screenshot, target / "verify-confirm.png")

        code = _wait_for_code(log_path)
        assert f"To: {PHONE}" in log_path.read_text()

        wrong = f"{(int(code) + 1) % 10**6:06d}"
        page.get_by_label(re.compile(r"^Code:?$")).fill(wrong)
        page.get_by_role("button", name="Verify").click()
        expect(page.locator("#id_code_error")).to_have_text(
            "That code is not right. Check the SMS and try again."
        )
        expect(page.get_by_role("heading", name="Enter the code")).to_be_visible()
        step()

        page.get_by_label(re.compile(r"^Code:?$")).fill(code)
        page.get_by_role("button", name="Verify").click()
        expect(page).to_have_url(url)
        expect(page.locator("#signed-in")).to_have_text(
            f"Signed in as ada, phone {PHONE} verified."
        )
        step()
        cookies = page.context.cookies()

        # The header's "Log out" (a POST, as Django 5 requires) signs the visitor out.
        page.locator("#account").get_by_role("button", name="Log out").click()
        expect(page).to_have_url(url)
        expect(page.locator("#signed-in")).to_have_count(0)
        expect(page.locator("#account")).to_contain_text("Staff log in")
        log = log_path.read_text()

    assert len(seen) == 2 * 6  # URL and HTML of the six steps
    for text in seen:
        assert code not in text, "the code reached the browser"
    assert {cookie["name"] for cookie in cookies} >= {"sessionid", "csrftoken"}
    for cookie in cookies:
        assert code not in cookie["name"] + cookie["value"], "the code is in a cookie"
    assert not js_errors
    assert failed == []  # no 404 for /favicon.ico either
    assert "Traceback" not in log


def test_the_api_docs_page_shows_our_operations_without_any_cdn(page: Page, tmp_path: Path) -> None:
    """/api/textlink/docs/ is Swagger UI over our schema, from files the site serves
    itself: the browser asks nothing of any other host (the machine is offline)."""
    from playwright.sync_api import expect

    js_errors = collect_js_errors(page)
    elsewhere: list[str] = []

    def only_this_site(route: Any) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_site)
    with run_example(tmp_path, TEXTLINK_API_KEY="") as (url, _log):
        page.goto(url)
        page.get_by_role("link", name="The phone verification API's documentation").click()
        expect(page).to_have_url(f"{url}api/textlink/docs/")
        operations = page.locator(".opblock-summary")
        expect(operations.filter(has_text="/api/textlink/verify/send/")).to_contain_text(
            "Send a verification code"
        )
        expect(operations.filter(has_text="/api/textlink/verify/check/")).to_contain_text(
            "Check a verification code"
        )
        expect(page.locator("#textlink-api-schema-yaml")).to_have_attribute(
            "href", "/api/textlink/schema/"
        )

    assert elsewhere == []
    assert not js_errors
