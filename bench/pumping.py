"""Benchmark: what SMS pumping costs a site, with the fraud guard's default settings.

Four scenarios replayed against the TextLink sandbox (``run_sandbox()``: every code really
goes over HTTP to it, and the figure is what the sandbox received), through the
verification API (``POST verify/send/`` and ``verify/check/``, Django's test client, in
this process), with every default of ``TEXTLINK``:

(a) 1,000 attempts to sequential numbers of one range from 1,000 IPs;
(b) 1,000 attempts over 100 ranges of one country, 10 each, from 1,000 IPs, nobody
    verifies;
(c) 200 real users in 20 countries, a few per range, each enters the code it received
    (a little later: five other users start meanwhile);
(d) real users of the 19 other countries while (b) runs, interleaved with it.

The attacker solves every challenge it is given (the proof of work, in Python), and so do
the real users (their browsers would). Each scenario starts from an empty database and an
empty sandbox. The baseline is the same scenarios with the guard off
(``FRAUD_GUARD = {"MODE": "off"}``), in the same run: the per-IP and per-phone limits
alone. It prints, per scenario, the codes the sandbox received (attackers) or the share of
real users verified, for both, and the targets: (a) <= 10 SMS, (b) <= 50, (c) and (d)
>= 99% verified. Also, for the record, what real users of the attacked country get while
(b) runs.

The database is a throwaway file SQLite database, or PostgreSQL with ``--db postgres``
(or ``auto`` when PGHOST is set).

    python bench/pumping.py [--db auto|sqlite|postgres] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhooks import database  # noqa: E402 - after the path

urlpatterns: list[Any] = []

SEND = "/api/textlink/verify/send/"
CHECK = "/api/textlink/verify/check/"
#: The 20 countries of the real users; the attack of (b) is on the first.
COUNTRIES = (
    "GB", "US", "DE", "FR", "ES", "IT", "NL", "BR", "MX", "IN",
    "ID", "NG", "KE", "ZA", "AU", "JP", "PH", "PL", "TR", "CA",
)  # fmt: skip
TARGETS = {"a": ("SMS sent", "<=", 10), "b": ("SMS sent", "<=", 50)}


def setup(base_url: str, api_key: str) -> None:
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.urls import include, path

    from bench.webhook_app import settings as bench_settings

    options = {
        name: getattr(bench_settings, name) for name in dir(bench_settings) if name.isupper()
    }
    options.update(
        INSTALLED_APPS=[*bench_settings.INSTALLED_APPS, "rest_framework"],
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["testserver"],
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        LOGGING={"version": 1, "disable_existing_loggers": False},
        TEXTLINK={"API_KEY": api_key, "BASE_URL": base_url},
    )
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    settings.configure(**options)
    django.setup()
    urlpatterns.append(path("api/textlink/", include("django_textlink.api.urls")))
    call_command("migrate", verbosity=0)


# -- numbers ------------------------------------------------------------------------------------


def _usable(number: str) -> bool:
    import phonenumbers

    parsed = phonenumbers.parse(number, None)
    kind = phonenumbers.number_type(parsed)
    mobile = (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    return phonenumbers.is_valid_number(parsed) and kind in mobile


def example_mobile(country: str) -> str:
    import phonenumbers

    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def ranges_of(country: str, count: int, rng: random.Random) -> list[str]:
    """``count`` ranges (numbers without their last 4 digits) of ``country`` in which every
    number is a valid mobile number (checked on 10 numbers of each)."""
    base = example_mobile(country)
    found: list[str] = []
    head = base[:-6]
    for middle in range(100):
        prefix = f"{head}{middle:02d}"
        if all(_usable(f"{prefix}{rng.randrange(10_000):04d}") for _ in range(10)):
            found.append(prefix)
        if len(found) == count:
            return found
    raise SystemExit(f"Found only {len(found)} usable ranges in {country} around {base}.")


class Addresses:
    """A new client address each time, each in a /24 of its own (an attacker with many
    IPs; real users on their own connections)."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"{11 + self.n // 65536 % 200}.{self.n // 256 % 256}.{self.n % 256}.7"


# -- the clients --------------------------------------------------------------------------------


@dataclass
class Outcome:
    answers: Counter[int]
    challenges: int = 0


def send(client: Any, number: str, address: str, outcome: Outcome) -> int:
    """Ask for a code, solving a challenge when one is asked (once, as a browser would)."""
    from django_textlink.verification.challenge import ProofOfWork

    body: dict[str, Any] = {"phone_number": number}
    answer = client.post(SEND, body, content_type="application/json", REMOTE_ADDR=address)
    if answer.status_code == 403 and answer.json().get("code") == "challenge_required":
        outcome.challenges += 1
        body["challenge"] = ProofOfWork.solve(answer.json()["challenge"])
        answer = client.post(SEND, body, content_type="application/json", REMOTE_ADDR=address)
    outcome.answers[answer.status_code] += 1
    return int(answer.status_code)


class RealUsers:
    """Real users who each ask for a code and enter it a little later (after the next
    ``delay`` users started), from their own address."""

    def __init__(self, client: Any, sandbox: Any, addresses: Addresses, delay: int = 5) -> None:
        self.client, self.sandbox, self.addresses = client, sandbox, addresses
        self.delay = delay
        self.waiting: list[tuple[str, str]] = []
        self.outcome = Outcome(Counter())
        self.started = 0
        self.verified: Counter[str] = Counter()
        self.users: Counter[str] = Counter()

    def start(self, number: str) -> None:
        self.started += 1
        self.users[number] += 1
        address = self.addresses.next()
        if send(self.client, number, address, self.outcome) == 202:
            self.waiting.append((number, address))
        while len(self.waiting) > self.delay:
            self.enter(*self.waiting.pop(0))

    def enter(self, number: str, address: str) -> None:
        code = self.sandbox.last_code(number)
        answer = self.client.post(
            CHECK,
            {"phone_number": number, "code": code},
            content_type="application/json",
            REMOTE_ADDR=address,
        )
        if answer.status_code == 200 and answer.json().get("verified"):
            self.verified[number] += 1

    def finish(self) -> None:
        while self.waiting:
            self.enter(*self.waiting.pop(0))

    def share_verified(self) -> float:
        return sum(self.verified.values()) / self.started if self.started else 0.0


# -- the scenarios ------------------------------------------------------------------------------


def reset(sandbox: Any) -> None:
    from django_textlink.models import VerificationActivity, VerificationBlock, VerificationState

    for model in (VerificationState, VerificationActivity, VerificationBlock):
        model.objects.all().delete()
    sandbox.reset()


def codes_sent(sandbox: Any, numbers: set[str] | None = None) -> int:
    """Codes the sandbox received (``numbers``: only those to these numbers)."""
    calls = sandbox.api_calls("send-code")
    return sum(1 for call in calls if numbers is None or call.phone_number in numbers)


def scenario_a(client: Any, sandbox: Any, rng: random.Random) -> dict[str, Any]:
    prefix = ranges_of("GB", 1, rng)[0]
    addresses, outcome = Addresses(), Outcome(Counter())
    for n in range(1000):
        send(client, f"{prefix}{n:04d}", addresses.next(), outcome)
    return {
        "sms": codes_sent(sandbox),
        "challenges": outcome.challenges,
        "answers": outcome.answers,
    }


def attack_b(rng: random.Random) -> list[str]:
    ranges = ranges_of(COUNTRIES[0], 100, rng)
    # 10 different numbers in each range.
    return [f"{prefix}{n:04d}" for prefix in ranges for n in rng.sample(range(10_000), 10)]


def real_numbers(countries: tuple[str, ...], per_country: int, rng: random.Random) -> list[str]:
    """``per_country`` numbers in each country, over 4 ranges (2 or 3 per range)."""
    numbers = []
    for country in countries:
        ranges = ranges_of(country, 4, rng)
        tails = rng.sample(range(10_000), per_country)  # different numbers
        numbers += [f"{ranges[i % 4]}{tail:04d}" for i, tail in enumerate(tails)]
    rng.shuffle(numbers)
    return numbers


def scenario_b(client: Any, sandbox: Any, rng: random.Random) -> dict[str, Any]:
    addresses, outcome = Addresses(), Outcome(Counter())
    for number in attack_b(rng):
        send(client, number, addresses.next(), outcome)
    return {
        "sms": codes_sent(sandbox),
        "challenges": outcome.challenges,
        "answers": outcome.answers,
    }


def scenario_c(client: Any, sandbox: Any, rng: random.Random) -> dict[str, Any]:
    users = RealUsers(client, sandbox, Addresses())
    for number in real_numbers(COUNTRIES, 10, rng):
        users.start(number)
    users.finish()
    return {
        "verified": users.share_verified(),
        "users": users.started,
        "challenges": users.outcome.challenges,
        "answers": users.outcome.answers,
    }


def scenario_d(client: Any, sandbox: Any, rng: random.Random) -> dict[str, Any]:
    attack = attack_b(rng)
    others = real_numbers(COUNTRIES[1:], 10, rng)
    victims = real_numbers(COUNTRIES[:1], 10, rng)  # real users of the attacked country
    attack_numbers = set(attack)
    addresses = Addresses()
    users = RealUsers(client, sandbox, addresses)
    locals_ = RealUsers(client, sandbox, addresses)
    attacker = Outcome(Counter())
    # The attack and the real users interleaved: 5 attempts, then one real user.
    step = len(attack) // len(others)
    for i, number in enumerate(others):
        for attempt in attack[i * step : (i + 1) * step]:
            send(client, attempt, addresses.next(), attacker)
        users.start(number)
        if i % (len(others) // 10) == 0 and victims:
            locals_.start(victims.pop())
    for attempt in attack[len(others) * step :]:
        send(client, attempt, addresses.next(), attacker)
    users.finish()
    locals_.finish()
    attack_sms = codes_sent(sandbox, attack_numbers)
    return {
        "verified": users.share_verified(),
        "users": users.started,
        "challenges": users.outcome.challenges,
        "answers": users.outcome.answers,
        "attack_sms": attack_sms,
        "local_verified": locals_.share_verified(),
        "local_users": locals_.started,
        "local_answers": locals_.outcome.answers,
        "local_challenges": locals_.outcome.challenges,
    }


SCENARIOS = {"a": scenario_a, "b": scenario_b, "c": scenario_c, "d": scenario_d}


def run_all(sandbox: Any, guard: bool, seed: int) -> dict[str, dict[str, Any]]:
    from django.conf import settings
    from django.test import Client, override_settings

    textlink: dict[str, Any] = dict(settings.TEXTLINK)
    if not guard:
        textlink["FRAUD_GUARD"] = {"MODE": "off"}
    results = {}
    with override_settings(TEXTLINK=textlink):
        for name, scenario in SCENARIOS.items():
            reset(sandbox)
            began = time.perf_counter()
            results[name] = scenario(Client(), sandbox, random.Random(seed))
            results[name]["seconds"] = time.perf_counter() - began
            print(f"   ({name}) {results[name]['seconds']:.1f} s", file=sys.stderr)
    return results


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(base: dict[str, dict[str, Any]], ours: dict[str, dict[str, Any]]) -> bool:
    ok = True
    for name in ("a", "b"):
        limit = TARGETS[name][2]
        met = ours[name]["sms"] <= limit
        ok &= met
        print(
            f"({name}) SMS sent of 1000 attempts: guard off {base[name]['sms']}, guard on "
            f"{ours[name]['sms']} (ratio {ours[name]['sms'] / max(1, base[name]['sms']):.3f}; "
            f"{ours[name]['challenges']} challenges solved by the attacker); target <= {limit}: "
            f"{verdict(met)}"
        )
    for name, what in (
        ("c", "200 real users in 20 countries"),
        ("d", "real users in 19 other countries during (b)"),
    ):
        share = ours[name]["verified"]
        met = share >= 0.99
        ok &= met
        print(
            f"({name}) {what}: verified {share:.1%} of {ours[name]['users']} with the guard "
            f"(guard off: {base[name]['verified']:.1%}; {ours[name]['challenges']} solved a "
            f"challenge); target >= 99%: {verdict(met)}"
        )
    off, on = (result["c"]["seconds"] / result["c"]["users"] * 1000 for result in (base, ours))
    print(
        f"    (c) time per real user (send and check, this process): guard off {off:.1f} ms, "
        f"guard on {on:.1f} ms (ratio {on / off:.2f})"
    )
    d = ours["d"]
    print(
        f"    during (d) the attack got {d['attack_sms']} SMS "
        f"(guard off: {base['d']['attack_sms']})"
    )
    print(
        f"    real users of the attacked country during (d): {d['local_verified']:.0%} of "
        f"{d['local_users']} verified, {d['local_challenges']} challenged, answers "
        f"{dict(sorted(d['local_answers'].items()))} (guard off: {base['d']['local_verified']:.0%})"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["auto", "postgres", "sqlite"], default="auto")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-baseline", action="store_true", help="only the guard's run (the suite's smoke run)"
    )
    args = parser.parse_args(argv)
    kind = args.db if args.db != "auto" else ("postgres" if os.environ.get("PGHOST") else "sqlite")
    from django_textlink.sandbox import run_sandbox

    with (
        tempfile.TemporaryDirectory() as directory,
        database(kind, Path(directory)) as where,
        run_sandbox(latency=0, auto_webhooks=False, max_calls=100_000) as sandbox,
    ):
        setup(sandbox.base_url, sandbox.api_key)
        import django

        print(f"== {where}; Django {django.get_version()}; the sandbox at {sandbox.base_url}")
        print("== default settings; the attacker and the users solve every challenge")
        ours = run_all(sandbox, guard=True, seed=args.seed)
        base = ours if args.no_baseline else run_all(sandbox, guard=False, seed=args.seed)
        if args.no_baseline:
            print("== no baseline run: its figures below repeat the guard's")
        ok = report(base, ours)
        seconds = sum(result["seconds"] for result in ours.values())
        print(f"== {seconds:.0f} s with the guard; every target {verdict(ok)}")
        from django.db import connection

        connection.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
