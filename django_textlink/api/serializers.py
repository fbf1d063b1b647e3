"""Serializers of the verification API.

The request serializers check the *shape* of the input only (strings of a sane length);
the number itself is parsed and judged by
:class:`~django_textlink.verification.PhoneVerification`, so the API, the forms and the
HTML views accept exactly the same numbers. The response serializers render the service's
results and document every answer in the OpenAPI schema (their docstrings are the
schema's descriptions; ``Meta.ref_name`` names the schema components, prefixed so they
cannot collide with a site's own).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from django_textlink.verification import MAX_CODE_LENGTH

#: Longest phone number input accepted (E.164 has at most 15 digits; room for spaces,
#: dashes and parentheses in a national format).
MAX_PHONE_LENGTH = 32

_PHONE_HELP = _(
    "The phone number, in international format (+ and the country code) or, when the site "
    "sets a default region, in national format."
)


# -- requests ------------------------------------------------------------------------------


#: The longest value of a challenge answer (a CAPTCHA response token is a few KB at most).
MAX_CHALLENGE_VALUE = 4096


class SendCodeSerializer(serializers.Serializer[Any]):
    """Request a verification code for a phone number."""

    phone_number = serializers.CharField(max_length=MAX_PHONE_LENGTH, help_text=_PHONE_HELP)
    challenge = serializers.DictField(
        child=serializers.CharField(max_length=MAX_CHALLENGE_VALUE, allow_blank=True),
        required=False,
        help_text=_(
            "The answer to the challenge a previous attempt was given (403, code "
            '"challenge_required"). For the proof of work: {"token": the challenge\'s '
            'token, "solution": the decimal number found}.'
        ),
    )

    class Meta:
        ref_name = "TextLinkSendCode"


class CheckCodeSerializer(serializers.Serializer[Any]):
    """Check the code received by SMS."""

    phone_number = serializers.CharField(max_length=MAX_PHONE_LENGTH, help_text=_PHONE_HELP)
    code = serializers.CharField(
        max_length=MAX_CODE_LENGTH, help_text=_("The code received by SMS.")
    )

    class Meta:
        ref_name = "TextLinkCheckCode"


# -- responses (output only) -----------------------------------------------------------------


class CodeSentSerializer(serializers.Serializer[Any]):
    """A code is on its way. The answer never contains the code."""

    phone_number = serializers.CharField(
        help_text=_("The number the code was sent to, in E.164 form.")
    )
    resend_in = serializers.IntegerField(help_text=_("Seconds until another code can be sent."))
    expires_in = serializers.IntegerField(help_text=_("Seconds the code stays valid."))

    class Meta:
        ref_name = "TextLinkCodeSent"


class CodeVerifiedSerializer(serializers.Serializer[Any]):
    """The code was right: the number is verified."""

    verified = serializers.BooleanField(help_text=_("Always true."))
    phone_number = serializers.CharField(help_text=_("The verified number, in E.164 form."))
    token = serializers.CharField(
        help_text=_(
            "Signed proof that the number was verified, to send with a later request (such as "
            "signing up); it expires and can be redeemed once."
        ),
    )

    class Meta:
        ref_name = "TextLinkCodeVerified"


class WrongCodeSerializer(serializers.Serializer[Any]):
    """The code is wrong, has expired or was never sent."""

    verified = serializers.BooleanField(help_text=_("Always false."))
    detail = serializers.CharField()
    attempts_left = serializers.IntegerField(
        help_text=_("Wrong codes still allowed for this code; at 0, request a new code."),
    )

    class Meta:
        ref_name = "TextLinkWrongCode"


class FieldErrorsSerializer(serializers.Serializer[Any]):
    """Malformed input (not JSON, a field missing or too long), an invalid phone number or a
    country codes are not sent to: a list of messages per field."""

    phone_number = serializers.ListField(child=serializers.CharField(), required=False)
    code = serializers.ListField(child=serializers.CharField(), required=False)
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
    detail = serializers.CharField(required=False, help_text=_("For a body that cannot be parsed."))

    class Meta:
        ref_name = "TextLinkFieldErrors"


class RateLimitedSerializer(serializers.Serializer[Any]):
    """A limit refused the request before anything was sent to TextLink. The Retry-After
    header carries retry_after too."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text=_('Always "rate_limited".'))
    limit = serializers.CharField(
        help_text=_(
            "The limit that refused the request: resend_cooldown, sends_per_phone, "
            "sends_per_ip, daily_budget, checks_per_phone or wrong_codes; or the fraud "
            "guard: range_blocked, country_blocked or phone_backoff."
        )
    )
    retry_after = serializers.IntegerField(help_text=_("Seconds to wait before trying again."))

    class Meta:
        ref_name = "TextLinkRateLimited"


class UnavailableSerializer(serializers.Serializer[Any]):
    """TextLink could not be reached or refused the request; try again later."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text=_('Always "unavailable".'))

    class Meta:
        ref_name = "TextLinkUnavailable"
