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


class NumberNotAllowed(VerificationError):
    """The fraud guard refuses this kind of number (premium-rate, toll-free, a landline,
    ...). ``number_type`` names the type."""

    code = "number_not_allowed"

    def __init__(self, message: Any = "", *, number_type: str = "") -> None:
        super().__init__(message)
        self.number_type = number_type


class VerificationBlocked(LimitExceeded):
    """The fraud guard refuses codes to this number for now: its range or its country is
    blocked, or the number waits out its back-off. ``limit`` is ``"range_blocked"``,
    ``"country_blocked"`` or ``"phone_backoff"``; ``retry_after`` is in seconds. A
    solved challenge never lifts it."""

    code = "blocked"


class ChallengeRequired(VerificationError):
    """The send is in the fraud guard's throttle zone: solve ``challenge`` (the issued
    challenge, JSON-safe: its ``"type"`` says which) and send the answer with the request
    again. ``reason`` says why the guard asks; ``invalid`` is True when an answer was given
    and was not right (or was used already)."""

    code = "challenge_required"

    def __init__(
        self,
        message: Any,
        *,
        challenge: dict[str, Any],
        reason: str,
        invalid: bool = False,
        renderer: Any = None,
    ) -> None:
        super().__init__(message)
        self.challenge = challenge
        self.reason = reason
        self.invalid = invalid
        self.renderer = renderer

    def render(self) -> str:
        """The challenge as HTML for a form (the challenge class's template)."""
        return str(self.renderer.render(self.challenge)) if self.renderer is not None else ""


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
    "range_blocked": _("We cannot send codes to numbers like this one right now."),
    "country_blocked": _("We cannot send codes to this country right now."),
    "phone_backoff": _("Please wait before requesting another code for this number."),
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
