"""The fraud guard's per-phone back-off, network throttle, modes and safe list, its
challenge (single use, bound to the number, tampered, off, a CAPTCHA adapter), its signal
and logs, through the flow, the API and the HTML pages.

Only TextLink is faked (the locmem backend); the guard, its limits and the limit store are
the real ones; the fake clock moves time to each boundary.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

import django_textlink
from django_textlink.signals import verification_blocked
from django_textlink.verification import (
    ChallengeRequired,
    CountryNotAllowed,
    NumberNotAllowed,
    PhoneVerification,
    VerificationBlocked,
)
from django_textlink.verification.challenge import Challenge, ProofOfWork
from tests.support.clock import FakeClock

pytestmark = pytest.mark.django_db

LOCMEM = "django_textlink.backends.locmem.LocMemBackend"
CHEAP = "tests.verification.test_guard_mechanisms.CheapProofOfWork"
CAPTCHA = "tests.verification.test_guard_mechanisms.FakeCaptcha"
PHONE = "+447400120123"
SEND = "/api/textlink/verify/send/"


class CheapProofOfWork(ProofOfWork):
    difficulty = 4


class FakeCaptcha(Challenge):
    """A CAPTCHA as a site plugs one in: answer ``{"response": "pass"}`` passes."""

    name = "fake_captcha"
    template_name = "django_textlink/challenge/proof_of_work.html"

    def issue(self, phone_number: str) -> dict[str, Any]:
        return {"type": self.name, "sitekey": "site-key"}

    def answer_from_form(self, data: Mapping[str, Any]) -> dict[str, str] | None:
        value = data.get("captcha-response")
        return {"response": str(value)} if value else None

    def verify(self, phone_number: str, answer: Mapping[str, Any]) -> bool:
        return answer.get("response") == "pass"


@pytest.fixture(autouse=True)
def guard_settings(settings: Any, clock: FakeClock) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "BACKEND": LOCMEM, "CHALLENGE": CHEAP}


def use(settings: Any, **options: Any) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, **options}


def request(ip: str) -> Any:
    return RequestFactory().post("/", REMOTE_ADDR=ip)


_ips = iter(range(1, 10**6))


def new_ip() -> str:
    n = next(_ips)
    return f"10.{n // 256 % 256}.{n % 256}.1"


def start(phone: str = PHONE, ip: str | None = None, answer: Any = None) -> Any:
    return PhoneVerification(request(ip or new_ip())).start(phone, challenge=answer)


@pytest.fixture
def signals() -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    verification_blocked.connect(receiver, weak=False)
    yield received
    verification_blocked.disconnect(receiver)


# -- per-phone back-off -----------------------------------------------------------------------


def test_the_back_off_starts_after_three_codes_and_doubles(settings: Any, clock: FakeClock):
    # The base limits and the range's budget out of the way: the back-off alone decides.
    use(
        settings,
        RESEND_COOLDOWN=0,
        SENDS_PER_PHONE_PER_HOUR=100,
        SENDS_PER_IP_PER_HOUR=100,
        # One number's range must not be what decides: its budget out of the way.
        FRAUD_GUARD={"RANGE_SENDS_PER_HOUR": 50, "CHALLENGE_FROM": 1.0},
    )
    for _ in range(3):
        start()
        clock.advance(1)
    waits = []
    for _ in range(7):
        with pytest.raises(VerificationBlocked) as refused:
            start()
        assert refused.value.limit == "phone_backoff"
        wait = refused.value.retry_after
        waits.append(wait)
        clock.advance(wait - 1)  # a second early: still refused
        with pytest.raises(VerificationBlocked):
            start()
        clock.advance(1)
        start()  # on time: sent
    # 1 minute doubling to 32, each within 20% either way, capped.
    for wait, base in zip(waits, [60, 120, 240, 480, 960, 1920, 1920], strict=True):
        assert 0.8 * base - 2 <= wait <= 1.2 * base + 2, (wait, base)
    assert len(django_textlink.outbox) == 10


def test_a_right_code_resets_the_back_off(settings: Any, clock: FakeClock):
    use(
        settings,
        RESEND_COOLDOWN=0,
        SENDS_PER_PHONE_PER_HOUR=100,
        SENDS_PER_IP_PER_HOUR=100,
        # One number's range must not be what decides: its budget out of the way.
        FRAUD_GUARD={"RANGE_SENDS_PER_HOUR": 50, "CHALLENGE_FROM": 1.0},
    )
    for _ in range(3):
        start()
    with pytest.raises(VerificationBlocked):
        start()
    assert PhoneVerification().check(PHONE, str(django_textlink.outbox[-1].code))
    start()  # at once
    assert len(django_textlink.outbox) == 4


def test_the_resend_answer_announces_the_back_off(settings: Any, clock: FakeClock):
    use(settings, RESEND_COOLDOWN=60, FRAUD_GUARD={"CHALLENGE_FROM": 1.0})
    waits = []
    for _ in range(4):
        started = start()
        waits.append(started.resend_in)
        clock.advance(started.resend_in)
    assert waits[:2] == [60, 60]
    assert 60 <= waits[2] <= 72  # the 4th code will wait for the back-off's first step
    assert 96 <= waits[3] <= 144


# -- one network, many numbers ----------------------------------------------------------------


def test_one_network_s_fourth_number_asks_a_challenge():
    numbers = [f"+447400{r}0123" for r in range(30, 36)]  # six ranges
    for number in numbers[:3]:
        start(number, ip="192.0.2.10")
    with pytest.raises(ChallengeRequired) as asked:
        start(numbers[3], ip="192.0.2.77")  # the same /24
    assert asked.value.reason == "network_many_numbers"
    start(numbers[4], ip="198.51.100.1")  # another network: no challenge
    answer = CheapProofOfWork.solve(asked.value.challenge)
    start(numbers[3], ip="192.0.2.77", answer=answer)
    assert len(django_textlink.outbox) == 5


# -- the challenge ----------------------------------------------------------------------------


def zone_challenge(number: str = PHONE) -> dict[str, Any]:
    """Three codes from one /24, then the challenge for ``number``."""
    for r in range(3):
        start(f"+4474002{r}0123", ip="192.0.2.1")
    with pytest.raises(ChallengeRequired) as asked:
        start(number, ip="192.0.2.2")
    assert asked.value.invalid is False
    return asked.value.challenge


def test_a_solved_challenge_works_once_and_for_its_number_only():
    challenge = zone_challenge()
    assert challenge["type"] == "proof_of_work"
    answer = CheapProofOfWork.solve(challenge)
    with pytest.raises(ChallengeRequired) as other:  # another number
        start("+447400130999", ip="192.0.2.3", answer=answer)
    assert other.value.invalid is True
    start(PHONE, ip="192.0.2.2", answer=answer)
    with pytest.raises(ChallengeRequired) as replayed:  # the same answer again
        start("+447400120999", ip="192.0.2.4", answer=answer)
    assert replayed.value.invalid is True
    assert len(django_textlink.outbox) == 4


@pytest.mark.parametrize(
    "tamper",
    [
        lambda a: {**a, "solution": str(int(a["solution"]) + 1)},
        lambda a: {**a, "token": a["token"][:-2] + "xx"},
        lambda a: {**a, "solution": " " + a["solution"]},
        lambda a: {**a, "solution": "9" * 400},
        lambda a: {"token": a["token"]},
        lambda a: {"token": ["list"], "solution": {"a": 1}},
        lambda a: {},
    ],
)
def test_a_wrong_or_malformed_answer_is_refused_without_sending(tamper: Any):
    challenge = zone_challenge()
    answer = CheapProofOfWork.solve(challenge)
    bad = tamper(answer)
    with pytest.raises(ChallengeRequired) as refused:
        start(PHONE, ip="192.0.2.2", answer=bad)
    # A wrong solution may, rarely, still meet 4 bits: only a refusal is asserted then.
    assert refused.value.invalid is True
    assert len(django_textlink.outbox) == 3


def test_an_old_challenge_is_refused(monkeypatch: pytest.MonkeyPatch):
    import time

    challenge = zone_challenge()
    answer = CheapProofOfWork.solve(challenge)
    later = time.time() + ProofOfWork.max_age + 5
    monkeypatch.setattr(time, "time", lambda: later)  # the signature's clock
    with pytest.raises(ChallengeRequired):
        start(PHONE, ip="192.0.2.2", answer=answer)


def test_the_default_difficulty_is_enforced(settings: Any):
    import hashlib

    from django_textlink.verification.challenge import leading_zero_bits

    use(settings, CHALLENGE="django_textlink.verification.challenge.ProofOfWork")
    challenge = zone_challenge()
    assert challenge["difficulty"] == 18
    # A solution of 4 bits only (what a client that lowered the difficulty would find).
    weak = CheapProofOfWork.solve({**challenge, "difficulty": 4})
    digest = hashlib.sha256(f"{weak['token']}:{weak['solution']}".encode()).digest()
    if leading_zero_bits(digest) < 18:  # all but 1 in 16,384 draws
        with pytest.raises(ChallengeRequired):
            start(PHONE, ip="192.0.2.2", answer=weak)
    start(PHONE, ip="192.0.2.2", answer=ProofOfWork.solve(challenge))
    assert len(django_textlink.outbox) == 4


def test_no_challenge_class_lets_the_zone_through_but_the_budgets_still_hold(settings: Any):
    use(settings, CHALLENGE=None)
    for r in range(6):
        start(f"+4474003{r}0123", ip="192.0.2.1")  # the 4th to 6th would be challenged
    assert len(django_textlink.outbox) == 6
    sent = 0
    refusals = []
    for n in range(10):
        try:
            start(f"+44740012{n:04d}")
            sent += 1
        except VerificationBlocked as err:
            refusals.append(err.limit)
    assert sent == 5
    assert refusals == ["range_blocked"] * 5


def test_a_captcha_adapter_through_the_flow_and_the_api(settings: Any):
    use(settings, CHALLENGE=CAPTCHA)
    challenge = zone_challenge()
    assert challenge == {"type": "fake_captcha", "sitekey": "site-key"}
    with pytest.raises(ChallengeRequired):
        start(PHONE, ip="192.0.2.2", answer={"response": "fail"})
    client = Client(REMOTE_ADDR="192.0.2.5")
    asked = client.post(SEND, {"phone_number": "+447400140123"}, content_type="application/json")
    assert asked.status_code == 403
    assert asked.json()["challenge"] == {"type": "fake_captcha", "sitekey": "site-key"}
    body = {"phone_number": "+447400140123", "challenge": {"response": "pass"}}
    assert client.post(SEND, body, content_type="application/json").status_code == 202


# -- modes and the safe list ------------------------------------------------------------------


def pump_one_range(count: int = 10) -> int:
    before = len(django_textlink.outbox)
    for n in range(count):
        with contextlib.suppress(VerificationBlocked, ChallengeRequired):
            start(f"+44740015{n:04d}", answer=None)
    return len(django_textlink.outbox) - before


def test_monitor_mode_refuses_nothing_and_reports(settings: Any, signals: list[Any]):
    use(settings, FRAUD_GUARD={"MODE": "monitor"})
    assert pump_one_range(10) == 10
    assert {signal["action"] for signal in signals} == {"monitored"}
    assert {"range_near_budget", "range_velocity"} <= {signal["reason"] for signal in signals}


def test_a_country_in_monitor_mode_reports_while_others_are_guarded(
    settings: Any, signals: list[Any]
):
    use(settings, FRAUD_GUARD={"COUNTRIES": {"GB": "monitor"}})
    assert pump_one_range(10) == 10
    sent = 0
    for n in range(10):
        try:
            start(f"+1312555{n:04d}")
            sent += 1
        except (VerificationBlocked, ChallengeRequired):
            pass
    assert sent == 3  # the US range: 3 codes before half its budget, then challenges
    assert {s["action"] for s in signals if s["country"] == "GB"} == {"monitored"}


def test_country_modes_allow_and_block(settings: Any):
    use(settings, FRAUD_GUARD={"COUNTRIES": {"GB": "allow", "US": "block"}})
    assert pump_one_range(10) == 10  # the guard leaves GB alone
    with pytest.raises(CountryNotAllowed):
        start("+12025550143")
    with pytest.raises(CountryNotAllowed):  # a solved challenge changes nothing to a block
        start("+12025550143", answer={"token": "x", "solution": "1"})


def test_the_safe_list_skips_the_guard(settings: Any):
    use(settings, FRAUD_GUARD={"SAFE_LIST": ["+44740015"]})
    assert pump_one_range(10) == 10
    use(settings, FRAUD_GUARD={"SAFE_LIST": ["+447400150001"]})
    with pytest.raises(NumberNotAllowed):
        start("+442079460000")  # a landline: the safe list of one number does not cover it


def test_mode_off_is_the_base_limits_alone(settings: Any):
    use(settings, FRAUD_GUARD={"MODE": "off"})
    assert pump_one_range(10) == 10
    start("+442079460000")  # a landline goes out too
    from django_textlink.models import VerificationActivity

    assert not VerificationActivity.objects.exists()


# -- the signal and the logs ------------------------------------------------------------------


def test_the_signal_says_why_and_the_logs_never_hold_the_number(
    signals: list[Any], caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="django_textlink")
    numbers = [f"+44740016{n:04d}" for n in range(8)]
    req = request("203.0.113.50")
    for number in numbers:
        with contextlib.suppress(VerificationBlocked, ChallengeRequired):
            PhoneVerification(req).start(number)
    assert signals, "the guard said nothing"
    first = signals[0]
    assert set(first) >= {"reason", "action", "phone_number", "country", "number_range", "request"}
    assert first["country"] == "GB"
    assert first["number_range"] == "+44740016"
    assert first["request"] is req
    assert first["phone_number"] in numbers
    text = caplog.text
    assert "Fraud guard" in text
    for number in numbers:
        assert number not in text
        assert number[1:] not in text


# -- the pages --------------------------------------------------------------------------------


def test_the_verify_page_shows_the_challenge_then_sends_with_its_answer():
    for r in range(3):
        start(f"+4474002{r}0123", ip="127.0.0.1")
    client = Client(REMOTE_ADDR="127.0.0.9")
    url = reverse("textlink:verify")
    page = client.post(url, {"phone_number": PHONE})
    assert page.status_code == 403
    html = page.content.decode()
    assert "data-textlink-proof-of-work" in html
    assert 'name="challenge_token"' in html
    assert "proof_of_work.js" in html
    token = html.split('name="challenge_token" value="', 1)[1].split('"', 1)[0]
    difficulty = int(html.split('data-difficulty="', 1)[1].split('"', 1)[0])
    answer = ProofOfWork.solve({"token": token, "difficulty": difficulty})
    posted = {
        "phone_number": PHONE,
        "challenge_token": token,
        "challenge_solution": answer["solution"],
    }
    done = client.post(url, posted)
    assert done.status_code == 302
    assert done["Location"].startswith(reverse("textlink:verify-confirm"))
    assert len(django_textlink.outbox) == 4
    wrong = client.post(url, {**posted, "phone_number": "+447400130123"})
    assert wrong.status_code == 403  # the used answer, for another number
    assert "The check did not succeed" in wrong.content.decode()


# -- number types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "kind", "says"),
    [
        ("+449012345678", "PREMIUM_RATE", "premium-rate"),
        ("+4918012345", "SHARED_COST", "shared-cost"),
        ("+448001234567", "TOLL_FREE", "toll-free"),
        ("+445512345678", "UAN", "this kind of number"),
        ("+447640123456", "PAGER", "pagers"),
        ("+49177991234567", "VOICEMAIL", "voicemail"),
        ("+447012345678", "PERSONAL_NUMBER", "this kind of number"),
        ("+441212345678", "FIXED_LINE", "landline"),
        ("+8823421234", "NON_GEOGRAPHIC", "satellite"),
    ],
)
def test_numbers_that_cannot_be_targets_are_refused_before_any_send(
    number: str, kind: str, says: str
) -> None:
    with pytest.raises(NumberNotAllowed) as refused:
        start(number)
    assert refused.value.number_type == kind
    assert says in str(refused.value.message)
    assert "mobile number" in str(refused.value.message)
    assert django_textlink.outbox == []


def test_mobiles_pass_and_landlines_can_be_allowed(settings: Any) -> None:
    start("+447400120123")  # MOBILE
    start("+12025550143")  # FIXED_LINE_OR_MOBILE
    from django_textlink._guard_options import GUARD_DEFAULTS

    types = [t for t in GUARD_DEFAULTS["REFUSED_NUMBER_TYPES"] if t != "FIXED_LINE"]
    use(settings, FRAUD_GUARD={"REFUSED_NUMBER_TYPES": types})
    start("+441212345678")
    assert len(django_textlink.outbox) == 3


def test_the_api_refuses_a_premium_number_with_a_field_error() -> None:
    answer = Client().post(SEND, {"phone_number": "+449012345678"}, content_type="application/json")
    assert answer.status_code == 400
    assert "premium-rate" in answer.json()["phone_number"][0]


# -- range blocks escalate ----------------------------------------------------------------------


def test_range_blocks_last_5_minutes_doubling_to_12_hours(settings: Any, clock: FakeClock):
    use(settings, CHALLENGE=None)
    numbers = iter(f"+44740017{n:04d}" for n in range(10_000))
    for _ in range(5):
        start(next(numbers))
    seconds, sent_between = [], []
    for _ in range(10):
        # The attack goes on: codes until the range is blocked again (its hourly budget
        # may have room again once an hour has passed since its earlier codes).
        sent = 0
        while True:
            try:
                start(next(numbers))
                sent += 1
            except VerificationBlocked as err:
                blocked = err
                break
        assert blocked.limit == "range_blocked"
        assert sent <= 5
        sent_between.append(sent)
        seconds.append(blocked.retry_after)
        clock.advance(blocked.retry_after - 1)
        with pytest.raises(VerificationBlocked):  # a second before its end: still blocked
            start(next(numbers))
        clock.advance(1)
    assert seconds == [300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 43200, 43200]
    assert sum(sent_between) <= 5 * 8  # about a day of attack: at most a budget per hour
    # A day after the last block ended, the range starts again at 5 minutes.
    clock.advance(24 * 3600 + 1)
    for _ in range(5):
        start(next(numbers))
    with pytest.raises(VerificationBlocked) as fresh:
        start(next(numbers))
    assert fresh.value.retry_after == 300
