"""One verification, one account: the signup race, replayed.

Before: the README's pattern (``user = form.save(); form.save_verified_phone(user)``)
redeemed the token after the user was saved, outside a transaction: eight parallel
signups with one token gave eight users, seven of them without a phone and seven
answers 500. ``save_with_verified_phone`` redeems it in the save's transaction.

The race runs in threads, each with its own database connection, on a file SQLite
database (or PostgreSQL in CI) with real transactions, in both limit stores; and over
HTTP against the example project's own signup page, served by its own server.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.db import connections

import django_textlink
from django_textlink.forms import PHONE_NOT_VERIFIED, VerifiedPhoneFormMixin
from django_textlink.models import VerifiedPhoneNumber
from django_textlink.verification import PhoneVerification
from tests.support.concurrency import file_sqlite_database
from tests.support.example_server import run_example

# The example project served over HTTP, on its own SQLite database.
pytestmark = [pytest.mark.e2e, pytest.mark.own_database]

PHONE = "+12025550143"
PASSWORD = "c0rrect-horse-battery-staple"
RACERS = 8


class SignupForm(VerifiedPhoneFormMixin, UserCreationForm):  # type: ignore[type-arg]
    pass


@pytest.fixture(params=["database", "cache"])
def shared_db(request: Any, settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TEXTLINK = {
        **settings.TEXTLINK,
        "BACKEND": "django_textlink.backends.locmem.LocMemBackend",
        "LIMIT_STORE": request.param,
    }
    yield from file_sqlite_database(tmp_path)


def a_token() -> str:
    verification = PhoneVerification()
    verification.start(PHONE)
    result = verification.check(PHONE, django_textlink.outbox[-1].code)
    assert result.token is not None
    return result.token


@pytest.mark.django_db(transaction=True)
def test_parallel_signups_with_one_token_make_one_account(shared_db: None) -> None:
    token = a_token()
    barrier = threading.Barrier(RACERS)
    outcomes: list[Any] = [None] * RACERS

    def signup(index: int) -> None:
        try:
            form = SignupForm(
                {
                    "username": f"racer{index}",
                    "password1": PASSWORD,
                    "password2": PASSWORD,
                    "phone_number": PHONE,
                    "verification_token": token,
                }
            )
            valid = form.is_valid()  # every racer validates before any of them saves
            barrier.wait(timeout=20)
            user = form.save_with_verified_phone() if valid else None
            outcomes[index] = ("saved", user.pk) if user is not None else ("error", form.errors)
        except BaseException as err:  # a 500 in a view
            outcomes[index] = ("raised", err)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=signup, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    kinds = [outcome[0] for outcome in outcomes]
    assert kinds.count("saved") == 1, outcomes
    assert kinds.count("error") == RACERS - 1, outcomes
    for kind, errors in outcomes:
        if kind == "error":
            assert errors.as_data()["phone_number"][0].code == PHONE_NOT_VERIFIED
    users = get_user_model().objects.all()
    assert users.count() == 1
    assert VerifiedPhoneNumber.objects.filter(user=users.get(), phone_number=PHONE).exists()


def test_parallel_signups_on_the_example_site(tmp_path: Path) -> None:
    """The attack as it was run on the demo: a token from the verification API, then
    eight signups posted with it at once, each from its own browser session."""
    with run_example(tmp_path, TEXTLINK_API_KEY="") as (url, log_path):
        api = requests.Session()
        sent = api.post(f"{url}api/textlink/verify/send/", json={"phone_number": PHONE}, timeout=30)
        assert sent.status_code == 202, sent.text
        code = re.findall(r"\b(\d{6})\b", log_path.read_text())[-1]  # the console backend
        checked = api.post(
            f"{url}api/textlink/verify/check/",
            json={"phone_number": PHONE, "code": code},
            timeout=30,
        )
        assert checked.status_code == 200, checked.text
        token = checked.json()["token"]

        browsers = []
        for _ in range(RACERS):
            browser = requests.Session()
            browser.get(f"{url}signup/", timeout=30)
            browsers.append(browser)
        barrier = threading.Barrier(RACERS)
        answers: list[Any] = [None] * RACERS

        def post(index: int) -> None:
            browser = browsers[index]
            data = {
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                "username": f"racer{index}",
                "password1": PASSWORD,
                "password2": PASSWORD,
                "phone_number": PHONE,
                "verification_token": token,
            }
            barrier.wait(timeout=20)
            answers[index] = browser.post(
                f"{url}signup/",
                data=data,
                headers={"Referer": url},
                allow_redirects=False,
                timeout=60,
            )

        threads = [threading.Thread(target=post, args=(i,)) for i in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)

        statuses = sorted(answer.status_code for answer in answers)
        assert 500 not in statuses, log_path.read_text()[-3000:]
        assert statuses.count(302) == 1, statuses  # one account, logged in, redirected
        # The others see the signup form again, with the reason.
        assert all(s in (200, 400) for s in statuses if s != 302), statuses
        refused = [a for a in answers if a.status_code != 302]
        assert all("already used" in answer.text for answer in refused)
