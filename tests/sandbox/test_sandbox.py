"""The offline TextLink sandbox (django_textlink.sandbox): TextLink's four endpoints as the
real TextLinkClient sees them, the web inbox, webhooks fired at the Django test site
(pytest-django's ``live_server``), fault injection and the runtime control API, and the
two ways to start it from a shell.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import django_textlink
from django_textlink import contacts
from django_textlink.backends.simulated import simulated_codes
from django_textlink.client import TextLinkClient
from django_textlink.exceptions import (
    TextLinkAPIError,
    TextLinkAuthenticationError,
    TextLinkConnectionError,
    TextLinkInvalidResponseError,
    TextLinkRateLimitError,
    TextLinkServerError,
    TextLinkTimeoutError,
)
from django_textlink.models import Contact, SMSMessage
from django_textlink.sandbox import (
    Answer,
    SandboxClient,
    SandboxError,
    SandboxState,
    parse_answer,
    parse_fault,
    run_sandbox,
)
from django_textlink.sandbox.codes import CheckOutcome, CodeBook
from django_textlink.sandbox.config import Faults, SandboxConfig
from tests.support.paths import ROOT

pytestmark = pytest.mark.integration

PHONE = "+12025550143"
OTHER = "+12025550188"
SECRET = "whsec-test-0123456789"  # tests/settings.py


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with run_sandbox() as running:
        yield running


def make_client(sandbox: Any, api_key: str | None = None) -> TextLinkClient:
    return TextLinkClient(
        api_key=api_key or sandbox.api_key, base_url=sandbox.base_url, timeout=10, max_retries=0
    )


@pytest.fixture
def client(sandbox: Any) -> Iterator[TextLinkClient]:
    with make_client(sandbox) as textlink:
        yield textlink


def raw_post(sandbox: Any, endpoint: str, body: Any, key: str | None = "default") -> Any:
    headers = (
        {}
        if key is None
        else {"Authorization": f"Bearer {sandbox.api_key if key == 'default' else key}"}
    )
    return requests.post(f"{sandbox.base_url}/{endpoint}", json=body, headers=headers, timeout=10)


# -- TextLink's endpoints ---------------------------------------------------------------------


def test_send_sms_is_accepted_and_recorded_with_sim_card_and_custom_id(
    sandbox: Any, client: TextLinkClient
) -> None:
    result = client.send_sms(PHONE, "Your order shipped", sim_card_id=7, custom_id="order-42")

    assert result.queued is False
    [message] = sandbox.messages()
    assert message["kind"] == "sms"
    assert message["direction"] == "outbound"
    assert message["phone_number"] == PHONE
    assert message["text"] == "Your order shipped"
    assert message["sim_card_id"] == 7
    assert message["custom_id"] == "order-42"
    assert message["status"] == "sent"
    assert message["textlink_id"] == message["id"]


def test_answers_have_textlinks_documented_shapes(sandbox: Any) -> None:
    sms = raw_post(sandbox, "send-sms", {"phone_number": PHONE, "text": "Hi"})
    code = raw_post(sandbox, "send-code", {"phone_number": PHONE})
    tag = raw_post(sandbox, "update-contect-tag", {"phone_number": PHONE, "tag": "Warm"})

    assert (sms.status_code, sms.json()) == (200, {"ok": True})
    assert sms.headers["Content-Type"] == "application/json"
    assert set(code.json()) == {"ok", "code"}
    assert re.fullmatch(r"\d{6}", code.json()["code"])
    assert tag.json() == {"ok": True}
    verify = raw_post(sandbox, "verify-code", {"phone_number": PHONE, "code": code.json()["code"]})
    assert verify.json() == {"ok": True}


def test_a_missing_or_wrong_key_gets_api_key_not_found(sandbox: Any) -> None:
    for key in (None, "wrong-key"):
        answer = raw_post(sandbox, "send-sms", {"phone_number": PHONE, "text": "Hi"}, key=key)
        assert answer.json() == {"ok": False, "message": "API key not found"}
    with make_client(sandbox, api_key="not-the-sandbox-key") as wrong:
        for call in (
            lambda: wrong.send_sms(PHONE, "Hi"),
            lambda: wrong.send_code(PHONE),
            lambda: wrong.verify_code(PHONE, "123456"),
            lambda: wrong.update_contact_tag(PHONE, "Warm"),
        ):
            with pytest.raises(TextLinkAuthenticationError, match="API key not found"):
                call()
    assert sandbox.messages() == []


def test_refusals_for_bad_requests(sandbox: Any) -> None:
    assert raw_post(sandbox, "send-sms", {"phone_number": "0601234567", "text": "Hi"}).json() == {
        "ok": False,
        "message": "Invalid phone number",
    }
    assert raw_post(sandbox, "send-sms", {"phone_number": PHONE}).json()["ok"] is False
    assert (
        raw_post(sandbox, "send-code", {"phone_number": PHONE, "expiration_time": -5}).json()["ok"]
        is False
    )
    assert raw_post(sandbox, "send-sms", [1, 2]).status_code == 400
    # TextLink spells it "contect"; the "correct" spelling is not an endpoint.
    assert raw_post(sandbox, "update-contact-tag", {"phone_number": PHONE}).status_code == 404
    assert requests.get(f"{sandbox.base_url}/send-sms", timeout=10).status_code == 405
    assert sandbox.messages() == []


def test_queued_answers_when_asked(sandbox: Any, client: TextLinkClient) -> None:
    sandbox.set_faults(queued_rate=1.0)
    assert client.send_sms(PHONE, "Hi").queued is True
    assert raw_post(sandbox, "send-sms", {"phone_number": PHONE, "text": "Hi"}).json() == {
        "ok": True,
        "queued": True,
    }
    assert [m["status"] for m in sandbox.messages()] == ["queued", "queued"]
    assert all(m["queued"] for m in sandbox.messages())


def test_a_queued_rate_mixes_answers_reproducibly_with_a_seed() -> None:
    def run() -> list[bool]:
        with run_sandbox(queued_rate=0.5, seed=1234) as sandbox, make_client(sandbox) as client:
            return [client.send_sms(PHONE, f"Hi {i}").queued for i in range(30)]

    first = run()
    assert 5 < sum(first) < 25
    assert run() == first


def test_send_code_returns_a_code_that_the_inbox_shows_and_verify_accepts_once(
    sandbox: Any, client: TextLinkClient
) -> None:
    sent = client.send_code(PHONE, service_name="Acme", custom_id="verify-1", sim_card_id=2)

    assert sent.code is not None
    assert re.fullmatch(r"\d{6}", sent.code)
    assert sandbox.last_code(PHONE) == sent.code
    [message] = sandbox.messages(PHONE)
    assert message["kind"] == "code"
    assert message["code"] == sent.code
    assert message["code_status"] == "pending"
    assert message["service_name"] == "Acme"
    assert message["expiration_time"] == 600_000  # 10 minutes unless asked otherwise
    assert sent.code in message["text"]
    assert "Acme" in message["text"]
    assert sent.code in requests.get(sandbox.url + "/", timeout=10).text

    assert not client.verify_code(PHONE, "000000" if sent.code != "000000" else "111111")
    assert client.verify_code(OTHER, sent.code).valid is False
    assert client.verify_code(PHONE, sent.code).valid is True
    assert client.verify_code(PHONE, sent.code).valid is False  # single use
    assert sandbox.messages(PHONE)[0]["code_status"] == "used"


def test_a_new_code_supersedes_the_previous_one(sandbox: Any, client: TextLinkClient) -> None:
    first = client.send_code(PHONE).code
    second = client.send_code(PHONE).code
    assert first is not None
    assert second is not None
    if first != second:
        assert not client.verify_code(PHONE, first)
    assert client.verify_code(PHONE, second)
    assert [m["code_status"] for m in sandbox.messages(PHONE)] == ["used", "superseded"]


def test_codes_expire_after_expiration_time(sandbox: Any, client: TextLinkClient) -> None:
    now = [1_800_000_000.0]
    sandbox.state.clock = lambda: now[0]
    code = client.send_code(PHONE, expiration_time=60_000).code
    assert code is not None

    now[0] += 61
    result = client.verify_code(PHONE, code)
    assert not result
    assert result.message == "Code expired"
    assert sandbox.messages(PHONE)[0]["code_status"] == "expired"


def test_a_tiny_expiration_time_expires_in_real_time(client: TextLinkClient) -> None:
    code = client.send_code(PHONE, expiration_time=1).code
    assert code is not None
    time.sleep(0.05)
    assert not client.verify_code(PHONE, code)


def test_codes_are_random_unless_seeded() -> None:
    def codes(seed: int | None) -> list[str | None]:
        with run_sandbox(seed=seed) as sandbox, make_client(sandbox) as client:
            return [client.send_code(f"+1202555010{i}").code for i in range(5)]

    assert len(set(codes(None))) > 1
    assert codes(None) != codes(None)
    assert codes(7) == codes(7)


def test_update_contact_tag_is_stored(sandbox: Any, client: TextLinkClient) -> None:
    client.update_contact_tag(PHONE, "Warm")
    client.update_contact_tag(OTHER, "Cold")
    client.update_contact_tag(PHONE, "Hot")
    assert sandbox.tags() == {PHONE: "Hot", OTHER: "Cold"}
    assert "tag: Hot" in requests.get(sandbox.url + "/", timeout=10).text


def test_keep_alive_reuses_one_connection(sandbox: Any, client: TextLinkClient) -> None:
    for i in range(5):
        client.send_sms(PHONE, f"Hi {i}")
    assert sandbox.server.connections == 1


def test_empty_service_name_and_source_country_count_as_not_given(sandbox: Any) -> None:
    """TextLink's own Python client sends both as "" unless told otherwise."""
    answer = raw_post(
        sandbox,
        "send-code",
        {"phone_number": PHONE, "service_name": "", "source_country": "", "expiration_time": 1000},
    )
    assert answer.json()["ok"] is True
    [message] = sandbox.messages(PHONE)
    assert (message["service_name"], message["source_country"]) == (None, None)
    assert message["text"] == f"Your code is {message['code']}"
    refused = raw_post(sandbox, "send-code", {"phone_number": PHONE, "source_country": "USA"})
    assert refused.json() == {
        "ok": False,
        "message": "source_country must be an ISO-2 country code",
    }


# -- the client's side of the wire: recorded requests, connections, TLS --------------------------


def test_api_calls_records_every_request_with_headers_and_body(sandbox: Any) -> None:
    with make_client(sandbox) as client:
        client.send_sms(PHONE, "Hi", custom_id="c-1")
        client.verify_code(PHONE, "123456")
    raw_post(sandbox, "send-sms", [1, 2], key="wrong-key")

    calls = sandbox.api_calls()
    assert [(c.endpoint, c.status) for c in calls] == [
        ("send-sms", 200),
        ("verify-code", 200),
        ("send-sms", 200),
    ]
    assert calls[0].request == {"phone_number": PHONE, "text": "Hi", "custom_id": "c-1"}
    assert calls[0].headers["Authorization"] == f"Bearer {sandbox.api_key}"
    assert calls[0].header("content-type") == "application/json"
    assert calls[0].answer == {"ok": True}
    assert calls[1].answer == {"ok": False, "message": "Invalid code"}
    assert calls[2].answer == {"ok": False, "message": "API key not found"}
    assert [c.endpoint for c in sandbox.api_calls("verify-code")] == ["verify-code"]


def test_the_control_api_masks_the_key_in_recorded_headers() -> None:
    with run_sandbox(api_key="tl-secret-0123456789") as sandbox, make_client(sandbox) as client:
        client.send_sms(PHONE, "Hi")
        [call] = sandbox.calls()
        assert call["headers"]["Authorization"] == "Bearer tl-s…"
        assert call["request"] == {"phone_number": PHONE, "text": "Hi"}
        assert "tl-secret-0123456789" not in str(call)
        assert sandbox.api_calls()[0].headers["Authorization"] == "Bearer tl-secret-0123456789"


def test_a_request_is_recorded_on_arrival_before_the_latency() -> None:
    with (
        run_sandbox(latency=2.0) as sandbox,
        TextLinkClient(
            api_key=sandbox.api_key, base_url=sandbox.base_url, timeout=(1, 0.2), max_retries=0
        ) as client,
    ):
        with pytest.raises(TextLinkTimeoutError):
            client.send_sms(PHONE, "Hi")
        [call] = sandbox.api_calls()
        assert call.request == {"phone_number": PHONE, "text": "Hi"}
        assert call.status is None  # not answered yet
        assert sandbox.messages() == []


def test_max_calls_keeps_the_newest_calls() -> None:
    with run_sandbox(max_calls=3) as sandbox, make_client(sandbox) as client:
        for i in range(5):
            client.send_sms(PHONE, f"Hi {i}")
        assert [c.request["text"] for c in sandbox.api_calls()] == ["Hi 2", "Hi 3", "Hi 4"]
    with pytest.raises(ValueError, match="max_calls"):
        SandboxConfig(max_calls=0)


def test_api_connections_count_only_connections_that_called_the_api(sandbox: Any) -> None:
    with make_client(sandbox) as client:
        for i in range(3):
            client.send_sms(PHONE, f"Hi {i}")
            sandbox.messages()  # the control API, over the sandbox client's own connection
    with make_client(sandbox) as second:
        second.send_sms(PHONE, "from a second client")
    assert sandbox.api_connections == 2
    assert sandbox.connections == 3


def test_tls_serves_https_with_a_throwaway_certificate() -> None:
    with run_sandbox(tls=True) as sandbox:
        assert sandbox.url.startswith("https://127.0.0.1:")
        assert sandbox.base_url == sandbox.url + "/api"
        cafile = Path(sandbox.cafile)
        assert cafile.read_text().startswith("-----BEGIN CERTIFICATE-----")
        with TextLinkClient(
            api_key=sandbox.api_key, base_url=sandbox.base_url, verify=sandbox.cafile
        ) as client:
            for i in range(3):
                client.send_sms(PHONE, f"Hi {i}")
            code = client.send_code(PHONE).code
        assert sandbox.last_code(PHONE) == code  # the control API, over HTTPS too
        assert (
            "TextLink sandbox" in requests.get(sandbox.url, verify=sandbox.cafile, timeout=10).text
        )
        assert sandbox.api_connections == 1
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(sandbox.url, timeout=10)  # not trusted without the CA file
        http = sandbox.url.replace("https://", "http://")
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{http}/api/send-sms", json={}, timeout=10)  # no plain HTTP
        assert len(sandbox.api_calls()) == 4
    assert not cafile.exists()  # removed with the sandbox


def test_tls_inbox_forms_accept_their_own_https_origin() -> None:
    with run_sandbox(tls=True) as sandbox:
        answer = requests.post(
            sandbox.url + "/inbox/reset",
            data={},
            headers={"Origin": sandbox.url},
            verify=sandbox.cafile,
            timeout=10,
            allow_redirects=False,
        )
        assert answer.status_code == 303
        plain = requests.post(
            sandbox.url + "/inbox/reset",
            data={},
            headers={"Origin": sandbox.url.replace("https://", "http://")},
            verify=sandbox.cafile,
            timeout=10,
        )
        assert plain.status_code == 403


def test_a_config_certificate_is_served_as_given(tmp_path: Path) -> None:
    from django_textlink.sandbox.tls import self_signed_certificate

    cert, key = self_signed_certificate(tmp_path)
    with run_sandbox(tls_cert=cert, tls_key=key) as sandbox:
        assert sandbox.cafile == cert
        assert sandbox.url.startswith("https://")
        assert sandbox.messages() == []
    with pytest.raises(ValueError, match="tls_cert"):
        SandboxConfig(tls_key=key)


# -- one model of verification codes, for the sandbox and the simulated backends ----------------


def test_the_sandbox_and_the_simulated_backends_share_one_code_model() -> None:
    assert type(simulated_codes.book) is CodeBook
    assert type(SandboxState(SandboxConfig()).codes) is CodeBook


def test_code_book_rules() -> None:
    now = [1_800_000_000.0]
    codes = iter(["111111", "222222", "333333"])
    book = CodeBook(clock=lambda: now[0], generate=lambda: next(codes))

    assert book.check(PHONE, "111111") is CheckOutcome.NO_CODE  # nothing sent yet
    first = book.issue(PHONE, 60_000)
    assert (first.code, first.status(now[0])) == ("111111", "pending")
    second = book.issue(PHONE, 60_000)
    assert first.status(now[0]) == "superseded"
    assert book.check(PHONE, "111111") is CheckOutcome.WRONG  # only the newest counts
    assert book.check(OTHER, "222222") is CheckOutcome.NO_CODE  # bound to its phone
    assert book.check(PHONE, " 222222 ") is CheckOutcome.VALID
    assert second.status(now[0]) == "used"
    assert book.check(PHONE, "222222") is CheckOutcome.NO_CODE  # single use
    assert book.current(PHONE) is None

    third = book.issue(PHONE, 1000)
    now[0] += 0.999
    assert third.status(now[0]) == "pending"
    now[0] += 0.001  # expired from expires_at on
    assert third.status(now[0]) == "expired"
    assert book.check(PHONE, "000000") is CheckOutcome.WRONG
    assert book.check(PHONE, "333333") is CheckOutcome.EXPIRED
    assert not CheckOutcome.EXPIRED
    assert CheckOutcome.VALID
    book.clear()
    assert book.current(PHONE) is None
    with pytest.raises(ValueError, match="positive"):
        book.issue(PHONE, 0)


# -- the inbox ----------------------------------------------------------------------------------


def test_the_inbox_lists_messages_newest_first_and_escapes_them(
    sandbox: Any, client: TextLinkClient
) -> None:
    client.send_sms(PHONE, "first <script>alert('x')</script> & more")
    client.send_sms(OTHER, "second")
    code = client.send_code(PHONE).code
    sandbox.reply(PHONE, 'third "quoted" <b>bold</b>')

    page = requests.get(sandbox.url + "/", timeout=10)

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(page.headers["Content-Length"]) == len(page.content)
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.text
    assert "<script>" not in html
    assert "<b>bold</b>" not in html
    assert "first &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in html
    assert "third &quot;quoted&quot; &lt;b&gt;bold&lt;/b&gt;" in html
    listing = html[html.index('id="messages"') : html.index('id="webhooks-heading"')]
    positions = [listing.index(text) for text in ("third", str(code), "second", "first &lt;")]
    assert positions == sorted(positions)
    assert '<html lang="en">' in html
    assert "<main" in html
    assert "http-equiv" not in html


def test_the_inbox_filters_per_phone(sandbox: Any, client: TextLinkClient) -> None:
    client.send_sms(PHONE, "for the first phone")
    client.send_sms(OTHER, "for the other phone")

    everything = requests.get(sandbox.url + "/", timeout=10).text
    assert 'href="/?phone=%2B12025550143"' in everything
    assert 'href="/?phone=%2B12025550188"' in everything

    for query in ("phone=%2B12025550143", "phone=+12025550143"):  # an unencoded + too
        page = requests.get(f"{sandbox.url}/?{query}", timeout=10).text
        assert "for the first phone" in page
        assert "for the other phone" not in page
        assert "Reply from this phone" in page
        assert "Change tag" in page

    [message] = requests.get(
        f"{sandbox.url}/_sandbox/messages", params={"phone": OTHER}, timeout=10
    ).json()["messages"]
    assert message["text"] == "for the other phone"


def test_the_inbox_can_refresh_itself(sandbox: Any) -> None:
    page = requests.get(sandbox.url + "/?phone=%2B12025550143&refresh=5", timeout=10).text
    assert (
        '<meta http-equiv="refresh" content="5; url=/?phone=%2B12025550143&amp;refresh=5">' in page
    )
    assert "Turn auto-refresh off" in page
    with run_sandbox(config=SandboxConfig(port=0, refresh=3)) as refreshing:
        assert 'content="3; url=/?refresh=3"' in requests.get(refreshing.url, timeout=10).text


def test_post_requests_from_other_sites_are_refused(sandbox: Any) -> None:
    evil = requests.post(
        sandbox.url + "/inbox/reset",
        data={"filter": ""},
        headers={"Origin": "http://evil.example"},
        timeout=10,
        allow_redirects=False,
    )
    rebinding = requests.get(sandbox.url + "/", headers={"Host": "evil.example"}, timeout=10)
    fetch = requests.post(
        sandbox.url + "/_sandbox/reset",
        json={},
        headers={"Sec-Fetch-Site": "same-site"},
        timeout=10,
    )
    assert (evil.status_code, rebinding.status_code, fetch.status_code) == (403, 403, 403)


# -- webhooks fired at the Django site ---------------------------------------------------------


@pytest.fixture
def site_sandbox(live_server: Any, settings: Any) -> Iterator[Any]:
    """A sandbox whose webhooks go to the live test site, which sends through it."""
    with run_sandbox(site_url=live_server.url, webhook_secret=SECRET) as running:
        settings.TEXTLINK = {
            **settings.TEXTLINK,
            "BASE_URL": running.base_url,
            "API_KEY": running.api_key,
            "MAX_RETRIES": 0,
        }
        yield running


def test_reply_from_a_phone_arrives_as_an_inbound_message(site_sandbox: Any) -> None:
    outcome = site_sandbox.reply(PHONE, "Is my order ready?", name="Ada")

    assert outcome["status"] == 200
    assert outcome["ok"] is True
    assert outcome["url"].endswith("/textlink/webhooks/received/")
    assert "secret" not in outcome["payload"]
    inbound = SMSMessage.objects.get(direction=SMSMessage.Direction.INBOUND)
    assert (inbound.phone_number, inbound.text, inbound.status) == (
        PHONE,
        "Is my order ready?",
        SMSMessage.Status.RECEIVED,
    )
    assert Contact.objects.get(phone_number=PHONE).name == "Ada"


def test_fail_this_message_marks_the_sites_message_failed(site_sandbox: Any) -> None:
    message = django_textlink.send_sms(PHONE, "Your order shipped")
    assert message.status == SMSMessage.Status.SENT
    [sent] = site_sandbox.messages(PHONE)
    assert sent["custom_id"] == message.custom_id

    outcomes = site_sandbox.fail(sent["id"])

    assert [(o["kind"], o["status"]) for o in outcomes] == [("sent", 200), ("failed", 200)]
    assert outcomes[1]["payload"]["custom_id"] == message.custom_id
    assert outcomes[1]["payload"]["textlink_id"] == sent["id"]
    message.refresh_from_db()
    assert message.status == SMSMessage.Status.FAILED
    assert message.textlink_id == sent["id"]
    assert SMSMessage.objects.count() == 1
    assert site_sandbox.messages(PHONE)[0]["status"] == "failed"
    # ... also found by custom_id alone
    assert site_sandbox.fail(custom_id=message.custom_id)[1]["status"] == 200


def test_change_tag_changes_the_sites_contact(site_sandbox: Any) -> None:
    Contact.objects.create(phone_number=PHONE, name="Ada", tag="Cold")

    outcome = site_sandbox.change_tag(PHONE, "Warm")

    assert outcome["status"] == 200
    assert Contact.objects.get(phone_number=PHONE).tag == "Warm"
    assert site_sandbox.tags() == {PHONE: "Warm"}


def test_a_tag_set_on_the_site_is_pushed_to_the_sandbox(site_sandbox: Any) -> None:
    contact = Contact.objects.create(phone_number=PHONE, name="Ada", tag="Cold")
    contacts.set_tag(contact, "VIP")
    deadline = time.monotonic() + 10
    while site_sandbox.tags().get(PHONE) != "VIP" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert site_sandbox.tags() == {PHONE: "VIP"}


def test_the_inbox_forms_play_textlinks_part(site_sandbox: Any) -> None:
    message = django_textlink.send_sms(PHONE, "Your table is ready")
    [sent] = site_sandbox.messages(PHONE)
    session = requests.Session()

    def submit(action: str, **fields: Any) -> str:
        answer = session.post(
            f"{site_sandbox.url}/inbox/{action}",
            data={"filter": PHONE, "refresh": "0", **fields},
            timeout=10,
            allow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["Content-Length"] == "0"
        location = answer.headers["Location"]
        assert parse_qs(urlsplit(location).query)["phone"] == [PHONE]
        return session.get(site_sandbox.url + location, timeout=10).text

    page = submit("reply", phone_number=PHONE, text="On my way <3", name="Ada")
    assert 'role="status"' in page
    assert "received webhook to" in page
    assert "HTTP 200" in page
    assert SMSMessage.objects.get(direction="inbound").text == "On my way <3"
    assert "On my way &lt;3" in page

    page = submit("fail", message_id=str(sent["id"]))
    assert "failed webhook to" in page
    assert "HTTP 200" in page
    message.refresh_from_db()
    assert message.status == SMSMessage.Status.FAILED

    page = submit("tag", phone_number=PHONE, tag="Warm")
    assert "tag webhook to" in page
    assert "HTTP 200" in page
    assert Contact.objects.get(phone_number=PHONE).tag == "Warm"

    page = submit("reply", phone_number="not a phone", text="x")
    assert 'role="alert"' in page
    assert "international form" in page


@pytest.mark.browser
def test_the_inbox_in_a_real_browser(site_sandbox: Any) -> None:
    """Chromium sends Origin and Sec-Fetch-Site with the forms: the sandbox accepts its own."""
    from tests.support.browser import chromium_page

    with make_client(site_sandbox) as client:
        client.send_sms(PHONE, "Your table is ready")
    with chromium_page(width=1024, height=900) as page:
        page.goto(f"{site_sandbox.url}/")
        page.click(f"a:has-text('{PHONE}')")
        page.fill("#reply-text", "Coming <now>")
        page.click("#reply button[type=submit]")
        page.wait_for_load_state()
        notice = page.inner_text("[role=status]")
        page.click("button:has-text('Fail this message')")
        page.wait_for_load_state()
        failed_notice = page.inner_text("[role=status]")
        page.goto(f"{site_sandbox.url}/?refresh=1")
        page.wait_for_timeout(1500)  # the meta refresh reloads the page
        refreshed_url = page.url

    assert "received webhook to" in notice
    assert "HTTP 200" in notice
    assert "failed webhook to" in failed_notice
    assert refreshed_url.endswith("/?refresh=1")
    assert SMSMessage.objects.get(direction="inbound").text == "Coming <now>"
    assert site_sandbox.messages(PHONE)[1]["status"] == "failed"


def test_the_sites_refusal_is_shown(live_server: Any) -> None:
    with run_sandbox(site_url=live_server.url, webhook_secret="not-the-secret") as sandbox:
        outcome = sandbox.reply(PHONE, "Hello")
        answer = requests.post(
            f"{sandbox.url}/inbox/tag",
            data={"filter": PHONE, "phone_number": PHONE, "tag": "Warm"},
            timeout=10,
        )
    assert (outcome["status"], outcome["ok"]) == (403, False)
    assert "Wrong or missing secret" in outcome["body"]
    assert 'role="alert"' in answer.text
    assert "tag webhook to" in answer.text
    assert "failed: HTTP 403" in answer.text
    assert not SMSMessage.objects.exists()


def test_without_a_site_url_the_outcome_says_so(sandbox: Any) -> None:
    outcome = sandbox.reply(PHONE, "Hello")
    assert outcome["status"] is None
    assert outcome["ok"] is False
    assert "--site-url" in outcome["error"]


def test_an_unreachable_site_is_reported(unused_port: int) -> None:
    with run_sandbox(site_url=f"http://127.0.0.1:{unused_port}", webhook_timeout=2) as sandbox:
        outcome = sandbox.change_tag(PHONE, "Warm")
    assert outcome["status"] is None
    assert "ConnectionError" in outcome["error"]


def test_webhook_base_replaces_the_prefix(live_server: Any) -> None:
    with run_sandbox(
        webhook_base=f"{live_server.url}/textlink/webhooks", webhook_secret=SECRET
    ) as sandbox:
        outcome = sandbox.reply(PHONE, "Hello")
    assert outcome["url"] == f"{live_server.url}/textlink/webhooks/received/"
    assert outcome["status"] == 200


def test_auto_webhooks_fire_the_sent_webhook_after_a_send(live_server: Any, settings: Any) -> None:
    with run_sandbox(site_url=live_server.url, webhook_secret=SECRET, auto_webhooks=True) as sb:
        settings.TEXTLINK = {**settings.TEXTLINK, "BASE_URL": sb.base_url, "API_KEY": sb.api_key}
        django_textlink.send_sms(PHONE, "Hello")
        deadline = time.monotonic() + 10
        while not sb.webhooks() and time.monotonic() < deadline:
            time.sleep(0.05)
        [outcome] = sb.webhooks()
    assert (outcome["kind"], outcome["status"]) == ("sent", 200)
    assert SMSMessage.objects.get().status == SMSMessage.Status.SENT


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_documented_fixture_and_tests(site_sandbox: Any) -> None:
    """docs/sandbox.md's examples, as written there (with this suite's fixture)."""
    outcome = site_sandbox.reply(PHONE, "STOP")
    assert outcome["status"] == 200
    assert Contact.objects.get(phone_number=PHONE).opted_out

    message = django_textlink.send_sms(PHONE, "Your order shipped")
    [sent] = site_sandbox.messages(PHONE, kind="sms")
    site_sandbox.fail(sent["id"])
    message.refresh_from_db()
    assert message.status == SMSMessage.Status.FAILED

    site_sandbox.set_faults(error_rate=1.0)
    with pytest.raises(TextLinkServerError) as caught:
        django_textlink.send_sms(PHONE, "Hi")
    assert caught.value.sms_message.status == SMSMessage.Status.UNKNOWN  # type: ignore[attr-defined]


# -- fault injection ----------------------------------------------------------------------------


def test_latency_delays_every_answer() -> None:
    with run_sandbox(latency=0.3) as sandbox, make_client(sandbox) as client:
        started = time.monotonic()
        client.send_sms(PHONE, "Hi")
        assert time.monotonic() - started >= 0.3

        sandbox.set_faults(latency=0.15)
        started = time.monotonic()
        client.verify_code(PHONE, "123456")
        assert time.monotonic() - started >= 0.15
        # The control API and the inbox are never delayed.
        sandbox.set_faults(latency=2.0)
        started = time.monotonic()
        sandbox.messages()
        requests.get(sandbox.url, timeout=10)
        assert time.monotonic() - started < 2.0


def test_error_rate_one_answers_500_to_every_call(sandbox: Any, client: TextLinkClient) -> None:
    sandbox.set_faults(error_rate=1.0)
    for call in (
        lambda: client.send_sms(PHONE, "Hi"),
        lambda: client.send_code(PHONE),
        lambda: client.verify_code(PHONE, "123456"),
        lambda: client.update_contact_tag(PHONE, "Warm"),
    ):
        with pytest.raises(TextLinkServerError) as caught:
            call()
        assert caught.value.status_code == 500
        assert caught.value.delivery_unknown is True
    assert sandbox.messages() == []
    assert sandbox.tags() == {}
    assert [c["fault"] for c in sandbox.calls()] == ["error_rate"] * 4

    sandbox.set_faults(error_rate=0)
    client.send_sms(PHONE, "Hi")


def test_an_error_rate_fails_a_fraction_reproducibly() -> None:
    def run() -> list[bool]:
        outcomes = []
        with run_sandbox(error_rate=0.5, seed=99) as sandbox, make_client(sandbox) as client:
            for i in range(30):
                try:
                    client.send_sms(PHONE, f"Hi {i}")
                except TextLinkServerError:
                    outcomes.append(False)
                else:
                    outcomes.append(True)
        return outcomes

    first = run()
    assert 5 < sum(first) < 25
    assert run() == first


def test_a_specific_answer_for_a_specific_number(client: TextLinkClient, sandbox: Any) -> None:
    sandbox.set_faults(
        numbers={
            PHONE: {"status": 400, "body": {"ok": False, "message": "Invalid phone number"}},
            "send-code:" + OTHER: 503,
            "+12025550101": 'json:{"ok": true, "queued": true}',
            "+12025550102": "text:<html>Bad gateway</html>",
            "+12025550103": "drop",
        }
    )
    with pytest.raises(TextLinkAPIError, match="Invalid phone number") as refused:
        client.send_sms(PHONE, "Hi")
    assert refused.value.status_code == 400
    with pytest.raises(TextLinkServerError):
        client.send_code(OTHER)
    client.send_sms(OTHER, "only send-code is broken for this number")
    assert client.send_sms("+12025550101", "Hi").queued is True
    with pytest.raises(TextLinkInvalidResponseError):
        client.send_sms("+12025550102", "Hi")
    with pytest.raises(TextLinkConnectionError) as dropped:
        client.send_sms("+12025550103", "Hi")
    assert dropped.value.delivery_unknown is True
    client.send_sms("+12025550104", "everyone else is fine")
    assert [m["phone_number"] for m in sandbox.messages()] == ["+12025550104", OTHER]


def test_a_scripted_answer_carries_headers(sandbox: Any, client: TextLinkClient) -> None:
    sandbox.set_faults(
        numbers={
            f"send-code:{PHONE}": {
                "status": 429,
                "body": {"ok": False, "message": "Slow down"},
                "headers": {"Retry-After": "30"},
            },
            OTHER: Answer(503, "<h1>Down</h1>", text=True, headers={"Content-Type": "text/html"}),
        }
    )
    with pytest.raises(TextLinkRateLimitError) as limited:
        client.send_code(PHONE)
    assert limited.value.retry_after == 30.0
    client.send_sms(PHONE, "only send-code is limited for this number")
    raw = raw_post(sandbox, "send-code", {"phone_number": PHONE})
    assert (raw.status_code, raw.headers["Retry-After"]) == (429, "30")
    html = raw_post(sandbox, "send-sms", {"phone_number": OTHER, "text": "Hi"})
    assert (html.status_code, html.text) == (503, "<h1>Down</h1>")
    assert html.headers["Content-Type"] == "text/html"  # replaces the sandbox's own
    assert sandbox.faults()["numbers"][f"send-code:{PHONE}"] == {
        "status": 429,
        "body": {"ok": False, "message": "Slow down"},
        "headers": {"Retry-After": "30"},
    }
    assert [c["fault"] for c in sandbox.calls()][:2] == ["number", "number"]


def test_answers_with_headers_in_the_command_line_and_form_syntax(sandbox: Any) -> None:
    key, answer = parse_fault(f'{PHONE}={{"status": 429, "headers": {{"Retry-After": "7"}}}}')
    assert answer == Answer(
        429, {"ok": False, "message": "Sandbox: injected HTTP 429"}, headers={"Retry-After": "7"}
    )
    assert parse_answer(answer.spec()) == answer  # the JSON object form round-trips
    assert (
        parse_answer("429").spec()
        == '429:json:{"ok": false, "message": "Sandbox: injected HTTP 429"}'
    )
    with run_sandbox(faults={key: answer}) as started, make_client(started) as client:
        with pytest.raises(TextLinkRateLimitError) as limited:
            client.send_sms(PHONE, "Hi")
        assert limited.value.retry_after == 7.0
        # The inbox shows it back in the form, and saving the form keeps the headers.
        page = requests.get(started.url, timeout=10).text
        assert "Retry-After" in page
        numbers = f"{key}={answer.spec()}"
        saved = requests.post(started.url + "/inbox/faults", data={"numbers": numbers}, timeout=10)
        assert saved.status_code == 200
        assert started.faults()["numbers"][PHONE]["headers"] == {"Retry-After": "7"}


@pytest.mark.parametrize(
    "bad",
    [
        {"status": 429, "headers": {"Content-Length": "1"}},
        {"status": 429, "headers": {"Connection": "close"}},
        {"status": 429, "headers": {"Bad Name": "x"}},
        {"status": 429, "headers": {"X-Evil": "a\r\nSet-Cookie: x=1"}},
        {"status": 429, "headers": {"X-List": ["a"]}},
        {"status": 429, "headers": ["Retry-After"]},
        {"drop": True, "headers": {"Retry-After": "1"}},
        '{"status": 429, "headers": {"Retry-After": "1"}',
        "[429]",
    ],
)
def test_bad_answer_headers_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each has its own message
        parse_answer(bad)


def test_faults_from_the_command_line_syntax() -> None:
    faults = dict(
        (
            parse_fault("+12025550143=500"),
            parse_fault('+12025550188=json:{"ok": false, "message": "Number blocked"}'),
        )
    )
    with run_sandbox(faults=faults) as sandbox, make_client(sandbox) as client:
        with pytest.raises(TextLinkServerError, match="HTTP 500"):
            client.send_sms(PHONE, "Hi")
        with pytest.raises(TextLinkAPIError, match="Number blocked"):
            client.send_sms(OTHER, "Hi")


def test_the_control_api_over_http(sandbox: Any, client: TextLinkClient) -> None:
    url = sandbox.url + "/_sandbox"
    changed = requests.post(
        f"{url}/faults",
        json={"error_rate": 1, "numbers": {PHONE: '429:json:{"ok": false}'}},
        timeout=10,
    ).json()
    assert changed["ok"] is True
    assert changed["faults"]["error_rate"] == 1.0
    assert changed["faults"]["numbers"] == {PHONE: {"status": 429, "body": {"ok": False}}}
    assert requests.get(f"{url}/faults", timeout=10).json()["faults"] == changed["faults"]

    bad = requests.post(f"{url}/faults", json={"error_rate": 2}, timeout=10)
    assert bad.status_code == 400
    assert "from 0 to 1" in bad.json()["message"]
    assert requests.post(f"{url}/faults", json={"nope": 1}, timeout=10).status_code == 400
    assert requests.post(f"{url}/faults", data="[]", timeout=10).status_code == 400

    cleared = requests.delete(f"{url}/faults", timeout=10).json()["faults"]
    assert cleared == {"latency": 0.0, "error_rate": 0.0, "queued_rate": 0.0, "numbers": {}}

    client.send_sms(PHONE, "Hi")
    code = client.send_code(PHONE).code
    messages = requests.get(f"{url}/messages", params={"phone": PHONE}, timeout=10).json()
    assert [m["kind"] for m in messages["messages"]] == ["code", "sms"]
    assert messages["messages"][0]["code"] == code
    codes = requests.get(f"{url}/messages?phone=%2B12025550143&kind=code", timeout=10).json()
    assert len(codes["messages"]) == 1
    one = requests.get(f"{url}/messages/{messages['messages'][1]['id']}", timeout=10).json()
    assert one["message"]["text"] == "Hi"
    assert requests.get(f"{url}/messages/999", timeout=10).status_code == 404

    reply = requests.post(f"{url}/reply", json={"phone_number": PHONE, "text": "Yes"}, timeout=10)
    assert reply.json()["webhook"]["kind"] == "received"
    assert requests.post(f"{url}/fail", json={"message_id": 999}, timeout=10).status_code == 404
    assert requests.post(f"{url}/fail", json={}, timeout=10).status_code == 400
    assert requests.post(f"{url}/nothing", json={}, timeout=10).status_code == 404
    assert len(requests.get(f"{url}/calls", timeout=10).json()["calls"]) == 2
    assert len(requests.get(f"{url}/webhooks", timeout=10).json()["webhooks"]) == 1

    assert requests.post(f"{url}/reset", json={}, timeout=10).json() == {"ok": True}
    assert requests.get(f"{url}/messages", timeout=10).json()["messages"] == []
    assert requests.get(f"{url}/calls", timeout=10).json()["calls"] == []


def test_reset_restores_the_startup_faults() -> None:
    with run_sandbox(latency=0.01, faults={PHONE: 500}) as sandbox, make_client(sandbox) as client:
        client.send_sms(OTHER, "Hi")
        sandbox.set_faults(latency=0, numbers={})
        sandbox.reset()
        assert sandbox.messages() == []
        assert sandbox.faults()["latency"] == 0.01
        assert PHONE in sandbox.faults()["numbers"]


def test_wait_ready_gives_up(unused_port: int) -> None:
    with (
        SandboxClient(f"http://127.0.0.1:{unused_port}") as nobody,
        pytest.raises(SandboxError, match="No sandbox answered"),
    ):
        nobody.wait_ready(timeout=0.2)


def test_python_api_errors(sandbox: Any) -> None:
    with pytest.raises(SandboxError, match="No such message"):
        sandbox.fail(12345)
    with pytest.raises(SandboxError, match="international form"):
        sandbox.reply("12345", "Hi")
    with pytest.raises(SandboxError, match="from 0 to 1"):
        sandbox.set_faults(queued_rate=3)
    with pytest.raises(SandboxError, match=r"E\.164"):
        sandbox.set_faults(numbers={"not-a-phone": 500})
    sandbox.reply(PHONE, "inbound")
    with pytest.raises(SandboxError, match="Only a message sent"):
        sandbox.fail(sandbox.messages()[0]["id"])


def test_the_fault_form_in_the_inbox(sandbox: Any, client: TextLinkClient) -> None:
    answer = requests.post(
        sandbox.url + "/inbox/faults",
        data={
            "filter": "",
            "latency": "0",
            "error_rate": "0",
            "queued_rate": "1",
            "numbers": f'{PHONE}=502\nsend-code:{OTHER}=json:{{"ok": false, "message": "No"}}\n',
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert "queued rate 100%" in answer.text
    assert f"{PHONE}=502:json:" in answer.text  # shown back in the textarea, escaped
    assert client.send_sms(OTHER, "Hi").queued is True
    with pytest.raises(TextLinkServerError):
        client.send_sms(PHONE, "Hi")
    with pytest.raises(TextLinkAPIError, match="No"):
        client.send_code(OTHER)

    bad = requests.post(sandbox.url + "/inbox/faults", data={"numbers": "nonsense"}, timeout=10)
    assert 'role="alert"' in bad.text
    assert "+12025550143=500" in bad.text
    assert sandbox.faults()["queued_rate"] == 1.0  # nothing changed

    reset = requests.post(sandbox.url + "/inbox/reset", data={}, timeout=10)
    assert "The sandbox was cleared." in reset.text
    assert sandbox.messages() == []


def test_parse_answer_forms() -> None:
    assert parse_answer(500) == Answer(500, {"ok": False, "message": "Sandbox: injected HTTP 500"})
    assert parse_answer("200") == Answer(200, {"ok": True})
    assert parse_answer('json:{"ok": true}') == Answer(200, {"ok": True})
    assert parse_answer('418:json:{"ok": false}') == Answer(418, {"ok": False})
    assert parse_answer("502:text:a:b") == Answer(502, "a:b", text=True)
    assert parse_answer({"drop": True}).drop
    assert parse_answer({"status": 503}).body == {
        "ok": False,
        "message": "Sandbox: injected HTTP 503",
    }
    for bad in ("99", "json:{", "204", "hello", {"status": 500, "body": {}, "text": "x"}, True):
        with pytest.raises(ValueError):  # noqa: PT011
            parse_answer(bad)
    assert parse_fault("send-sms:+12025550143=drop") == ("send-sms:+12025550143", Answer(drop=True))
    with pytest.raises(ValueError, match="Unknown endpoint"):
        parse_fault("send-mms:+12025550143=500")
    assert Faults().updated({"numbers": {PHONE: 500}}).answer_for("send-sms", PHONE) is not None


def test_webhook_urls() -> None:
    assert SandboxConfig(site_url="http://127.0.0.1:8000/").webhook_url("tag") == (
        "http://127.0.0.1:8000/textlink/webhooks/tag/"
    )
    assert (
        SandboxConfig(site_url="http://ignored", webhook_base="http://x:1/hooks/").webhook_url(
            "failed"
        )
        == "http://x:1/hooks/failed/"
    )
    assert SandboxConfig().webhook_url("sent") is None
    with pytest.raises(ValueError, match="http"):
        SandboxConfig(site_url="127.0.0.1:8000")


# -- from a shell ------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_help_works_without_django_settings() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "django_textlink.sandbox", "--help"],
        env=_env(), cwd="/", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for option in ("--site-url", "--webhook-base", "--queued-rate", "--fault", "--seed"):
        assert option in result.stdout
    imported = subprocess.run(
        [sys.executable, "-c",
         "import sys, django_textlink.sandbox; print('django' in sys.modules)"],
        env=_env(), cwd="/", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert imported.stdout.strip() == "False", imported.stderr


def test_bad_options_are_refused() -> None:
    for args in (["--error-rate", "2"], ["--fault", "+1202=500"], ["--port", "70000"]):
        result = subprocess.run(
            [sys.executable, "-m", "django_textlink.sandbox", *args],
            env=_env(), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 2, args
        assert "error:" in result.stderr


class Started:
    def __init__(self, process: subprocess.Popen[str], url: str, output: list[str]) -> None:
        self.process = process
        self.url = url
        self.output = output
        self.finished = threading.Event()  # all of the output was read


@pytest.fixture
def start_process() -> Iterator[Any]:
    processes: list[subprocess.Popen[str]] = []
    readers: list[threading.Thread] = []

    def start(args: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> Started:
        process = subprocess.Popen(
            args, cwd=cwd, env=env or _env(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        processes.append(process)
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        readers.append(reader)
        output: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            output.append(line)
            found = re.search(r"inbox at (http://\S+?)/?$", line.strip())
            if found:
                started = Started(process, found.group(1), output)

                def drain(started: Started = started) -> None:
                    while (more := lines.get()) is not None:
                        output.append(more)
                    started.finished.set()

                threading.Thread(target=drain, daemon=True).start()
                return started
        raise AssertionError("The sandbox did not start:\n" + "".join(output))

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
    for reader in readers:
        reader.join(timeout=10)
    for process in processes:
        if process.stdout is not None:
            process.stdout.close()


def _stop(started: Started) -> str:
    started.process.terminate()
    assert started.process.wait(timeout=20) == 0
    assert started.finished.wait(timeout=10)
    return "".join(started.output)


def test_the_module_serves_until_terminated(start_process: Any) -> None:
    started = start_process(
        [sys.executable, "-m", "django_textlink.sandbox", "--port", "0", "--api-key", "cli-key",
         "--fault", f"{OTHER}=503", "--queued-rate", "1"]
    )  # fmt: skip
    with SandboxClient(started.url, api_key="cli-key") as remote:
        remote.wait_ready()
        assert remote.base_url == started.url + "/api"
        assert remote.faults()["numbers"] == {
            OTHER: {"status": 503, "body": {"ok": False, "message": "Sandbox: injected HTTP 503"}}
        }
    with TextLinkClient(api_key="cli-key", base_url=started.url + "/api", max_retries=0) as client:
        assert client.send_sms(PHONE, "Hi").queued is True
        with pytest.raises(TextLinkServerError):
            client.send_sms(OTHER, "Hi")
    output = _stop(started)
    assert f"{started.url}/api" in output
    assert "Stopping the TextLink sandbox." in output


def test_the_management_command_serves_with_the_sites_settings(start_process: Any) -> None:
    env = {**_env(), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    started = start_process(
        [sys.executable, "-m", "django", "textlink_sandbox", "--port", "0"], env=env
    )
    from django.conf import settings

    # The API key and the webhook secret come from settings.TEXTLINK.
    api_key = settings.TEXTLINK["API_KEY"]
    with TextLinkClient(api_key=api_key, base_url=started.url + "/api", max_retries=0) as client:
        client.send_sms(PHONE, "From the management command")
        assert client.send_code(PHONE).code
    messages = requests.get(started.url + "/_sandbox/messages", timeout=10).json()["messages"]
    assert [m["kind"] for m in messages] == ["code", "sms"]
    output = _stop(started)
    assert "Webhooks to    http://127.0.0.1:8000/textlink/webhooks/<kind>/" in output
    assert "secret: set" in output
    assert api_key not in output  # only a masked form is printed
    assert 'TEXTLINK["BASE_URL"] is https://textlinksms.test/api' in output
