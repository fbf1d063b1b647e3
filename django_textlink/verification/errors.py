"""The verification flow's refusals: each with a message safe to show and a stable
``code``, and the limits' messages."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


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
