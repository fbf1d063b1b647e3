"""The phone verification service (django_textlink.verification), end to end.

The service, its limits and the cache are real. Only TextLink is faked: by the LocMem
backend (the code "received" by the phone is ``django_textlink.outbox[-1].code``), by
``responses`` where the HTTP call itself must be observed, and by the TextLink sandbox
(``run_sandbox()``) for the concurrency test. The clock of the limits
(``django_textlink.verification.clock.clock``) is replaced, so every limit is tested at its
boundary, to the second.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import pickle
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses
from django.contrib.auth.models import AnonymousUser, User
from django.core import signing
from django.core.cache.backends import locmem as locmem_cache
from django.core.management import call_command
from django.db import connections
from django.test import RequestFactory
from urllib3.exceptions import MaxRetryError, NewConnectionError

import django_textlink
from django_textlink.backends.locmem import LocMemBackend
from django_textlink.models import VerifiedPhoneNumber, is_phone_verified
from django_textlink.results import VerifyResult
from django_textlink.sandbox import run_sandbox
from django_textlink.sandbox.codes import CodeBook, random_code
from django_textlink.signals import phone_verified
from django_textlink.verification import (
    CheckResult,
    CountryNotAllowed,
    InvalidCode,
    InvalidToken,
    LimitExceeded,
    PhoneVerification,
    StartResult,
    VerificationUnavailable,
    make_token,
    read_token,
    redeem_token,
)
from tests.settings import TEXTLINK as TEST_TEXTLINK
from tests.support.clock import FakeClock
from tests.support.concurrency import file_sqlite_database

BASE = TEST_TEXTLINK["BASE_URL"]
API_KEY = TEST_TEXTLINK["API_KEY"]
SEND_URL = f"{BASE}/send-code"
VERIFY_URL = f"{BASE}/verify-code"
LOCMEM = "django_textlink.backends.locmem.LocMemBackend"

#: A start time on a slice boundary of every limit (a multiple of a day).
HOUR = 3600
DAY = 24 * HOUR

PHONE = "+12025550143"
PHONES = [f"+1202555{n:04d}" for n in range(100, 200)]  # valid US numbers
SERBIAN = "+381601234567"
CANADIAN = "+14165550123"

#: A right code records a VerifiedPhoneNumber, and the limits live in the database store.
#: The concurrency tests run on a file database (``shared_db``) with real transactions.
pytestmark = pytest.mark.django_db


@pytest.fixture(params=["database", "cache"])
def shared_db(request: Any, settings: Any, tmp_path: Any) -> Iterator[str]:
    """For the concurrency tests: a file SQLite database (or PostgreSQL) that threads
    share with real transactions, and each limit store in turn (the cache store on the
    test settings' LocMem cache, which the threads of one process share)."""
    configure(settings, LIMIT_STORE=request.param)
    for _ in file_sqlite_database(tmp_path):
        yield request.param


concurrent = pytest.mark.django_db(transaction=True)


# -- fixtures --------------------------------------------------------------------------------


def configure(settings: Any, **options: Any) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, **options}


@pytest.fixture
def outbox(settings: Any, clock: FakeClock) -> list[Any]:
    """The LocMem backend; what it "sent" (the plugin empties it per test)."""
    configure(settings, BACKEND=LOCMEM)
    return django_textlink.outbox


def code_for(phone: str) -> str:
    """The last code the LocMem backend sent to ``phone``, as read off the phone."""
    entries = [e for e in django_textlink.outbox if e.kind == "code" and e.phone_number == phone]
    assert entries, f"no code was sent to {phone}"
    return str(entries[-1].code)


def wrong_code(right: str) -> str:
    return "000000" if right != "000000" else "111111"


Fault = Exception | tuple[int, Any]


class FakeTextLink:
    """TextLink's send-code and verify-code, faked with ``responses``.

    Codes are issued per phone (``next_code`` forces the next one); ``send_fault`` and
    ``verify_fault`` make the next calls fail (an exception, or ``(status, body)``).
    """

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock
        #: The sandbox's code model (issue, supersede, expire, single use), as TextLink keeps
        #: codes; each code is a random one unless ``next_code`` says which.
        self.codes = CodeBook(generate=self._generate)
        self.next_code: str | None = None
        self.send_fault: Fault | None = None
        self.verify_fault: Fault | None = None
        mock.add_callback(responses.POST, SEND_URL, callback=self._send_code)
        mock.add_callback(responses.POST, VERIFY_URL, callback=self._verify_code)

    @staticmethod
    def _answer(fault: Fault) -> Any:
        if isinstance(fault, Exception):
            return fault
        status, body = fault
        text = body if isinstance(body, str) else json.dumps(body)
        return status, {}, text

    def _send_code(self, request: Any) -> Any:
        if self.send_fault is not None:
            return self._answer(self.send_fault)
        body = json.loads(request.body)
        issued = self.codes.issue(body["phone_number"], body.get("expiration_time", 600_000))
        return 200, {}, json.dumps({"ok": True, "code": issued.code})

    def _generate(self) -> str:
        code, self.next_code = self.next_code or random_code(), None
        return code

    def _verify_code(self, request: Any) -> Any:
        if self.verify_fault is not None:
            return self._answer(self.verify_fault)
        body = json.loads(request.body)
        if self.codes.check(body["phone_number"], str(body["code"])):
            return 200, {}, json.dumps({"ok": True})
        return 200, {}, json.dumps({"ok": False, "message": "Invalid code"})

    def bodies(self, endpoint: str) -> list[dict[str, Any]]:
        return [
            json.loads(call.request.body)
            for call in self.mock.calls
            if call.request.url == f"{BASE}/{endpoint}"
        ]

    def count(self, endpoint: str) -> int:
        return len(self.bodies(endpoint))


@pytest.fixture
def textlink(settings: Any, clock: FakeClock) -> Iterator[FakeTextLink]:
    """The HTTP backend (tests/settings.py) with TextLink faked by ``responses``."""
    configure(settings, MAX_RETRIES=0)  # refused connections fail at once (no backoff)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeTextLink(mock)


def http_request(remote: str = "203.0.113.7", user: Any = None) -> Any:
    request = RequestFactory().post("/verify/", REMOTE_ADDR=remote)
    request.user = user if user is not None else AnonymousUser()
    return request


def start(phone: str = PHONE, request: Any = None) -> StartResult:
    return PhoneVerification(request).start(phone)


def check(phone: str, code: str, request: Any = None) -> CheckResult:
    return PhoneVerification(request).check(phone, code)


def refused(call: Callable[[], Any], limit: str) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as info:
        call()
    assert info.value.limit == limit
    assert info.value.retry_after >= 1
    assert str(info.value.message)
    return info.value


def connection_refused() -> requests.ConnectionError:
    return requests.ConnectionError(
        MaxRetryError(None, SEND_URL, NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    )


# -- resend cooldown: 60 s per phone ---------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 0.5, 0.999])
def test_resend_cooldown_boundary(outbox: list[Any], clock: FakeClock, offset: float) -> None:
    clock.set(offset)
    result = start()
    assert result.resend_in == 60
    assert len(outbox) == 1

    clock.set(offset + 59)
    error = refused(start, "resend_cooldown")
    assert 1 <= error.retry_after <= 2
    clock.set(offset + 59.99)
    refused(start, "resend_cooldown")
    assert len(outbox) == 1  # refusals send nothing

    clock.set(offset + 61)
    start()
    assert len(outbox) == 2


def test_resend_cooldown_retry_after_is_enough(outbox: list[Any], clock: FakeClock) -> None:
    start()
    clock.advance(30)
    error = refused(start, "resend_cooldown")
    assert 30 <= error.retry_after <= 31
    assert PhoneVerification().resend_available_in(PHONE) == error.retry_after
    clock.advance(error.retry_after)
    assert PhoneVerification().resend_available_in(PHONE) == 0
    start()
    assert len(outbox) == 2


def test_resend_cooldown_is_per_phone(outbox: list[Any], clock: FakeClock) -> None:
    start(PHONES[0])
    start(PHONES[1])
    refused(lambda: start(PHONES[0]), "resend_cooldown")
    assert [e.phone_number for e in outbox] == [PHONES[0], PHONES[1]]


def test_cooldown_keys_on_the_normalized_number(
    outbox: list[Any], clock: FakeClock, settings: Any
) -> None:
    configure(settings, BACKEND=LOCMEM, DEFAULT_REGION="US")
    start("+1 (202) 555-0143")
    refused(lambda: start("202 555 0143"), "resend_cooldown")
    refused(lambda: start(PHONE), "resend_cooldown")
    assert len(outbox) == 1


# -- 5 sends per phone per hour --------------------------------------------------------------


@pytest.mark.usefixtures("fraud_guard_off")
def test_sends_per_phone_per_hour(outbox: list[Any], clock: FakeClock) -> None:
    for i in range(5):
        clock.set(i * 61)
        start()
    assert len(outbox) == 5

    clock.set(5 * 61)  # the cooldown has passed, the hourly limit has not
    error = refused(start, "sends_per_phone")
    assert len(outbox) == 5
    clock.set(HOUR - 1)
    refused(start, "sends_per_phone")
    assert len(outbox) == 5

    # Allowed again an hour (at most one 5-minute slice more) after the first send, and
    # exactly when the refusal said so.
    allowed_at = 5 * 61 + error.retry_after
    assert HOUR <= allowed_at <= HOUR + 300
    clock.set(allowed_at - 1)
    refused(start, "sends_per_phone")
    clock.set(allowed_at)
    start()
    assert len(outbox) == 6


@pytest.mark.usefixtures("fraud_guard_off")
def test_sends_per_phone_refusal_does_not_consume_the_cooldown(
    outbox: list[Any], clock: FakeClock, settings: Any
) -> None:
    for i in range(5):
        clock.set(i * 61)
        start()
    clock.set(5 * 61)
    refused(start, "sends_per_phone")
    # Lift the hourly limit: the refused attempt must not have started a cooldown.
    configure(settings, BACKEND=LOCMEM, SENDS_PER_PHONE_PER_HOUR=100)
    start()
    assert len(outbox) == 6


# -- 10 sends per client IP per hour ---------------------------------------------------------


@pytest.mark.usefixtures("fraud_guard_off")
def test_sends_per_ip_per_hour_across_phones(outbox: list[Any], clock: FakeClock) -> None:
    request = http_request("203.0.113.7")
    for phone in PHONES[:10]:
        start(phone, request)
    assert len(outbox) == 10

    error = refused(lambda: start(PHONES[10], http_request("203.0.113.7")), "sends_per_ip")
    assert len(outbox) == 10
    # Another client, and a call outside any request, are not affected.
    start(PHONES[11], http_request("203.0.113.8"))
    start(PHONES[12])
    assert len(outbox) == 12

    # The refused attempt took nothing from the phone it was for.
    start(PHONES[10], http_request("198.51.100.1"))
    assert len(outbox) == 13

    clock.advance(error.retry_after - 1)
    refused(lambda: start(PHONES[13], request), "sends_per_ip")
    clock.advance(1)
    start(PHONES[13], request)
    assert len(outbox) == 14


@pytest.mark.usefixtures("fraud_guard_off")
def test_sends_per_ip_ipv6_shares_the_64(outbox: list[Any], clock: FakeClock) -> None:
    for i, phone in enumerate(PHONES[:10]):
        start(phone, http_request(f"2001:db8:1:2::{i + 1:x}"))
    # Any address in the same /64 is the same client ...
    refused(lambda: start(PHONES[10], http_request("2001:db8:1:2:ffff::1")), "sends_per_ip")
    assert len(outbox) == 10
    # ... a different /64 is not.
    start(PHONES[10], http_request("2001:db8:1:3::1"))
    assert len(outbox) == 11


@pytest.mark.usefixtures("fraud_guard_off")
def test_sends_per_ip_ignores_spoofed_forwarded_for(outbox: list[Any], clock: FakeClock) -> None:
    for i, phone in enumerate(PHONES[:10]):
        request = http_request("203.0.113.7")
        request.META["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{i}"
        start(phone, request)
    request = http_request("203.0.113.7")
    request.META["HTTP_X_FORWARDED_FOR"] = "198.51.100.200"
    refused(lambda: start(PHONES[10], request), "sends_per_ip")


@pytest.mark.usefixtures("fraud_guard_off")
def test_sends_per_ip_with_the_http_backend_makes_no_call(
    textlink: FakeTextLink, clock: FakeClock
) -> None:
    for phone in PHONES[:10]:
        start(phone, http_request())
    assert textlink.count("send-code") == 10
    refused(lambda: start(PHONES[10], http_request()), "sends_per_ip")
    assert textlink.count("send-code") == 10


# -- daily budget -----------------------------------------------------------------------------


def test_daily_budget(outbox: list[Any], clock: FakeClock, settings: Any) -> None:
    configure(settings, BACKEND=LOCMEM, DAILY_SEND_BUDGET=3)
    for phone in PHONES[:3]:
        start(phone)
    error = refused(lambda: start(PHONES[3]), "daily_budget")
    refused(lambda: start(PHONES[4], http_request()), "daily_budget")
    assert len(outbox) == 3

    clock.set(DAY - 1)
    refused(lambda: start(PHONES[3]), "daily_budget")
    assert DAY <= error.retry_after <= DAY + 2 * HOUR
    clock.set(error.retry_after)
    start(PHONES[3])
    assert len(outbox) == 4


def test_daily_budget_refusal_does_not_consume_the_phone_limits(
    outbox: list[Any], clock: FakeClock, settings: Any
) -> None:
    configure(settings, BACKEND=LOCMEM, DAILY_SEND_BUDGET=1)
    start(PHONES[0])
    refused(lambda: start(PHONES[1]), "daily_budget")
    configure(settings, BACKEND=LOCMEM, DAILY_SEND_BUDGET=2)
    start(PHONES[1])  # no cooldown was started by the refused attempt
    assert len(outbox) == 2


@pytest.mark.usefixtures("fraud_guard_off")
def test_no_daily_budget_by_default(outbox: list[Any], clock: FakeClock) -> None:
    for phone in PHONES[:30]:
        start(phone)
    assert len(outbox) == 30


# -- country allow-list -----------------------------------------------------------------------


def test_allowed_countries_refuse_other_countries_without_a_call(
    textlink: FakeTextLink, settings: Any
) -> None:
    configure(settings, MAX_RETRIES=0, ALLOWED_COUNTRIES=["US", "CA"])
    with pytest.raises(CountryNotAllowed) as info:
        start(SERBIAN)
    assert info.value.code == "country_not_allowed"
    assert textlink.count("send-code") == 0

    start(PHONE)
    start(CANADIAN)
    assert [body["phone_number"] for body in textlink.bodies("send-code")] == [PHONE, CANADIAN]


def test_a_country_refusal_counts_nothing(outbox: list[Any], settings: Any) -> None:
    configure(settings, BACKEND=LOCMEM, ALLOWED_COUNTRIES=["US"])
    for _ in range(10):
        with pytest.raises(CountryNotAllowed):
            start(SERBIAN, http_request())
    assert outbox == []
    configure(settings, BACKEND=LOCMEM, ALLOWED_COUNTRIES=["US", "RS"])
    start(SERBIAN, http_request())  # no cooldown, no per-IP count was taken
    assert len(outbox) == 1


def test_every_country_is_allowed_without_the_setting(outbox: list[Any]) -> None:
    start(SERBIAN)
    start(CANADIAN)
    assert len(outbox) == 2


# -- wrong codes and checks -------------------------------------------------------------------


def test_five_wrong_codes_then_even_the_right_code_is_refused(
    textlink: FakeTextLink, clock: FakeClock
) -> None:
    textlink.next_code = "482913"
    start()
    for left in (4, 3, 2, 1, 0):
        result = check(PHONE, "111111")
        assert not result
        assert result.verified is False
        assert result.attempts_left == left
        assert result.token is None
    assert textlink.count("verify-code") == 5

    error = refused(lambda: check(PHONE, "482913"), "wrong_codes")
    refused(lambda: check(PHONE, "111111"), "wrong_codes")
    assert textlink.count("verify-code") == 5  # the refusals asked TextLink nothing
    # The way out is a new code, after the resend cooldown.
    assert 1 <= error.retry_after <= 61
    clock.advance(error.retry_after)
    start()
    assert textlink.count("send-code") == 2


def test_a_new_code_resets_the_wrong_code_counter(textlink: FakeTextLink, clock: FakeClock) -> None:
    start()
    for _ in range(5):
        check(PHONE, "111111")
    refused(lambda: check(PHONE, "111111"), "wrong_codes")

    clock.advance(61)
    textlink.next_code = "246810"
    start()
    for left in (4, 3, 2, 1):
        assert check(PHONE, "111111").attempts_left == left
    result = check(PHONE, "246810")  # the tenth check of the hour
    assert result
    assert result.token
    assert textlink.count("verify-code") == 10


def test_wrong_code_counter_is_per_phone(textlink: FakeTextLink) -> None:
    start(PHONES[0])
    start(PHONES[1])
    for _ in range(5):
        check(PHONES[0], "111111")
    refused(lambda: check(PHONES[0], "111111"), "wrong_codes")
    assert check(PHONES[1], "111111").attempts_left == 4


@pytest.mark.usefixtures("fraud_guard_off")
def test_ten_checks_per_phone_per_hour(textlink: FakeTextLink, clock: FakeClock) -> None:
    start()
    for _ in range(5):
        check(PHONE, "111111")
    clock.advance(61)
    start()
    for _ in range(5):
        check(PHONE, "111111")
    clock.advance(61)
    textlink.next_code = "135790"
    start()
    assert textlink.count("verify-code") == 10

    error = refused(lambda: check(PHONE, "135790"), "checks_per_phone")
    assert textlink.count("verify-code") == 10
    # An hour after the last check counted in the first 5-minute slice (at 61 s), and
    # never longer than the window.
    assert error.retry_after == HOUR + 61 - 122
    clock.advance(error.retry_after - 1)
    textlink.next_code = "246801"
    start()  # the code sent at 122 s has expired: a live code is needed for the limit
    refused(lambda: check(PHONE, "246801"), "checks_per_phone")
    clock.advance(1)
    assert check(PHONE, "246801")
    assert textlink.count("verify-code") == 11


def test_checks_without_a_live_code_ask_textlink_nothing(textlink: FakeTextLink) -> None:
    result = check(PHONE, "123456")
    assert not result
    assert result.attempts_left == 0
    assert textlink.count("verify-code") == 0


@pytest.mark.parametrize("code", ["", "   ", "12 34!", "1234567890123", "12-34", "<b>1</b>"])
def test_malformed_codes_are_refused_and_not_counted(textlink: FakeTextLink, code: str) -> None:
    start()
    for _ in range(20):
        with pytest.raises(InvalidCode):
            check(PHONE, code)
    assert textlink.count("verify-code") == 0
    assert check(PHONE, "111111").attempts_left == 4  # nothing was used up


def test_code_with_spaces_is_accepted(outbox: list[Any]) -> None:
    start()
    code = code_for(PHONE)
    assert check(PHONE, f" {code[:3]} {code[3:]} ")


# -- what TextLink receives -------------------------------------------------------------------


def test_send_parameters_reach_textlink_exactly(textlink: FakeTextLink, settings: Any) -> None:
    configure(
        settings,
        MAX_RETRIES=0,
        SERVICE_NAME="Acme Shop",
        SIM_CARD_ID=7,
        SOURCE_COUNTRY="us",
        CODE_LIFETIME=300,
    )
    result = start(" +1 202 555 0143 ")
    assert textlink.bodies("send-code") == [
        {
            "phone_number": PHONE,
            "service_name": "Acme Shop",
            "sim_card_id": 7,
            "source_country": "US",
            "expiration_time": 300_000,
        }
    ]
    assert result == StartResult(phone_number=PHONE, resend_in=60, expires_in=300)


def test_default_send_parameters(textlink: FakeTextLink) -> None:
    start()
    assert textlink.bodies("send-code") == [{"phone_number": PHONE, "expiration_time": 600_000}]
    request = textlink.mock.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"


def test_check_sends_the_normalized_phone_and_code(textlink: FakeTextLink) -> None:
    textlink.next_code = "482913"
    start()
    assert check("+1 202-555-0143", " 482 913 ")
    assert textlink.bodies("verify-code") == [{"phone_number": PHONE, "code": "482913"}]


# -- TextLink failures -----------------------------------------------------------------------

SURELY_NOT_SENT: dict[str, Callable[[], Fault]] = {
    "ok-false": lambda: (200, {"ok": False, "message": "Invalid phone number"}),
    "auth": lambda: (401, {"ok": False, "message": "API key not found"}),
    "rate-limited": lambda: (429, {"ok": False, "message": "Slow down"}),
    "refused": connection_refused,
    "connect-timeout": lambda: requests.ConnectTimeout("connect timeout"),
}
DELIVERY_UNKNOWN: dict[str, Callable[[], Fault]] = {
    "read-timeout": lambda: requests.ReadTimeout("read timeout"),
    "server-error": lambda: (500, "Internal Server Error"),
    "not-json": lambda: (200, "<html>oops</html>"),
}


@pytest.mark.parametrize("fault", SURELY_NOT_SENT)
def test_send_failure_surely_not_sent_does_not_consume_the_cooldown(
    textlink: FakeTextLink, fault: str
) -> None:
    textlink.send_fault = SURELY_NOT_SENT[fault]()
    with pytest.raises(VerificationUnavailable) as info:
        start()
    assert info.value.code == "unavailable"
    assert textlink.count("send-code") == 1

    textlink.send_fault = None
    start()  # at once: the failed attempt did not count
    assert textlink.count("send-code") == 2


def test_send_failures_surely_not_sent_do_not_use_up_the_hourly_limit(
    textlink: FakeTextLink,
) -> None:
    textlink.send_fault = (200, {"ok": False, "message": "No SIM available"})
    for _ in range(12):
        with pytest.raises(VerificationUnavailable):
            start(PHONE, http_request())
    textlink.send_fault = None
    start(PHONE, http_request())
    assert textlink.count("send-code") == 13


@pytest.mark.parametrize("fault", DELIVERY_UNKNOWN)
def test_send_failure_with_delivery_unknown_consumes_the_cooldown(
    textlink: FakeTextLink, clock: FakeClock, fault: str
) -> None:
    textlink.send_fault = DELIVERY_UNKNOWN[fault]()
    with pytest.raises(VerificationUnavailable):
        start()
    assert textlink.count("send-code") == 1

    textlink.send_fault = None
    refused(start, "resend_cooldown")  # the SMS may have gone out: no second one at once
    assert textlink.count("send-code") == 1
    clock.advance(61)
    start()
    assert textlink.count("send-code") == 2


@pytest.mark.usefixtures("fraud_guard_off")
def test_delivery_unknown_sends_count_towards_the_hourly_limit(
    textlink: FakeTextLink, clock: FakeClock
) -> None:
    textlink.send_fault = requests.ReadTimeout("read timeout")
    for i in range(5):
        clock.set(i * 61)
        with pytest.raises(VerificationUnavailable):
            start()
    clock.set(5 * 61)
    refused(start, "sends_per_phone")
    assert textlink.count("send-code") == 5


@pytest.mark.parametrize(
    "fault",
    [
        requests.ReadTimeout("read timeout"),
        requests.ConnectTimeout("connect timeout"),
        connection_refused(),
        (500, "Internal Server Error"),
        (401, {"ok": False, "message": "API key not found"}),
    ],
    ids=["read-timeout", "connect-timeout", "refused", "server-error", "auth"],
)
def test_check_transport_failure_is_not_a_wrong_attempt(
    textlink: FakeTextLink, fault: Fault
) -> None:
    textlink.next_code = "482913"
    start()
    textlink.verify_fault = fault
    for _ in range(8):
        with pytest.raises(VerificationUnavailable) as info:
            check(PHONE, "111111")
        assert info.value.code == "unavailable"
    assert textlink.count("verify-code") == 8

    textlink.verify_fault = None
    # Neither the wrong-code counter nor the hourly checks were used up by the failures.
    for left in (4, 3, 2, 1):
        assert check(PHONE, "111111").attempts_left == left
    assert check(PHONE, "482913")


# -- success ---------------------------------------------------------------------------------


@pytest.fixture
def verified_signals() -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    phone_verified.connect(receiver, weak=False, dispatch_uid="test-verification-receiver")
    yield received
    phone_verified.disconnect(dispatch_uid="test-verification-receiver")


def test_success_for_a_user(outbox: list[Any], verified_signals: list[dict[str, Any]]) -> None:
    user = User.objects.create_user("alice")
    request = http_request(user=user)
    start(PHONE, request)
    code = code_for(PHONE)

    result = check(PHONE, code, request)
    assert result
    assert result.verified is True
    assert result.phone_number == PHONE
    assert result.token

    assert len(verified_signals) == 1
    kwargs = verified_signals[0]
    assert set(kwargs) == {"signal", "sender", "phone_number", "request", "user"}
    assert kwargs["sender"] is PhoneVerification
    assert kwargs["phone_number"] == PHONE
    assert kwargs["request"] is request
    assert kwargs["user"] == user
    assert code not in repr(kwargs)

    record = VerifiedPhoneNumber.objects.get()
    assert (record.phone_number, record.user) == (PHONE, user)
    assert is_phone_verified(PHONE, user=user)
    assert is_phone_verified("+1 202 555 0143", user=user)
    assert is_phone_verified(PHONE)
    assert not is_phone_verified(PHONE, user=User.objects.create_user("bob"))
    assert not is_phone_verified(PHONES[0], user=user)
    assert not is_phone_verified("not a phone", user=user)

    assert redeem_token(result.token, phone_number=PHONE, user=user) == PHONE


def test_success_for_an_anonymous_visitor(
    outbox: list[Any], verified_signals: list[dict[str, Any]]
) -> None:
    request = http_request()
    start(PHONE, request)
    result = check(PHONE, code_for(PHONE), request)
    assert result
    assert len(verified_signals) == 1
    assert verified_signals[0]["user"] is None
    assert verified_signals[0]["request"] is request
    record = VerifiedPhoneNumber.objects.get()
    assert record.user is None
    assert is_phone_verified(PHONE)
    assert not is_phone_verified(PHONE, user=User.objects.create_user("carol"))


def test_success_without_a_request_with_an_explicit_user(
    outbox: list[Any], verified_signals: list[dict[str, Any]]
) -> None:
    user = User.objects.create_user("dave")
    PhoneVerification(user=user).start(PHONE)
    result = PhoneVerification(user=user).check(PHONE, code_for(PHONE))
    assert result
    assert verified_signals[0]["request"] is None
    assert verified_signals[0]["user"] == user
    assert is_phone_verified(PHONE, user=user)


def test_verifying_again_refreshes_the_record(outbox: list[Any], clock: FakeClock) -> None:
    user = User.objects.create_user("erin")
    for _ in range(2):
        start(PHONE, http_request(user=user))
        assert check(PHONE, code_for(PHONE), http_request(user=user))
        clock.advance(61)
    assert VerifiedPhoneNumber.objects.count() == 1


def test_a_used_code_cannot_be_checked_again(
    outbox: list[Any], verified_signals: list[dict[str, Any]]
) -> None:
    start()
    code = code_for(PHONE)
    assert check(PHONE, code)
    second = check(PHONE, code)
    assert not second
    assert second.token is None
    assert len(verified_signals) == 1


def test_a_wrong_code_fires_no_signal(
    outbox: list[Any], verified_signals: list[dict[str, Any]]
) -> None:
    start()
    assert not check(PHONE, wrong_code(code_for(PHONE)))
    assert verified_signals == []


def test_an_older_code_is_replaced_by_a_new_one(outbox: list[Any], clock: FakeClock) -> None:
    start()
    old = code_for(PHONE)
    clock.advance(61)
    start()
    new = code_for(PHONE)
    if old != new:
        assert not check(PHONE, old)


# -- tokens ----------------------------------------------------------------------------------


@pytest.fixture
def token(outbox: list[Any]) -> str:
    start()
    result = check(PHONE, code_for(PHONE))
    assert result.token
    return result.token


def test_token_redeems_once(token: str) -> None:
    assert read_token(token).phone_number == PHONE  # reading does not use it up
    assert read_token(token, phone_number=PHONE).phone_number == PHONE
    assert redeem_token(token, phone_number=PHONE) == PHONE
    with pytest.raises(InvalidToken):
        redeem_token(token, phone_number=PHONE)
    with pytest.raises(InvalidToken):
        read_token(token)


@concurrent
def test_concurrent_redeems_succeed_once(shared_db: None, token: str) -> None:
    barrier = threading.Barrier(20)
    outcomes: list[bool] = []

    def worker() -> None:
        barrier.wait(timeout=10)
        try:
            redeem_token(token)
        except InvalidToken:
            outcomes.append(False)
        else:
            outcomes.append(True)
        finally:
            connections.close_all()  # each thread's own database connection

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert outcomes.count(True) == 1
    assert len(outcomes) == 20


def tampered_versions(token: str) -> list[str]:
    payload, _, signature = token.rpartition(":")
    other = make_token(PHONES[0])
    flipped = "A" if token[5] != "A" else "B"
    return [
        token[:5] + flipped + token[6:],
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        f"{payload}:",
        signature,
        token + "x",
        other.rpartition(":")[0] + ":" + signature,  # another payload, this signature
        "",
        "not-a-token",
        signing.dumps({"p": PHONE, "u": None, "n": "x"}),  # signed without the salt
        signing.dumps({"p": PHONE}, salt="django_textlink.verification.token", key="other"),
    ]


def test_tampered_tokens_are_invalid(token: str) -> None:
    for bad in tampered_versions(token):
        with pytest.raises(InvalidToken):
            redeem_token(bad)
    assert redeem_token(token) == PHONE  # the genuine one still works


def test_a_token_for_another_phone_is_invalid(token: str) -> None:
    for other in (PHONES[0], SERBIAN, "not a phone", ""):
        with pytest.raises(InvalidToken):
            redeem_token(token, phone_number=other)
    assert redeem_token(token, phone_number="+1 (202) 555-0143") == PHONE


def test_a_token_for_another_user_is_invalid(outbox: list[Any]) -> None:
    alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
    start(PHONE, http_request(user=alice))
    token = check(PHONE, code_for(PHONE), http_request(user=alice)).token
    assert token
    with pytest.raises(InvalidToken):
        redeem_token(token, user=bob)
    assert redeem_token(token, user=alice) == PHONE


def test_an_expired_token_is_invalid(
    outbox: list[Any], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(settings, BACKEND=LOCMEM, TOKEN_MAX_AGE=60)
    start()
    token = check(PHONE, code_for(PHONE)).token
    assert token
    signed_at = time.time()

    def at(seconds: float) -> None:
        monkeypatch.setattr(
            signing, "time", types.SimpleNamespace(time=lambda: signed_at + seconds)
        )

    at(59)
    assert read_token(token).phone_number == PHONE
    at(62)
    with pytest.raises(InvalidToken) as info:
        read_token(token)
    assert "expired" in str(info.value)
    with pytest.raises(InvalidToken):
        redeem_token(token)


def test_default_token_lifetime(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    signed_at = time.time()
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: signed_at + 1801))
    with pytest.raises(InvalidToken):
        redeem_token(token)


# -- leak sweep ------------------------------------------------------------------------------

LEAK_CODE = "739146"


def cache_contents() -> list[str]:
    """Every key and (unpickled) value in every LocMem cache of this process."""
    found = []
    for store in locmem_cache._caches.values():  # type: ignore[attr-defined]
        for key, value in list(store.items()):
            found.append(key)
            found.append(repr(pickle.loads(value)))  # noqa: S301 - our own cache
            found.append(repr(value))
    return found


def log_text(records: list[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(repr(record.msg))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        parts.append(repr(record.__dict__))
    return "\n".join(parts)


def test_leak_sweep(
    textlink: FakeTextLink,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    verified_signals: list[dict[str, Any]],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django_textlink")
    user = User.objects.create_user("alice")
    request = http_request("203.0.113.77", user=user)
    seen: list[str] = []

    # A failed send whose error echoes the API key.
    textlink.send_fault = (200, {"ok": False, "message": f"API key {API_KEY} not found"})
    with pytest.raises(VerificationUnavailable) as failure:
        start(PHONE, request)
    seen += [repr(failure.value), str(failure.value), str(failure.value.__cause__)]
    textlink.send_fault = None

    textlink.next_code = LEAK_CODE
    started = start(PHONE, request)
    wrong = check(PHONE, "520520", request)
    assert not wrong
    right = check(PHONE, LEAK_CODE, request)
    assert right
    clock.advance(61)
    textlink.next_code = "804251"
    start(PHONE, request)
    for _ in range(5):
        check(PHONE, "520520", request)
    with pytest.raises(LimitExceeded) as limited:
        check(PHONE, "804251", request)
    seen += [repr(limited.value), str(limited.value)]
    assert right.token
    redeem_token(right.token, phone_number=PHONE, user=user)

    # TextLink did return the code, and was asked about it: the sweep is meaningful.
    assert textlink.mock.calls[1].response.json()["code"] == LEAK_CODE
    assert textlink.bodies("verify-code")[1]["code"] == LEAK_CODE

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    places = {
        "dumpdata": dump.getvalue(),
        "cache": "\n".join(cache_contents()),
        "logs": log_text(caplog.records),
        "signals": repr(verified_signals),
        "results": repr([started, wrong, right]),
        "exceptions": "\n".join(seen),
    }
    assert caplog.records  # the flow did log
    assert PHONE in places["dumpdata"]  # the verification was recorded
    for place, text in places.items():
        assert LEAK_CODE not in text, place
        assert "804251" not in text, place
    # The submitted wrong code is not logged either; nor the key, nor the raw number.
    assert "520520" not in places["logs"]
    for place, text in places.items():
        assert API_KEY not in text, place
    for place in ("logs", "cache", "exceptions"):
        assert PHONE not in places[place], place
        assert PHONE[1:] not in places[place], place
    assert "203.0.113.77" not in places["cache"]


def test_the_start_result_never_carries_the_code(textlink: FakeTextLink) -> None:
    textlink.next_code = LEAK_CODE
    result = start()
    assert LEAK_CODE not in repr(result)
    assert LEAK_CODE not in repr(dataclasses.asdict(result))


# -- concurrency ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _restore_switch_interval() -> Iterator[None]:
    previous = sys.getswitchinterval()
    yield
    sys.setswitchinterval(previous)


def run_together(count: int, work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` in ``count`` threads released at once; each outcome or exception.

    Threads switch as often as possible, so they really interleave under the GIL (as
    requests do across processes that share Redis)."""
    sys.setswitchinterval(1e-6)
    barrier = threading.Barrier(count)
    outcomes: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait(timeout=10)
        try:
            outcome: Any = work()
        except Exception as err:
            outcome = err
        finally:
            connections.close_all()  # each thread's own database connection
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(outcomes) == count
    return outcomes


@concurrent
def test_fifty_parallel_wrong_checks_reach_textlink_at_most_five_times(
    shared_db: None, settings: Any
) -> None:
    with run_sandbox() as server:
        configure(settings, API_KEY=server.api_key, BASE_URL=server.base_url)
        start()
        right = server.last_code(PHONE)
        wrong = wrong_code(right)

        outcomes = run_together(50, lambda: check(PHONE, wrong))

        verify_calls = server.api_calls("verify-code")
        assert 1 <= len(verify_calls) <= 5
        assert len(verify_calls) == 5  # and the limit is not undershot either
        answered = [o for o in outcomes if isinstance(o, CheckResult)]
        refusals = [o for o in outcomes if isinstance(o, LimitExceeded)]
        assert len(answered) == len(verify_calls)
        assert len(answered) + len(refusals) == 50
        assert not any(answered)
        assert {r.limit for r in refusals} <= {"wrong_codes", "checks_per_phone"}

        # The code is dead now, even the right one, and TextLink is not asked.
        refused(lambda: check(PHONE, right), "wrong_codes")
        assert len(server.api_calls("verify-code")) == 5


@concurrent
def test_parallel_starts_send_one_code(shared_db: str, outbox: list[Any]) -> None:
    outcomes = run_together(30, lambda: start(PHONE, http_request()))
    assert len(outbox) == 1
    assert sum(isinstance(o, StartResult) for o in outcomes) == 1
    refusals = [o for o in outcomes if not isinstance(o, StartResult)]
    assert all(isinstance(o, LimitExceeded) for o in refusals)
    if shared_db == "database":  # decided one after the other: the cooldown refuses
        assert {o.limit for o in refusals} == {"resend_cooldown"}
    else:  # the cache store counts concurrent hits on the IP before taking them back
        assert {o.limit for o in refusals} <= {"resend_cooldown", "sends_per_ip"}


@pytest.mark.usefixtures("fraud_guard_off")
@concurrent
def test_parallel_starts_from_one_ip_to_many_phones_send_ten(
    shared_db: None, outbox: list[Any]
) -> None:
    phones = iter(PHONES[:50])
    lock = threading.Lock()

    def work() -> Any:
        with lock:
            phone = next(phones)
        return start(phone, http_request("198.51.100.9"))

    outcomes = run_together(50, work)
    assert len(outbox) == 10
    assert sum(isinstance(o, StartResult) for o in outcomes) == 10


# -- enumeration ------------------------------------------------------------------------------


def anonymized(value: Any) -> Any:
    """``value`` with the phone number and token blanked, for comparing two numbers."""
    if isinstance(value, LimitExceeded):
        return (type(value), value.limit, value.retry_after, str(value.message), value.code)
    if isinstance(value, Exception):
        return (type(value), str(value))
    changes: dict[str, Any] = {"phone_number": "+"}
    if isinstance(value, CheckResult):
        changes["token"] = bool(value.token)
    return dataclasses.replace(value, **changes)


def attempt(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as err:
        return err


def flow(phone: str, clock: FakeClock) -> list[Any]:
    """Every answer of one verification story for ``phone``."""
    clock.set(0)
    answers = [attempt(lambda: check(phone, "123456"))]  # before any code
    answers.append(attempt(lambda: start(phone)))
    answers.append(attempt(lambda: start(phone)))  # cooldown
    for _ in range(5):
        answers.append(attempt(lambda: check(phone, wrong_code(code_for(phone)))))
    answers.append(attempt(lambda: check(phone, code_for(phone))))  # dead code
    clock.advance(61)
    answers.append(attempt(lambda: start(phone)))
    answers.append(attempt(lambda: check(phone, code_for(phone))))  # right
    return answers


def test_answers_do_not_depend_on_whether_the_number_has_an_account(
    outbox: list[Any], clock: FakeClock
) -> None:
    owner = User.objects.create_user("owner")
    taken, free = PHONES[0], PHONES[1]
    VerifiedPhoneNumber.record(taken, owner)
    answers = {phone: flow(phone, clock) for phone in (taken, free)}

    assert [anonymized(a) for a in answers[taken]] == [anonymized(a) for a in answers[free]]
    assert answers[taken][-1].verified is True


WRONG_CODES = 5  # checks of one code allowed by default (WRONG_CODES_PER_CODE)


class ReusableCodeBackend(LocMemBackend):
    """The locmem backend, but a right code stays right until it expires (TextLink may
    not consume a code when it is checked)."""

    def verify_code(self, phone_number: str, code: str) -> VerifyResult:
        sent = [e for e in django_textlink.outbox if e.kind == "code"]
        return VerifyResult(valid=bool(sent) and str(sent[-1].code) == code)


@concurrent
def test_concurrent_checks_of_the_right_code_earn_one_token(
    shared_db: str, outbox: list[Any], settings: Any
) -> None:
    """Each token can make an account: one code must earn one token, also when several
    checks of it race and TextLink says yes to each."""
    configure(settings, BACKEND="tests.verification.test_flow.ReusableCodeBackend")
    start()
    code = code_for(PHONE)

    outcomes = run_together(WRONG_CODES, lambda: check(PHONE, code))  # all within the limits

    assert all(isinstance(o, CheckResult) for o in outcomes), outcomes
    assert sum(1 for o in outcomes if o.verified and o.token) == 1
    assert all(o.attempts_left == 0 for o in outcomes if not o.verified)


# -- input not shaped like a code --------------------------------------------------------------

#: TextLink's codes are digits (6 of them); none of these is shaped like one.
NOT_CODES = ["abc", "12", "123", "Ab12", "abcdef", "12a456", "+123456", "1e5", "1" * 13]
NOT_CODES.append("\uff11\uff12\uff13\uff14\uff15\uff16")  # full-width digits


def test_input_not_shaped_like_a_code_uses_up_no_attempt_and_reaches_no_one(
    textlink: FakeTextLink, settings: Any
) -> None:
    """Input like "abc" or "12" is refused as InvalidCode before any limit counts it and
    before TextLink is asked: after ten of them (twice the wrong codes one code allows,
    more than the client may check) the right code still verifies."""
    configure(settings, CHECKS_PER_IP_PER_HOUR=len(NOT_CODES))
    textlink.next_code = "482913"
    request = http_request()
    start(request=request)
    for code in NOT_CODES:
        with pytest.raises(InvalidCode):
            check(PHONE, code, request)
    assert textlink.count("verify-code") == 0

    result = check(PHONE, "482913", request)

    assert result.verified, result
    assert result.token
    assert textlink.bodies("verify-code") == [{"phone_number": PHONE, "code": "482913"}]
