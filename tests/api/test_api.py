"""The DRF verification API (django_textlink.api), end to end through DRF's test client.

Nothing of django-textlink is mocked: the views call the real PhoneVerification service,
its limits run on the real (LocMem) cache. Codes travel through the locmem backend (the code
"received" is django_textlink.outbox[-1].code) or through the HTTP backend, where only
TextLink's HTTP API is faked with ``responses``.
"""

from __future__ import annotations

import ast
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from rest_framework.permissions import IsAuthenticated
from rest_framework.test import APIClient, APIRequestFactory
from urllib3.exceptions import MaxRetryError, NewConnectionError

import django_textlink
from django_textlink.api.exceptions import RateLimited
from django_textlink.api.openapi import SchemaView
from django_textlink.api.views import SendCodeView
from django_textlink.models import VerifiedPhoneNumber
from django_textlink.verification import InvalidToken, read_token, redeem_token
from tests.support import api as api_support

pytestmark = pytest.mark.django_db

PHONE = "+12025550143"
OTHER_PHONE = "+12025550186"
SERBIAN_PHONE = "+381601234567"
SEND = reverse("textlink-api:verify-send")
CHECK = reverse("textlink-api:verify-check")
TEXTLINK_CODE = "482913"  # what the fake TextLink "sends"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


textlink = api_support.textlink
url = api_support.textlink_url


def send(api: APIClient, phone: str = PHONE, **extra: Any) -> Any:
    return api.post(SEND, {"phone_number": phone}, format="json", **extra)


def check(api: APIClient, code: str, phone: str = PHONE, **extra: Any) -> Any:
    return api.post(CHECK, {"phone_number": phone, "code": code}, format="json", **extra)


def wrong(code: str) -> str:
    """A code of the same shape that is surely not ``code``."""
    return "000000" if code != "000000" else "111111"


def assert_rate_limited(response: Any, limit: str) -> int:
    assert response.status_code == 429
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit()
    assert int(retry_after) > 0
    body = response.json()
    assert body == {
        "detail": body["detail"],
        "code": "rate_limited",
        "limit": limit,
        "retry_after": int(retry_after),
    }
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return int(retry_after)


# -- send ----------------------------------------------------------------------------------


def test_send_answers_202_without_the_code(api, textlink_locmem):
    response = send(api, "+1 (202) 555-0143")

    assert response.status_code == 202
    assert response.json() == {"phone_number": PHONE, "resend_in": 60, "expires_in": 600}
    assert len(textlink_locmem) == 1
    code = textlink_locmem[-1].code
    assert textlink_locmem[-1].phone_number == PHONE
    assert code.encode() not in response.content
    assert all(code not in f"{name}: {value}" for name, value in response.headers.items())


def test_send_reports_the_configured_lifetime_and_cooldown(api, textlink_locmem, settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "CODE_LIFETIME": 300, "RESEND_COOLDOWN": 30}
    assert send(api).json() == {"phone_number": PHONE, "resend_in": 30, "expires_in": 300}


@pytest.mark.parametrize("phone", ["12345", "+1 555", "phone", "+999123456789"])
def test_send_refuses_an_invalid_number(api, textlink_locmem, phone):
    response = send(api, phone)

    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["phone_number"]
    assert len(body["phone_number"]) == 1
    assert isinstance(body["phone_number"][0], str)
    assert textlink_locmem == []


def test_send_refuses_a_country_outside_the_allow_list(api, textlink_locmem, settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "ALLOWED_COUNTRIES": ["US"]}

    response = send(api, SERBIAN_PHONE)

    assert response.status_code == 400
    assert response.json() == {
        "phone_number": ["We cannot send codes to phone numbers in this country."]
    }
    assert textlink_locmem == []
    assert send(api, PHONE).status_code == 202


def test_second_send_within_the_cooldown_is_429(api, textlink_locmem):
    assert send(api).status_code == 202

    response = send(api)

    retry_after = assert_rate_limited(response, "resend_cooldown")
    assert retry_after <= 61  # the cooldown, counted in whole 1-second slices
    assert len(textlink_locmem) == 1
    # Another number is not affected by this number's cooldown.
    assert send(api, OTHER_PHONE).status_code == 202


@pytest.mark.usefixtures("fraud_guard_off")
def test_sends_per_ip_are_limited(api, textlink_locmem, settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "SENDS_PER_IP_PER_HOUR": 3}
    phones = ["+12025550100", "+12025550101", "+12025550102", "+12025550103"]

    statuses = [send(api, phone, REMOTE_ADDR="203.0.113.7").status_code for phone in phones]

    assert statuses == [202, 202, 202, 429]
    assert_rate_limited(send(api, "+12025550104", REMOTE_ADDR="203.0.113.7"), "sends_per_ip")
    assert len(textlink_locmem) == 3
    # The limit is keyed on the client's address: another client still gets its code.
    assert send(api, "+12025550104", REMOTE_ADDR="198.51.100.9").status_code == 202


# -- check ---------------------------------------------------------------------------------


def test_full_flow_wrong_code_then_right_code(api, textlink_locmem):
    assert send(api).status_code == 202
    code = textlink_locmem[-1].code

    response = check(api, wrong(code))
    assert response.status_code == 400
    assert response.json() == {
        "verified": False,
        "detail": "The code is not correct.",
        "attempts_left": 4,
    }

    response = check(api, code)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"verified", "phone_number", "token"}
    assert body["verified"] is True
    assert body["phone_number"] == PHONE
    assert redeem_token(body["token"], phone_number=PHONE) == PHONE
    with pytest.raises(InvalidToken):
        redeem_token(body["token"])
    assert VerifiedPhoneNumber.objects.filter(phone_number=PHONE, user=None).exists()


def test_check_without_a_code_sent_is_a_wrong_code(api, textlink_locmem):
    response = check(api, "123456")

    assert response.status_code == 400
    assert response.json() == {
        "verified": False,
        "detail": "The code is not correct or has expired. Request a new code.",
        "attempts_left": 0,
    }


def test_sixth_wrong_code_is_429_and_kills_the_code(api, textlink_locmem):
    send(api)
    code = textlink_locmem[-1].code

    lefts = [check(api, wrong(code)).json()["attempts_left"] for _ in range(5)]

    assert lefts == [4, 3, 2, 1, 0]
    retry_after = assert_rate_limited(check(api, wrong(code)), "wrong_codes")
    assert retry_after <= 61  # a new code can be requested after the resend cooldown
    # Even the right code is refused now: the code is dead until a new one is sent.
    assert_rate_limited(check(api, code), "wrong_codes")


def test_checks_per_phone_are_limited(api, textlink_locmem, settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "CHECKS_PER_PHONE_PER_HOUR": 3}
    send(api)
    code = textlink_locmem[-1].code

    statuses = [check(api, wrong(code)).status_code for _ in range(3)]

    assert statuses == [400, 400, 400]
    assert_rate_limited(check(api, code), "checks_per_phone")
    # Another number (with no live code) is not limited by this one's checks.
    assert check(api, "123456", phone=OTHER_PHONE).status_code == 400


def test_checks_without_a_live_code_count_against_the_client(api, textlink_locmem, settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "CHECKS_PER_IP_PER_HOUR": 3}

    statuses = [check(api, "123456").status_code for _ in range(3)]

    assert statuses == [400, 400, 400]
    assert_rate_limited(check(api, "123456", phone=OTHER_PHONE), "checks_per_ip")


@pytest.mark.parametrize("code", ["12-34", "12 34 5!", "12345?"])
def test_check_refuses_input_not_shaped_like_a_code(api, textlink_locmem, code):
    send(api)

    response = check(api, code)

    assert response.status_code == 400
    assert response.json() == {"code": ["Enter the code you received by SMS."]}


def test_check_refuses_an_invalid_number(api, textlink_locmem):
    response = check(api, "123456", phone="12345")

    assert response.status_code == 400
    assert list(response.json()) == ["phone_number"]


def test_authenticated_user_gets_the_verification(api, textlink_locmem):
    user = get_user_model().objects.create_user("alice", password="pw-alice-123")
    other = get_user_model().objects.create_user("bob", password="pw-bob-123")
    api.force_authenticate(user)
    send(api)

    body = check(api, textlink_locmem[-1].code).json()

    assert VerifiedPhoneNumber.objects.filter(phone_number=PHONE, user=user).exists()
    assert read_token(body["token"], user=user).user_id == str(user.pk)
    with pytest.raises(InvalidToken):
        redeem_token(body["token"], user=other)
    with pytest.raises(InvalidToken):  # a user's token is not usable anonymously either
        redeem_token(body["token"])
    assert redeem_token(body["token"], user=user) == PHONE


# -- no account enumeration ----------------------------------------------------------------


def test_a_number_of_an_account_answers_like_an_unknown_number(api, textlink_locmem):
    user = get_user_model().objects.create_user("carol", password="pw-carol-123")
    VerifiedPhoneNumber.record(PHONE, user)

    known, unknown = send(api, PHONE), send(api, OTHER_PHONE)

    assert known.status_code == unknown.status_code == 202
    assert known.json() == {**unknown.json(), "phone_number": PHONE}
    assert sorted(known.headers) == sorted(unknown.headers)

    codes = {entry.phone_number: entry.code for entry in textlink_locmem}
    known = check(api, wrong(codes[PHONE]), PHONE)
    unknown = check(api, wrong(codes[OTHER_PHONE]), OTHER_PHONE)
    assert known.status_code == unknown.status_code == 400
    assert known.json() == unknown.json()

    known, unknown = send(api, PHONE), send(api, OTHER_PHONE)
    assert known.status_code == unknown.status_code == 429
    assert known.json()["limit"] == unknown.json()["limit"] == "resend_cooldown"


# -- HTTP, parsing, methods ----------------------------------------------------------------


@pytest.mark.parametrize("path", [SEND, CHECK])
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_are_405(api, textlink_locmem, path, method):
    response = getattr(api, method)(path)

    assert response.status_code == 405
    assert textlink_locmem == []


@pytest.mark.parametrize("path", [SEND, CHECK])
def test_malformed_json_is_400(api, textlink_locmem, path):
    response = api.post(path, '{"phone_number": "+12025550143"', content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()
    assert textlink_locmem == []


@pytest.mark.parametrize(
    ("path", "data", "missing"),
    [
        (SEND, {}, {"phone_number"}),
        (CHECK, {}, {"phone_number", "code"}),
        (CHECK, {"phone_number": PHONE}, {"code"}),
        (CHECK, {"code": "123456"}, {"phone_number"}),
    ],
)
def test_missing_fields_are_400(api, textlink_locmem, path, data, missing):
    response = api.post(path, data, format="json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == missing
    assert all(messages == ["This field is required."] for messages in body.values())


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        (SEND, {"phone_number": "+1" + "2" * 31}, "phone_number"),
        (SEND, {"phone_number": ""}, "phone_number"),
        (SEND, {"phone_number": ["+12025550143"]}, "phone_number"),
        (CHECK, {"phone_number": PHONE, "code": "1" * 13}, "code"),
        (CHECK, {"phone_number": PHONE, "code": {"a": 1}}, "code"),
        (SEND, ["+12025550143"], "non_field_errors"),
    ],
)
def test_badly_shaped_input_is_400(api, textlink_locmem, path, data, field):
    response = api.post(path, data, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert textlink_locmem == []


def test_form_encoded_input_works_too(api, textlink_locmem):
    response = api.post(SEND, {"phone_number": PHONE})

    assert response.status_code == 202


# -- authentication, permissions and CSRF --------------------------------------------------


def test_anonymous_requests_need_no_csrf_token(textlink_locmem):
    api = APIClient(enforce_csrf_checks=True)

    assert send(api).status_code == 202
    assert check(api, textlink_locmem[-1].code).status_code == 200


def test_session_authenticated_requests_need_the_csrf_token(textlink_locmem):
    user = get_user_model().objects.create_user("dave", password="pw-dave-123")
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(user)

    refused = send(api)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert textlink_locmem == []

    token = "a" * 32
    api.cookies["csrftoken"] = token
    assert send(api, HTTP_X_CSRFTOKEN=token).status_code == 202


def test_permissions_can_be_tightened_by_subclassing(textlink_locmem):
    class MembersOnlySendCodeView(SendCodeView):
        permission_classes = [IsAuthenticated]

    view = MembersOnlySendCodeView.as_view()
    request = APIRequestFactory().post(SEND, {"phone_number": PHONE}, format="json")

    response = view(request)

    assert response.status_code == 403
    assert textlink_locmem == []


def test_rate_limited_exception_supports_drf_error_introspection():
    error = RateLimited("resend_cooldown", 42, "Wait.")

    assert error.status_code == 429
    assert error.wait == 42
    assert error.get_codes() == dict.fromkeys(
        ["detail", "code", "limit", "retry_after"], "rate_limited"
    )
    assert error.get_full_details()["retry_after"] == {"message": 42, "code": "rate_limited"}


# -- the HTTP backend, with TextLink's API faked -------------------------------------------


def test_full_flow_through_textlink(api, textlink, settings):
    send_code = textlink.post(
        url(settings, "send-code"), json={"ok": True, "code": TEXTLINK_CODE, "queued": False}
    )
    verify = textlink.post(
        url(settings, "verify-code"), json={"ok": False, "message": "Invalid code"}
    )

    # An invalid number: 400, and TextLink is not called.
    assert send(api, "12345").status_code == 400
    assert len(textlink.calls) == 0

    # Send: 202, without the code TextLink answered anywhere in the response.
    response = send(api)
    assert response.status_code == 202
    assert response.json() == {"phone_number": PHONE, "resend_in": 60, "expires_in": 600}
    assert TEXTLINK_CODE.encode() not in response.content
    assert all(TEXTLINK_CODE not in f"{k}: {v}" for k, v in response.headers.items())
    assert send_code.call_count == 1
    sent = json.loads(textlink.calls[0].request.body)
    assert sent["phone_number"] == PHONE
    assert sent["expiration_time"] == 600000

    # A second send within 60 s: 429 with Retry-After, and no call to TextLink.
    assert_rate_limited(send(api), "resend_cooldown")
    assert send_code.call_count == 1

    # A wrong code: 400 with the attempts left.
    response = check(api, "111111")
    assert response.status_code == 400
    assert response.json()["verified"] is False
    assert response.json()["attempts_left"] == 4
    assert verify.call_count == 1
    assert json.loads(textlink.calls[-1].request.body) == {
        "phone_number": PHONE,
        "code": "111111",
    }

    # The right code: 200 with a token that redeem_token accepts.
    textlink.replace(responses.POST, url(settings, "verify-code"), json={"ok": True})
    response = check(api, TEXTLINK_CODE)
    assert response.status_code == 200
    body = response.json()
    assert body["verified"] is True
    assert body["phone_number"] == PHONE
    assert redeem_token(body["token"], phone_number=PHONE) == PHONE
    assert len(textlink.calls) == 3


def test_sixth_wrong_code_through_textlink_makes_no_call(api, textlink, settings):
    textlink.post(url(settings, "send-code"), json={"ok": True, "code": TEXTLINK_CODE})
    verify = textlink.post(
        url(settings, "verify-code"), json={"ok": False, "message": "Invalid code"}
    )
    send(api)

    statuses = [check(api, "111111").status_code for _ in range(5)]

    assert statuses == [400] * 5
    assert verify.call_count == 5
    assert_rate_limited(check(api, "111111"), "wrong_codes")
    assert_rate_limited(check(api, TEXTLINK_CODE), "wrong_codes")
    assert verify.call_count == 5


def refused(address: str) -> requests.ConnectionError:
    """What requests raises when nothing listens: the request never reached TextLink."""
    reason = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, address, reason))  # type: ignore[arg-type]


def test_textlink_down_is_503(api, textlink, settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "MAX_RETRIES": 0}
    send_url = url(settings, "send-code")
    textlink.post(send_url, body=refused(send_url))

    response = send(api)

    assert response.status_code == 503
    body = response.json()
    assert body == {"detail": body["detail"], "code": "unavailable"}
    assert "Retry-After" not in response.headers
    assert settings.TEXTLINK["API_KEY"] not in response.content.decode()
    assert "textlinksms.test" not in response.content.decode()
    # The code surely was not sent, so the refused attempt did not start the cooldown.
    textlink.replace(responses.POST, send_url, json={"ok": True, "code": TEXTLINK_CODE})
    assert send(api).status_code == 202


def test_textlink_down_while_checking_is_503_and_does_not_count(api, textlink, settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "MAX_RETRIES": 0}
    textlink.post(url(settings, "send-code"), json={"ok": True, "code": TEXTLINK_CODE})
    verify_url = url(settings, "verify-code")
    textlink.post(verify_url, body=requests.ConnectionError("connection reset by peer"))
    send(api)

    response = check(api, TEXTLINK_CODE)

    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    textlink.replace(responses.POST, verify_url, json={"ok": False, "message": "Invalid code"})
    assert check(api, "111111").json()["attempts_left"] == 4


def test_textlink_server_error_is_503(api, textlink, settings):
    textlink.post(url(settings, "send-code"), status=500, body="Internal Server Error")

    response = send(api)

    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    # TextLink may have sent the SMS: the attempt counts, no second SMS right away.
    assert_rate_limited(send(api), "resend_cooldown")
    assert len(textlink.calls) == 1


# -- OpenAPI schema ------------------------------------------------------------------------


@pytest.fixture
def schema() -> dict[str, Any]:
    generated: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular warned or erred"
    return generated


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    name = ref.rsplit("/", 1)[-1]
    component: dict[str, Any] = schema["components"]["schemas"][name]
    return component


def request_fields(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    body = resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"])
    return {"properties": body["properties"], "required": set(body["required"])}


def response_fields(schema: dict[str, Any], response: dict[str, Any]) -> set[str]:
    node = resolve(schema, response["content"]["application/json"]["schema"])
    return set(node["properties"])


def test_schema_describes_the_send_endpoint(schema):
    operation = schema["paths"][SEND]["post"]

    fields = request_fields(schema, operation)
    assert fields["required"] == {"phone_number"}
    assert fields["properties"]["phone_number"]["type"] == "string"
    assert fields["properties"]["phone_number"]["maxLength"] == 32

    responses_ = operation["responses"]
    assert set(responses_) == {"202", "400", "403", "429", "503"}
    assert response_fields(schema, responses_["202"]) == {
        "phone_number",
        "resend_in",
        "expires_in",
    }
    assert response_fields(schema, responses_["429"]) == {
        "detail",
        "code",
        "limit",
        "retry_after",
    }
    assert responses_["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert response_fields(schema, responses_["503"]) == {"detail", "code"}
    assert "phone_number" in response_fields(schema, responses_["400"])
    assert set(schema["paths"][SEND]) == {"post"}


@pytest.mark.parametrize("path", [SEND, CHECK])
def test_schema_describes_the_cross_site_refusal(schema, path):
    forbidden = schema["paths"][path]["post"]["responses"]["403"]

    assert "cross-site" in forbidden["description"]
    assert "ALLOWED_ORIGINS" in forbidden["description"]
    examples = forbidden["content"]["application/json"]["examples"]
    codes = [example["value"]["code"] for example in examples.values()]
    if path == SEND:  # the fraud guard's challenge is only asked before a send
        assert response_fields(schema, forbidden) == {"detail", "code", "reason", "challenge"}
        assert codes == ["cross_site", "challenge_required"]
        assert "challenge_required" in forbidden["description"]
    else:
        assert response_fields(schema, forbidden) == {"detail", "code"}
        assert codes == ["cross_site"]


def test_schema_describes_the_check_endpoint(schema):
    operation = schema["paths"][CHECK]["post"]

    fields = request_fields(schema, operation)
    assert fields["required"] == {"phone_number", "code"}
    assert fields["properties"]["code"]["maxLength"] == 12

    responses_ = operation["responses"]
    assert set(responses_) == {"200", "400", "403", "429", "503"}
    assert response_fields(schema, responses_["200"]) == {"verified", "phone_number", "token"}
    assert "Retry-After" in responses_["429"]["headers"]
    errors = resolve(schema, responses_["400"]["content"]["application/json"]["schema"])
    variants = [set(resolve(schema, variant)["properties"]) for variant in errors["oneOf"]]
    assert {"verified", "detail", "attempts_left"} in variants


def test_schema_is_valid_openapi_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    assert "/api/textlink/verify/send/" in out.read_text()


# -- DRF stays optional --------------------------------------------------------------------


def test_api_without_drf_explains_what_to_install(monkeypatch):
    for name in list(sys.modules):
        if name == "django_textlink.api" or name.startswith("django_textlink.api."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rest_framework", None)  # makes `import` fail

    with pytest.raises(ImproperlyConfigured, match=r'pip install "django-textlink\[drf\]"'):
        importlib.import_module("django_textlink.api.urls")


def test_only_the_api_package_imports_drf():
    package = Path(django_textlink.__file__).parent
    offenders = []
    for source in package.rglob("*.py"):
        if "api" in source.relative_to(package).parts[:1]:
            continue
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            offenders += [
                f"{source.relative_to(package)}: {name}"
                for name in names
                if name.split(".")[0] in {"rest_framework", "drf_spectacular"}
            ]
    assert offenders == []


# -- input not shaped like a code ------------------------------------------------------------


def test_codes_not_shaped_like_codes_are_400_before_any_limit_or_call(api, textlink, settings):
    """The README's promise: "abc" or "12" is a 400 {"code": [...]}, not a wrong code. Ten
    of them (twice what one code allows in wrong codes) use up nothing and ask TextLink
    nothing; the right code still verifies."""
    textlink.post(url(settings, "send-code"), json={"ok": True, "code": TEXTLINK_CODE})
    verify = textlink.post(url(settings, "verify-code"), json={"ok": True})
    send(api)

    answers = [
        check(api, code)
        for code in ["abc", "12", "123", "Ab12", "abcdef", "12a456", "+123456", "1e5", "", " "]
    ]

    assert [answer.status_code for answer in answers] == [400] * 10
    assert {tuple(answer.json()) for answer in answers} == {("code",)}
    assert "verified" not in answers[0].json()  # not counted as a wrong code
    assert verify.call_count == 0
    response = check(api, TEXTLINK_CODE)
    assert response.status_code == 200
    assert response.json()["verified"] is True
    assert verify.call_count == 1


# -- the schema and the docs page ------------------------------------------------------------


def test_the_schema_downloads_under_a_name_without_spaces(api):
    schema_url = reverse("textlink-api:schema")

    yaml = api.get(schema_url)
    json_ = api.get(schema_url, {"format": "json"})

    assert yaml.status_code == 200
    # The test settings give no SPECTACULAR_SETTINGS["TITLE"]: drf-spectacular would say
    # "schema.yaml"; with a title it said "<title as typed, spaces and all>.yaml".
    assert yaml["Content-Disposition"] == 'inline; filename="openapi.yaml"'
    assert b"/api/textlink/verify/check/:" in yaml.content
    assert schema_url.encode() not in yaml.content  # the schema view leaves itself out
    assert json_["Content-Disposition"] == 'inline; filename="openapi.json"'
    assert "/api/textlink/verify/send/" in json.loads(json_.content)["paths"]


def test_the_schema_is_named_after_the_title_slugified(api):
    view = SchemaView.as_view(custom_settings={"TITLE": "My Site's API", "VERSION": "2"})
    request = APIRequestFactory().get("/schema/", {"format": "json"})

    response = view(request)

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'inline; filename="my-sites-api.json"'


def test_the_docs_page_without_swagger_uis_files_says_what_to_install(client):
    """The test settings do not install drf-spectacular-sidecar: the page degrades to a
    message and the raw schema's links."""
    response = client.get(reverse("textlink-api:docs"))

    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="textlink-api-docs-missing"' in body
    assert "drf_spectacular_sidecar" in body
    assert "swagger-ui-bundle.js" not in body
    assert f'href="{reverse("textlink-api:schema")}"' in body


def test_the_docs_page_loads_swagger_ui_from_the_sites_static_files(client, settings):
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "drf_spectacular_sidecar"]

    response = client.get(reverse("textlink-api:docs"))

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="textlink-api-docs-missing"' not in body
    assert (
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js">'
        in body
    )
    assert '<script src="/static/django_textlink/api_docs.js">' in body
    assert f'data-schema-url="{reverse("textlink-api:schema")}?format=json"' in body
    assert "https://" not in body  # no CDN
