"""Phone verification endpoints for Django REST framework.

Both views are thin shells over :class:`~django_textlink.verification.PhoneVerification`:
they check the shape of the input, call the service and translate its results and
refusals into HTTP. Every limit (resend cooldown, sends per phone and per IP, checks per
phone, wrong codes per code) lives in the service and is applied before anything reaches
TextLink; nothing here counts or decides.

``POST verify/send/`` ``{"phone_number"}``
    202 ``{"phone_number": "+12025550143", "resend_in": 60, "expires_in": 600}``: the code
    is on its way (the answer never contains it, and is the same whether or not the number
    belongs to an account). 400 ``{"phone_number": ["..."]}`` for an invalid number or a
    country codes are not sent to, or a kind of number they are not sent to (premium-rate,
    toll-free, a landline: code ``number_not_allowed``); 403 ``{"detail", "code":
    "challenge_required", "reason", "challenge"}`` when the fraud guard asks for a challenge
    first (solve it and post again with ``"challenge"``: the answer; see
    ``docs/fraud-guard.md``); 429 (see below); 503 ``{"detail", "code":
    "unavailable"}`` when TextLink cannot be reached.

``POST verify/check/`` ``{"phone_number", "code"}``
    200 ``{"verified": true, "phone_number", "token"}`` for the right code; the token is
    signed proof of the number for a later request (redeem it once with
    :func:`django_textlink.verification.redeem_token`). 400 ``{"verified": false, "detail",
    "attempts_left"}`` for a wrong, expired or unknown code; 400 ``{"code": ["..."]}`` for
    input that is not shaped like a code; 429; 503.

``GET docs/`` (:func:`api_docs`) is the API's documentation as a page (Swagger UI, read
only), over the schema ``schema/`` serves (:class:`django_textlink.api.openapi.SchemaView`).

429 (either endpoint): ``{"detail", "code": "rate_limited", "limit", "retry_after"}`` with
a ``Retry-After`` header, seconds. 403 (either endpoint): ``{"detail", "code":
"cross_site"}`` for a browser's request from another site's page (see **Cross-site
requests** below). Malformed input (not JSON, a missing or overlong field) is DRF's usual
400; other methods are 405.

**Authentication and permissions.** The views allow anyone (``AllowAny``): numbers are
verified during signup, before there is an account. Subclass them to require more::

    class AuthenticatedSendCodeView(SendCodeView):
        permission_classes = [IsAuthenticated]

When a user is authenticated (by any of the site's DRF authentication classes), the
verification is recorded for that user and bound into the token.

**Cross-site requests.** Any web page could otherwise make its visitors' browsers POST
here (a plain form needs no CORS), having codes sent by SMS at the site's cost from each
visitor's IP address, which spreads the per-IP limit over all of them. So the views refuse,
with 403 ``{"detail", "code": "cross_site"}``, a request its browser marks as coming from
another site: ``Sec-Fetch-Site: cross-site``, or, from browsers that do not send
``Sec-Fetch-Site``, an ``Origin`` that is ``null`` or not the request's own scheme and host.
Pages of the site itself and of its own domain's subdomains (``same-origin``,
``same-site``) are served, and so is every client that sends neither header (mobile apps,
curl, servers). A front end on another origin is
allowed by listing it in ``TEXTLINK["ALLOWED_ORIGINS"]`` (``"https://app.example.com"``, or
``"https://*.example.com"`` for every subdomain); that adds no CORS headers, which such a
page needs too to read the answers (e.g. django-cors-headers). The check is in
:meth:`PhoneVerificationAPIView.initial`, before authentication, permissions, throttles
and the service, so nothing is counted or sent for a refused request, and subclasses that
change ``permission_classes`` keep it. The rules are in :mod:`django_textlink.api.origin`.

**CSRF.** Beyond that, the views keep DRF's default behaviour: an anonymous request needs
no CSRF token, while a request authenticated by ``SessionAuthentication`` (a logged-in
browser session) must carry one (``X-CSRFToken``), as for any DRF view. Token-authenticated
clients need none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.util import find_spec
from typing import Any, ClassVar

from django.apps import apps
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from django_textlink.api.exceptions import (
    ChallengeRequiredError,
    CrossSiteRefused,
    RateLimited,
    Unavailable,
)
from django_textlink.api.origin import cross_site_refusal
from django_textlink.api.serializers import (
    CheckCodeSerializer,
    CodeSentSerializer,
    CodeVerifiedSerializer,
    SendCodeSerializer,
    WrongCodeSerializer,
)
from django_textlink.phone import InvalidPhoneNumber
from django_textlink.verification import (
    ChallengeRequired,
    CheckResult,
    CountryNotAllowed,
    InvalidCode,
    LimitExceeded,
    NumberNotAllowed,
    PhoneVerification,
    VerificationUnavailable,
)

WRONG_CODE = _("The code is not correct.")
NO_ATTEMPTS_LEFT = _("The code is not correct or has expired. Request a new code.")

logger = logging.getLogger("django_textlink.api")


def field_error(field: str, message: Any, code: str = "invalid") -> ValidationError:
    """A 400 in DRF's usual shape: ``{field: [message]}``."""
    return ValidationError({field: [str(message)]}, code=code)


# Not inside ATOMIC_REQUESTS: the limit store decides in short transactions of its own;
# one around the whole request would hold the limits' row locks during the call to
# TextLink (and undo a counted send when the view failed after it).
@method_decorator(transaction.non_atomic_requests, name="dispatch")
class PhoneVerificationAPIView(APIView):
    """Common ground of the verification endpoints: ``AllowAny``, browsers' cross-site
    requests refused, one request serializer and one :class:`PhoneVerification` per request.

    Override ``permission_classes`` (or any other DRF policy) in a subclass, or
    ``verification_class`` / :meth:`get_verification` to use a service of your own."""

    permission_classes: Sequence[type[BasePermission]] = [AllowAny]
    serializer_class: ClassVar[type[BaseSerializer[Any]]]
    verification_class: ClassVar[type[PhoneVerification]] = PhoneVerification

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # First of all: a refused request must not reach authentication (which may count
        # failures), DRF throttles or the service.
        self.check_origin(request)
        super().initial(request, *args, **kwargs)

    def check_origin(self, request: Request) -> None:
        """Raise :class:`CrossSiteRefused` for a browser's cross-site request whose origin
        is not allowed (see :mod:`django_textlink.api.origin`)."""
        reason = cross_site_refusal(request._request)
        if reason is not None:
            logger.info("Refused a cross-site request to %s: %s.", request.path, reason)
            raise CrossSiteRefused

    def get_serializer_context(self) -> dict[str, Any]:
        return {"request": self.request, "format": self.format_kwarg, "view": self}

    def get_serializer(self, *args: Any, **kwargs: Any) -> BaseSerializer[Any]:
        # Also what the schema generators call to find the request body.
        kwargs.setdefault("context", self.get_serializer_context())
        return self.serializer_class(*args, **kwargs)

    def get_validated_data(self) -> dict[str, Any]:
        serializer = self.get_serializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def get_verification(self) -> PhoneVerification:
        """The service for this request: it keys the per-IP limit on the client's
        address and records the verification for the DRF-authenticated user, if any."""
        return self.verification_class(request=self.request._request, user=self.request.user)


class SendCodeView(PhoneVerificationAPIView):
    """Send a verification code by SMS."""

    serializer_class = SendCodeSerializer

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.get_validated_data()
        try:
            started = self.get_verification().start(
                data["phone_number"], challenge=data.get("challenge")
            )
        except InvalidPhoneNumber as err:
            raise field_error("phone_number", err) from err
        except (CountryNotAllowed, NumberNotAllowed) as err:
            raise field_error("phone_number", err.message, err.code) from err
        except ChallengeRequired as err:
            raise ChallengeRequiredError.from_error(err) from err
        except LimitExceeded as err:
            raise RateLimited.from_error(err) from err
        except VerificationUnavailable as err:
            raise Unavailable.from_error(err) from err
        return Response(CodeSentSerializer(started).data, status=status.HTTP_202_ACCEPTED)


class CheckCodeView(PhoneVerificationAPIView):
    """Check the code received by SMS; the right code earns a signed token."""

    serializer_class = CheckCodeSerializer

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.get_validated_data()
        try:
            result = self.get_verification().check(data["phone_number"], data["code"])
        except InvalidPhoneNumber as err:
            raise field_error("phone_number", err) from err
        except InvalidCode as err:
            raise field_error("code", err.message, err.code) from err
        except LimitExceeded as err:
            raise RateLimited.from_error(err) from err
        except VerificationUnavailable as err:
            raise Unavailable.from_error(err) from err
        if result:
            return Response(CodeVerifiedSerializer(result).data, status=status.HTTP_200_OK)
        return Response(self.wrong_code_data(result), status=status.HTTP_400_BAD_REQUEST)

    def wrong_code_data(self, result: CheckResult) -> Any:
        attempts_left = result.attempts_left or 0
        detail = WRONG_CODE if attempts_left else NO_ATTEMPTS_LEFT
        return WrongCodeSerializer(
            {"verified": False, "detail": str(detail), "attempts_left": attempts_left}
        ).data


#: The app that ships Swagger UI's files (``pip install drf-spectacular-sidecar``, in
#: ``django-textlink[drf]``), served by the site's static files: no CDN is asked.
SIDECAR_APP = "drf_spectacular_sidecar"


@require_safe
def api_docs(request: HttpRequest) -> HttpResponse:
    """The API's documentation, browsable: Swagger UI over the schema that ``schema/``
    (:class:`django_textlink.api.openapi.SchemaView`) serves, read only (no "Try it out":
    it would send real codes). Without drf-spectacular, or without
    drf-spectacular-sidecar in ``INSTALLED_APPS``, the page says what to install and links
    to the raw schema when there is one."""
    match = request.resolver_match
    namespace = match.namespace if match is not None and match.namespace else "textlink-api"
    try:
        schema_url: str | None = reverse(f"{namespace}:schema")
    except NoReverseMatch:  # drf-spectacular is not installed
        schema_url = None
    missing = None
    if schema_url is None:
        missing = _(
            "The API's documentation needs drf-spectacular: pip install "
            '"django-textlink[openapi]", and set REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] to '
            '"drf_spectacular.openapi.AutoSchema".'
        )
    elif not apps.is_installed(SIDECAR_APP):
        missing = _(
            "The browsable documentation needs Swagger UI's files: pip install "
            '"django-textlink[drf]" (it brings drf-spectacular-sidecar) and add '
            '"drf_spectacular_sidecar" to INSTALLED_APPS. The raw schema is available '
            "meanwhile."
        )
    context = {"schema_url": schema_url, "missing": missing}
    return render(request, "django_textlink/api_docs.html", context)


if find_spec("drf_spectacular") is not None:  # pragma: no branch
    # Registers the OpenAPI description of these views with drf-spectacular.
    from django_textlink.api import openapi  # noqa: F401
