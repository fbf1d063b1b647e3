"""The attacks that broke phone verification on the demo, replayed over HTTP.

Each test replays one finding of the hardening issue as the attacker ran it, against the
real DRF endpoints, the real limits and the test settings' default cache (LocMem with
300 entries, culling a third when full), and asserts what must hold instead. TextLink is
the locmem backend (every code it "sends" is in ``django_textlink.outbox``); the limits'
clock is the fake one, so an hour passes in a line.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

import django_textlink
from django_textlink.models import SMSMessage, VerificationState, WebhookEvent
from django_textlink.verification import PhoneVerification, session
from tests.support.clock import FakeClock

pytestmark = pytest.mark.django_db

SEND = reverse("textlink-api:verify-send")
CHECK = reverse("textlink-api:verify-check")
VICTIM = "+12025550143"
ATTACKER_IP = "198.51.100.66"
LOCMEM = "django_textlink.backends.locmem.LocMemBackend"
EARLY_WEBHOOK = "tests.security.test_verification_attacks.EarlyWebhookBackend"


@pytest.fixture
def outbox(textlink_locmem: list[Any], clock: FakeClock) -> list[Any]:
    """The locmem backend's outbox (the plugin's ``textlink_locmem``), on the fake clock."""
    return textlink_locmem


def phone(n: int) -> str:  # valid US numbers
    return f"+1202555{n:04d}"


def send(api: APIClient, number: str, ip: str = ATTACKER_IP) -> Any:
    return api.post(SEND, {"phone_number": number}, format="json", REMOTE_ADDR=ip)


def check(api: APIClient, number: str, code: str, ip: str = ATTACKER_IP) -> Any:
    return api.post(CHECK, {"phone_number": number, "code": code}, format="json", REMOTE_ADDR=ip)


def codes_sent(outbox: list[Any], number: str | None = None) -> int:
    return sum(1 for e in outbox if e.kind == "code" and number in (None, e.phone_number))


def flush_with_cheap_checks(api: APIClient, count: int = 400) -> None:
    """The flush: checks for numbers that have no code (no API call, no SMS), each from
    its own address, each once a new cache entry."""
    for n in range(count):
        check(api, phone(1000 + n), "123456", ip=f"10.{n // 250}.{n % 250}.1")


# -- 1. every limit could be flushed by cheap requests ------------------------------------------


@pytest.mark.usefixtures("fraud_guard_off")
def test_flushing_the_cache_does_not_reset_the_per_ip_limit(
    outbox: list[Any], clock: FakeClock
) -> None:
    """Before: 40 codes sent from one IP in a minute (limit 10 per hour)."""
    api = APIClient()
    statuses = []
    for n in range(40):
        statuses.append(send(api, phone(100 + n)).status_code)
        if n == 9:
            flush_with_cheap_checks(api)
        clock.advance(1.5)
    assert codes_sent(outbox) == 10
    assert statuses.count(202) == 10
    assert set(statuses[10:]) == {429}


def test_flushing_the_cache_does_not_reset_the_cooldown(
    outbox: list[Any], clock: FakeClock
) -> None:
    """Before: 6 codes to one number in 2 minutes (cooldown 60 s)."""
    api = APIClient()
    for n in range(6):
        send(api, VICTIM, ip=f"203.0.113.{n}")
        if n == 0:
            flush_with_cheap_checks(api)
        caches["default"].clear()  # and a restart, or another process, on top of it
        clock.advance(20)
    assert codes_sent(outbox, VICTIM) == 2  # at 0 s and at 60 s, in 2 minutes


def test_flushing_the_cache_does_not_reset_the_wrong_code_limit(
    outbox: list[Any], clock: FakeClock
) -> None:
    """Before: 30 wrong codes checked against one code (limit 5)."""
    api = APIClient()
    assert send(api, VICTIM, ip="203.0.113.1").status_code == 202
    right = outbox[-1].code
    wrong = "000000" if right != "000000" else "111111"
    answers = []
    for n in range(30):
        answers.append(check(api, VICTIM, wrong, ip=f"203.0.113.{n + 10}").status_code)
        if n == 4:
            flush_with_cheap_checks(api)
    assert answers.count(400) == 5  # five wrong codes reached TextLink, then the code died
    assert set(answers[5:]) == {429}
    assert check(api, VICTIM, right, ip="203.0.113.99").status_code == 429


def test_the_cheap_checks_themselves_are_limited_per_client(outbox: list[Any]) -> None:
    api = APIClient()
    statuses = [check(api, phone(1000 + n), "123456").status_code for n in range(40)]
    assert statuses.count(400) == 30  # CHECKS_PER_IP_PER_HOUR
    assert set(statuses[30:]) == {429}


@pytest.mark.usefixtures("fraud_guard_off")
def test_the_limits_survive_a_restart(outbox: list[Any]) -> None:
    api = APIClient()
    for n in range(10):
        assert send(api, phone(100 + n)).status_code == 202
    for cache in caches.all():
        cache.clear()  # what a restart of every process does to LocMem
    assert send(api, phone(200)).status_code == 429


def test_the_state_holds_no_number_ip_or_token(outbox: list[Any]) -> None:
    api = APIClient()
    send(api, VICTIM)
    token = check(api, VICTIM, outbox[-1].code).json()["token"]
    rows = list(VerificationState.objects.values_list("key", "value"))
    assert rows
    dump = repr(rows)
    for secret in (VICTIM, VICTIM[1:], ATTACKER_IP, token, outbox[-1].code):
        assert secret not in dump


# -- 2. one verification could make several accounts ----------------------------------------


def test_a_used_token_stays_used_after_the_cache_is_flushed(outbox: list[Any]) -> None:
    from django_textlink.verification import InvalidToken, redeem_token

    verification = PhoneVerification()
    verification.start(VICTIM)
    token = verification.check(VICTIM, outbox[-1].code).token
    assert token is not None
    redeem_token(token)
    for cache in caches.all():
        cache.clear()
    with pytest.raises(InvalidToken, match="already used"):
        redeem_token(token)


# -- 3. verification codes ended up in the database -------------------------------------------


def test_a_sent_webhook_that_arrives_before_the_send_code_answer_stores_no_code(
    settings: Any, clock: FakeClock
) -> None:
    """TextLink posts the sent webhook of the code SMS while /send-code is still open."""
    settings.TEXTLINK = {
        **settings.TEXTLINK,
        "BACKEND": "tests.security.test_verification_attacks.EarlyWebhookBackend",
    }
    EarlyWebhookBackend.answers.clear()
    PhoneVerification().start(VICTIM)

    assert EarlyWebhookBackend.answers == [200]
    code = str(django_textlink.outbox[-1].code)
    for event in WebhookEvent.objects.all():
        assert code not in str(event.payload)
    for message in SMSMessage.objects.all():
        assert code not in message.text
    assert WebhookEvent.objects.count() == 1


def test_a_sent_webhook_in_another_process_stores_no_code(outbox: list[Any]) -> None:
    """The marker is in the database: a process whose cache never saw the send (here:
    this one, its caches emptied) still recognises the code SMS."""
    PhoneVerification().start(VICTIM)
    code = outbox[-1].code
    for cache in caches.all():
        cache.clear()
    response = Client().post(
        reverse("textlink:webhook-sent"),
        {"secret": "whsec-test-0123456789", "phone_number": VICTIM, "text": f"Your code is {code}"},
        content_type="application/json",
    )
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert code not in str(stored.payload)
    assert all(code not in m.text for m in SMSMessage.objects.all())


from django_textlink.backends.locmem import LocMemBackend  # noqa: E402


class EarlyWebhookBackend(LocMemBackend):
    """The locmem backend, posting TextLink's sent webhook for the code SMS before it
    answers /send-code (as TextLink may)."""

    answers: list[int] = []

    def send_code(self, phone_number: str, **options: Any) -> Any:
        result = super().send_code(phone_number, **options)
        text = f"Your verification code is {django_textlink.outbox[-1].code}"
        response = Client().post(
            reverse("textlink:webhook-sent"),
            {"secret": "whsec-test-0123456789", "phone_number": phone_number, "text": text},
            content_type="application/json",
        )
        type(self).answers.append(response.status_code)
        return result


# -- 4. the per-IP limit switched off without a usable REMOTE_ADDR --------------------------------


@pytest.mark.usefixtures("fraud_guard_off")
@pytest.mark.parametrize("remote", ["", "unknown", "unix:/run/gunicorn.sock"])
def test_requests_without_a_client_address_are_never_unlimited(
    outbox: list[Any], remote: str
) -> None:
    """Before: behind nginx with gunicorn on a Unix socket, 200 of 200 sends went through
    (here 100, from as many numbers). (A missing REMOTE_ADDR, as some ASGI servers leave
    it, is in tests/verification/test_clientip.py.)"""
    api = APIClient()
    statuses = []
    for n in range(200):
        request = api.post(
            SEND, {"phone_number": phone(100 + n)}, format="json", REMOTE_ADDR=remote
        )
        statuses.append(request.status_code)
    assert statuses.count(202) == 10
    assert codes_sent(outbox) == 10


@pytest.mark.usefixtures("fraud_guard_off")
def test_a_trusted_unix_socket_proxy_names_each_client(outbox: list[Any], settings: Any) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "TRUSTED_PROXIES": ["unix"]}
    api = APIClient()
    for client in range(3):
        for n in range(12):
            api.post(
                SEND,
                {"phone_number": phone(100 + client * 20 + n)},
                format="json",
                REMOTE_ADDR="",
                # The left part is the client's own (spoofable) claim; nginx appends the peer.
                HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 203.0.113.{client}",
            )
    assert codes_sent(outbox) == 30  # ten per client, whatever it claimed


# -- 5. anyone could lock a number out for an hour ----------------------------------------------


def test_checks_before_a_code_do_not_lock_the_owner_out(
    outbox: list[Any], clock: FakeClock
) -> None:
    """Before: ten checks for a number with no live code exhausted its checks; its owner's
    code was then sent (and paid for) but refused, Retry-After 3796 s."""
    api = APIClient()
    for _ in range(30):
        check(api, VICTIM, "123456")  # the attacker, before the owner asks for a code
    assert send(api, VICTIM, ip="203.0.113.5").status_code == 202
    answer = check(api, VICTIM, outbox[-1].code, ip="203.0.113.5")
    assert answer.status_code == 200
    assert answer.json()["verified"] is True


@pytest.mark.usefixtures("fraud_guard_off")
def test_retry_after_never_exceeds_the_window(outbox: list[Any], clock: FakeClock) -> None:
    api = APIClient()
    clock.set(299)  # late in a five-minute slice
    for n in range(10):
        send(api, phone(100 + n))
    for offset in (300, 1200, 3000, 3500):
        clock.set(offset)
        refusal = send(api, phone(300))
        assert refusal.status_code == 429
        assert int(refusal["Retry-After"]) <= 3600
        assert int(refusal["Retry-After"]) == 299 + 3600 - offset


@pytest.mark.usefixtures("fraud_guard_off")
def test_the_html_flow_counts_in_the_same_store(outbox: list[Any], client: Client) -> None:
    """The HTML views share the service and its store: no second, weaker path."""
    for n in range(12):
        client.post(reverse("textlink:verify"), {"phone_number": phone(100 + n)}, REMOTE_ADDR="")
    assert codes_sent(outbox) == 10
    assert session.PHONE_KEY in client.session


# -- the views decide outside ATOMIC_REQUESTS ----------------------------------------------------


class TransactionProbeBackend(LocMemBackend):
    """Records whether a transaction is open while the code is sent (TextLink's call)."""

    in_transaction: list[bool] = []

    def send_code(self, phone_number: str, **options: Any) -> Any:
        type(self).in_transaction.append(transaction.get_connection().in_atomic_block)
        return super().send_code(phone_number, **options)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("url", [SEND, reverse("textlink:verify")])
def test_the_views_call_textlink_outside_atomic_requests(
    settings: Any, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ATOMIC_REQUESTS, a transaction around the request would hold the limits'
    locks (the site-wide budget's among them) through the call to TextLink, and hide the
    "code sent" marker from the process that gets TextLink's webhook."""
    probe = "tests.security.test_verification_attacks.TransactionProbeBackend"
    settings.TEXTLINK = {**settings.TEXTLINK, "BACKEND": probe, "DAILY_SEND_BUDGET": 100}
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    TransactionProbeBackend.in_transaction.clear()

    if url == SEND:
        assert APIClient().post(url, {"phone_number": VICTIM}, format="json").status_code == 202
    else:
        assert Client().post(url, {"phone_number": VICTIM}).status_code == 302
    assert TransactionProbeBackend.in_transaction == [False]
    # Committed before the answer: another process sees the marker and the counts.
    assert VerificationState.objects.filter(key__contains=":code-sent:").exists()
