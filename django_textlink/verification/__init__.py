"""Phone verification over TextLink's ``/send-code`` and ``/verify-code``: one flow that the
HTML views, the forms and the DRF API share (``PhoneVerification``). TextLink keeps the
code; nothing here stores it.

* :mod:`.flow`: :class:`PhoneVerification` (``start()``, ``check()``), code shape.
* :mod:`.errors`: the refusals (:class:`LimitExceeded`, :class:`InvalidCode`, ...).
* :mod:`.tokens`: a signed proof of a verified number, redeemable once.
* :mod:`.limits` and :mod:`.store`: sliding-window limits on the durable limit store.
* :mod:`.state`: live codes and "code just sent" markers in that store.
* :mod:`.guard` and :mod:`.challenge`: the fraud guard (SMS pumping) and its step-up
  challenge.
* :mod:`.clientip`: the client a limit counts (proxies, IPv6 /64).
* :mod:`.session`, :mod:`.forms`, :mod:`.views`, :mod:`.urls`: the HTML pages and the signup
  drop-in (:class:`~django_textlink.forms.VerifiedPhoneFormMixin`).
"""

from __future__ import annotations

from django_textlink.phone import InvalidPhoneNumber
from django_textlink.verification.errors import (
    LIMIT_MESSAGES,
    ChallengeRequired,
    CountryNotAllowed,
    InvalidCode,
    InvalidToken,
    LimitExceeded,
    NumberNotAllowed,
    VerificationBlocked,
    VerificationError,
    VerificationUnavailable,
    limit_message,
)
from django_textlink.verification.flow import (
    CODE_SHAPE_MESSAGE,
    MAX_CODE_LENGTH,
    MIN_CODE_LENGTH,
    CheckResult,
    PhoneVerification,
    StartResult,
    clean_code,
)
from django_textlink.verification.state import code_recently_sent, mark_code_sent
from django_textlink.verification.tokens import (
    TokenData,
    make_token,
    read_token,
    redeem_token,
    release_token,
)

__all__ = [
    "CODE_SHAPE_MESSAGE",
    "LIMIT_MESSAGES",
    "MAX_CODE_LENGTH",
    "MIN_CODE_LENGTH",
    "ChallengeRequired",
    "CheckResult",
    "CountryNotAllowed",
    "InvalidCode",
    "InvalidPhoneNumber",
    "InvalidToken",
    "LimitExceeded",
    "NumberNotAllowed",
    "PhoneVerification",
    "StartResult",
    "TokenData",
    "VerificationBlocked",
    "VerificationError",
    "VerificationUnavailable",
    "clean_code",
    "code_recently_sent",
    "limit_message",
    "make_token",
    "mark_code_sent",
    "read_token",
    "redeem_token",
    "release_token",
]
