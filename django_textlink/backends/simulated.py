"""Code simulation for the development and test backends.

TextLink generates, keeps and checks verification codes itself. The console and locmem
backends play that part so a site works without a TextLink account: codes come from
:mod:`secrets`, live in this process's memory only (never the database or the cache),
expire, are compared in constant time, can be used once and are superseded by a newer
one. Those rules live in :mod:`django_textlink.sandbox.codes`, which the offline TextLink
sandbox uses too, so both behave the same.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django_textlink._payloads import (
    send_code_payload,
    send_sms_payload,
    update_contact_tag_payload,
    verify_code_payload,
)
from django_textlink.backends.base import DEFAULT_CODE_LIFETIME_MS, BaseBackend
from django_textlink.results import SendCodeResult, SendResult, TagResult, VerifyResult
from django_textlink.sandbox.codes import CheckOutcome, CodeBook

#: What :meth:`SimulatedCodes.check` says for each refusal.
REFUSALS = {
    CheckOutcome.NO_CODE: "No code was sent to this number",
    CheckOutcome.EXPIRED: "The code has expired",
    CheckOutcome.WRONG: "Invalid code",
}


def _now() -> float:
    """Wall-clock seconds, looked up through this module's ``time`` at every call (a test
    can replace it to move the codes' clock)."""
    return time.time()


class SimulatedCodes:
    """Codes issued per phone number (a :class:`~django_textlink.sandbox.codes.CodeBook`);
    a new code supersedes the previous one."""

    def __init__(self) -> None:
        self.book = CodeBook(clock=_now)

    def issue(self, phone_number: str, expiration_time: int | None = None) -> str:
        """A new code for ``phone_number``, valid ``expiration_time`` ms (10 minutes)."""
        return self.book.issue(phone_number, expiration_time or DEFAULT_CODE_LIFETIME_MS).code

    def check(self, phone_number: str, code: str) -> tuple[bool, str]:
        """``(valid, message)``; a valid code is consumed."""
        outcome = self.book.check(phone_number, code)
        if outcome is CheckOutcome.VALID:
            return True, ""
        return False, REFUSALS[outcome]

    def clear(self) -> None:
        self.book.clear()


#: One store per process, shared by every console/locmem backend instance.
simulated_codes = SimulatedCodes()


def code_text(code: str, service_name: str | None) -> str:
    """The SMS a simulated verification code arrives in."""
    service = f"{service_name} " if service_name else ""
    return f"Your {service}verification code is {code}"


@dataclass(frozen=True)
class OutboxEntry:
    """One SMS a simulated backend "sent": a message (``kind="sms"``) or a verification
    code (``kind="code"``, with the code in ``code`` and in ``text``)."""

    kind: str
    phone_number: str
    text: str
    code: str | None = None
    sim_card_id: int | None = None
    custom_id: str | None = None
    service_name: str | None = None
    expiration_time: int | None = None
    source_country: str | None = None


class SimulatedBackend(BaseBackend):
    """Validates input exactly as the HTTP client does, simulates TextLink's answers and
    hands each "sent" SMS to :meth:`deliver`. Subclasses decide what delivery means."""

    def deliver(self, entry: OutboxEntry) -> None:
        raise NotImplementedError

    def record_tag(self, phone_number: str, tag: str) -> None:
        raise NotImplementedError

    def send_sms(
        self,
        phone_number: str,
        text: str,
        *,
        sim_card_id: int | None = None,
        custom_id: str | None = None,
    ) -> SendResult:
        payload = send_sms_payload(phone_number, text, sim_card_id=sim_card_id, custom_id=custom_id)
        self.deliver(OutboxEntry(kind="sms", **payload))
        return SendResult()

    def send_code(
        self,
        phone_number: str,
        *,
        service_name: str | None = None,
        sim_card_id: int | None = None,
        custom_id: str | None = None,
        expiration_time: int | None = None,
        source_country: str | None = None,
    ) -> SendCodeResult:
        payload = send_code_payload(
            phone_number,
            service_name=service_name,
            sim_card_id=sim_card_id,
            custom_id=custom_id,
            expiration_time=expiration_time,
            source_country=source_country,
        )
        code = simulated_codes.issue(phone_number, expiration_time)
        self.deliver(
            OutboxEntry(kind="code", text=code_text(code, service_name), code=code, **payload)
        )
        return SendCodeResult(code=code)

    def verify_code(self, phone_number: str, code: str) -> VerifyResult:
        payload = verify_code_payload(phone_number, code)
        valid, message = simulated_codes.check(payload["phone_number"], payload["code"])
        return VerifyResult(valid=valid, message=message)

    def update_contact_tag(self, phone_number: str, tag: str) -> TagResult:
        payload = update_contact_tag_payload(phone_number, tag)
        self.record_tag(payload["phone_number"], payload["tag"])
        return TagResult()
