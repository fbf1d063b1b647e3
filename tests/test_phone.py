"""Phone numbers (``django_textlink.phone``) and masking (``django_textlink._masking``)."""

from __future__ import annotations

import pickle

import pytest

from django_textlink._masking import Secret, mask_phone
from django_textlink.exceptions import TextLinkConfigurationError
from django_textlink.phone import InvalidPhoneNumber, normalize_phone, region_of

# -- normalize_phone ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+1 (202) 555-0143", "+12025550143"),
        ("+12025550143", "+12025550143"),
        ("  +381 60 123 4567  ", "+381601234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+381-60-123-45-67", "+381601234567"),
    ],
)
def test_international_numbers_are_normalized_to_e164(value, expected):
    assert normalize_phone(value) == expected


def test_national_number_with_explicit_region():
    assert normalize_phone("0601234567", region="RS") == "+381601234567"
    assert normalize_phone("060 123 4567", "RS") == "+381601234567"
    assert normalize_phone("(202) 555-0143", "US") == "+12025550143"


def test_explicit_region_is_case_insensitive_like_the_setting():
    assert normalize_phone("0601234567", region="rs") == "+381601234567"


def test_national_number_with_default_region_setting(settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "DEFAULT_REGION": "RS"}
    assert normalize_phone("0601234567") == "+381601234567"


def test_lowercase_default_region_setting_works(settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "DEFAULT_REGION": "rs"}
    assert normalize_phone("0601234567") == "+381601234567"


def test_explicit_region_wins_over_default_region(settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "DEFAULT_REGION": "US"}
    assert normalize_phone("0601234567", region="RS") == "+381601234567"


def test_default_region_does_not_change_international_numbers(settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "DEFAULT_REGION": "RS"}
    assert normalize_phone("+1 (202) 555-0143") == "+12025550143"


def test_national_number_without_region_asks_for_international_format():
    with pytest.raises(InvalidPhoneNumber, match="international format") as excinfo:
        normalize_phone("0601234567")
    assert isinstance(excinfo.value, ValueError)
    assert "+" in str(excinfo.value)


def test_invalid_default_region_setting_is_a_configuration_error(settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "DEFAULT_REGION": "SRB"}
    with pytest.raises(TextLinkConfigurationError, match=r'TEXTLINK\["DEFAULT_REGION"\]'):
        normalize_phone("0601234567")


@pytest.mark.parametrize(
    "value",
    [
        "+1 555",
        "abc",
        "",
        "   ",
        None,
        12345,
        12025550143,
        "+1 (202) 555-014",  # one digit short
        "+999 123456789",  # no such country code
        "+1202555014399999",  # far too long
        ["+12025550143"],
    ],
)
def test_invalid_numbers_raise_invalid_phone_number(value):
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(value)


def test_invalid_phone_number_is_a_value_error():
    assert issubclass(InvalidPhoneNumber, ValueError)
    with pytest.raises(ValueError, match="valid phone number"):
        normalize_phone("+1 555")


def test_invalid_number_with_region_is_invalid_phone_number():
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone("12", region="RS")


# -- region_of ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "region"),
    [("+381601234567", "RS"), ("+12025550143", "US"), ("+442079460958", "GB")],
)
def test_region_of_e164_number(number, region):
    assert region_of(number) == region


@pytest.mark.parametrize("number", ["not a number", "0601234567", ""])
def test_region_of_unknown_is_none(number):
    assert region_of(number) is None


# -- mask_phone ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+381601234567", "+381*******67"),
        ("+12025550143", "+1********43"),
        ("+1 (202) 555-0143", "+1********43"),
        ("+442079460958", "+44********58"),
    ],
)
def test_mask_phone_keeps_country_code_and_last_two_digits(value, expected):
    assert mask_phone(value) == expected


def test_mask_phone_never_contains_the_middle_digits():
    masked = mask_phone("+381601234567")
    assert "60123456" not in masked
    assert len(masked) == len("+381601234567")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("hello world", "*********ld"), ("secret", "****et"), ("ab", "**"), ("a", "*")],
)
def test_mask_phone_non_phone_strings_keep_only_last_two_chars(value, expected):
    assert mask_phone(value) == expected


@pytest.mark.parametrize("value", [None, ""])
def test_mask_phone_empty(value):
    assert mask_phone(value) == ""


# -- Secret -------------------------------------------------------------------------------


def test_secret_never_shows_its_value():
    secret = Secret("tl-live-key-abcdef")
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret):  # noqa: UP031
        assert "tl-live-key-abcdef" not in shown
        assert "abcdef" not in shown


def test_secret_inside_containers_and_errors_stays_hidden():
    secret = Secret("tl-live-key-abcdef")
    assert "tl-live-key" not in repr({"api_key": secret})
    assert "tl-live-key" not in str(ValueError(secret))


def test_secret_reveal_returns_the_value():
    assert Secret("tl-live-key-abcdef").reveal() == "tl-live-key-abcdef"


def test_secret_truthiness_and_equality():
    assert Secret("x")
    assert not Secret("")
    assert Secret("x") == Secret("x")
    assert Secret("x") != Secret("y")
    assert Secret("x") != "x"
    assert len({Secret("x"), Secret("x")}) == 1


def test_secret_cannot_be_pickled():
    with pytest.raises(TypeError):
        pickle.dumps(Secret("tl-live-key-abcdef"))
