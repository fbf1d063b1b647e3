"""``PhoneNumberField``, ``CodeForm`` and ``VerifiedPhoneFormMixin``.

Tokens come from the real flow: a code sent through the locmem backend, checked by
:class:`PhoneVerification`, the token put in the session the way the confirm view does.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

import django_textlink
from django_textlink.forms import (
    PHONE_NOT_VERIFIED,
    CodeForm,
    PhoneNumberField,
    PhoneNumberForm,
    VerifiedPhoneFormMixin,
)
from django_textlink.models import VerifiedPhoneNumber
from django_textlink.verification import InvalidToken, PhoneVerification, redeem_token, session

PHONE = "+12025550143"
OTHER = "+442079460958"
PASSWORD = "c0rrect-horse-battery-staple"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_signups(settings: Any, textlink_locmem: list[Any]) -> list[Any]:
    """The locmem backend (the plugin's ``textlink_locmem``) and a fast password hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return textlink_locmem


def make_request(user: Any = None) -> HttpRequest:
    request = RequestFactory().post("/signup/")
    SessionMiddleware(lambda _request: HttpResponse()).process_request(request)
    request.user = user if user is not None else AnonymousUser()
    return request


def verify(request: HttpRequest, phone: str = PHONE) -> str:
    """Run the real flow for ``phone`` and return the token it issues."""
    flow = PhoneVerification(request)
    flow.start(phone)
    result = flow.check(phone, django_textlink.outbox[-1].code)
    assert result
    assert result.token is not None
    return result.token


def verify_in_session(request: HttpRequest, phone: str = PHONE) -> str:
    token = verify(request, phone)
    session.set_verified_token(request, token)
    return token


class ProfileForm(VerifiedPhoneFormMixin, forms.Form):
    name = forms.CharField()


class SignupForm(VerifiedPhoneFormMixin, UserCreationForm):  # type: ignore[type-arg]
    pass


def signup_data(username: str = "alice", **extra: str) -> dict[str, str]:
    return {
        "username": username,
        "password1": PASSWORD,
        "password2": PASSWORD,
        "phone_number": PHONE,
        **extra,
    }


# -- PhoneNumberField ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+12025550143", PHONE),
        ("+1 (202) 555-0143", PHONE),
        ("  +1 202-555-0143  ", PHONE),
        ("+44 20 7946 0958", OTHER),
        ("+381 60 123 4567", "+381601234567"),
    ],
)
def test_phone_field_cleans_international_numbers_to_e164(value: str, expected: str) -> None:
    assert PhoneNumberField().clean(value) == expected


def test_phone_field_reads_national_numbers_in_its_region() -> None:
    assert PhoneNumberField(region="RS").clean("060 123 4567") == "+381601234567"
    assert PhoneNumberField(region="US").clean("(202) 555-0143") == PHONE
    assert PhoneNumberField(region="rs").clean("0601234567") == "+381601234567"
    # An international number ignores the region.
    assert PhoneNumberField(region="RS").clean("+1 202 555 0143") == PHONE


def test_phone_field_reads_national_numbers_in_the_default_region(settings: Any) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "DEFAULT_REGION": "RS"}
    assert PhoneNumberField().clean("060 123 4567") == "+381601234567"
    # ``region=`` wins over the setting.
    assert PhoneNumberField(region="US").clean("(202) 555-0143") == PHONE
    # The setting is read at clean time, not when the field is created.
    field = PhoneNumberField()
    settings.TEXTLINK = {**settings.TEXTLINK, "DEFAULT_REGION": "US"}
    assert field.clean("202 555 0143") == PHONE


@pytest.mark.parametrize(
    "value",
    ["+1 555", "not a number", "+999 123456", "2025550143", "+1202555014300000"],
)
def test_phone_field_refuses_invalid_numbers(value: str) -> None:
    with pytest.raises(forms.ValidationError) as info:
        PhoneNumberField().clean(value)
    assert info.value.code == "invalid"


def test_phone_field_without_region_asks_for_international_format() -> None:
    with pytest.raises(forms.ValidationError) as info:
        PhoneNumberField().clean("2025550143")
    assert "international format" in str(info.value)


def test_phone_field_required_and_optional() -> None:
    with pytest.raises(forms.ValidationError) as info:
        PhoneNumberField().clean("  ")
    assert info.value.code == "required"
    assert PhoneNumberField(required=False).clean("") == ""


def test_phone_field_renders_a_tel_input() -> None:
    html = str(PhoneNumberForm()["phone_number"])
    assert 'type="tel"' in html
    assert 'autocomplete="tel"' in html
    assert 'inputmode="tel"' in html
    assert 'maxlength="32"' in html


def test_phone_number_form() -> None:
    form = PhoneNumberForm({"phone_number": "+1 202 555 0143"})
    assert form.is_valid()
    assert form.cleaned_data == {"phone_number": PHONE}
    assert not PhoneNumberForm({"phone_number": "12"}).is_valid()


# -- CodeForm ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("123456", "123456"), (" 123 456 ", "123456"), ("12 34 56", "123456"), ("0042", "0042")],
)
def test_code_form_strips_spaces(value: str, expected: str) -> None:
    form = CodeForm({"code": value})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["code"] == expected


@pytest.mark.parametrize(
    "value",
    # Not digits, or not a code's length (4 to 12 digits): "abc" and "12" are no codes.
    ["12-34-56", "123.456", "<b>1</b>", "12\t34", "' OR 1=1", "1" * 13, "abc", "12", "Ab12",
     "\uff11\uff12\uff13\uff14\uff15\uff16", "123"],  # the last but one: full-width digits
)  # fmt: skip
def test_code_form_refuses_anything_else(value: str) -> None:
    form = CodeForm({"code": value})
    assert not form.is_valid()
    assert "code" in form.errors


def test_code_form_requires_a_code() -> None:
    form = CodeForm({"code": "   "})
    assert not form.is_valid()
    assert form.has_error("code", "required")


def test_code_form_renders_a_one_time_code_input() -> None:
    html = str(CodeForm()["code"])
    assert 'autocomplete="one-time-code"' in html
    assert 'inputmode="numeric"' in html


# -- VerifiedPhoneFormMixin: not verified ---------------------------------------------------


def test_mixin_adds_the_phone_and_a_hidden_token_field() -> None:
    form = ProfileForm(request=make_request())
    assert isinstance(form.fields["phone_number"], PhoneNumberField)
    assert isinstance(form.fields["verification_token"].widget, forms.HiddenInput)
    assert not form.fields["verification_token"].required


def test_mixin_keeps_a_phone_field_of_the_form() -> None:
    class Custom(VerifiedPhoneFormMixin, forms.Form):
        phone_number = PhoneNumberField(region="RS", label="Mobile")

    form = Custom({"phone_number": "060 123 4567"}, request=make_request())
    assert form.fields["phone_number"].label == "Mobile"
    assert not form.is_valid()
    assert form.needs_phone_verification()
    assert form.phone_number_to_verify == "+381601234567"


def test_unverified_phone_is_invalid_and_needs_verification() -> None:
    form = ProfileForm({"name": "Ann", "phone_number": PHONE}, request=make_request())

    assert not form.is_valid()
    assert form.has_error("phone_number", PHONE_NOT_VERIFIED)
    assert list(form.errors) == ["phone_number"]
    assert form.needs_phone_verification()
    # The number to send through verification, cleaned (cleaned_data lost it with the error).
    assert form.phone_number_to_verify == PHONE
    assert "phone_number" not in form.cleaned_data
    assert form.verified_phone_number is None
    with pytest.raises(ValueError, match="is_valid"):
        form.save_verified_phone()


def test_unverified_phone_without_a_request_is_invalid() -> None:
    form = ProfileForm({"name": "Ann", "phone_number": PHONE})

    assert not form.is_valid()
    assert form.has_error("phone_number", PHONE_NOT_VERIFIED)
    assert form.needs_phone_verification()


def test_needs_verification_is_false_when_there_are_other_errors() -> None:
    form = ProfileForm({"name": "", "phone_number": PHONE}, request=make_request())

    assert not form.is_valid()
    assert form.has_error("phone_number", PHONE_NOT_VERIFIED)
    assert not form.needs_phone_verification()


def test_needs_verification_is_false_for_an_invalid_number() -> None:
    form = ProfileForm({"name": "Ann", "phone_number": "+1 555"}, request=make_request())

    assert not form.is_valid()
    assert form.has_error("phone_number", "invalid")
    assert not form.has_error("phone_number", PHONE_NOT_VERIFIED)
    assert not form.needs_phone_verification()


def test_user_creation_form_without_verification() -> None:
    form = SignupForm(signup_data(), request=make_request())

    assert not form.is_valid()
    assert form.has_error("phone_number", PHONE_NOT_VERIFIED)
    assert form.needs_phone_verification()
    assert not get_user_model().objects.exists()

    mismatch = SignupForm(signup_data(password2="other-Passw0rd!"), request=make_request())
    assert not mismatch.is_valid()
    assert mismatch.has_error("phone_number", PHONE_NOT_VERIFIED)
    assert not mismatch.needs_phone_verification()


# -- VerifiedPhoneFormMixin: verified ---------------------------------------------------------


def test_token_in_the_session_makes_the_form_valid() -> None:
    request = make_request()
    verify_in_session(request)

    form = ProfileForm({"name": "Ann", "phone_number": "+1 (202) 555-0143"}, request=request)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone_number"] == PHONE
    assert form.verified_phone_number == PHONE
    assert form.phone_number_to_verify is None
    assert not form.needs_phone_verification()


def test_token_in_the_hidden_field_makes_the_form_valid() -> None:
    token = verify(make_request())  # e.g. through the DRF endpoints, another request

    form = ProfileForm({"name": "Ann", "phone_number": PHONE, "verification_token": token})

    assert form.is_valid(), form.errors
    assert form.verified_phone_number == PHONE
    # With a request whose session holds nothing, the hidden field is enough as well.
    with_request = ProfileForm(
        {"name": "Ann", "phone_number": PHONE, "verification_token": token},
        request=make_request(),
    )
    assert with_request.is_valid(), with_request.errors


@pytest.mark.usefixtures("fraud_guard_off")
def test_token_for_another_number_is_refused() -> None:
    request = make_request()
    other_token = verify_in_session(request, OTHER)

    from_session = ProfileForm({"name": "Ann", "phone_number": PHONE}, request=request)
    from_field = ProfileForm(
        {"name": "Ann", "phone_number": PHONE, "verification_token": other_token}
    )

    for form in (from_session, from_field):
        assert not form.is_valid()
        assert form.has_error("phone_number", PHONE_NOT_VERIFIED)
        assert "does not match" in str(form.errors["phone_number"])
        assert form.needs_phone_verification()


def test_user_creation_form_with_verification_saves_the_phone_once() -> None:
    request = make_request()
    token = verify_in_session(request)

    form = SignupForm(signup_data(), request=request)
    assert form.is_valid(), form.errors
    user = form.save()
    assert form.save_verified_phone(user) == PHONE

    assert VerifiedPhoneNumber.objects.filter(user=user, phone_number=PHONE).exists()
    assert session.verified_token(request) is None  # the session is cleaned up
    assert session.pending_phone(request) is None

    # The token was used up: the same token cannot verify a second form.
    again = SignupForm(signup_data("bob", verification_token=token), request=make_request())
    assert not again.is_valid()
    assert again.has_error("phone_number", PHONE_NOT_VERIFIED)
    assert "already used" in str(again.errors["phone_number"])
    assert get_user_model().objects.count() == 1


def test_token_is_single_use_even_for_forms_validated_together() -> None:
    token = verify(make_request())
    data = {"name": "Ann", "phone_number": PHONE, "verification_token": token}
    first, second = ProfileForm(data), ProfileForm(data)
    assert first.is_valid()
    assert second.is_valid()  # both checked before either redeemed it

    assert first.save_verified_phone() == PHONE
    with pytest.raises(InvalidToken):
        second.save_verified_phone()


def test_save_verified_phone_without_a_user() -> None:
    request = make_request()
    verify_in_session(request)
    VerifiedPhoneNumber.objects.all().delete()  # the check recorded it; record it again

    form = ProfileForm({"name": "Ann", "phone_number": PHONE}, request=request)
    assert form.is_valid()
    form.save_verified_phone()

    assert VerifiedPhoneNumber.objects.filter(user=None, phone_number=PHONE).exists()


def test_token_bound_to_a_user_cannot_be_used_for_another() -> None:
    users = get_user_model().objects
    alice = users.create_user("alice", password=PASSWORD)
    bob = users.create_user("bob", password=PASSWORD)
    token = verify(make_request(alice))  # alice verified the number while logged in

    # Bob's request cannot use alice's token ...
    bobs = ProfileForm(
        {"name": "Bob", "phone_number": PHONE, "verification_token": token},
        request=make_request(bob),
    )
    assert not bobs.is_valid()
    assert bobs.has_error("phone_number", PHONE_NOT_VERIFIED)
    # ... nor can a form without a signed-in user accept it.
    anonymous = ProfileForm({"name": "Bob", "phone_number": PHONE, "verification_token": token})
    assert not anonymous.is_valid()
    assert anonymous.has_error("phone_number", PHONE_NOT_VERIFIED)
    assert not VerifiedPhoneNumber.objects.filter(user=bob).exists()

    # Alice can.
    alices = ProfileForm(
        {"name": "Alice", "phone_number": PHONE, "verification_token": token},
        request=make_request(alice),
    )
    assert alices.is_valid(), alices.errors
    alices.save_verified_phone(alice)
    assert VerifiedPhoneNumber.objects.filter(user=alice, phone_number=PHONE).exists()


# -- expired and tampered tokens ---------------------------------------------------------------


def test_expired_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    long_ago = int(time.time()) - 1801  # TOKEN_MAX_AGE defaults to 30 minutes
    with monkeypatch.context() as patched:
        patched.setattr(
            signing.TimestampSigner, "timestamp", lambda _self: signing.b62_encode(long_ago)
        )
        request = make_request()
        token = verify_in_session(request)

    for form in (
        ProfileForm({"name": "Ann", "phone_number": PHONE}, request=request),
        ProfileForm({"name": "Ann", "phone_number": PHONE, "verification_token": token}),
    ):
        assert not form.is_valid()
        assert form.has_error("phone_number", PHONE_NOT_VERIFIED)
        assert "expired" in str(form.errors["phone_number"])


def test_token_max_age_setting_is_honoured(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a_minute_ago = int(time.time()) - 60
    with monkeypatch.context() as patched:
        patched.setattr(
            signing.TimestampSigner, "timestamp", lambda _self: signing.b62_encode(a_minute_ago)
        )
        token = verify(make_request())
    data = {"name": "Ann", "phone_number": PHONE, "verification_token": token}

    assert ProfileForm(data).is_valid()
    settings.TEXTLINK = {**settings.TEXTLINK, "TOKEN_MAX_AGE": 30}
    assert not ProfileForm(data).is_valid()


def _forged_tokens(token: str) -> list[str]:
    payload, rest = token.split(":", 1)
    flipped = rest[:-1] + ("A" if rest[-1] != "A" else "B")
    other_payload = signing.dumps({"p": PHONE, "u": None, "n": "x"}, salt="another.salt")
    unsigned = signing.dumps({"p": PHONE, "u": None, "n": "x"}, key="not-the-secret-key")
    return [
        f"{payload}:{flipped}",  # signature changed
        f"{payload[:-2]}xx:{rest}",  # payload changed
        other_payload,  # signed for another purpose
        unsigned,  # signed with another key
        "",
        "garbage",
    ]


def test_tampered_tokens_are_refused() -> None:
    token = verify(make_request())

    for forged in _forged_tokens(token):
        form = ProfileForm({"name": "Ann", "phone_number": PHONE, "verification_token": forged})
        assert not form.is_valid(), forged
        assert form.has_error("phone_number", PHONE_NOT_VERIFIED)

        request = make_request()
        request.session[session.TOKEN_KEY] = forged
        in_session = ProfileForm({"name": "Ann", "phone_number": PHONE}, request=request)
        assert not in_session.is_valid(), forged
        assert in_session.has_error("phone_number", PHONE_NOT_VERIFIED)

    # The genuine token still works.
    assert ProfileForm(
        {"name": "Ann", "phone_number": PHONE, "verification_token": token}
    ).is_valid()


# -- save_with_verified_phone: one verification, one account ------------------------------------


@pytest.fixture(params=["database", "cache"])
def limit_store(request: pytest.FixtureRequest, settings: Any) -> str:
    settings.TEXTLINK = {**settings.TEXTLINK, "LIMIT_STORE": request.param}
    return str(request.param)


def test_save_with_verified_phone_saves_records_and_uses_the_token(limit_store: str) -> None:
    request = make_request()
    token = verify_in_session(request)
    form = SignupForm(signup_data(), request=request)
    assert form.is_valid(), form.errors

    user = form.save_with_verified_phone()

    assert user is not None
    assert user.pk is not None
    assert VerifiedPhoneNumber.objects.filter(user=user, phone_number=PHONE).exists()
    assert session.verified_token(request) is None
    with pytest.raises(InvalidToken, match="already used"):
        redeem_token(token)


def test_a_token_used_meanwhile_saves_nothing_and_gives_a_form_error(limit_store: str) -> None:
    token = verify(make_request())
    first = SignupForm(signup_data("alice", verification_token=token), request=make_request())
    second = SignupForm(signup_data("bob", verification_token=token), request=make_request())
    assert first.is_valid()
    assert second.is_valid()  # both validated before either saved

    assert first.save_with_verified_phone() is not None
    assert second.save_with_verified_phone() is None

    assert second.has_error("phone_number", PHONE_NOT_VERIFIED)
    assert "already used" in str(second.errors["phone_number"])
    assert second.needs_phone_verification()
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]


def test_a_real_integrity_error_of_the_save_propagates_and_leaves_the_token_unused(
    limit_store: str,
) -> None:
    """The username was taken meanwhile: the database's own IntegrityError reaches the
    view (which can show it), not a TransactionManagementError, and the token can still
    make the account under another name."""
    users = get_user_model().objects
    users.create_user("ann", password=PASSWORD)
    token = verify(make_request())
    form = ProfileForm({"name": "Ann", "phone_number": PHONE, "verification_token": token})
    assert form.is_valid()

    with pytest.raises(IntegrityError):
        form.save_with_verified_phone(lambda: users.create_user("ann", password=PASSWORD))

    again = ProfileForm({"name": "Ann", "phone_number": PHONE, "verification_token": token})
    assert again.is_valid(), again.errors
    assert again.save_with_verified_phone(lambda: users.create_user("ann2", password=PASSWORD))


def test_a_failing_save_leaves_the_token_unused(limit_store: str) -> None:
    token = verify(make_request())
    form = ProfileForm({"name": "Ann", "phone_number": PHONE, "verification_token": token})
    assert form.is_valid()

    def broken_save() -> Any:
        raise IntegrityError("username taken meanwhile")

    with pytest.raises(IntegrityError):
        form.save_with_verified_phone(broken_save)

    # The token can still make the account: the failed save did not use it up.
    users = get_user_model().objects
    again = ProfileForm({"name": "Ann", "phone_number": PHONE, "verification_token": token})
    assert again.is_valid(), again.errors
    user = again.save_with_verified_phone(lambda: users.create_user("ann", password=PASSWORD))
    assert user is not None
    assert VerifiedPhoneNumber.objects.filter(user=user, phone_number=PHONE).exists()


def test_save_with_verified_phone_for_a_plain_form_and_a_signed_in_user() -> None:
    alice = get_user_model().objects.create_user("alice", password=PASSWORD)
    request = make_request(alice)
    verify_in_session(request)
    form = ProfileForm({"name": "Alice", "phone_number": PHONE}, request=request)
    assert form.is_valid(), form.errors

    assert form.save_with_verified_phone(lambda: "profile saved") == "profile saved"
    assert VerifiedPhoneNumber.objects.filter(user=alice, phone_number=PHONE).exists()


def test_save_with_verified_phone_needs_a_valid_form() -> None:
    form = ProfileForm({"name": "Ann", "phone_number": PHONE}, request=make_request())
    assert not form.is_valid()
    with pytest.raises(ValueError, match="is_valid"):
        form.save_with_verified_phone()


@pytest.mark.django_db(transaction=True)
def test_save_verified_phone_outside_a_transaction_warns() -> None:
    request = make_request()
    verify_in_session(request)
    form = SignupForm(signup_data(), request=request)
    assert form.is_valid()
    user = form.save()
    with pytest.warns(DeprecationWarning, match="save_with_verified_phone"):
        assert form.save_verified_phone(user) == PHONE


# -- one verification, one row ---------------------------------------------------------------


@pytest.mark.parametrize("how", ["save_with_verified_phone", "save_verified_phone"])
def test_a_signup_leaves_one_verified_number_row_the_users(how: str) -> None:
    """The check, made before the account exists, records the number without a user; the
    signup that redeems its token makes that verification the account's. One row, not a
    user-less one beside the user's (what the demo's admin showed for every signup)."""
    request = make_request()
    verify_in_session(request)
    before: list[Any] = list(VerifiedPhoneNumber.objects.values_list("phone_number", "user"))
    assert before == [(PHONE, None)]
    form = SignupForm(signup_data(), request=request)
    assert form.is_valid(), form.errors

    if how == "save_with_verified_phone":
        user = form.save_with_verified_phone()
    else:
        with transaction.atomic():
            user = form.save()
            form.save_verified_phone(user)

    assert user is not None
    assert list(VerifiedPhoneNumber.objects.values_list("phone_number", "user")) == [
        (PHONE, user.pk)
    ]


def test_another_accounts_verification_of_the_number_is_kept() -> None:
    """Only the user-less row makes way: a number verified by another account stays so."""
    bob = get_user_model().objects.create_user("bob", password=PASSWORD)
    VerifiedPhoneNumber.record(PHONE, bob)
    request = make_request()
    verify_in_session(request)
    form = SignupForm(signup_data(), request=request)
    assert form.is_valid(), form.errors

    alice = form.save_with_verified_phone()

    assert alice is not None
    assert sorted(VerifiedPhoneNumber.objects.values_list("user", flat=True)) == sorted(
        [bob.pk, alice.pk]
    )
