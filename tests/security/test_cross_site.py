"""Another site's page making its visitors' browsers call the verification API.

The attack: https://evil.example serves a page with an auto-submitting form (or a
``fetch(..., {mode: "no-cors"})``) that POSTs a phone number to ``verify/send/``. Each
visitor's browser sends it, from the visitor's IP address, so every visitor has codes sent
at the site's cost and the per-IP limit counts each visitor apart. The browser marks such a
request with ``Sec-Fetch-Site: cross-site`` and ``Origin: https://evil.example``, headers
the page cannot set. The requests below are the ones browsers send, replayed with Django's
test client (form-encoded, as a form posts them) against the real views, service and limits;
codes travel through the locmem backend (``django_textlink.outbox``) or a faked TextLink
(``responses``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils.functional import Promise
from rest_framework.permissions import IsAuthenticated
from rest_framework.test import APIRequestFactory

from django_textlink.api.exceptions import CrossSiteRefused
from django_textlink.api.origin import cross_site_refusal
from django_textlink.api.views import SendCodeView
from tests.support import api as api_support

pytestmark = pytest.mark.django_db

PHONE = "+12025550143"
SEND = reverse("textlink-api:verify-send")
CHECK = reverse("textlink-api:verify-check")
EVIL = "https://evil.example"
OWN = "http://testserver"  # the test client's own origin
TEXTLINK_CODE = "482913"

CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Origin": EVIL}
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": OWN}


textlink = api_support.textlink
textlink_url = api_support.textlink_url


def allow_origins(settings: Any, *origins: str) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "ALLOWED_ORIGINS": list(origins)}


def send(client: Client, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    return client.post(SEND, {"phone_number": PHONE}, headers=headers or {}, **extra)


def check(client: Client, code: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(CHECK, {"phone_number": PHONE, "code": code}, headers=headers or {})


def assert_cross_site_refused(response: Any) -> None:
    assert response.status_code == 403
    body = response.json()
    assert body == {"detail": body["detail"], "code": "cross_site"}
    assert isinstance(body["detail"], str)
    assert body["detail"]


# -- the attack ------------------------------------------------------------------------------


def test_cross_site_send_is_refused_and_nothing_is_sent(client, textlink_locmem):
    response = send(client, CROSS_SITE)

    assert_cross_site_refused(response)
    assert textlink_locmem == []


def test_cross_site_send_through_textlink_makes_no_call(client, textlink, settings):
    send_code = textlink.post(
        textlink_url(settings, "send-code"), json={"ok": True, "code": TEXTLINK_CODE}
    )

    for _ in range(3):
        assert_cross_site_refused(send(client, CROSS_SITE))

    assert send_code.call_count == 0
    assert len(textlink.calls) == 0


def test_refused_sends_count_against_no_limit(client, textlink_locmem, settings):
    """Refused before the service: no cooldown started, no per-IP or per-phone send used."""
    settings.TEXTLINK = {
        **settings.TEXTLINK,
        "SENDS_PER_IP_PER_HOUR": 1,
        "SENDS_PER_PHONE_PER_HOUR": 1,
    }
    for _ in range(5):
        assert_cross_site_refused(send(client, CROSS_SITE))

    assert send(client, SAME_ORIGIN).status_code == 202
    assert len(textlink_locmem) == 1


def test_cross_site_check_is_refused_makes_no_verify_call_and_counts_nothing(
    client, textlink, settings
):
    textlink.post(textlink_url(settings, "send-code"), json={"ok": True, "code": TEXTLINK_CODE})
    verify = textlink.post(
        textlink_url(settings, "verify-code"), json={"ok": False, "message": "Invalid code"}
    )
    assert send(client).status_code == 202

    for _ in range(10):  # more than the wrong codes a code survives
        assert_cross_site_refused(check(client, "111111", CROSS_SITE))

    assert verify.call_count == 0
    # None of them counted as a wrong code or a check.
    response = check(client, "111111")
    assert response.status_code == 400
    assert response.json()["attempts_left"] == 4
    assert verify.call_count == 1


def test_cross_site_check_with_the_right_code_earns_no_token(client, textlink_locmem):
    assert send(client).status_code == 202

    response = check(client, textlink_locmem[-1].code, CROSS_SITE)

    assert_cross_site_refused(response)
    assert b"token" not in response.content
    assert check(client, textlink_locmem[-1].code).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "null"},
        {"Origin": "NULL"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "null"},
    ],
    ids=["origin-null", "origin-null-upper-case", "cross-site-origin-null"],
)
def test_origin_null_is_refused(client, textlink_locmem, headers):
    """A sandboxed iframe, a data: or file: page: the browser hides where it comes from."""
    assert_cross_site_refused(send(client, headers))
    assert textlink_locmem == []


def test_origin_null_is_refused_even_with_origins_allowed(client, textlink_locmem, settings):
    allow_origins(settings, "https://app.example.com", "https://*.example.com")

    assert_cross_site_refused(send(client, {"Origin": "null"}))
    assert textlink_locmem == []


@pytest.mark.parametrize(
    "origin",
    [
        EVIL,
        "https://testserver",  # the right host on the wrong scheme
        "http://testserver:8000",  # the right host on another port
        "http://testserver.evil.example",
        "not an origin",
    ],
)
def test_a_foreign_origin_without_sec_fetch_site_is_refused(client, textlink_locmem, origin):
    """Browsers that do not send Sec-Fetch-Site still send Origin with a POST."""
    assert_cross_site_refused(send(client, {"Origin": origin}))
    assert textlink_locmem == []


def test_cross_site_without_an_origin_is_refused(client, textlink_locmem):
    assert_cross_site_refused(send(client, {"Sec-Fetch-Site": "cross-site"}))
    assert textlink_locmem == []


def test_refusals_are_logged_with_the_origin(client, textlink_locmem, caplog):
    with caplog.at_level(logging.INFO, logger="django_textlink.api"):
        send(client, CROSS_SITE)

    assert any(
        "cross-site" in record.getMessage() and EVIL in record.getMessage()
        for record in caplog.records
    )


# -- what keeps working ----------------------------------------------------------------------


def test_same_origin_browser_request_works(client, textlink_locmem):
    response = send(client, SAME_ORIGIN)

    assert response.status_code == 202
    assert len(textlink_locmem) == 1
    verified = check(client, textlink_locmem[-1].code, SAME_ORIGIN)
    assert verified.status_code == 200
    assert verified.json()["verified"] is True


def test_same_site_browser_request_works(client, textlink_locmem):
    """A page of a sibling subdomain (accounts.testserver calling testserver)."""
    response = send(client, {"Sec-Fetch-Site": "same-site", "Origin": "http://accounts.testserver"})

    assert response.status_code == 202
    assert len(textlink_locmem) == 1


def test_user_initiated_request_works(client, textlink_locmem):
    assert send(client, {"Sec-Fetch-Site": "none"}).status_code == 202


def test_request_without_browser_headers_works(client, textlink_locmem):
    """A mobile app, curl, another server: neither Sec-Fetch-Site nor Origin."""
    response = client.post(
        SEND, json.dumps({"phone_number": PHONE}), content_type="application/json"
    )

    assert response.status_code == 202
    assert check(client, textlink_locmem[-1].code).status_code == 200


def test_own_origin_without_sec_fetch_site_works(client, textlink_locmem):
    assert send(client, {"Origin": OWN}).status_code == 202


@pytest.mark.parametrize(
    ("origin", "extra", "works"),
    [
        ("https://testserver", {"secure": True}, True),
        ("http://testserver", {"secure": True}, False),
        ("http://localhost:8000", {"headers": {"Host": "localhost:8000"}}, True),
        ("http://localhost", {"headers": {"Host": "localhost:8000"}}, False),
        ("http://localhost:80", {"headers": {"Host": "localhost"}}, True),
    ],
)
def test_own_origin_is_scheme_host_and_port(client, textlink_locmem, origin, extra, works):
    headers = {"Origin": origin, **extra.pop("headers", {})}

    response = send(client, headers, **extra)

    if works:
        assert response.status_code == 202
    else:
        assert_cross_site_refused(response)


def test_an_allowed_origin_works_cross_site(client, textlink_locmem, settings):
    allow_origins(settings, "https://app.example.com")

    response = send(client, {"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"})

    assert response.status_code == 202
    assert len(textlink_locmem) == 1
    # Still only that one.
    assert_cross_site_refused(send(client, CROSS_SITE))
    assert_cross_site_refused(
        send(client, {"Sec-Fetch-Site": "cross-site", "Origin": "https://sub.app.example.com"})
    )
    assert_cross_site_refused(
        send(client, {"Sec-Fetch-Site": "cross-site", "Origin": "http://app.example.com"})
    )


def test_an_allowed_origin_works_without_sec_fetch_site(client, textlink_locmem, settings):
    allow_origins(settings, "https://APP.example.com/")  # normalised, like conf does

    assert send(client, {"Origin": "https://app.example.com"}).status_code == 202


def test_the_default_port_may_be_spelled_out(client, textlink_locmem, settings):
    allow_origins(settings, "https://app.example.com:443")

    response = send(client, {"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"})

    assert response.status_code == 202


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://m.example.com", True),
        ("https://a.b.example.com", True),
        ("https://example.com", False),  # the bare domain is not a subdomain
        ("https://evilexample.com", False),
        ("https://example.com.evil.example", False),
        ("http://m.example.com", False),  # another scheme
        ("https://m.example.com:8443", False),  # another port
    ],
)
def test_a_wildcard_allows_subdomains_only(client, textlink_locmem, settings, origin, allowed):
    allow_origins(settings, "https://*.example.com")

    response = send(client, {"Sec-Fetch-Site": "cross-site", "Origin": origin})

    if allowed:
        assert response.status_code == 202
        assert len(textlink_locmem) == 1
    else:
        assert_cross_site_refused(response)
        assert textlink_locmem == []


# -- subclasses and authentication -----------------------------------------------------------


@pytest.mark.parametrize("permissions", [[IsAuthenticated], []])
def test_subclasses_with_other_permissions_keep_the_protection(textlink_locmem, permissions):
    class CustomSendCodeView(SendCodeView):
        permission_classes = permissions

    view = CustomSendCodeView.as_view()
    request = APIRequestFactory().post(
        SEND, {"phone_number": PHONE}, HTTP_SEC_FETCH_SITE="cross-site", HTTP_ORIGIN=EVIL
    )

    response = view(request)
    response.render()

    assert response.status_code == 403
    assert json.loads(response.content)["code"] == "cross_site"
    assert textlink_locmem == []


def test_a_logged_in_visitor_is_refused_before_authentication(client, textlink_locmem):
    """The check comes first: a cross-site request is refused as such, whoever sends it."""
    user = get_user_model().objects.create_user("erin", password="pw-erin-123")
    client.force_login(user)

    assert_cross_site_refused(send(client, CROSS_SITE))
    assert textlink_locmem == []


# -- the rules, one request at a time --------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({}, False),
        ({"HTTP_SEC_FETCH_SITE": "same-origin"}, False),
        ({"HTTP_SEC_FETCH_SITE": "same-site", "HTTP_ORIGIN": EVIL}, False),
        ({"HTTP_SEC_FETCH_SITE": "none"}, False),
        ({"HTTP_SEC_FETCH_SITE": "Cross-Site", "HTTP_ORIGIN": EVIL}, True),
        ({"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_ORIGIN": OWN}, True),
        # An unknown value: the Origin decides.
        ({"HTTP_SEC_FETCH_SITE": "elsewhere", "HTTP_ORIGIN": EVIL}, True),
        ({"HTTP_SEC_FETCH_SITE": "elsewhere", "HTTP_ORIGIN": OWN}, False),
        ({"HTTP_ORIGIN": OWN}, False),
        ({"HTTP_ORIGIN": "HTTP://TestServer"}, False),
        ({"HTTP_ORIGIN": EVIL}, True),
        ({"HTTP_ORIGIN": "null"}, True),
        ({"HTTP_ORIGIN": ""}, True),
    ],
)
def test_cross_site_refusal(headers, refused):
    request = RequestFactory().post(SEND, **headers)

    reason = cross_site_refusal(request)

    assert (reason is not None) == refused
    if refused:
        assert isinstance(reason, str)


def test_the_refusal_message_is_translatable():
    assert isinstance(CrossSiteRefused.default_detail, Promise)
    error = CrossSiteRefused()
    assert error.status_code == 403
    assert error.get_codes() == {"detail": "cross_site", "code": "cross_site"}
