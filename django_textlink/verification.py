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
counters (:mod:`django_textlink.ratelimit`) in the limit store
(:mod:`django_textlink.limitstore`: the database unless ``TEXTLINK["LIMIT_STORE"]`` says
otherwise), which requests cannot evict, every process shares and a restart keeps; a
refusal raises :class:`LimitExceeded` with the limit's name and when to retry. The same
store remembers which number has a live code, that a code was just sent to a number
(written *before* the call to TextLink, so the sent webhook of the code SMS is always
recognised and its text never stored), and which tokens were used.

Answers never depend on whether a number belongs to an account.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_textlink.backends import BaseBackend, get_backend
from django_textlink.clientip import client_ip_key
from django_textlink.conf import conf
from django_textlink.exceptions import TextLinkConfigurationError, TextLinkError
from django_textlink.limitstore import DatabaseStore, Store, get_store
from django_textlink.masking import mask_phone
from django_textlink.phone import InvalidPhoneNumber, normalize_phone, region_of
from django_textlink.ratelimit import WindowLimit, acquire_all, now, release_all
from django_textlink.signals import phone_verified

logger = logging.getLogger("django_textlink.verification")

HOUR = 3600
DAY = 24 * HOUR
KEY_PREFIX = "textlink:v1"
TOKEN_SALT = "django_textlink.verification.token"  # noqa: S105 - a salt name
#: What a code looks like: TextLink's (and the sandbox's and the simulated backends') are
#: 6 digits. Input that is not MIN_CODE_LENGTH to MAX_CODE_LENGTH ASCII digits (spaces
#: removed) is refused before any limit counts it and before TextLink is asked.
MIN_CODE_LENGTH = 4
MAX_CODE_LENGTH = 12


class VerificationError(Exception):
    """Base of the flow's refusals. ``message`` is safe to show to the user; ``code`` is
    a stable machine-readable name."""

    code = "verification_error"

    def __init__(self, message: Any = "", *, code: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        if code:
            self.code = code


class LimitExceeded(VerificationError):
    """A limit refused the request. ``limit`` names it; ``retry_after`` is in seconds."""

    code = "rate_limited"

    def __init__(self, limit: str, retry_after: float, message: Any = "") -> None:
        self.limit = limit
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(message or limit_message(limit, self.retry_after))


class CountryNotAllowed(VerificationError):
    code = "country_not_allowed"


class InvalidCode(VerificationError):
    """The submitted code is not even shaped like a code (nothing was sent to TextLink)."""

    code = "invalid_code"


class InvalidToken(VerificationError):
    code = "invalid_token"


class VerificationUnavailable(VerificationError):
    """TextLink could not be reached or refused the request; try again later."""

    code = "unavailable"


LIMIT_MESSAGES = {
    "resend_cooldown": _("Please wait before requesting another code."),
    "sends_per_phone": _("Too many codes were requested for this number."),
    "sends_per_ip": _("Too many codes were requested from your network."),
    "daily_budget": _("We cannot send more codes today."),
    "checks_per_phone": _("Too many attempts for this number."),
    "checks_per_ip": _("Too many attempts from your network."),
    "wrong_codes": _("Too many wrong codes. Request a new code."),
}


def limit_message(limit: str, retry_after: int) -> str:
    base = str(LIMIT_MESSAGES.get(limit, _("Too many requests.")))
    if retry_after < 120:
        wait = ngettext(
            "Try again in %(count)d second.", "Try again in %(count)d seconds.", retry_after
        ) % {"count": retry_after}
    else:
        minutes = (retry_after + 59) // 60
        wait = ngettext(
            "Try again in %(count)d minute.", "Try again in %(count)d minutes.", minutes
        ) % {"count": minutes}
    return f"{base} {wait}"


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


@dataclass(frozen=True)
class TokenData:
    phone_number: str
    user_id: str | None
    nonce: str


def _store() -> Store:
    return get_store()


_warned_in_transaction = False


def _warn_if_in_a_transaction() -> None:
    """Say once per process when the flow runs inside the caller's transaction with the
    database store: the limits' row locks are then held until it commits (through the
    call to TextLink), and the "code sent" marker is invisible to other processes until
    then, so a sent webhook handled elsewhere meanwhile could keep the code text."""
    global _warned_in_transaction
    store = _store()
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


def _hashed(value: str) -> str:
    """Store keys carry a keyed hash, never the phone number, IP or token itself."""
    return salted_hmac("django_textlink.ratelimit", value, algorithm="sha256").hexdigest()[:32]


def _key(kind: str, value: str) -> str:
    return f"{KEY_PREFIX}:{kind}:{_hashed(value)}"


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
        :func:`~django_textlink.clientip.client_ip_key`)."""
        ip_key = client_ip_key(self.request)
        if ip_key is None:
            return None
        return WindowLimit(_store(), name, _key(name, ip_key), limit=limit, window=HOUR)

    def _send_limits(self, phone_number: str) -> list[WindowLimit]:
        """In the order they are decided: the client first, so a client over its limit
        leaves nothing behind for the numbers it tries."""
        store = _store()
        limits = []
        ip_limit = self._ip_limit("sends_per_ip", conf.SENDS_PER_IP_PER_HOUR)
        if ip_limit is not None:
            limits.append(ip_limit)
        if conf.RESEND_COOLDOWN:
            limits.append(
                WindowLimit(
                    store,
                    "resend_cooldown",
                    _key("cooldown", phone_number),
                    limit=1,
                    window=conf.RESEND_COOLDOWN,
                    slices=min(conf.RESEND_COOLDOWN, 60),
                )
            )
        limits.append(
            WindowLimit(
                store,
                "sends_per_phone",
                _key("sends", phone_number),
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
            _store(),
            "checks_per_phone",
            _key("checks", phone_number),
            limit=conf.CHECKS_PER_PHONE_PER_HOUR,
            window=HOUR,
        )

    def _attempts_limit(self, phone_number: str, issue: str) -> WindowLimit:
        lifetime = conf.CODE_LIFETIME
        return WindowLimit(
            _store(),
            "wrong_codes",
            _key("attempts", f"{phone_number}:{issue}"),
            limit=conf.WRONG_CODES_PER_CODE,
            window=lifetime,
            slices=1,
        )

    def resend_available_in(self, phone_number: str) -> int:
        """Seconds until a new code may be requested for ``phone_number`` (0: now)."""
        phone_number = normalize_phone(phone_number)
        waits = [limit.peek() for limit in self._send_limits(phone_number)]
        return int(max(waits, default=0.0) + 0.999)

    # -- the flow -------------------------------------------------------------------------

    def normalize(self, phone_number: str) -> str:
        """E.164 form of ``phone_number``, refusing countries outside ALLOWED_COUNTRIES."""
        phone_number = normalize_phone(phone_number)
        allowed = conf.ALLOWED_COUNTRIES
        if allowed is not None and region_of(phone_number) not in allowed:
            raise CountryNotAllowed(_("We cannot send codes to phone numbers in this country."))
        return phone_number

    def start(self, phone_number: str) -> StartResult:
        """Send a code to ``phone_number``. Raises :class:`InvalidPhoneNumber`,
        :class:`CountryNotAllowed`, :class:`LimitExceeded` (before any call to TextLink) or
        :class:`VerificationUnavailable`."""
        phone_number = self.normalize(phone_number)
        _warn_if_in_a_transaction()
        hits, refused, retry_after = acquire_all(self._send_limits(phone_number))
        if refused is not None:
            logger.info(
                "Verification code for %s refused by the %s limit (retry in %.0fs)",
                mask_phone(phone_number),
                refused.name,
                retry_after,
            )
            raise LimitExceeded(refused.name, retry_after)
        lifetime = conf.CODE_LIFETIME
        # Before the call: TextLink may post the sent webhook of the code SMS before it
        # answers, or to another process; either way it must find the marker.
        mark_code_sent(phone_number)
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
                # The code may have reached the phone: let it be checked.
                _new_issue(phone_number, lifetime)
            else:  # surely not sent: it does not count
                release_all(hits)
            logger.warning("Verification code for %s not sent: %s", mask_phone(phone_number), err)
            raise VerificationUnavailable(
                _("We could not send a code right now. Please try again later.")
            ) from err
        # A fresh issue id: the wrong-code counter starts again for the new code.
        _new_issue(phone_number, lifetime)
        logger.info("Verification code sent to %s", mask_phone(phone_number))
        return StartResult(
            phone_number=phone_number, resend_in=conf.RESEND_COOLDOWN, expires_in=lifetime
        )

    def check(self, phone_number: str, code: str) -> CheckResult:
        """Check ``code``. A wrong code returns a falsy result (with ``attempts_left``);
        limits raise :class:`LimitExceeded` before any call to TextLink."""
        phone_number = normalize_phone(phone_number)
        cleaned = clean_code(code)
        if cleaned is None:  # refused before anything is counted or sent
            raise InvalidCode(CODE_SHAPE_MESSAGE)
        code = cleaned

        issue = _store().get(_key("issue", phone_number))
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
        if not _store().pop(_key("issue", phone_number)):
            logger.info("Code for %s was used by a concurrent check", mask_phone(phone_number))
            return CheckResult(verified=False, phone_number=phone_number, attempts_left=0)
        from django_textlink.models import VerifiedPhoneNumber

        VerifiedPhoneNumber.record(phone_number, self.user)
        token = make_token(phone_number, self.user)
        logger.info("Phone %s verified", mask_phone(phone_number))
        phone_verified.send(
            sender=type(self), phone_number=phone_number, request=self.request, user=self.user
        )
        return CheckResult(verified=True, phone_number=phone_number, token=token)


# -- verification SMS seen again in TextLink's sent/failed webhooks ----------------------------


def _new_issue(phone_number: str, lifetime: int) -> None:
    """Mark the number as having a live code, under a fresh id (its wrong-code counter)."""
    _store().set(_key("issue", phone_number), secrets.token_hex(8), now() + lifetime)


def mark_code_sent(phone_number: str) -> None:
    """Remember (not the code: only the fact) that a code SMS is going to this number, so
    the sent/failed webhooks TextLink fires for it can be told apart from our messages.
    Written in the limit store before the call to TextLink."""
    _store().set(_key("code-sent", phone_number), "1", now() + conf.CODE_LIFETIME + HOUR)


def code_recently_sent(phone_number: str) -> bool:
    return _store().get(_key("code-sent", phone_number)) is not None


# -- tokens: a signed proof that a number was verified ----------------------------------


def make_token(phone_number: str, user: Any = None) -> str:
    user_id = (
        str(user.pk) if user is not None and getattr(user, "is_authenticated", False) else None
    )
    payload = {"p": phone_number, "u": user_id, "n": secrets.token_urlsafe(12)}
    return signing.dumps(payload, salt=TOKEN_SALT)


def read_token(token: str, *, phone_number: str | None = None, user: Any = None) -> TokenData:
    """Check a token without using it up. Raises :class:`InvalidToken`."""
    token_data = _verified_token_data(token, phone_number=phone_number, user=user)
    if _store().get(_used_key(token_data)) is not None:
        raise InvalidToken(_("The phone verification was already used."))
    return token_data


def _verified_token_data(
    token: str, *, phone_number: str | None = None, user: Any = None
) -> TokenData:
    """The token's data when its signature, age, number and user are right (whether it
    was used is not looked at)."""
    token_data = _signed_token_data(token)
    if phone_number is not None:
        try:
            same = normalize_phone(phone_number) == token_data.phone_number
        except InvalidPhoneNumber:
            same = False
        if not same:
            raise InvalidToken(_("The phone number does not match the verified number."))
    if token_data.user_id is not None and (
        user is None or str(getattr(user, "pk", "")) != token_data.user_id
    ):
        raise InvalidToken(_("The phone verification belongs to another account."))
    return token_data


def _signed_token_data(token: str) -> TokenData:
    """The token's data when its signature and age are right."""
    try:
        data = signing.loads(str(token), salt=TOKEN_SALT, max_age=conf.TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise InvalidToken(
            _("The phone verification has expired. Verify the number again.")
        ) from None
    except signing.BadSignature:
        raise InvalidToken(_("The phone verification is not valid.")) from None
    if not isinstance(data, dict) or not isinstance(data.get("p"), str):
        raise InvalidToken(_("The phone verification is not valid."))
    return TokenData(phone_number=data["p"], user_id=data.get("u"), nonce=str(data.get("n")))


def _used_key(token_data: TokenData) -> str:
    """The store key that marks the token as used."""
    return _key("token-used", token_data.nonce)


def redeem_token(token: str, *, phone_number: str | None = None, user: Any = None) -> str:
    """Use a token up (once) and return its verified phone number. Raises
    :class:`InvalidToken`, also when the token was already redeemed.

    The token is remembered as used in the limit store until it expires. In the database
    store, inside a transaction, that is part of the transaction: redeem in the same
    ``transaction.atomic()`` block as the save the token allows (as
    :meth:`~django_textlink.forms.VerifiedPhoneFormMixin.save_with_verified_phone` does),
    and a concurrent redemption of the same token waits for it, then fails; a rollback
    gives the token back."""
    # Not read_token(): whether it was used is decided by the add alone, which is then the
    # first statement of the caller's transaction (on SQLite a read first would make the
    # write fail at once, "database is locked", when another writer holds the lock).
    data = _verified_token_data(token, phone_number=phone_number, user=user)
    # Remembered past the token's own expiry (TOKEN_MAX_AGE, checked by the signature).
    expires_at = now() + conf.TOKEN_MAX_AGE + 60
    if not _store().add(_used_key(data), "1", expires_at):
        raise InvalidToken(_("The phone verification was already used."))
    return data.phone_number


def release_token(token: str) -> None:
    """Forget that ``token`` was used (its redemption was undone: the save it allowed
    failed). In the database store a rollback does this already."""
    try:
        token_data = _signed_token_data(token)
    except InvalidToken:
        return
    _store().delete([_used_key(token_data)])


__all__ = [
    "CheckResult",
    "CountryNotAllowed",
    "InvalidCode",
    "InvalidPhoneNumber",
    "InvalidToken",
    "LimitExceeded",
    "PhoneVerification",
    "StartResult",
    "VerificationError",
    "VerificationUnavailable",
    "clean_code",
    "make_token",
    "read_token",
    "redeem_token",
]
