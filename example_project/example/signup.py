"""Signup with phone verification, using django-textlink's VerifiedPhoneFormMixin.

1. /signup/: username, password and phone number. When the only thing missing is the
   phone's verification, the account waits in the session (the password already hashed),
   a code is sent and the visitor goes to django-textlink's confirm page.
2. The confirm page checks the code and sends the visitor back to /signup/complete/,
   where the verified phone's token is redeemed and the account is created with it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from django_textlink.forms import PhoneNumberField, VerifiedPhoneFormMixin
from django_textlink.verification import (
    ChallengeRequired,
    LimitExceeded,
    PhoneVerification,
    VerificationError,
    session,
)
from django_textlink.verification.challenge import get_challenge

PENDING_KEY = "example_pending_signup"


class SignupForm(VerifiedPhoneFormMixin, UserCreationForm):  # type: ignore[type-arg]
    phone_number = PhoneNumberField(help_text="We will text you a code to check it is yours.")

    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class CompleteSignupForm(VerifiedPhoneFormMixin, forms.Form):
    """Only the phone: the mixin checks the session holds a verified token for it."""


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None, request=request)
    status = 200
    challenge_html = ""
    if request.method == "POST":
        if form.is_valid():  # the phone was verified already in this session
            # Save the user and redeem the verification in one transaction.
            user = form.save_with_verified_phone()
            if user is not None:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect("home")
            status = 400  # the verification was used meanwhile: the form says so
        elif form.needs_phone_verification():
            # Not form.cleaned_data["phone_number"]: the "not verified" error removed it.
            phone = form.phone_number_to_verify
            assert phone is not None
            challenge = get_challenge(request)
            answer = challenge.answer_from_form(request.POST) if challenge else None
            try:
                PhoneVerification(request).start(phone, challenge=answer)
            except ChallengeRequired as err:
                # The fraud guard asks for a check first: the browser solves it and sends
                # the form again, so the form keeps what was typed (passwords included).
                challenge_html = err.render()
                if err.invalid:
                    form.add_error(None, str(err.message))
                for name in ("password1", "password2"):
                    form.fields[name].widget.render_value = True
                status = 403
            except VerificationError as err:
                form.add_error(None, str(err.message))
                status = 429 if isinstance(err, LimitExceeded) else 400
            else:
                request.session[PENDING_KEY] = {
                    "username": form.cleaned_data["username"],
                    "password": make_password(form.cleaned_data["password1"]),
                    "phone_number": phone,
                }
                session.set_pending_phone(request, phone)
                confirm = reverse("textlink:verify-confirm")
                return redirect(f"{confirm}?{urlencode({'next': reverse('signup-complete')})}")
    context = {"form": form, "challenge": challenge_html}
    return render(request, "example/signup.html", context, status=status)


def signup_complete(request: HttpRequest) -> HttpResponse:
    pending: dict[str, Any] | None = request.session.get(PENDING_KEY)
    if not pending:
        return redirect("signup")
    form = CompleteSignupForm({"phone_number": pending["phone_number"]}, request=request)
    if not form.is_valid():
        return render(request, "example/signup.html", {"form": SignupForm(request=request),
                      "error": "Your phone number is not verified yet. Please sign up again."},
                      status=400)  # fmt: skip
    User = get_user_model()
    try:
        user = form.save_with_verified_phone(
            lambda: User.objects.create(username=pending["username"], password=pending["password"])
        )
    except IntegrityError:
        request.session.pop(PENDING_KEY, None)
        return render(request, "example/signup.html", {"form": SignupForm(request=request),
                      "error": "That username was taken meanwhile. Please choose another."},
                      status=400)  # fmt: skip
    request.session.pop(PENDING_KEY, None)
    if user is None:  # the verification was used meanwhile, by another signup
        return render(request, "example/signup.html", {"form": SignupForm(request=request),
                      "error": "That phone verification was already used. Please sign up "
                      "again."}, status=400)  # fmt: skip
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("home")
