"""Step-up challenges: what the fraud guard asks for in its throttle zone instead of
refusing (a range or a country near its budget, one network sending to many numbers).

``TEXTLINK["CHALLENGE"]`` names the class (:class:`ProofOfWork` by default; None turns
step-up off). A challenge class issues a challenge (a JSON-safe dict whose ``"type"``
names it: the API returns it as it is, the HTML views render it with the class's
template) and verifies an answer, once. A solved challenge only lets a send through the
throttle zone: blocks stay blocks.

**A CAPTCHA instead** (Turnstile, hCaptcha, reCAPTCHA): subclass :class:`Challenge`,
make :meth:`~Challenge.issue` return the widget's public site key, give it a template that
renders the widget, read the widget's field in :meth:`~Challenge.answer_from_form`, and
ask the provider's verify endpoint in :meth:`~Challenge.verify` (see
``docs/fraud-guard.md``, which has a complete Turnstile adapter).
"""

from __future__ import annotations

import hashlib
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar

from django.core import signing
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.module_loading import import_string

from django_textlink.conf import conf, setting_name
from django_textlink.exceptions import TextLinkConfigurationError
from django_textlink.verification import state
from django_textlink.verification.clock import now

#: Form fields starting with this carry a challenge's answer (``challenge_token``, ...).
FIELD_PREFIX = "challenge_"


class Challenge(ABC):
    """The interface of a step-up challenge, for one request (or None)."""

    #: The ``"type"`` of the issued challenges.
    name: ClassVar[str] = ""
    #: Renders an issued challenge inside a form (context: ``challenge``).
    template_name: ClassVar[str] = ""

    def __init__(self, request: HttpRequest | None = None) -> None:
        self.request = request

    @abstractmethod
    def issue(self, phone_number: str) -> dict[str, Any]:
        """A new challenge for a send to ``phone_number``: a JSON-safe dict with at least
        ``"type"`` (:attr:`name`). It must hold no secret: the client sees all of it."""

    @abstractmethod
    def verify(self, phone_number: str, answer: Mapping[str, Any]) -> bool:
        """True when ``answer`` solves a challenge issued for ``phone_number``, the first
        time only (a replayed answer is False)."""

    def answer_from_form(self, data: Mapping[str, Any]) -> dict[str, str] | None:
        """The answer in posted form data: the fields named ``challenge_<key>``, as
        ``{key: value}``; None when there are none."""
        answer = {
            str(name)[len(FIELD_PREFIX) :]: str(data.get(name, ""))
            for name in data
            if str(name).startswith(FIELD_PREFIX)
        }
        return answer or None

    def render(self, challenge: dict[str, Any]) -> str:
        """An issued challenge as HTML, for inside the form it answers."""
        return render_to_string(self.template_name, {"challenge": challenge}, request=self.request)


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


class ProofOfWork(Challenge):
    """A hash puzzle the browser solves on its own (about a second of work on a phone;
    ``static/django_textlink/proof_of_work.js``), with no third party.

    The challenge is a signed ``token`` (a random nonce and a keyed hash of the number, so
    a solution serves one number) and a ``difficulty``; the answer is a ``solution``, a
    decimal number such that SHA-256 of ``"<token>:<solution>"`` starts with
    ``difficulty`` zero bits. Verifying costs one hash; each token is accepted once
    (remembered in the limit store) and for :attr:`max_age` seconds. Subclass to change
    :attr:`difficulty` (each step doubles the work)."""

    name = "proof_of_work"
    template_name = "django_textlink/challenge/proof_of_work.html"
    difficulty: ClassVar[int] = 18
    max_age: ClassVar[int] = 600
    salt: ClassVar[str] = "django_textlink.challenge.proof_of_work"

    def issue(self, phone_number: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"n": secrets.token_hex(12), "p": state.hashed(phone_number)[:16]}
        payload["d"] = self.difficulty
        token = signing.dumps(payload, salt=self.salt)
        return {
            "type": self.name,
            "algorithm": "sha256",
            "difficulty": self.difficulty,
            "token": token,
            "expires_in": self.max_age,
        }

    def verify(self, phone_number: str, answer: Mapping[str, Any]) -> bool:
        token, solution = answer.get("token"), answer.get("solution")
        if not isinstance(token, str) or not isinstance(solution, str):
            return False
        if len(token) > 400 or not (0 < len(solution) <= 20 and solution.isascii()):
            return False
        if not solution.isdigit():
            return False
        try:
            payload = signing.loads(token, salt=self.salt, max_age=self.max_age)
        except signing.BadSignature:
            return False
        if not isinstance(payload, dict) or payload.get("p") != state.hashed(phone_number)[:16]:
            return False
        difficulty = max(int(payload.get("d", 0)), self.difficulty)
        digest = hashlib.sha256(f"{token}:{solution}".encode()).digest()
        if leading_zero_bits(digest) < difficulty:
            return False
        used = state.key("challenge", str(payload.get("n")))
        return state.store().add(used, "1", now() + self.max_age + 60)

    @staticmethod
    def solve(challenge: Mapping[str, Any]) -> dict[str, str]:
        """The answer to an issued challenge, found as a browser finds it (for tests,
        benchmarks and non-browser clients)."""
        prefix = f"{challenge['token']}:".encode()
        wanted = int(challenge["difficulty"])
        counter = 0
        while True:
            digest = hashlib.sha256(prefix + str(counter).encode()).digest()
            if leading_zero_bits(digest) >= wanted:
                return {"token": str(challenge["token"]), "solution": str(counter)}
            counter += 1


@lru_cache(maxsize=8)
def _import(path: str) -> type[Challenge]:
    try:
        cls = import_string(path)
    except ImportError as err:
        raise TextLinkConfigurationError(
            f"{setting_name('CHALLENGE')} names {path!r}, which cannot be imported: {err}"
        ) from err
    if not (isinstance(cls, type) and issubclass(cls, Challenge)):
        raise TextLinkConfigurationError(
            f"{setting_name('CHALLENGE')} must name a subclass of "
            f"django_textlink.verification.challenge.Challenge, got {path!r}."
        )
    return cls


def challenge_class() -> type[Challenge] | None:
    """The class ``TEXTLINK["CHALLENGE"]`` names, or None (step-up off)."""
    path = conf.CHALLENGE
    return _import(path) if path else None


def get_challenge(request: HttpRequest | None = None) -> Challenge | None:
    cls = challenge_class()
    return cls(request) if cls is not None else None
