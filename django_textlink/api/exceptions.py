"""DRF exceptions for the service's refusals, and the API's own (:class:`CrossSiteRefused`).

They go through the site's ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``. DRF's default handler
(or any handler that starts from it) turns :class:`RateLimited` into a 429 with a
``Retry-After`` header (from ``wait``, as for DRF's own throttles) and each exception's
``detail`` dict into the body.
"""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status

from django_textlink.verification import ChallengeRequired, LimitExceeded, VerificationUnavailable


class _RawLeaves:
    """For an exception whose ``detail`` dict holds values that are not ``ErrorDetail``
    (an integer, a dict): DRF's own versions of these fail on them."""

    detail: Any
    default_code: str

    def get_codes(self) -> Any:
        return dict.fromkeys(cast(dict[str, Any], self.detail), self.default_code)

    def get_full_details(self) -> Any:
        return {
            key: {"message": value, "code": self.default_code}
            for key, value in cast(dict[str, Any], self.detail).items()
        }


class RateLimited(_RawLeaves, exceptions.Throttled):
    """429 ``{"detail", "code": "rate_limited", "limit", "retry_after"}``.

    ``limit`` names the limit that refused the request (``resend_cooldown``,
    ``sends_per_phone``, ``sends_per_ip``, ``daily_budget``, ``checks_per_phone``,
    ``wrong_codes``); ``retry_after`` is in whole seconds, like the ``Retry-After`` header.
    ``detail`` is a dict whose ``retry_after`` is an integer, not an ``ErrorDetail``.
    """

    default_code = "rate_limited"
    default_detail = _("Too many requests.")

    wait: int
    limit: str

    def __init__(self, limit: str, retry_after: int, detail: Any = None) -> None:
        message = str(detail or self.default_detail)
        # Not wait=...: Throttled would append its own "Expected available in..." sentence,
        # and the service's message already says when to retry.
        super().__init__(
            detail={"detail": message, "code": self.default_code, "limit": limit},
            code=self.default_code,
        )
        self.wait = max(1, int(retry_after))
        self.limit = limit
        cast(dict[str, Any], self.detail)["retry_after"] = self.wait

    @classmethod
    def from_error(cls, error: LimitExceeded) -> RateLimited:
        return cls(error.limit, error.retry_after, error.message)


class _DetailAndCode(exceptions.APIException):
    """An answer ``{"detail": message, "code": default_code}``."""

    def __init__(self, detail: Any = None) -> None:
        message = str(detail or self.default_detail)
        super().__init__(
            detail={"detail": message, "code": self.default_code}, code=self.default_code
        )


class Unavailable(_DetailAndCode):
    """503 ``{"detail", "code": "unavailable"}``: TextLink could not be reached or refused
    the request (nothing was verified; try again later)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_detail = _("The service is unavailable. Please try again later.")

    @classmethod
    def from_error(cls, error: VerificationUnavailable) -> Unavailable:
        return cls(error.message)


class CrossSiteRefused(_DetailAndCode, exceptions.PermissionDenied):
    """403 ``{"detail", "code": "cross_site"}``: a browser sent the request from another
    site's page (``Sec-Fetch-Site: cross-site``, or an ``Origin`` that is not the site's
    own), and that origin is not in ``TEXTLINK["ALLOWED_ORIGINS"]``. Nothing was counted or
    sent; see :mod:`django_textlink.api.origin`."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "cross_site"
    default_detail = _("Requests from other websites are not allowed.")


class ChallengeRequiredError(_RawLeaves, exceptions.PermissionDenied):
    """403 ``{"detail", "code": "challenge_required", "reason", "challenge"}``: the fraud
    guard asks for a challenge before it sends this code (the send is in its throttle zone).
    Solve ``challenge`` (its ``"type"`` says which: ``"proof_of_work"`` by default) and send
    the request again with the answer in ``"challenge"``. Nothing was counted or sent."""

    default_code = "challenge_required"
    default_detail = _("Please complete the check to receive your code.")

    def __init__(self, challenge: dict[str, Any], reason: str, detail: Any = None) -> None:
        message = str(detail or self.default_detail)
        super().__init__(
            detail={"detail": message, "code": self.default_code, "reason": reason},
            code=self.default_code,
        )
        # Set after: DRF would turn every leaf (the difficulty too) into a string.
        cast(dict[str, Any], self.detail)["challenge"] = dict(challenge)

    @classmethod
    def from_error(cls, error: ChallengeRequired) -> ChallengeRequiredError:
        return cls(error.challenge, error.reason, error.message)
