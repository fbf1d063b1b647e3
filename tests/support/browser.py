"""Headless Chromium (Debian's ``chromium``) through Playwright, for the browser tests.

Without ``chromium`` on PATH or the ``playwright`` package a browser test is skipped, or
fails when ``TEXTLINK_REQUIRE_BROWSER=1`` (CI sets it)::

    @pytest.fixture
    def page() -> Iterator[Page]:
        with chromium_page() as page:
            yield page
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # Without these Chromium calls Google's servers at startup, and is refused here.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def missing_browser() -> str | None:
    """Why the browser cannot run, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return f"playwright is not importable ({err}; pip install -e '.[test]')"
    if shutil.which("chromium") is None:
        return "no `chromium` on PATH (Debian: apt-get install chromium)"
    return None


def require_browser() -> None:
    """Skip the test without a browser, or fail it when ``TEXTLINK_REQUIRE_BROWSER=1``."""
    missing = missing_browser()
    if missing:
        if os.environ.get("TEXTLINK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"TEXTLINK_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(f"browser test skipped: {missing}")


@contextmanager
def chromium_page(width: int = 640, height: int = 720) -> Iterator[Page]:
    """A page of a fresh headless Chromium (skips or fails first when there is none)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.set_default_timeout(10_000)
            yield page
        finally:
            browser.close()


def collect_js_errors(page: Page) -> list[str]:
    """A list that fills with the page's JavaScript errors and console errors (the
    browser's automatic /favicon.ico request excepted)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and not msg.location["url"].endswith("/favicon.ico"):
            errors.append(f"{msg.text} ({msg.location['url']})")

    page.on("console", on_console)
    return errors
