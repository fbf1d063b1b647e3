"""HTML views of the verification flow: thin shells over :class:`PhoneVerification`.

``verify/`` asks for the number and sends a code; ``verify/confirm/`` asks for the code
(the number lives in the server-side session: a posted number cannot swap it) and offers
a resend that shows the cooldown; ``verify/done/`` confirms. ``?next=`` is carried
through and followed only when it is a safe URL on this site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django import forms
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.generic import FormView, TemplateView

from django_textlink.verification import (
    ChallengeRequired,
    CountryNotAllowed,
    InvalidCode,
    InvalidPhoneNumber,
    InvalidToken,
    LimitExceeded,
    NumberNotAllowed,
    PhoneVerification,
    VerificationUnavailable,
    read_token,
    session,
)
from django_textlink.verification.challenge import get_challenge
from django_textlink.verification.forms import CodeForm, PhoneNumberForm

if TYPE_CHECKING:
    PhoneFormView = FormView[PhoneNumberForm]
    CodeFormView = FormView[CodeForm]
else:
    PhoneFormView = CodeFormView = FormView

NEXT_FIELD = "next"


def safe_next_url(request: HttpRequest) -> str | None:
    """The ``next`` parameter when it points to this site, else None."""
    target = request.POST.get(NEXT_FIELD) or request.GET.get(NEXT_FIELD)
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _with_next(url: str, next_url: str | None) -> str:
    return f"{url}?{urlencode({NEXT_FIELD: next_url})}" if next_url else url


def _refused(response: HttpResponse, err: LimitExceeded) -> HttpResponse:
    """A 429 tells clients when to retry, as the API views do."""
    response["Retry-After"] = str(err.retry_after)
    return response


class _FlowMixin:
    request: HttpRequest

    def flow(self) -> PhoneVerification:
        return PhoneVerification(request=self.request)

    def challenge_answer(self) -> dict[str, str] | None:
        """The answer to the fraud guard's challenge posted with the form, if any."""
        challenge = get_challenge(self.request)
        return challenge.answer_from_form(self.request.POST) if challenge is not None else None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["next_url"] = safe_next_url(self.request)
        context.setdefault("retry_after", None)
        return context

    def render_refusal(
        self, form: forms.Form, err: LimitExceeded | VerificationUnavailable
    ) -> HttpResponse:
        """The form again with the refusal: 429 with ``Retry-After`` for a limit, 503 when
        TextLink cannot be reached."""
        form.add_error(None, str(err.message))
        render = self.render_to_response  # type: ignore[attr-defined]
        if isinstance(err, LimitExceeded):
            context = self.get_context_data(form=form, retry_after=err.retry_after)
            return _refused(render(context, status=429), err)
        response: HttpResponse = render(self.get_context_data(form=form), status=503)
        return response


#: The verification views run outside ATOMIC_REQUESTS: the limit store decides in short
#: transactions of its own, and one around the whole request would hold the limits' row
#: locks during the call to TextLink.
non_atomic = method_decorator(transaction.non_atomic_requests, name="dispatch")


@non_atomic
@method_decorator(never_cache, name="dispatch")
class VerifyPhoneView(_FlowMixin, PhoneFormView):
    """Step 1: the phone number. Sends a code, then redirects to the confirm step."""

    template_name = "django_textlink/verify.html"
    form_class = PhoneNumberForm

    def form_valid(self, form: PhoneNumberForm) -> HttpResponse:
        try:
            started = self.flow().start(
                form.cleaned_data["phone_number"], challenge=self.challenge_answer()
            )
        except (InvalidPhoneNumber, CountryNotAllowed, NumberNotAllowed) as err:
            form.add_error("phone_number", str(getattr(err, "message", err)))
            return self.form_invalid(form)
        except ChallengeRequired as err:
            # The same form again, with the challenge in it: the browser solves it and
            # sends the form again on its own (403: nothing was sent yet).
            if err.invalid:
                form.add_error(None, str(err.message))
            context = self.get_context_data(form=form, challenge=err.render())
            return self.render_to_response(context, status=403)
        except (LimitExceeded, VerificationUnavailable) as err:
            return self.render_refusal(form, err)
        session.set_pending_phone(self.request, started.phone_number)
        return HttpResponseRedirect(
            _with_next(reverse("textlink:verify-confirm"), safe_next_url(self.request))
        )


@non_atomic
@method_decorator(never_cache, name="dispatch")
class ConfirmPhoneView(_FlowMixin, CodeFormView):
    """Step 2: the code, and a resend button that shows the cooldown."""

    template_name = "django_textlink/verify_confirm.html"
    form_class = CodeForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.phone_number = session.pending_phone(request)
        if self.phone_number is None:
            return HttpResponseRedirect(
                _with_next(reverse("textlink:verify"), safe_next_url(request))
            )
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        assert self.phone_number is not None
        context["phone_number"] = self.phone_number
        context["resend_in"] = self.flow().resend_available_in(self.phone_number)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "resend" in request.POST:
            return self.resend()
        return super().post(request, *args, **kwargs)

    def resend(self) -> HttpResponse:
        assert self.phone_number is not None
        context: dict[str, Any] = {}
        status = 200
        refusal: LimitExceeded | None = None
        try:
            self.flow().start(self.phone_number, challenge=self.challenge_answer())
        except ChallengeRequired as err:
            context["resend_challenge"] = err.render()
            if err.invalid:
                context["resend_error"] = str(err.message)
            status = 403
        except LimitExceeded as err:
            context.update(resend_error=str(err.message), retry_after=err.retry_after)
            status = 429
            refusal = err
        except (
            VerificationUnavailable,
            CountryNotAllowed,
            InvalidPhoneNumber,
            NumberNotAllowed,
        ) as err:
            context["resend_error"] = str(getattr(err, "message", err))
            status = 503
        else:
            context["resent"] = True
        response = self.render_to_response(self.get_context_data(**context), status=status)
        return _refused(response, refusal) if refusal is not None else response

    def form_valid(self, form: CodeForm) -> HttpResponse:
        assert self.phone_number is not None
        try:
            result = self.flow().check(self.phone_number, form.cleaned_data["code"])
        except InvalidCode as err:
            form.add_error("code", str(err.message))
            return self.form_invalid(form)
        except (LimitExceeded, VerificationUnavailable) as err:
            return self.render_refusal(form, err)
        if not result:
            if result.attempts_left:
                message = _("That code is not right. Check the SMS and try again.")
            else:
                message = _("That code is not right or has expired. Request a new code.")
            form.add_error("code", message)
            return self.form_invalid(form)
        assert result.token is not None
        session.set_verified_token(self.request, result.token)
        return HttpResponseRedirect(safe_next_url(self.request) or reverse("textlink:verify-done"))


@method_decorator(never_cache, name="dispatch")
class VerifyDoneView(TemplateView):
    template_name = "django_textlink/verify_done.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        token = session.verified_token(self.request)
        phone = None
        if token:
            try:
                user = self.request.user if self.request.user.is_authenticated else None
                phone = read_token(token, user=user).phone_number
            except InvalidToken:
                phone = None
        context["phone_number"] = phone
        return context
