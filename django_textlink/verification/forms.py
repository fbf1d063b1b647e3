"""Forms for phone verification, and a mixin that makes any form require a verified phone."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib.auth import get_user_model
from django.db import router, transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from django_textlink.phone import InvalidPhoneNumber, normalize_phone
from django_textlink.verification import (
    CODE_SHAPE_MESSAGE,
    MAX_CODE_LENGTH,
    InvalidToken,
    clean_code,
    read_token,
    redeem_token,
    release_token,
    session,
)
from django_textlink.verification.store import get_store

T = TypeVar("T")

PHONE_NOT_VERIFIED = "phone_not_verified"


class TelInput(forms.TextInput):
    """``<input type="tel">``: phones show the number keypad."""

    input_type = "tel"


class PhoneNumberField(forms.CharField):
    """A phone number, cleaned to E.164 (``+12025550143``). National numbers are read in
    ``region`` (default: ``TEXTLINK["DEFAULT_REGION"]``)."""

    default_error_messages = {"invalid": _("Enter a valid phone number.")}
    widget = TelInput

    def __init__(self, *, region: str | None = None, **kwargs: Any) -> None:
        self.region = region
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("label", _("Phone number"))
        super().__init__(**kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.update({"autocomplete": "tel", "inputmode": "tel"})
        return attrs

    def to_python(self, value: Any) -> str:
        value = super().to_python(value)
        if value in self.empty_values:
            return ""
        try:
            return normalize_phone(value, self.region)
        except InvalidPhoneNumber as err:
            raise forms.ValidationError(str(err), code="invalid") from None


class PhoneNumberForm(forms.Form):
    phone_number = PhoneNumberField(
        help_text=_("We will send a code to this number by SMS."),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=MAX_CODE_LENGTH,
        help_text=_("The code from the SMS we sent you."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        # The service's own rule (digits of a code's length): input not shaped like a code
        # is a form error here, before anything is counted or sent to TextLink.
        code = clean_code(self.cleaned_data["code"])
        if code is None:
            raise forms.ValidationError(CODE_SHAPE_MESSAGE, code="invalid")
        return code


def _record_verified(phone_number: str, owner: Any) -> None:
    """Record ``phone_number`` as verified for ``owner`` (a user, or None).

    A signup verifies the number before the account exists: the check that issued the
    token recorded it without a user. Redeemed for an account, that verification is the
    account's, so the user-less row makes way for the user's (one row per verification,
    not two)."""
    from django_textlink.models import VerifiedPhoneNumber

    if owner is not None and getattr(owner, "is_authenticated", False):
        VerifiedPhoneNumber.objects.filter(phone_number=phone_number, user__isnull=True).delete()
    VerifiedPhoneNumber.record(phone_number, owner)


class VerifiedPhoneFormMixin:
    """Makes a form require a phone number verified through django-textlink.

    Mix it into any form (a signup form, a profile form) and pass ``request=``::

        class SignupForm(VerifiedPhoneFormMixin, UserCreationForm):
            ...

        form = SignupForm(request.POST, request=request)
        if form.is_valid():
            user = form.save_with_verified_phone()  # one transaction: save, redeem, record
            if user is not None:
                ...  # log in, redirect
        # else: render the form; a token used meanwhile is an error on phone_number

    One verification makes one account, ever: :meth:`save_with_verified_phone` redeems
    the token in the same transaction as the save, so of several submissions racing with
    one token exactly one saves; the others save nothing and get a form error.

    The form gets a ``phone_number`` field (unless it has one) and a hidden, optional
    ``verification_token`` field for API clients that verified through the DRF endpoints.
    In HTML flows the token is read from the session. A number that was not verified gives
    the field an error with code ``"phone_not_verified"``;
    :meth:`needs_phone_verification` tells a view that this is the only problem, so it can
    send the user through verification (of ``form.phone_number_to_verify``) and come back.
    """

    fields: dict[str, forms.Field]
    cleaned_data: dict[str, Any]

    def __init__(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        self.request = request
        self.verified_phone_number: str | None = None
        #: The valid number that still needs verifying (the "not verified" error removes
        #: it from ``cleaned_data``), for views that send it through verification.
        self.phone_number_to_verify: str | None = None
        self._verification_token: str | None = None
        super().__init__(*args, **kwargs)
        if "phone_number" not in self.fields:
            self.fields["phone_number"] = PhoneNumberField()
        self.fields["verification_token"] = forms.CharField(
            required=False, widget=forms.HiddenInput, max_length=1024
        )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        phone = cleaned.get("phone_number")
        if not phone:
            return cleaned
        token = cleaned.get("verification_token") or (
            session.verified_token(self.request) if self.request is not None else None
        )
        try:
            if not token:
                raise InvalidToken(_("Verify this phone number first."), code=PHONE_NOT_VERIFIED)
            # A token issued to a signed-in user is not valid for another signed-in user.
            read_token(token, phone_number=phone, user=self._signed_in_user())
        except InvalidToken as err:
            self._not_verified(phone, err)
        else:
            self.verified_phone_number = phone
            self._verification_token = token
        return cleaned

    def needs_phone_verification(self) -> bool:
        """True when the phone's verification is the form's only error."""
        errors: dict[str, Any] = self.errors  # type: ignore[attr-defined]
        return list(errors) == ["phone_number"] and self.has_error(  # type: ignore[attr-defined]
            "phone_number", PHONE_NOT_VERIFIED
        )

    def save_with_verified_phone(
        self, save: Callable[[], T] | None = None, *, user: Any = None
    ) -> T | None:
        """Save the form and redeem its phone verification in one transaction; record the
        number as verified. Returns what the save returned, or None when the token was
        used meanwhile (by a concurrent submission, say): then nothing was saved and the
        form has an error on ``phone_number`` to show.

        ``save`` defaults to ``self.save`` (a ``ModelForm``); pass a callable for a plain
        form (``form.save_with_verified_phone(lambda: User.objects.create_user(...))``).
        The number is recorded for ``user``, else for the saved object when it is a user,
        else for the signed-in user, if any. Errors of the save itself (an
        ``IntegrityError``, say) propagate after the rollback, with the token unused.
        """
        from django_textlink.models import VerificationState

        token, phone = self._verification_token, self.verified_phone_number
        if token is None or phone is None:
            raise ValueError(
                "save_with_verified_phone() needs a valid form (call is_valid() first)."
            )
        saver: Callable[[], Any] = save if save is not None else self.save  # type: ignore[attr-defined]
        signed_in = self._signed_in_user()
        redeemed = False
        try:
            with transaction.atomic(using=router.db_for_write(VerificationState)):
                # First: of racing submissions, the losers stop here (the redemption of
                # the winner holds the row until it commits) before saving anything.
                phone = redeem_token(token, phone_number=phone, user=signed_in)
                redeemed = True
                saved = saver()
                owner = user if user is not None else saved
                if not isinstance(owner, get_user_model()):
                    owner = signed_in
                _record_verified(phone, owner)
        except InvalidToken as err:
            if redeemed:  # raised by the save itself: not ours to turn into a form error
                raise
            self._not_verified(phone, err)
            return None
        except BaseException:
            # The rollback gave the token back in the database store; a cache store is
            # outside the transaction, so it is given back here, after the rollback.
            if redeemed and not get_store().transactional:
                release_token(token)
            raise
        if self.request is not None:
            session.clear(self.request)
        result: T = saved
        return result

    def _not_verified(self, phone: str, err: InvalidToken) -> None:
        """The "not verified" error on ``phone_number``, keeping the number to verify."""
        self.phone_number_to_verify = phone
        self.add_error(  # type: ignore[attr-defined]
            "phone_number", forms.ValidationError(str(err.message), code=PHONE_NOT_VERIFIED)
        )

    def _signed_in_user(self) -> Any:
        user = getattr(self.request, "user", None)
        return user if getattr(user, "is_authenticated", False) else None

    def save_verified_phone(self, user: Any = None) -> str:
        """Redeem the token (once) and record the number as verified for ``user``.

        Lower level than :meth:`save_with_verified_phone`: call it inside the same
        ``transaction.atomic()`` block as the save it belongs to, so that a token used
        meanwhile (:class:`~django_textlink.verification.InvalidToken`) rolls the save
        back. Called outside a transaction it warns: the object was saved already, and a
        second submission with the same token would have saved one too."""
        from django_textlink.models import VerificationState

        if self._verification_token is None or self.verified_phone_number is None:
            raise ValueError("save_verified_phone() needs a valid form (call is_valid() first).")
        using = router.db_for_write(VerificationState)
        if not transaction.get_connection(using).in_atomic_block:
            warnings.warn(
                "save_verified_phone() outside transaction.atomic() lets one verification "
                "make several accounts; use form.save_with_verified_phone() instead.",
                DeprecationWarning,
                stacklevel=2,
            )
        with transaction.atomic(using=using):
            phone = redeem_token(
                self._verification_token, phone_number=self.verified_phone_number, user=user
            )
            _record_verified(phone, user)
        if self.request is not None:
            session.clear(self.request)
        return phone
