"""OpenAPI description of the verification API, for drf-spectacular
(optional: ``pip install "django-textlink[openapi]"``).

Imported by :mod:`django_textlink.api.views` when drf-spectacular is installed; the
extensions below register themselves and apply to the views and their subclasses when a
schema is generated with ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] =
"drf_spectacular.openapi.AutoSchema"`` (e.g. by ``SpectacularAPIView`` or
``manage.py spectacular``). Nothing here runs while serving requests.
"""

from __future__ import annotations

from typing import Any

from django.utils.text import slugify
from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_textlink.api.serializers import (
    CheckCodeSerializer,
    CodeSentSerializer,
    CodeVerifiedSerializer,
    FieldErrorsSerializer,
    RateLimitedSerializer,
    SendCodeSerializer,
    UnavailableSerializer,
    WrongCodeSerializer,
)
from django_textlink.verification import MAX_CODE_LENGTH, MIN_CODE_LENGTH

TAGS = ["phone verification"]

RETRY_AFTER = OpenApiParameter(
    name="Retry-After",
    type=int,
    location=OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before trying again (the body's retry_after).",
)

RATE_LIMITED = OpenApiResponse(
    RateLimitedSerializer,
    description="A limit refused the request; nothing was sent to TextLink. "
    "Retry after the Retry-After header's seconds.",
    examples=[
        OpenApiExample(
            "Resend cooldown",
            value={
                "detail": "Please wait before requesting another code. Try again in 42 seconds.",
                "code": "rate_limited",
                "limit": "resend_cooldown",
                "retry_after": 42,
            },
            status_codes=[429],
            response_only=True,
        )
    ],
)

UNAVAILABLE = OpenApiResponse(
    UnavailableSerializer,
    description="TextLink could not be reached or refused the request. Try again later.",
)


class ChallengeSerializer(serializers.Serializer[Any]):
    """The challenge to solve (with challenge_required). Its type says which; the built-in
    proof of work has the fields below: find a decimal solution such that SHA-256 of
    "<token>:<solution>" starts with difficulty zero bits, then post the send request again
    with "challenge": {"token": token, "solution": solution}. A CAPTCHA challenge
    (TEXTLINK["CHALLENGE"]) has fields of its own, such as a site key."""

    type = serializers.CharField(help_text='"proof_of_work", or the site\'s own challenge.')
    algorithm = serializers.CharField(required=False, help_text='"sha256".')
    difficulty = serializers.IntegerField(
        required=False, help_text="Leading zero bits the hash must have."
    )
    token = serializers.CharField(required=False, help_text="Signed; valid once, for this number.")
    expires_in = serializers.IntegerField(
        required=False, help_text="Seconds the challenge can be answered."
    )

    class Meta:
        ref_name = "TextLinkChallenge"


class ForbiddenSerializer(serializers.Serializer[Any]):
    """The request was refused before anything was counted or sent to TextLink."""

    detail = serializers.CharField()
    code = serializers.CharField(
        required=False,
        help_text='"cross_site" for a browser\'s cross-site request; absent from the 403s '
        "of DRF's own CSRF and permission checks.",
    )

    class Meta:
        ref_name = "TextLinkForbidden"


class SendForbiddenSerializer(ForbiddenSerializer):
    """The send was refused, or held back for a challenge, before anything was counted or
    sent to TextLink."""

    code = serializers.CharField(
        required=False,
        help_text='"cross_site" for a browser\'s cross-site request, "challenge_required" when '
        "the fraud guard asks for a challenge first; absent from the 403s of DRF's own CSRF "
        "and permission checks.",
    )
    reason = serializers.CharField(
        required=False,
        help_text="With challenge_required: why the guard asks (low_conversion, "
        "range_near_budget, network_many_numbers).",
    )
    challenge = ChallengeSerializer(required=False)

    class Meta:
        ref_name = "TextLinkSendForbidden"


_CROSS_SITE = (
    "A browser sent the request from another site's page (Sec-Fetch-Site: "
    "cross-site, or an Origin header that is null or not this site's) and that origin is "
    'not in TEXTLINK["ALLOWED_ORIGINS"]: code "cross_site". Clients that send neither '
    "header (mobile apps, servers) are not concerned. Also DRF's usual 403 for a "
    "session-authenticated request without its CSRF token, or a site's own permissions."
)
_CROSS_SITE_EXAMPLE = OpenApiExample(
    "Cross-site request",
    value={"detail": "Requests from other websites are not allowed.", "code": "cross_site"},
    status_codes=[403],
    response_only=True,
)

FORBIDDEN = OpenApiResponse(
    ForbiddenSerializer, description=_CROSS_SITE, examples=[_CROSS_SITE_EXAMPLE]
)

SEND_FORBIDDEN = OpenApiResponse(
    SendForbiddenSerializer,
    description=_CROSS_SITE
    + " Or the fraud guard asks for a challenge before it sends the code: code "
    '"challenge_required", with the challenge to solve; send the request again with its '
    'answer in "challenge". Nothing was counted or sent.',
    examples=[
        _CROSS_SITE_EXAMPLE,
        OpenApiExample(
            "Challenge required (fraud guard)",
            value={
                "detail": "Please complete the check to receive your code.",
                "code": "challenge_required",
                "reason": "range_near_budget",
                "challenge": {
                    "type": "proof_of_work",
                    "algorithm": "sha256",
                    "difficulty": 18,
                    "token": "eyJuIjoi...:1tXyZ0:abc...",
                    "expires_in": 600,
                },
            },
            status_codes=[403],
            response_only=True,
        ),
    ],
)


def _responses(success: dict[int, Any], invalid: Any, forbidden: Any = FORBIDDEN) -> dict[int, Any]:
    return {**success, 400: invalid, 403: forbidden, 429: RATE_LIMITED, 503: UNAVAILABLE}


send_code_schema = extend_schema(
    operation_id="textlink_verify_send",
    summary="Send a verification code",
    description="Sends a code by SMS to the number. The answer never contains the code and "
    "is the same whether or not the number belongs to an account.",
    tags=TAGS,
    request=SendCodeSerializer,
    responses=_responses(
        {202: OpenApiResponse(CodeSentSerializer, description="The code is on its way.")},
        OpenApiResponse(
            FieldErrorsSerializer,
            description="Malformed input, an invalid phone number, a country codes "
            "are not sent to, or a kind of number the fraud guard never sends to "
            "(premium-rate, toll-free, a landline, ...).",
        ),
        SEND_FORBIDDEN,
    ),
    parameters=[RETRY_AFTER],
)

check_code_schema = extend_schema(
    operation_id="textlink_verify_check",
    summary="Check a verification code",
    description="Checks the code received by SMS. The right code answers a signed token "
    "proving the number, redeemable once.",
    tags=TAGS,
    request=CheckCodeSerializer,
    responses=_responses(
        {200: OpenApiResponse(CodeVerifiedSerializer, description="The number is verified.")},
        OpenApiResponse(
            PolymorphicProxySerializer(
                component_name="TextLinkCheckCodeError",
                serializers=[WrongCodeSerializer, FieldErrorsSerializer],
                resource_type_field_name=None,
            ),
            description="A wrong, expired or unknown code (verified: false, attempts_left), "
            "or malformed input, such as a code that is not "
            f"{MIN_CODE_LENGTH} to {MAX_CODE_LENGTH} digits (code: [...]; refused before "
            "anything is counted or sent to TextLink).",
        ),
    ),
    parameters=[RETRY_AFTER],
)


def _annotated(view: type[APIView], schema: Any) -> type[APIView]:
    """A subclass of ``view`` whose ``post`` carries ``schema`` (the view itself, which may
    be a site's subclass, is left untouched)."""
    annotated: type[APIView] = extend_schema_view(post=schema)(
        type(view.__name__, (view,), {"__module__": view.__module__})
    )
    return annotated


class SendCodeViewSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "django_textlink.api.views.SendCodeView"
    match_subclasses = True

    def view_replacement(self) -> type[APIView]:
        return _annotated(self.target, send_code_schema)


class CheckCodeViewSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "django_textlink.api.views.CheckCodeView"
    match_subclasses = True

    def view_replacement(self) -> type[APIView]:
        return _annotated(self.target, check_code_schema)


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema (YAML, or JSON with ``?format=json``), as drf-spectacular's view
    serves it, under a file name without spaces: ``SPECTACULAR_SETTINGS["TITLE"]``
    slugified (``django-textlink-example.yaml``), ``openapi.yaml`` without a title.
    ``include("django_textlink.api.urls")`` routes it at ``schema/``, for the docs page
    (``docs/``); a site can route it for its whole schema too. It leaves itself out of
    the schema it serves."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response: Response = super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call]
        response["Content-Disposition"] = f'inline; filename="{self.filename(request)}"'
        return response

    def filename(self, request: Request) -> str:
        title = (self.custom_settings or {}).get("TITLE", spectacular_settings.TITLE)
        stem = slugify(str(title or "")) or "openapi"
        renderer = getattr(request, "accepted_renderer", None)
        return f"{stem}.{getattr(renderer, 'format', None) or 'yaml'}"
