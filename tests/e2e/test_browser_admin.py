"""A real browser sends an SMS to contacts from the admin, watching the live counter.

Headless Chromium (Debian's ``chromium``, through Playwright) against pytest-django's
``live_server`` (on the test database, LocMemBackend): logs in on the admin's login page,
selects contacts on the Contact changelist, runs the ``send_sms`` action, types on the
confirmation page while sms_counter.js switches from GSM-7 to UCS-2 and counts the SMS
parts, sends, and lands on the bulk send's progress page.

The test settings have no ``django.contrib.staticfiles``, so the live server serves no
static files: the browser gets them from Django's static file finders (as ``collectstatic``
would) through a Playwright route. With ``TEXTLINK_SCREENSHOTS_DIR`` set, screenshots of
the confirmation page, the progress page and the messages are copied there
(``admin-*.png``). Without a browser the test is skipped, or fails when
``TEXTLINK_REQUIRE_BROWSER=1`` (see tests/support/browser.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User

import django_textlink
from django_textlink.encoding import analyze
from django_textlink.models import Broadcast, Contact, SMSMessage
from tests.support.browser import chromium_page, collect_js_errors
from tests.support.inline_tasks import run_tasks_inline

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

# The example project, on its own SQLite database (own_database).
pytestmark = [pytest.mark.browser, pytest.mark.own_database]

PASSWORD = "correct-horse-battery-staple"
# Texts whose analysis the JavaScript counter must agree on with encoding.analyze().
SAMPLES = [
    "",
    "Hello",
    "a" * 160,
    "a" * 161,
    "€" * 80,
    "€" * 81,
    "a" * 152 + "€" + "a" * 152,
    "Ωmega £5 @ café ÆØÅ\n",
    "ж" * 70,
    "ж" * 71,
    "a" * 66 + "😀" + "a" * 66,
    "Hi 😀👋🏽",
    "50\u00a0€ [ok] {x} ~^\\|",
    "ç",
    "tab\there, zero\u200bwidth",
]


def serve_static(route: Route) -> None:
    """Answer /static/... from Django's static file finders."""
    from django.contrib.staticfiles import finders

    path = urlsplit(route.request.url).path.removeprefix(django_settings.STATIC_URL)
    found = finders.find(path)
    if isinstance(found, str):
        route.fulfill(path=found)
    else:
        route.fulfill(status=404, body="not found")


def test_send_sms_from_the_admin_with_the_live_counter(
    live_server: Any, settings: Any, tmp_path: Path
) -> None:
    settings.TEXTLINK = {
        **settings.TEXTLINK,
        "BACKEND": "django_textlink.backends.locmem.LocMemBackend",
    }
    run_tasks_inline(settings)  # the live server sends the bulk send before it redirects
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    for i, name in enumerate(["Ada", "Grace", "Linus"], start=1):
        Contact.objects.create(phone_number=f"+120255501{i:02d}", name=name, tag="beta")
    Contact.objects.create(phone_number="+12025550199", name="Opted", tag="beta", opted_out=True)
    Contact.objects.create(phone_number="+12025550198", name="Zed", tag="other")

    # Playwright's sync API runs an event loop in this thread, where Django refuses
    # database queries: the database is read again only after the browser is closed.
    with chromium_page(width=1024, height=900) as page:
        message, js_errors = _drive_the_browser(page, live_server.url, tmp_path)

    assert not js_errors
    assert sorted(entry.phone_number for entry in django_textlink.outbox) == [
        "+12025550101",
        "+12025550102",
        "+12025550103",
    ]
    assert {entry.text for entry in django_textlink.outbox} == {message}
    broadcast = Broadcast.objects.get()
    assert broadcast.progress()[SMSMessage.Status.SENT] == 3
    assert broadcast.skipped_opted_out == 1


def log_in_to_contacts(page: Page, base: str) -> None:
    """Log in as the admin through the admin's login page, landing on the contact list."""
    page.goto(f"{base}/admin/login/?next=/admin/django_textlink/contact/")
    page.get_by_label(re.compile(r"^Username:?$")).fill("admin")
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _drive_the_browser(page: Page, base: str, tmp_path: Path) -> tuple[str, list[str]]:
    from playwright.sync_api import expect

    js_errors = collect_js_errors(page)
    page.route(re.compile(r"^[^?]*/static/"), serve_static)

    log_in_to_contacts(page, base)
    expect(page).to_have_url(f"{base}/admin/django_textlink/contact/")

    # Select the four "beta" contacts (one opted out) and run the action.
    for name in ["Ada", "Grace", "Linus", "Opted"]:
        page.get_by_role("checkbox", name=re.compile(rf"Select this object.*{name}")).check()
    page.locator('select[name="action"]').select_option("send_sms")
    # The action's submit button: "Go" up to Django 6.0, "Run" from 6.1.
    page.locator('div.actions button[name="index"]').first.click()

    expect(page.get_by_role("heading", name="Send an SMS")).to_be_visible()
    expect(page.locator("#textlink-recipient-count")).to_contain_text(
        "This SMS will be sent to 3 phone numbers."
    )
    expect(page.locator("#textlink-skipped-opted-out")).to_have_text("1 contact who opted out")
    # The submit row's buttons are one size, the "No, take me back" link included.
    assert_same_size(page.locator("#textlink-send-sms-form .submit-row > *"), 3)

    counter = page.locator("#sms-counter")

    def field(name: str) -> Any:
        return counter.locator(f'[data-sms="{name}"]')

    text = page.get_by_label(re.compile(r"^Text:?$"))
    expect(field("encoding")).to_have_text("GSM-7")
    expect(field("segments")).to_have_text("0")

    text.fill("a" * 160)
    expect(field("characters")).to_have_text("160")
    expect(field("segments")).to_have_text("1")
    expect(field("remaining")).to_have_text("0")
    expect(field("per_segment")).to_have_text("160")

    text.press_sequentially("b")  # 161 septets: two parts of up to 153
    expect(field("segments")).to_have_text("2")
    expect(field("per_segment")).to_have_text("153")
    expect(field("remaining")).to_have_text("145")
    expect(field("encoding")).to_have_text("GSM-7")
    expect(field("unit-name")).to_have_text("septets")
    expect(field("non-gsm-row")).to_be_hidden()

    text.press_sequentially("😀")  # one emoji: all UCS-2, 163 UTF-16 units, 67 per part
    expect(field("encoding")).to_have_text("UCS-2")
    expect(field("unicode-note")).to_be_visible()
    expect(field("characters")).to_have_text("162")
    expect(field("units")).to_have_text("163")
    expect(field("unit-name")).to_have_text("UTF-16 code units")
    expect(field("segments")).to_have_text("3")
    expect(field("per_segment")).to_have_text("67")
    expect(field("non-gsm-row")).to_be_visible()
    expect(field("non_gsm_chars")).to_have_text("😀")
    expect(field("announce")).to_have_text("UCS-2, 3 SMS parts")

    text.press("Backspace")  # the emoji is one character for the user
    expect(field("encoding")).to_have_text("GSM-7")
    expect(field("segments")).to_have_text("2")

    # The JavaScript agrees with encoding.analyze() on every sample.
    keys = ["encoding", "characters", "units", "segments", "per_segment", "remaining"]
    for sample in SAMPLES:
        js = page.evaluate("text => window.djangoTextlinkSMS.analyze(text)", sample)
        py = analyze(sample)
        expected = {key: getattr(py, key) for key in keys}
        assert {key: js[key] for key in keys} == expected, json.dumps(sample)
        assert tuple(js["non_gsm_chars"]) == py.non_gsm_chars, json.dumps(sample)
        shown = page.evaluate(
            "chars => chars.map(window.djangoTextlinkSMS.displayChar)", list(py.non_gsm_chars)
        )
        assert tuple(shown) == py.non_gsm_display, json.dumps(sample)

    message = "Beta opens today 🎉"
    text.fill(message)
    expect(field("encoding")).to_have_text("UCS-2")
    expect(field("segments")).to_have_text("1")
    expect(field("announce")).to_have_text("UCS-2, 1 SMS part")  # not "1 SMS parts"
    _screenshot(page, tmp_path, "admin-send-sms.png")
    page.get_by_role("button", name="Send to 3 numbers").click()

    expect(page).to_have_url(re.compile(r"/admin/django_textlink/broadcast/\d+/progress/$"))
    expect(page.get_by_role("heading", name=re.compile("Progress of bulk send"))).to_be_visible()
    expect(page.locator("#textlink-progress-state")).to_contain_text("Finished: 3 of 3 done.")
    expect(page.locator("#textlink-count-sent td")).to_have_text("3")
    expect(page.locator("#textlink-count-total")).to_have_text("3")
    # The total is a figure like the others, not the table footer's small grey print.
    sent_style, total_style = (
        page.locator(selector).evaluate(
            "cell => { const s = getComputedStyle(cell); return [s.fontSize, s.color]; }"
        )
        for selector in ("#textlink-count-sent td", "#textlink-count-total")
    )
    assert total_style == sent_style
    expect(page.locator("#textlink-skipped-opted-out td")).to_have_text("1")
    expect(page.locator(".messagelist")).to_contain_text("3 messages to send")
    _screenshot(page, tmp_path, "admin-progress.png")
    page.get_by_role("link", name="See the 3 messages").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    expect(page.locator("#result_list .textlink-status--sent")).to_have_count(3)
    _screenshot(page, tmp_path, "admin-messages.png")
    return message, js_errors


def assert_same_size(buttons: Any, count: int) -> None:
    """The ``count`` elements of ``buttons`` (sibling buttons) have one height and one
    font size."""
    sizes = buttons.evaluate_all(
        """elements => elements.map(element => [
            Math.round(element.getBoundingClientRect().height),
            getComputedStyle(element).fontSize,
        ])"""
    )
    assert len(sizes) == count, sizes
    assert len({tuple(size) for size in sizes}) == 1, sizes


def _screenshot(page: Page, tmp_path: Path, name: str) -> None:
    """Copied to ``TEXTLINK_SCREENSHOTS_DIR`` when set, for a human to look at."""
    screenshot = tmp_path / name
    page.screenshot(path=screenshot, full_page=True)
    if os.environ.get("TEXTLINK_SCREENSHOTS_DIR"):
        target = Path(os.environ["TEXTLINK_SCREENSHOTS_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, target / name)


def test_reply_from_a_contacts_conversation(
    live_server: Any, settings: Any, tmp_path: Path
) -> None:
    """The Contact changelist links to the conversation; the thread shows both directions
    and a reply typed in the box (with the live counter) is sent and joins the thread."""
    settings.TEXTLINK = {
        **settings.TEXTLINK,
        "BACKEND": "django_textlink.backends.locmem.LocMemBackend",
    }
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    ada = Contact.objects.create(phone_number="+12025550101", name="Ada", tag="beta")
    SMSMessage.objects.create(
        phone_number=ada.phone_number, text="Is my order ready?", contact=ada,
        direction=SMSMessage.Direction.INBOUND, status=SMSMessage.Status.RECEIVED,
    )  # fmt: skip

    with chromium_page(width=1024, height=900) as page:
        js_errors = _drive_the_conversation(page, live_server.url, tmp_path)

    assert not js_errors
    assert [(e.phone_number, e.text) for e in django_textlink.outbox] == [
        ("+12025550101", "Yes, come by at 5 €")
    ]
    assert SMSMessage.objects.get(text="Yes, come by at 5 €").contact == ada


def _drive_the_conversation(page: Page, base: str, tmp_path: Path) -> list[str]:
    from playwright.sync_api import expect

    js_errors: list[str] = []
    page.on("pageerror", lambda error: js_errors.append(str(error)))
    page.route(re.compile(r"^[^?]*/static/"), serve_static)

    log_in_to_contacts(page, base)
    page.get_by_role("link", name="Conversation with Ada (+12025550101)").click()

    expect(page.get_by_role("heading", name="Conversation with Ada (+12025550101)")).to_be_visible()
    expect(page.locator(".textlink-bubble--inbound")).to_have_text(
        re.compile("Received.*Is my order ready", re.S)
    )
    reply = page.get_by_label(re.compile(r"^Reply:?$"))
    reply.fill("Yes, come by at 5 €")
    expect(page.locator('#sms-counter [data-sms="encoding"]')).to_have_text("GSM-7")
    expect(page.locator('#sms-counter [data-sms="units"]')).to_have_text("20")
    page.get_by_role("button", name="Send").click()

    expect(page.locator(".messagelist")).to_contain_text("SMS sent to +12025550101.")
    outbound = page.locator(".textlink-bubble--outbound")
    expect(outbound).to_contain_text("Yes, come by at 5 €")
    expect(outbound.locator(".textlink-status--sent")).to_have_text(re.compile("sent"))
    expect(page.get_by_label(re.compile(r"^Reply:?$"))).to_have_value("")
    box = outbound.bounding_box()
    inbound = page.locator(".textlink-bubble--inbound").bounding_box()
    assert box is not None
    assert inbound is not None
    assert box["x"] > inbound["x"]  # sent on the right, received on the left
    _screenshot(page, tmp_path, "admin-conversation.png")
    return js_errors


LONG_TEXT = (
    "The demo opens today: reply to this SMS! We have lots of things to tell you about the "
    "new features of the product, the prices and the opening hours, see you there."
)


def test_changelists_fit_a_laptop_screen(live_server: Any, settings: Any, tmp_path: Path) -> None:
    """At 1280x800, with the admin's navigation and filter sidebars open, the Contact
    changelist shows every contact's Conversation link, and the SMS list's text takes one
    line (cut with an ellipsis) instead of one word per line."""
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    for i, name in enumerate(["Ada Lovelace", "Grace Brewster Murray Hopper", "Alan Turing"]):
        contact = Contact.objects.create(
            phone_number=f"+120255501{i + 1:02d}", name=name, tag="demo"
        )
        SMSMessage.objects.create(
            phone_number=contact.phone_number, text=LONG_TEXT, contact=contact,
            status=SMSMessage.Status.SENT, sent_at=contact.created_at,
        )  # fmt: skip
    Contact.objects.filter(name="Alan Turing").update(
        tag_sync_state=Contact.TagSync.FAILED, tag_sync_error="TextLink answered HTTP 500 " * 8
    )

    with chromium_page(width=1280, height=800) as page:
        js_errors = _check_the_changelists(page, live_server.url, tmp_path)

    assert not js_errors


def _check_the_changelists(page: Page, base: str, tmp_path: Path) -> list[str]:
    from playwright.sync_api import expect

    js_errors = collect_js_errors(page)
    page.route(re.compile(r"^[^?]*/static/"), serve_static)
    log_in_to_contacts(page, base)
    expect(page).to_have_url(f"{base}/admin/django_textlink/contact/")
    expect(page.locator("#nav-sidebar")).to_be_visible()  # the sidebars take their room
    expect(page.locator("#changelist-filter")).to_be_visible()

    # An intermediate page at a laptop's width: "Set tag" and "No, take me back" are one
    # size (narrower, Django's responsive.css evens them out by itself).
    page.goto(f"{base}/admin/django_textlink/contact/")
    page.locator("#action-toggle").check()
    page.locator('select[name="action"]').select_option("set_tag")
    page.locator('div.actions button[name="index"]').first.click()
    expect(page.get_by_role("heading", name="Set the tag of contacts")).to_be_visible()
    assert_same_size(page.locator("#textlink-set-tag-form .submit-row > *"), 2)
    page.get_by_role("link", name="No, take me back").click()

    links = page.get_by_role("link", name=re.compile(r"^Conversation with "))
    expect(links).to_have_count(3)
    viewport = page.viewport_size
    assert viewport == {"width": 1280, "height": 800}
    for index in range(3):
        box = links.nth(index).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= viewport["width"], (index, box)
        # Not hidden by the table's own scrolling either.
        assert links.nth(index).evaluate(
            """link => {
                const results = link.closest('.results').getBoundingClientRect();
                const own = link.getBoundingClientRect();
                return own.right <= results.right + 1 && own.left >= results.left - 1;
            }"""
        ), index
    _screenshot(page, tmp_path, "admin-contacts-1280.png")

    page.goto(f"{base}/admin/django_textlink/smsmessage/")
    cells = page.locator("#result_list td.field-text_excerpt")
    expect(cells).to_have_count(3)
    line_height = cells.first.evaluate(
        "cell => parseFloat(getComputedStyle(cell).lineHeight) || 16"
    )
    for index in range(3):
        cell = cells.nth(index)
        expect(cell).to_contain_text("The demo opens today")
        box = cell.bounding_box()
        assert box is not None
        assert box["height"] <= 2 * line_height + 20, (index, box)  # two lines and padding
        assert box["width"] >= 120, (index, box)  # room for more than a word
        assert box["x"] + box["width"] <= viewport["width"], (index, box)
        assert cell.locator("span").get_attribute("title") == LONG_TEXT
    assert page.evaluate(
        "() => { const r = document.querySelector('.results'); "
        "return r.scrollWidth <= r.clientWidth + 1; }"
    ), "the SMS list scrolls sideways"
    _screenshot(page, tmp_path, "admin-messages-1280.png")

    return js_errors


def test_the_fraud_guard_page_shows_an_attack_and_lifts_its_block(
    live_server: Any, settings: Any, tmp_path: Path
) -> None:
    """An attack on one range (through the real flow) and a real user elsewhere; the page
    at a laptop's width shows the block and both countries' figures, and lifting the block
    from the browser ends it."""
    import contextlib

    from django.test.client import RequestFactory

    from django_textlink.models import VerificationBlock
    from django_textlink.verification import PhoneVerification, VerificationBlocked

    settings.TEXTLINK = {
        **settings.TEXTLINK,
        "BACKEND": "django_textlink.backends.locmem.LocMemBackend",
        "CHALLENGE": None,
    }
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    for n in range(12):
        request = RequestFactory().post("/", REMOTE_ADDR=f"198.51.{n}.7")
        with contextlib.suppress(VerificationBlocked):
            PhoneVerification(request=request).start(f"+4474001200{n:02d}")
    PhoneVerification(request=RequestFactory().post("/", REMOTE_ADDR="203.0.113.9")).start(
        "+12025550143"
    )
    assert VerificationBlock.objects.count() == 1

    with chromium_page(width=1280, height=800) as page:
        from playwright.sync_api import expect

        js_errors = collect_js_errors(page)
        page.route(re.compile(r"^[^?]*/static/"), serve_static)
        base = live_server.url
        page.goto(f"{base}/admin/login/?next=/admin/django_textlink/verificationblock/")
        page.get_by_label(re.compile(r"^Username:?$")).fill("admin")
        page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Fraud guard", exact=True)).to_be_visible()
        expect(page.locator("#textlink-guard-summary")).to_contain_text("1 active block.")
        expect(page.locator("#result_list")).to_contain_text("+44740012")
        expect(page.locator("#result_list")).to_contain_text("Active")
        countries = page.locator("#textlink-guard-countries")
        expect(countries.locator("tr", has_text="GB")).to_contain_text("5")
        expect(countries.locator("tr", has_text="US")).to_contain_text("1")
        ranges = page.locator("#textlink-guard-ranges tbody tr").first
        expect(ranges).to_contain_text("+44740012…")
        # Every table fits the laptop's width.
        for table in ("#result_list", "#textlink-guard-countries", "#textlink-guard-ranges"):
            box = page.locator(table).bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= 1280, table
        assert page.evaluate(
            "() => { const r = document.querySelector('.results'); "
            "return r.scrollWidth <= r.clientWidth + 1; }"
        ), "the blocks' list scrolls sideways"
        _screenshot(page, tmp_path, "admin-fraud-guard.png")

        page.locator("#action-toggle").check()
        page.locator('select[name="action"]').select_option("lift_blocks")
        page.locator('div.actions button[name="index"]').first.click()
        expect(page.locator("ul.messagelist")).to_contain_text("1 block lifted")
        expect(page.locator("#textlink-guard-summary")).to_contain_text("0 active blocks.")
        expect(page.locator("#result_list")).to_contain_text("Lifted")

    assert VerificationBlock.objects.get().lifted_at is not None
    assert not js_errors
