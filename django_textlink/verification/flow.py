"""The phone verification flow: one service that HTML views, forms and API views share.

::

    verification = PhoneVerification(request=request)
    started = verification.start("+12025550143")     # sends a code through the backend
    result = verification.check("+12025550143", "123456")
    if result:                                        # truthy exactly when the code was right
        token = result.token                          # signed proof, redeemable once

TextLink generates, keeps and checks the code. This module drops the code TextLink
returns at once: it is never stored (database, cache, session), logged, passed to a
signal or returned. Every limit is checked *before* any call to TextLink, on atomic
counters (:mod:`.limits`) in the limit store
(:mod:`.store`: the database unless ``TEXTLINK["LIMIT_STORE"]`` says
otherwise), which requests cannot evict, every process shares and a restart keeps; a
refusal raises :class:`LimitExceeded` with the limit's name and when to retry. The same
store remembers which number has a live code, that a code was just sent to a number
(written *before* the call to TextLink, so the sent webhook of the code SMS is always
recognised and its text never stored), and which tokens were used.

Answers never depend on whether a number belongs to an account.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from django_textlink._masking import mask_phone
from django_textlink.backends import BaseBackend, get_backend
from django_textlink.conf import conf
from django_textlink.exceptions import TextLinkConfigurationError, TextLinkError
from django_textlink.phone import normalize_phone, region_of
from django_textlink.signals import phone_verified
from django_textlink.verification import state
from django_textlink.verification.clientip import client_ip_key
from django_textlink.verification.errors import (
    CountryNotAllowed,
    InvalidCode,
    LimitExceeded,
    VerificationError,
    VerificationUnavailable,
)
from django_textlink.verification.guard import FraudGuard
from django_textlink.verification.limits import WindowLimit, acquire_all, release_all
from django_textlink.verification.state import DAY, HOUR, KEY_PREFIX
from django_textlink.verification.store import DatabaseStore
from django_textlink.verification.tokens import make_token

logger = logging.getLogger("django_textlink.verification")

#: What a code looks like: TextLink's (and the sandbox's and the simulated backends') are
#: 6 digits. Input that is not MIN_CODE_LENGTH to MAX_CODE_LENGTH ASCII digits (spaces
#: removed) is refused before any limit counts it and before TextLink is asked.
MIN_CODE_LENGTH = 4
MAX_CODE_LENGTH = 12


#: The refusal of input not shaped like a code.
CODE_SHAPE_MESSAGE = _("Enter the code you received by SMS.")


def clean_code(code: Any) -> str | None:
    """``code`` without its spaces when it is shaped like a code (``MIN_CODE_LENGTH`` to
    ``MAX_CODE_LENGTH`` ASCII digits), else None. The API, the forms and
    :meth:`PhoneVerification.check` share this one rule."""
    text = str(code if code is not None else "").strip().replace(" ", "")
    if MIN_CODE_LENGTH <= len(text) <= MAX_CODE_LENGTH and text.isascii() and text.isdigit():
        return text
    return None


@dataclass(frozen=True)
class StartResult:
    """A code is on its way. ``resend_in`` and ``expires_in`` are seconds."""

    phone_number: str
    resend_in: int
    expires_in: int


@dataclass(frozen=True)
class CheckResult:
    """Truthy exactly when the code was right; then ``token`` proves the number."""

    verified: bool
    phone_number: str
    token: str | None = None
    attempts_left: int | None = None

    def __bool__(self) -> bool:
        return self.verified


_warned_in_transaction = False


def _warn_if_in_a_transaction() -> None:
    """Say once per process when the flow runs inside the caller's transaction with the
    database store: the limits' row locks are then held until it commits (through the
    call to TextLink), and the "code sent" marker is invisible to other processes until
    then, so a sent webhook handled elsewhere meanwhile could keep the code text."""
    global _warned_in_transaction
    store = state.store()
    if _warned_in_transaction or not isinstance(store, DatabaseStore):
        return
    if transaction.get_connection(store.using).in_atomic_block:
        _warned_in_transaction = True
        logger.warning(
            "PhoneVerification runs inside a database transaction (ATOMIC_REQUESTS or "
            "transaction.atomic()): its limits stay locked and its state uncommitted until "
            "that transaction ends. Call start() and check() outside one, e.g. in a view "
            "decorated with django.db.transaction.non_atomic_requests."
        )


class PhoneVerification:
    """Start and check phone verification for one request (or none, e.g. in a shell)."""

    def __init__(
        self,
        request: HttpRequest | None = None,
        *,
        user: Any = None,
        backend: BaseBackend | None = None,
    ) -> None:
        self.request = request
        if user is None and request is not None:
            user = getattr(request, "user", None)
        self.user = user if user is not None and getattr(user, "is_authenticated", False) else None
        self._backend = backend

    @property
    def backend(self) -> BaseBackend:
        if self._backend is None:
            self._backend = get_backend()
        return self._backend

    # -- limits ---------------------------------------------------------------------------

    def _ip_limit(self, name: str, limit: int) -> WindowLimit | None:
        """The per-client limit ``name``, or None without a request (code run from a
        shell or a task is not a client). A request without a usable client address is
        never unlimited: such requests share one bucket (see
        :func:`~django_textlink.verification.clientip.client_ip_key`)."""
        ip_key = client_ip_key(self.request)
        if ip_key is None:
            return None
        return WindowLimit(state.store(), name, state.key(name, ip_key), limit=limit, window=HOUR)

    def _send_limits(self, phone_number: str) -> list[WindowLimit]:
        """In the order they are decided: the client first, so a client over its limit
        leaves nothing behind for the numbers it tries."""
        store = state.store()
        limits = []
        ip_limit = self._ip_limit("sends_per_ip", conf.SENDS_PER_IP_PER_HOUR)
        if ip_limit is not None:
            limits.append(ip_limit)
        if conf.RESEND_COOLDOWN:
            limits.append(
                WindowLimit(
                    store,
                    "resend_cooldown",
                    state.key("cooldown", phone_number),
                    limit=1,
                    window=conf.RESEND_COOLDOWN,
                    slices=min(conf.RESEND_COOLDOWN, 60),
                )
            )
        limits.append(
            WindowLimit(
                store,
                "sends_per_phone",
                state.key("sends", phone_number),
                limit=conf.SENDS_PER_PHONE_PER_HOUR,
                window=HOUR,
            )
        )
        budget = conf.DAILY_SEND_BUDGET
        if budget is not None:
            limits.append(
                WindowLimit(store, "daily_budget", f"{KEY_PREFIX}:budget", limit=budget, window=DAY)
            )
        return limits

    def _check_limit(self, phone_number: str) -> WindowLimit:
        return WindowLimit(
            state.store(),
            "checks_per_phone",
            state.key("checks", phone_number),
            limit=conf.CHECKS_PER_PHONE_PER_HOUR,
            window=HOUR,
        )

    def _attempts_limit(self, phone_number: str, issue: str) -> WindowLimit:
        lifetime = conf.CODE_LIFETIME
        return WindowLimit(
            state.store(),
            "wrong_codes",
            state.key("attempts", f"{phone_number}:{issue}"),
            limit=conf.WRONG_CODES_PER_CODE,
            window=lifetime,
            slices=1,
        )

    def resend_available_in(self, phone_number: str) -> int:
        """Seconds until a new code may be requested for ``phone_number`` (0: now)."""
        phone_number = normalize_phone(phone_number)
        waits = [limit.peek() for limit in self._send_limits(phone_number)]
        waits.append(FraudGuard(self.request).backoff_wait(phone_number))
        return int(max(waits) + 0.999)

    # -- the flow -------------------------------------------------------------------------

    def normalize(self, phone_number: str) -> str:
        """E.164 form of ``phone_number``, refusing countries outside ALLOWED_COUNTRIES."""
        phone_number = normalize_phone(phone_number)
        allowed = conf.ALLOWED_COUNTRIES
        if allowed is not None and region_of(phone_number) not in allowed:
            raise CountryNotAllowed(_("We cannot send codes to phone numbers in this country."))
        return phone_number

    def start(
        self, phone_number: str, *, challenge: Mapping[str, Any] | None = None
    ) -> StartResult:
        """Send a code to ``phone_number``. ``challenge`` is the answer to the challenge a
        previous attempt was asked (:class:`ChallengeRequired`). Raises
        :class:`InvalidPhoneNumber`, :class:`CountryNotAllowed`, :class:`NumberNotAllowed`,
        :class:`LimitExceeded` (its subclass :class:`VerificationBlocked` for the fraud
        guard's blocks), :class:`ChallengeRequired` (all before any call to TextLink) or
        :class:`VerificationUnavailable`."""
        phone_number = self.normalize(phone_number)
        _warn_if_in_a_transaction()
        guard = FraudGuard(self.request)
        screen = guard.screen(phone_number)
        hits, refused, retry_after = acquire_all(self._send_limits(phone_number))
        if refused is not None:
            logger.info(
                "Verification code for %s refused by the %s limit (retry in %.0fs)",
                mask_phone(phone_number),
                refused.name,
                retry_after,
            )
            raise LimitExceeded(refused.name, retry_after)
        try:
            hits += guard.admit(screen, challenge)
        except VerificationError:
            release_all(hits)
            raise
        lifetime = conf.CODE_LIFETIME
        # Before the call: TextLink may post the sent webhook of the code SMS before it
        # answers, or to another process; either way it must find the marker.
        state.mark_code_sent(phone_number)
        try:
            # TextLink's answer carries the code it sent. It is not kept: not even bound
            # to a name here, so it cannot reach a log, a signal or a response.
            self.backend.send_code(
                phone_number,
                service_name=conf.SERVICE_NAME,
                sim_card_id=conf.SIM_CARD_ID,
                expiration_time=lifetime * 1000,
                source_country=conf.SOURCE_COUNTRY,
            )
        except TextLinkConfigurationError:
            release_all(hits)
            raise  # a site misconfiguration is not an outage: let it show
        except TextLinkError as err:
            if err.delivery_unknown:
                # The code may have reached the phone: let it be checked (and count it).
                state.new_issue(phone_number, lifetime)
                guard.sent(screen)
            else:  # surely not sent: it does not count
                release_all(hits)
            logger.warning("Verification code for %s not sent: %s", mask_phone(phone_number), err)
            raise VerificationUnavailable(
                _("We could not send a code right now. Please try again later.")
            ) from err
        # A fresh issue id: the wrong-code counter starts again for the new code.
        state.new_issue(phone_number, lifetime)
        guard.sent(screen)
        logger.info("Verification code sent to %s", mask_phone(phone_number))
        resend_in = max(conf.RESEND_COOLDOWN, math.ceil(guard.next_wait(screen)))
        return StartResult(phone_number=phone_number, resend_in=resend_in, expires_in=lifetime)

    def check(self, phone_number: str, code: str) -> CheckResult:
        """Check ``code``. A wrong code returns a falsy result (with ``attempts_left``);
        limits raise :class:`LimitExceeded` before any call to TextLink."""
        phone_number = normalize_phone(phone_number)
        cleaned = clean_code(code)
        if cleaned is None:  # refused before anything is counted or sent
            raise InvalidCode(CODE_SHAPE_MESSAGE)
        code = cleaned

        issue = state.store().get(state.key("issue", phone_number))
        # Every check counts against the client. Only a check of a live code counts
        # against the number: else anyone could lock a number out before its owner's
        # code arrives.
        limits = []
        ip_limit = self._ip_limit("checks_per_ip", conf.CHECKS_PER_IP_PER_HOUR)
        if ip_limit is not None:
            limits.append(ip_limit)
        if issue is not None:
            limits += [self._check_limit(phone_number), self._attempts_limit(phone_number, issue)]
        hits, refused, retry_after = acquire_all(limits)
        if refused is not None:
            if refused.name == "wrong_codes":  # a new code can be requested after the cooldown
                retry_after = max(1.0, float(self.resend_available_in(phone_number)))
            logger.info(
                "Code check for %s refused by the %s limit", mask_phone(phone_number), refused.name
            )
            raise LimitExceeded(refused.name, retry_after)
        if issue is None:  # no live code for this number: nothing to ask TextLink
            return CheckResult(verified=False, phone_number=phone_number, attempts_left=0)

        try:
            result = self.backend.verify_code(phone_number, code)
        except TextLinkConfigurationError:
            release_all(hits)
            raise
        except TextLinkError as err:
            release_all(hits)  # no answer about the code: the attempt does not count
            logger.warning("Code check for %s failed: %s", mask_phone(phone_number), err)
            raise VerificationUnavailable(
                _("We could not check the code right now. Please try again later.")
            ) from err

        if not result:
            attempts = self._attempts_limit(phone_number, issue)
            left = max(0, attempts.limit - attempts.count())
            logger.info("Wrong code for %s (%d attempts left)", mask_phone(phone_number), left)
            return CheckResult(verified=False, phone_number=phone_number, attempts_left=left)

        # One code, one token: of concurrent checks of the right code, only the one that
        # ends the live code gets a token (each token could make an account).
        if not state.store().pop(state.key("issue", phone_number)):
            logger.info("Code for %s was used by a concurrent check", mask_phone(phone_number))
            return CheckResult(verified=False, phone_number=phone_number, attempts_left=0)
        from django_textlink.models import VerifiedPhoneNumber

        VerifiedPhoneNumber.record(phone_number, self.user)
        FraudGuard(self.request).verified(phone_number)
        token = make_token(phone_number, self.user)
        logger.info("Phone %s verified", mask_phone(phone_number))
        phone_verified.send(
            sender=type(self), phone_number=phone_number, request=self.request, user=self.user
        )
        return CheckResult(verified=True, phone_number=phone_number, token=token)
