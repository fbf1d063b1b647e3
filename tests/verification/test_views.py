"""The HTML phone-verification flow: ``textlink:verify`` -> ``verify-confirm`` -> ``verify-done``.

Everything runs through Django's test client and the real views, forms and
:class:`PhoneVerification`; only TextLink is replaced (the locmem backend, or TextLink's
HTTP API faked with ``responses``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import responses
from django.core.cache import caches
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from urllib3.exceptions import MaxRetryError, NewConnectionError

from django_textlink.models import VerifiedPhoneNumber
from django_textlink.verification import PhoneVerification, session
from django_textlink.verification import clock as clock_module
from tests.support.clock import FakeClock

pytestmark = pytest.mark.django_db

PHONE = "+12025550143"
OTHER = "+442079460958"
BASE_URL = "https://textlinksms.test/api"
LOCMEM = "django_textlink.backends.locmem.LocMemBackend"


def verify_url(next_url: str | None = None) -> str:
    url = reverse("textlink:verify")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def confirm_url(next_url: str | None = None) -> str:
    url = reverse("textlink:verify-confirm")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def done_url() -> str:
    return reverse("textlink:verify-done")


def text(response: HttpResponse) -> str:
    return response.content.decode()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    frozen = FakeClock(1_700_000_000.5)
    monkeypatch.setattr(clock_module, "clock", frozen)
    return frozen


@pytest.fixture
def textlink_http(settings: Any) -> Iterator[responses.RequestsMock]:
    """TextLink's HTTP API, faked; the default (HTTP) backend, no retry sleeps."""
    settings.TEXTLINK = {**settings.TEXTLINK, "MAX_RETRIES": 0}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def refused(url: str) -> requests.ConnectionError:
    """What requests raises when nothing listens on TextLink's port."""
    return requests.ConnectionError(
        MaxRetryError(None, url, NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    )


def start(client: Client, phone: str = PHONE, next_url: str | None = None) -> HttpResponse:
    data = {"phone_number": phone}
    if next_url is not None:
        data["next"] = next_url
    response = client.post(verify_url(), data)
    assert response.status_code == 302, text(response)
    return response


def wrong_code(right: str) -> str:
    return "000000" if right != "000000" else "111111"


def announced_resend_in(body: str) -> int:
    """The seconds the resend button's ``data-resend-in`` announces."""
    return int(body.split('data-resend-in="', 1)[1].split('"', 1)[0])


def is_verified(phone: str) -> bool:
    return VerifiedPhoneNumber.objects.filter(phone_number=phone).exists()


# -- HTML structure ------------------------------------------------------------------------


class PageParser(HTMLParser):
    """Collects what the accessibility assertions need from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.html_lang: str | None = None
        self.title = ""
        self.h1 = 0
        self.inputs: list[dict[str, str | None]] = []
        self.label_for: list[str] = []
        self.ids: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if tag == "html":
            self.html_lang = attributes.get("lang")
        elif tag == "title":
            self._in_title = True
        elif tag == "h1":
            self.h1 += 1
        elif tag in ("input", "select", "textarea"):
            self.inputs.append({"tag": tag, **attributes})
        elif tag == "label" and attributes.get("for"):
            self.label_for.append(str(attributes["for"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def parse(response: HttpResponse) -> PageParser:
    parser = PageParser()
    parser.feed(text(response))
    return parser


def field(page: PageParser, name: str) -> dict[str, str | None]:
    found = [item for item in page.inputs if item.get("name") == name]
    assert len(found) == 1, page.inputs
    return found[0]


def assert_accessible(response: HttpResponse) -> PageParser:
    page = parse(response)
    assert page.html_lang, "the <html> element needs a lang attribute"
    assert page.title.strip(), "the page needs a <title>"
    assert page.h1 == 1, "the page needs exactly one <h1>"
    for item in page.inputs:
        if item.get("type") in ("hidden", "submit", "button"):
            continue
        assert item.get("id"), item
        assert item["id"] in page.label_for, f"no <label for=...> for {item}"
    assert len(page.ids) == len(set(page.ids)), f"duplicate ids: {page.ids}"
    return page


# -- step 1: the phone number --------------------------------------------------------------


def test_verify_page_has_a_labelled_tel_input(client: Client, textlink_locmem: list[Any]) -> None:
    response = client.get(verify_url())

    assert response.status_code == 200
    page = assert_accessible(response)
    phone = field(page, "phone_number")
    assert phone["type"] == "tel"
    assert phone["autocomplete"] == "tel"
    assert phone["inputmode"] == "tel"
    assert phone["id"] in page.label_for
    # The help text is tied to the input for screen readers.
    assert phone["aria-describedby"] == f"{phone['id']}_helptext"
    assert phone["aria-describedby"] in page.ids


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "This field is required."),
        ("+1 555", "Enter a valid phone number."),
        ("2025550143", "international format"),  # no DEFAULT_REGION: a + is needed
        ("not a number", "Enter a valid phone number."),
    ],
)
def test_invalid_number_shows_the_error_and_sends_nothing(
    client: Client, textlink_locmem: list[Any], value: str, message: str
) -> None:
    response = client.post(verify_url(), {"phone_number": value})

    assert response.status_code == 200
    assert message in text(response)
    page = assert_accessible(response)
    phone = field(page, "phone_number")
    assert phone["aria-invalid"] == "true"
    assert f"{phone['id']}_error" in str(phone["aria-describedby"]).split()
    assert textlink_locmem == []
    assert session.PHONE_KEY not in client.session


def test_country_outside_the_allow_list_is_refused_before_sending(
    client: Client, textlink_locmem: list[Any], settings: Any
) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "ALLOWED_COUNTRIES": ["US"]}

    response = client.post(verify_url(), {"phone_number": OTHER})

    assert response.status_code == 200
    assert "We cannot send codes to phone numbers in this country." in text(response)
    assert textlink_locmem == []


def test_valid_number_sends_a_code_and_redirects_to_confirm(
    client: Client, textlink_locmem: list[Any]
) -> None:
    response = client.post(verify_url(), {"phone_number": "+1 (202) 555-0143"})

    assert response.status_code == 302
    assert response["Location"] == confirm_url()
    assert len(textlink_locmem) == 1
    assert textlink_locmem[0].kind == "code"
    assert textlink_locmem[0].phone_number == PHONE  # normalized to E.164
    assert textlink_locmem[0].expiration_time == 600_000
    assert client.session[session.PHONE_KEY] == PHONE
    assert textlink_locmem[0].code not in str(dict(client.session.items()))


@pytest.mark.parametrize(
    ("next_url", "carried"),
    [
        ("/account/phone/?tab=2&x=y", True),
        ("/", True),
        ("https://evil.example/", False),
        ("//evil.example/", False),
        ("javascript:alert(1)", False),
        ("https://testserver.evil.example/", False),
    ],
)
def test_next_is_carried_to_confirm_only_when_safe(
    client: Client, textlink_locmem: list[Any], next_url: str, carried: bool
) -> None:
    response = start(client, next_url=next_url)

    assert response["Location"] == (confirm_url(next_url) if carried else confirm_url())


def test_next_in_the_query_string_is_carried_too(
    client: Client, textlink_locmem: list[Any]
) -> None:
    page = client.get(verify_url("/account/"))
    hidden = field(parse(page), "next")
    assert hidden["type"] == "hidden"
    assert hidden["value"] == "/account/"

    response = client.post(verify_url("/account/"), {"phone_number": PHONE})

    assert response["Location"] == confirm_url("/account/")


def test_unsafe_next_is_not_echoed_into_the_page(
    client: Client, textlink_locmem: list[Any]
) -> None:
    response = client.get(verify_url("javascript:alert(1)"))

    assert response.status_code == 200
    assert "javascript:" not in text(response)
    assert not [item for item in parse(response).inputs if item.get("name") == "next"]


# -- step 2: the code ----------------------------------------------------------------------


def test_confirm_without_a_pending_phone_redirects_to_verify(
    client: Client, textlink_locmem: list[Any]
) -> None:
    get = client.get(confirm_url())
    assert get.status_code == 302
    assert get["Location"] == verify_url()

    post = client.post(confirm_url(), {"code": "123456", "phone_number": PHONE})
    assert post.status_code == 302
    assert post["Location"] == verify_url()
    assert not is_verified(PHONE)

    carried = client.get(confirm_url("/account/"))
    assert carried["Location"] == verify_url("/account/")
    unsafe = client.get(confirm_url("https://evil.example/"))
    assert unsafe["Location"] == verify_url()


def test_confirm_page_shows_the_number_and_the_resend_cooldown(
    client: Client, textlink_locmem: list[Any], clock: FakeClock
) -> None:
    start(client, next_url="/account/")

    response = client.get(confirm_url("/account/"))

    assert response.status_code == 200
    body = text(response)
    assert PHONE in body
    page = assert_accessible(response)
    code = field(page, "code")
    assert code["autocomplete"] == "one-time-code"
    assert code["inputmode"] == "numeric"
    assert [item["value"] for item in page.inputs if item.get("name") == "next"] == [
        "/account/",
        "/account/",
    ]  # both the code form and the resend form carry it
    resend_in = announced_resend_in(body)
    assert 60 <= resend_in <= 61  # the 60 s default cooldown, rounded up
    assert f"You can request a new code in {resend_in} seconds." in body
    assert 'aria-describedby="resend-countdown"' in body
    assert "django_textlink/countdown.js" in body


def test_wrong_code_shows_an_error_and_sends_nothing(
    client: Client, textlink_locmem: list[Any]
) -> None:
    start(client)
    right = textlink_locmem[-1].code

    response = client.post(confirm_url(), {"code": wrong_code(right)})

    assert response.status_code == 200
    assert "That code is not right. Check the SMS and try again." in text(response)
    page = assert_accessible(response)
    assert field(page, "code")["aria-invalid"] == "true"
    assert len(textlink_locmem) == 1
    assert not is_verified(PHONE)
    assert client.session[session.PHONE_KEY] == PHONE
    assert session.TOKEN_KEY not in client.session


@pytest.mark.parametrize("code", ["", "12-34", "<script>", "1" * 13])
def test_malformed_code_is_refused_by_the_form(
    client: Client, textlink_locmem: list[Any], code: str
) -> None:
    start(client)

    response = client.post(confirm_url(), {"code": code})

    assert response.status_code == 200
    assert "<script>" not in text(response)
    assert field(parse(response), "code")["aria-invalid"] == "true"
    assert not is_verified(PHONE)


def test_code_with_spaces_is_accepted(client: Client, textlink_locmem: list[Any]) -> None:
    start(client)
    code = textlink_locmem[-1].code

    response = client.post(confirm_url(), {"code": f" {code[:3]} {code[3:]} "})

    assert response.status_code == 302
    assert is_verified(PHONE)


@pytest.mark.usefixtures("fraud_guard_off")
def test_a_posted_phone_number_cannot_swap_the_phone_being_verified(
    client: Client, textlink_locmem: list[Any]
) -> None:
    start(client, phone=PHONE)
    PhoneVerification().start(OTHER)  # B gets a real code, e.g. the attacker's own phone
    other_code = textlink_locmem[-1].code
    assert textlink_locmem[-1].phone_number == OTHER

    response = client.post(confirm_url(), {"code": other_code, "phone_number": OTHER})

    assert response.status_code == 200
    assert "That code is not right" in text(response)
    assert not is_verified(OTHER)
    assert not is_verified(PHONE)
    assert session.TOKEN_KEY not in client.session
    assert client.session[session.PHONE_KEY] == PHONE
    # B's code was never checked against B: it is still good for B.
    assert PhoneVerification().check(OTHER, other_code)


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        (None, None),
        ("/account/", "/account/"),
        ("https://evil.example/", None),
        ("//evil.example/", None),
        ("javascript:alert(1)", None),
        ("/\\evil.example/", None),
    ],
)
def test_right_code_verifies_and_redirects_to_a_safe_next_only(
    client: Client, textlink_locmem: list[Any], next_url: str | None, expected: str | None
) -> None:
    start(client)
    data = {"code": textlink_locmem[-1].code}
    if next_url is not None:
        data["next"] = next_url

    response = client.post(confirm_url(next_url), data)

    assert response.status_code == 302
    assert response["Location"] == (expected or done_url())
    assert is_verified(PHONE)
    assert session.PHONE_KEY not in client.session
    assert client.session[session.TOKEN_KEY]
    assert len(textlink_locmem) == 1


def test_safe_next_travels_through_the_whole_flow(
    client: Client, textlink_locmem: list[Any]
) -> None:
    response = client.post(verify_url("/account/"), {"phone_number": PHONE})
    page = client.get(response["Location"])
    hidden = [item for item in parse(page).inputs if item.get("name") == "next"]
    assert [item["value"] for item in hidden] == ["/account/", "/account/"]

    response = client.post(
        response["Location"], {"code": textlink_locmem[-1].code, "next": "/account/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/account/"


def test_done_page_shows_the_verified_number(client: Client, textlink_locmem: list[Any]) -> None:
    start(client)
    client.post(confirm_url(), {"code": textlink_locmem[-1].code})

    response = client.get(done_url())

    assert response.status_code == 200
    assert PHONE in text(response)
    assert "is verified" in text(response)
    assert_accessible(response)
    # The verification is over: the confirm step is gone.
    assert client.get(confirm_url())["Location"] == verify_url()


def test_done_page_without_a_verification(client: Client, textlink_locmem: list[Any]) -> None:
    response = client.get(done_url())

    assert response.status_code == 200
    assert "There is no verified phone number in this session." in text(response)
    assert_accessible(response)


def test_done_page_ignores_a_tampered_token(client: Client, textlink_locmem: list[Any]) -> None:
    store = client.session
    store[session.TOKEN_KEY] = "not-a-signed-token"
    store.save()

    response = client.get(done_url())

    assert response.status_code == 200
    assert "There is no verified phone number in this session." in text(response)


# -- resend and limits ---------------------------------------------------------------------


def test_resend_before_the_cooldown_is_refused_without_sending(
    client: Client, textlink_locmem: list[Any]
) -> None:
    start(client)

    response = client.post(confirm_url(), {"resend": "1"})

    assert response.status_code == 429
    body = text(response)
    assert "Please wait before requesting another code." in body
    assert "Try again in" in body
    assert 'id="resend-errors"' in body
    assert "A new code is on its way" not in body
    assert 1 <= int(response["Retry-After"]) <= 61
    assert len(textlink_locmem) == 1


def test_resend_after_the_cooldown_sends_a_new_code(
    client: Client, textlink_locmem: list[Any], clock: FakeClock
) -> None:
    sent_at = clock.now
    start(client)
    old_code = textlink_locmem[-1].code
    resend_in = announced_resend_in(text(client.get(confirm_url())))

    clock.now = sent_at + resend_in - 1  # one second early: still refused
    assert client.post(confirm_url(), {"resend": "1"}).status_code == 429
    assert len(textlink_locmem) == 1

    clock.now = sent_at + resend_in  # what the page announced
    response = client.post(confirm_url(), {"resend": "1"})

    assert response.status_code == 200
    assert "A new code is on its way." in text(response)
    assert len(textlink_locmem) == 2
    assert textlink_locmem[-1].phone_number == PHONE
    new_code = textlink_locmem[-1].code
    assert announced_resend_in(text(response)) == resend_in  # the cooldown starts again
    if new_code != old_code:  # the new code replaces the old one
        assert client.post(confirm_url(), {"code": old_code}).status_code == 200
    assert client.post(confirm_url(), {"code": new_code}).status_code == 302
    assert is_verified(PHONE)


def test_too_many_wrong_codes_are_refused_even_the_right_one(
    client: Client, textlink_locmem: list[Any]
) -> None:
    start(client)
    right = textlink_locmem[-1].code
    wrong = wrong_code(right)

    for _attempt in range(4):
        response = client.post(confirm_url(), {"code": wrong})
        assert response.status_code == 200
        assert "Check the SMS and try again." in text(response)
    response = client.post(confirm_url(), {"code": wrong})  # the 5th and last allowed
    assert response.status_code == 200
    assert "That code is not right or has expired. Request a new code." in text(response)

    for code in (wrong, right):
        response = client.post(confirm_url(), {"code": code})
        assert response.status_code == 429
        assert "Too many wrong codes. Request a new code." in text(response)
        assert int(response["Retry-After"]) >= 1
    assert not is_verified(PHONE)
    assert len(textlink_locmem) == 1


@pytest.mark.usefixtures("fraud_guard_off")
def test_send_limit_per_phone_on_verify(
    client: Client, textlink_locmem: list[Any], settings: Any
) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "RESEND_COOLDOWN": 0}
    for _send in range(5):
        start(client)

    response = client.post(verify_url(), {"phone_number": PHONE})

    assert response.status_code == 429
    body = text(response)
    assert "Too many codes were requested for this number." in body
    assert "Try again in" in body
    retry_after = int(response["Retry-After"])
    assert 3600 <= retry_after <= 3900  # the hour, plus at most one 5-minute slice
    assert f'data-retry-after="{retry_after}"' in body
    assert_accessible(response)
    assert len(textlink_locmem) == 5


def test_send_limit_per_client_ip_on_verify(
    client: Client, textlink_locmem: list[Any], settings: Any
) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "SENDS_PER_IP_PER_HOUR": 2}
    start(client, phone="+12025550143")
    start(client, phone="+12025550144")

    response = client.post(verify_url(), {"phone_number": "+12025550145"})

    assert response.status_code == 429
    assert "Too many codes were requested from your network." in text(response)
    assert len(textlink_locmem) == 2
    # Another client address is not affected.
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert other.post(verify_url(), {"phone_number": "+12025550145"}).status_code == 302


# -- TextLink down -------------------------------------------------------------------------


def test_textlink_down_on_send_gives_a_friendly_503(
    client: Client, textlink_http: responses.RequestsMock, settings: Any
) -> None:
    url = f"{BASE_URL}/send-code"
    textlink_http.add(responses.POST, url, body=refused(url))

    response = client.post(verify_url(), {"phone_number": PHONE})

    assert response.status_code == 503
    body = text(response)
    assert "We could not send a code right now. Please try again later." in body
    for leak in ("Traceback", "ConnectionError", "Connection refused", "textlinksms", "Error"):
        assert leak not in body
    assert settings.TEXTLINK["API_KEY"] not in body
    assert_accessible(response)
    assert session.PHONE_KEY not in client.session

    # Nothing was sent, so the attempt did not start the cooldown.
    textlink_http.replace(responses.POST, url, json={"ok": True})
    assert client.post(verify_url(), {"phone_number": PHONE}).status_code == 302


def test_textlink_down_on_check_gives_a_friendly_503(
    client: Client, textlink_http: responses.RequestsMock
) -> None:
    textlink_http.add(responses.POST, f"{BASE_URL}/send-code", json={"ok": True})
    url = f"{BASE_URL}/verify-code"
    textlink_http.add(responses.POST, url, body=refused(url))
    start(client)

    response = client.post(confirm_url(), {"code": "123456"})

    assert response.status_code == 503
    body = text(response)
    assert "We could not check the code right now. Please try again later." in body
    assert "Traceback" not in body
    assert "ConnectionError" not in body
    assert not is_verified(PHONE)
    assert client.session[session.PHONE_KEY] == PHONE


def test_textlink_down_on_resend_gives_a_friendly_503(
    client: Client, textlink_http: responses.RequestsMock, clock: FakeClock
) -> None:
    url = f"{BASE_URL}/send-code"
    textlink_http.add(responses.POST, url, json={"ok": True})
    start(client)
    textlink_http.replace(responses.POST, url, body=refused(url))
    clock.now += 120

    response = client.post(confirm_url(), {"resend": "1"})

    assert response.status_code == 503
    body = text(response)
    assert "We could not send a code right now. Please try again later." in body
    assert "A new code is on its way" not in body
    assert "Traceback" not in body
    assert client.session[session.PHONE_KEY] == PHONE


# -- HTTP-level properties ------------------------------------------------------------------


def assert_never_cached(response: HttpResponse) -> None:
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-cache", "no-store", "must-revalidate", "private"} <= directives
    assert "max-age=0" in directives
    assert response.has_header("Expires")


def test_every_response_is_never_cached(client: Client, textlink_locmem: list[Any]) -> None:
    responses_seen = [client.get(verify_url()), client.get(confirm_url())]
    responses_seen.append(client.post(verify_url(), {"phone_number": "bad"}))
    responses_seen.append(client.post(verify_url(), {"phone_number": PHONE}))
    responses_seen.append(client.get(confirm_url()))
    responses_seen.append(
        client.post(confirm_url(), {"code": wrong_code(textlink_locmem[-1].code)})
    )
    responses_seen.append(client.post(confirm_url(), {"resend": "1"}))
    responses_seen.append(client.post(confirm_url(), {"code": textlink_locmem[-1].code}))
    responses_seen.append(client.get(done_url()))

    assert [r.status_code for r in responses_seen] == [200, 302, 200, 302, 200, 200, 429, 302, 200]
    for response in responses_seen:
        assert_never_cached(response)


def test_csrf_is_enforced(textlink_locmem: list[Any]) -> None:
    strict = Client(enforce_csrf_checks=True)

    assert strict.post(verify_url(), {"phone_number": PHONE}).status_code == 403
    assert textlink_locmem == []

    # The page carries the token, and a POST with it goes through.
    page = strict.get(verify_url())
    token = field(parse(page), "csrfmiddlewaretoken")["value"]
    response = strict.post(verify_url(), {"phone_number": PHONE, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert len(textlink_locmem) == 1

    # The confirm step (code and resend) is protected too.
    assert strict.post(confirm_url(), {"code": textlink_locmem[-1].code}).status_code == 403
    assert strict.post(confirm_url(), {"resend": "1"}).status_code == 403
    assert not is_verified(PHONE)
    assert len(textlink_locmem) == 1


def test_every_page_is_accessible(client: Client, textlink_locmem: list[Any]) -> None:
    pages = [client.get(verify_url()), client.post(verify_url(), {"phone_number": "x"})]
    start(client)
    pages.append(client.get(confirm_url()))
    pages.append(client.post(confirm_url(), {"code": wrong_code(textlink_locmem[-1].code)}))
    pages.append(client.post(confirm_url(), {"code": "!!"}))
    pages.append(client.post(confirm_url(), {"resend": "1"}))
    client.post(confirm_url(), {"code": textlink_locmem[-1].code})
    pages.append(client.get(done_url()))

    titles = set()
    for page in pages:
        parsed = assert_accessible(page)
        titles.add(parsed.title.strip())
    assert len(titles) == 3  # one title per step


def test_templates_can_be_overridden(
    client: Client, textlink_locmem: list[Any], settings: Any, tmp_path: Path
) -> None:
    override = tmp_path / "django_textlink"
    override.mkdir()
    (override / "verify.html").write_text(
        "<p>SITE-OVERRIDE-MARKER</p><form method=post>{% csrf_token %}"
        "{{ form.phone_number }}</form>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]

    response = client.get(verify_url())

    assert response.status_code == 200
    assert "SITE-OVERRIDE-MARKER" in text(response)
    assert "Send me a code" not in text(response)
    # The other templates still come from the app.
    start(client)
    assert "Enter the code" in text(client.get(confirm_url()))


# -- the code TextLink returns never leaks -------------------------------------------------


LEAKED_CODE = "739146"


def fake_verify(request: Any) -> tuple[int, dict[str, str], str]:
    """TextLink's /verify-code: only LEAKED_CODE is right."""
    if json.loads(request.body)["code"] == LEAKED_CODE:
        return 200, {}, json.dumps({"ok": True})
    return 200, {}, json.dumps({"ok": False, "message": "Invalid code"})


def test_the_code_textlink_returns_never_leaks(
    client: Client, textlink_http: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    textlink_http.add(
        responses.POST, f"{BASE_URL}/send-code", json={"ok": True, "code": LEAKED_CODE}
    )
    textlink_http.add_callback(responses.POST, f"{BASE_URL}/verify-code", callback=fake_verify)
    caplog.set_level(logging.DEBUG)
    seen: list[HttpResponse] = []
    sessions: list[dict[str, Any]] = []

    def record(response: HttpResponse) -> HttpResponse:
        seen.append(response)
        sessions.append(dict(client.session.items()))
        return response

    record(client.get(verify_url("/account/")))
    record(client.post(verify_url(), {"phone_number": PHONE, "next": "/account/"}))
    record(client.get(confirm_url("/account/")))
    record(client.post(confirm_url("/account/"), {"code": "000000", "next": "/account/"}))
    record(client.post(confirm_url(), {"resend": "1"}))
    # The user types the code they received: the only place it may appear.
    confirmed = record(client.post(confirm_url(), {"code": LEAKED_CODE}))
    record(client.get(done_url()))

    assert confirmed.status_code == 302
    assert is_verified(PHONE)
    send_calls = [c for c in textlink_http.calls if c.request.url.endswith("/send-code")]
    assert len(send_calls) == 1  # the resend was refused by the cooldown
    for response in seen:
        assert LEAKED_CODE not in response.content.decode()
        for header, value in response.items():
            assert LEAKED_CODE not in f"{header}: {value}"
        for cookie in response.cookies.values():
            assert LEAKED_CODE not in cookie.OutputString()
    for data in sessions:
        assert LEAKED_CODE not in repr(data)
    for record_ in caplog.records:
        assert LEAKED_CODE not in record_.getMessage()
        assert LEAKED_CODE not in repr(record_.args)
    assert LEAKED_CODE not in caplog.text
    assert not any(
        LEAKED_CODE in repr(value)
        for value in caches["default"]._cache.values()  # type: ignore[attr-defined]
    )
    assert caplog.records  # the flow did log (masked) lines


def test_codes_not_shaped_like_codes_are_form_errors_that_use_up_nothing(
    client: Client, textlink_http: responses.RequestsMock
) -> None:
    """Input like "abc" or "12" is a form error on the code, not a wrong code: ten of
    them (twice the wrong codes one code allows) ask TextLink nothing, and the right code
    still verifies."""
    textlink_http.post(f"{BASE_URL}/send-code", json={"ok": True, "code": "482913"})
    verify = textlink_http.post(f"{BASE_URL}/verify-code", json={"ok": True})
    start(client)

    for code in ["abc", "12", "123", "Ab12", "abcdef", "12a456", "+123456", "1e5", "12.34", "x"]:
        response = client.post(confirm_url(), {"code": code})
        assert response.status_code == 200
        body = text(response)
        assert "Enter the code you received by SMS." in body
        assert "That code is not right" not in body
        assert field(parse(response), "code")["aria-invalid"] == "true"
    assert verify.call_count == 0

    assert client.post(confirm_url(), {"code": "482913"}).status_code == 302
    assert verify.call_count == 1
    assert is_verified(PHONE)
