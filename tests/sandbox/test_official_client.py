"""The sandbox accepts what TextLink accepts: TextLink's own Python package (``textlink``
0.0.1 on PyPI) against ``run_sandbox()``.

The package cannot be pointed elsewhere: each of its functions calls
``requests.post(url="https://textlinksms.com/api/<endpoint>", ...)`` with the URL
written into the call (no module constant, no session, no setting). So these tests
replace the ``requests`` name inside the ``textlink`` module only, with a stand-in whose
``post`` sends the very same request to the sandbox's base URL instead. That is the only
way in; everything else the package does (its body, its headers, its parsing of the
answer) runs unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import textlink  # type: ignore[import-untyped]  # no py.typed in textlink 0.0.1

from django_textlink.sandbox import RunningSandbox, run_sandbox

pytestmark = pytest.mark.integration

#: Where the package sends everything (hard-coded in each of its functions).
OFFICIAL_BASE_URL = "https://textlinksms.com/api"
PHONE = "+12025550143"


class RedirectedRequests:
    """Stands in for the ``requests`` module inside ``textlink``: ``post`` goes to the
    sandbox instead of ``OFFICIAL_BASE_URL``, with the same keyword arguments (plus a
    timeout, which the package never sets, so a broken test cannot hang)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        #: The URLs the package asked for, in order.
        self.urls: list[str] = []

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        assert url.startswith(f"{OFFICIAL_BASE_URL}/"), url
        self.urls.append(url)
        return requests.post(
            self.base_url + url.removeprefix(OFFICIAL_BASE_URL), timeout=10, **kwargs
        )


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSandbox]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with run_sandbox() as running:
        yield running


@pytest.fixture
def official(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> RedirectedRequests:
    """The ``textlink`` module, sending to ``sandbox`` with its API key."""
    redirect = RedirectedRequests(sandbox.base_url)
    monkeypatch.setattr(textlink, "requests", redirect)
    monkeypatch.setattr(textlink, "apiKey", textlink.apiKey)  # restored after the test
    textlink.useKey(sandbox.api_key)
    return redirect


def test_send_sms(sandbox: RunningSandbox, official: RedirectedRequests) -> None:
    result = textlink.sendSMS(PHONE, "Hello from the official client")

    assert result.ok is True
    assert not hasattr(result, "message")
    assert official.urls == [f"{OFFICIAL_BASE_URL}/send-sms"]
    [call] = sandbox.api_calls()
    assert call.endpoint == "send-sms"
    assert call.request == {"phone_number": PHONE, "text": "Hello from the official client"}
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["Authorization"] == f"Bearer {sandbox.api_key}"
    assert call.status == 200
    [message] = sandbox.messages()
    assert (message["kind"], message["phone_number"], message["text"]) == (
        "sms",
        PHONE,
        "Hello from the official client",
    )


def test_send_verification_sms_with_its_defaults(
    sandbox: RunningSandbox, official: RedirectedRequests
) -> None:
    """The package sends ``service_name: ""`` and ``source_country: ""`` unless told
    otherwise; TextLink takes those as not given, and so does the sandbox."""
    result = textlink.sendVerificationSMS(PHONE)

    assert result.ok is True, getattr(result, "message", None)
    assert not hasattr(result, "message")
    assert result.code == sandbox.last_code(PHONE)
    assert official.urls == [f"{OFFICIAL_BASE_URL}/send-code"]
    [call] = sandbox.api_calls()
    assert call.request == {
        "phone_number": PHONE,
        "service_name": "",
        "expiration_time": 600_000,
        "source_country": "",
    }
    [message] = sandbox.messages(PHONE)
    assert message["kind"] == "code"
    assert message["code"] == result.code
    assert message["code_status"] == "pending"
    assert message["service_name"] is None
    assert message["source_country"] is None
    assert message["expiration_time"] == 600_000
    assert message["text"] == f"Your code is {result.code}"


def test_send_verification_sms_with_a_service_and_a_country(
    sandbox: RunningSandbox, official: RedirectedRequests
) -> None:
    result = textlink.sendVerificationSMS(
        PHONE, service_name="Acme", expiration_time=60_000, source_country="US"
    )

    assert result.ok is True
    [message] = sandbox.messages(PHONE)
    assert (message["service_name"], message["source_country"]) == ("Acme", "US")
    assert message["expiration_time"] == 60_000
    assert "Acme" in message["text"]


def test_a_source_country_that_is_no_iso_code_is_still_refused(
    sandbox: RunningSandbox, official: RedirectedRequests
) -> None:
    result = textlink.sendVerificationSMS(PHONE, source_country="Serbia")

    assert result.ok is False
    assert result.message == "source_country must be an ISO-2 country code"
    assert sandbox.messages() == []


def test_verify_code_with_a_wrong_then_the_right_code(
    sandbox: RunningSandbox, official: RedirectedRequests
) -> None:
    assert textlink.sendVerificationSMS(PHONE).ok is True
    right = sandbox.last_code(PHONE)
    assert right is not None
    wrong = f"{(int(right) + 1) % 10**6:06d}"

    refused = textlink.verifyCode(PHONE, wrong)
    assert refused.ok is False
    assert refused.message == "Invalid code"

    accepted = textlink.verifyCode(PHONE, right)
    assert accepted.ok is True
    assert not hasattr(accepted, "message")

    again = textlink.verifyCode(PHONE, right)  # single use, as TextLink
    assert again.ok is False
    assert again.message == "Invalid code"
    assert sandbox.messages(PHONE)[0]["code_status"] == "used"
    assert [call.request for call in sandbox.api_calls("verify-code")] == [
        {"phone_number": PHONE, "code": wrong},
        {"phone_number": PHONE, "code": right},
        {"phone_number": PHONE, "code": right},
    ]
    assert official.urls[1:] == [f"{OFFICIAL_BASE_URL}/verify-code"] * 3


def test_a_wrong_key_gets_api_key_not_found(
    sandbox: RunningSandbox, official: RedirectedRequests
) -> None:
    textlink.useKey("not-the-sandbox-key")

    result = textlink.sendSMS(PHONE, "Hi")

    assert result.ok is False
    assert result.message == "API key not found"
    assert sandbox.messages() == []
