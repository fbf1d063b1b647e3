"""Unit tests of TextLinkClient, with HTTP faked by ``responses``."""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from http.client import RemoteDisconnected
from typing import Any

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
)

from django_textlink import __version__
from django_textlink.client import TextLinkClient, parse_retry_after
from django_textlink.exceptions import (
    TextLinkAPIError,
    TextLinkAuthenticationError,
    TextLinkConfigurationError,
    TextLinkConnectionError,
    TextLinkError,
    TextLinkInvalidResponseError,
    TextLinkRateLimitError,
    TextLinkRefusedError,
    TextLinkServerError,
    TextLinkTimeoutError,
    TextLinkTransportError,
)
from django_textlink.results import SendCodeResult, SendResult, TagResult, VerifyResult

API_KEY = "tl-live-9f8e7d6c5b4a39281706"
BASE = "https://textlink.test/api"
PHONE = "+381601234567"
MASKED = "+381*******67"

URL = {
    "send-sms": f"{BASE}/send-sms",
    "send-code": f"{BASE}/send-code",
    "verify-code": f"{BASE}/verify-code",
    "update-contect-tag": f"{BASE}/update-contect-tag",
}

#: One plain call per endpoint, for tests parametrized across endpoints.
CALLS: dict[str, Callable[[TextLinkClient], Any]] = {
    "send-sms": lambda c: c.send_sms(PHONE, "Hello"),
    "send-code": lambda c: c.send_code(PHONE),
    "verify-code": lambda c: c.verify_code(PHONE, "123456"),
    "update-contect-tag": lambda c: c.update_contact_tag(PHONE, "Warm"),
}
ENDPOINTS = list(CALLS)
#: What a successful call of each endpoint returns.
RESULT_TYPES: dict[str, type] = {
    "send-sms": SendResult,
    "send-code": SendCodeResult,
    "verify-code": VerifyResult,
    "update-contect-tag": TagResult,
}
SENDING_ENDPOINTS = ["send-sms", "send-code"]


def refused(url: str) -> requests.ConnectionError:
    """What requests raises when nothing listens on the port."""
    return requests.ConnectionError(
        MaxRetryError(None, url, NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    )


def dns_failure(url: str) -> requests.ConnectionError:
    reason = NameResolutionError("textlink.test", None, OSError("Name or service not known"))  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, url, reason))  # type: ignore[arg-type]


def dropped() -> requests.ConnectionError:
    """The connection broke after the request was written: TextLink may have acted on it."""
    return requests.ConnectionError(
        ProtocolError("Connection aborted.", RemoteDisconnected("Remote end closed connection"))
    )


def sent_json(call: Any) -> Any:
    return json.loads(call.request.body)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Iterator[TextLinkClient]:
    with TextLinkClient(api_key=API_KEY, base_url=BASE) as c:
        c.sleep = sleeps.append
        yield c


# -- endpoints, bodies and headers -------------------------------------------------------------


def test_send_sms_minimal_body_omits_unset_options(client, mocked):
    mocked.post(
        URL["send-sms"],
        json={"ok": True},
        match=[matchers.json_params_matcher({"phone_number": PHONE, "text": "Hello"})],
    )
    client.send_sms(PHONE, "Hello")
    assert len(mocked.calls) == 1
    assert sent_json(mocked.calls[0]) == {"phone_number": PHONE, "text": "Hello"}
    assert b"null" not in mocked.calls[0].request.body


def test_send_sms_sends_every_option(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": True})
    client.send_sms(PHONE, "Hello ünïcode", sim_card_id=42, custom_id="msg-7")
    assert sent_json(mocked.calls[0]) == {
        "phone_number": PHONE,
        "text": "Hello ünïcode",
        "sim_card_id": 42,
        "custom_id": "msg-7",
    }


def test_send_sms_sim_card_id_zero_is_sent(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": True})
    client.send_sms(PHONE, "Hi", sim_card_id=0)
    assert sent_json(mocked.calls[0]) == {"phone_number": PHONE, "text": "Hi", "sim_card_id": 0}


def test_send_code_minimal_body(client, mocked):
    mocked.post(URL["send-code"], json={"ok": True, "code": "123456"})
    client.send_code(PHONE)
    assert sent_json(mocked.calls[0]) == {"phone_number": PHONE}


def test_send_code_sends_every_option(client, mocked):
    mocked.post(URL["send-code"], json={"ok": True, "code": "123456"})
    client.send_code(
        PHONE,
        service_name="Acme",
        sim_card_id=3,
        custom_id="otp-1",
        expiration_time=600000,
        source_country="us",
    )
    assert sent_json(mocked.calls[0]) == {
        "phone_number": PHONE,
        "service_name": "Acme",
        "sim_card_id": 3,
        "custom_id": "otp-1",
        "expiration_time": 600000,
        "source_country": "US",
    }


def test_verify_code_body(client, mocked):
    mocked.post(URL["verify-code"], json={"ok": True})
    client.verify_code(PHONE, " 654321 ")
    assert sent_json(mocked.calls[0]) == {"phone_number": PHONE, "code": "654321"}


def test_verify_code_accepts_an_int_code(client, mocked):
    mocked.post(URL["verify-code"], json={"ok": True})
    client.verify_code(PHONE, 654321)
    assert sent_json(mocked.calls[0]) == {"phone_number": PHONE, "code": "654321"}


def test_update_contact_tag_body_and_misspelled_path(client, mocked):
    mocked.post(URL["update-contect-tag"], json={"ok": True})
    client.update_contact_tag(PHONE, "Warm")
    assert mocked.calls[0].request.url == f"{BASE}/update-contect-tag"
    assert sent_json(mocked.calls[0]) == {"phone_number": PHONE, "tag": "Warm"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_endpoint_is_a_post_with_the_right_headers(client, mocked, endpoint):
    mocked.post(URL[endpoint], json={"ok": True, "code": "123456"})
    CALLS[endpoint](client)
    request = mocked.calls[0].request
    assert request.method == "POST"
    assert request.url == URL[endpoint]
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith(f"django-textlink/{__version__}")


def test_trailing_slash_in_base_url_is_ignored(sleeps, mocked):
    mocked.post(URL["send-sms"], json={"ok": True})
    with TextLinkClient(api_key=API_KEY, base_url=BASE + "/") as c:
        c.send_sms(PHONE, "Hi")
    assert mocked.calls[0].request.url == URL["send-sms"]


# -- typed results ------------------------------------------------------------------------------


def test_send_sms_result_not_queued(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": True})
    result = client.send_sms(PHONE, "Hi")
    assert result == SendResult(queued=False)


def test_send_sms_queued_is_a_success(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": True, "queued": True, "id": 99})
    result = client.send_sms(PHONE, "Hi")
    assert isinstance(result, SendResult)
    assert result.queued is True
    assert result.extra == {"id": 99}


def test_send_code_result_carries_the_code_but_does_not_show_it(client, mocked):
    mocked.post(URL["send-code"], json={"ok": True, "code": "482913"})
    result = client.send_code(PHONE)
    assert isinstance(result, SendCodeResult)
    assert result.code == "482913"
    assert result.queued is False
    assert "482913" not in repr(result)
    assert "482913" not in str(result)
    assert "482913" not in repr(result.extra)


def test_send_code_numeric_code_becomes_a_string(client, mocked):
    mocked.post(URL["send-code"], json={"ok": True, "code": 482913, "queued": True})
    result = client.send_code(PHONE)
    assert result.code == "482913"
    assert result.queued is True


def test_send_code_without_code_in_answer(client, mocked):
    mocked.post(URL["send-code"], json={"ok": True})
    assert client.send_code(PHONE).code is None


def test_verify_code_valid_is_truthy(client, mocked):
    mocked.post(URL["verify-code"], json={"ok": True})
    result = client.verify_code(PHONE, "123456")
    assert isinstance(result, VerifyResult)
    assert result
    assert result.valid is True


def test_verify_code_wrong_code_is_falsy_not_an_exception(client, mocked):
    mocked.post(URL["verify-code"], json={"ok": False, "message": "Invalid code"})
    result = client.verify_code(PHONE, "000000")
    assert isinstance(result, VerifyResult)
    assert not result
    assert result.valid is False
    assert result.message == "Invalid code"
    assert len(mocked.calls) == 1


def test_update_contact_tag_result(client, mocked):
    mocked.post(URL["update-contect-tag"], json={"ok": True, "tag": "Warm"})
    result = client.update_contact_tag(PHONE, "Warm")
    assert isinstance(result, TagResult)
    assert result.extra == {"tag": "Warm"}


# -- errors from an answer ----------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["send-sms", "send-code", "update-contect-tag"])
def test_ok_false_raises_api_error_with_message(client, mocked, endpoint):
    mocked.post(URL[endpoint], json={"ok": False, "message": "Not enough credits"})
    with pytest.raises(TextLinkAPIError) as info:
        CALLS[endpoint](client)
    err = info.value
    assert type(err) is TextLinkRefusedError  # a TextLinkAPIError, as the contract says
    assert err.message == "Not enough credits"
    assert err.status_code == 200
    assert err.endpoint == endpoint
    assert err.payload == {"ok": False, "message": "Not enough credits"}
    assert err.delivery_unknown is False
    assert "Not enough credits" in str(err)


def test_ok_false_without_message_still_has_a_message(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": False})
    with pytest.raises(TextLinkAPIError) as info:
        client.send_sms(PHONE, "Hi")
    assert type(info.value) is TextLinkRefusedError
    assert info.value.message


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_api_key_not_found_is_an_authentication_error(client, mocked, endpoint):
    mocked.post(URL[endpoint], json={"ok": False, "message": "API key not found"})
    with pytest.raises(TextLinkAuthenticationError) as info:
        CALLS[endpoint](client)
    assert info.value.message == "API key not found"


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_401_and_403_are_authentication_errors(client, mocked, endpoint, status):
    mocked.post(URL[endpoint], body="Forbidden", status=status)
    with pytest.raises(TextLinkAuthenticationError) as info:
        CALLS[endpoint](client)
    assert info.value.status_code == status
    assert info.value.message
    assert info.value.delivery_unknown is False


def test_429_with_retry_after_seconds(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": False}, status=429, headers={"Retry-After": "7"})
    with pytest.raises(TextLinkRateLimitError) as info:
        client.send_sms(PHONE, "Hi")
    assert info.value.retry_after == 7.0
    assert info.value.status_code == 429
    assert info.value.delivery_unknown is False


def test_429_with_retry_after_http_date(client, mocked):
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    mocked.post(URL["send-sms"], body="slow down", status=429, headers={"Retry-After": when})
    with pytest.raises(TextLinkRateLimitError) as info:
        client.send_sms(PHONE, "Hi")
    assert info.value.retry_after is not None
    assert 110 <= info.value.retry_after <= 121


def test_429_without_retry_after(client, mocked):
    mocked.post(URL["send-sms"], body="slow down", status=429)
    with pytest.raises(TextLinkRateLimitError) as info:
        client.send_sms(PHONE, "Hi")
    assert info.value.retry_after is None
    assert info.value.body_excerpt == "slow down"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, '{"code": "482913"}'),  # no "ok": an invalid answer
        (200, '["482913"]'),
        (200, '{"ok": false, "message": "odd", "code": "482913"}'),
        (500, '{"code": "482913"}'),
        (429, "code 482913"),
    ],
)
def test_a_send_code_answer_never_reaches_an_error(client, mocked, status, body):
    """Whatever send-code answers may carry the code: errors (and so logs) never show it."""
    mocked.post(URL["send-code"], body=body, status=status)
    with pytest.raises(TextLinkError) as info:
        client.send_code(PHONE)
    error = info.value
    assert "482913" not in str(error)
    assert "482913" not in repr(error)
    assert "482913" not in str(getattr(error, "body_excerpt", ""))
    assert "482913" not in str(getattr(error, "payload", ""))


@pytest.mark.parametrize(
    ("status", "delivery_unknown"), [(500, True), (502, True), (503, True), (404, False)]
)
def test_other_statuses_are_server_errors(client, mocked, status, delivery_unknown):
    mocked.post(URL["send-sms"], body="<html>Bad Gateway</html>", status=status)
    with pytest.raises(TextLinkServerError) as info:
        client.send_sms(PHONE, "Hi")
    err = info.value
    assert err.status_code == status
    assert err.body_excerpt == "<html>Bad Gateway</html>"
    assert err.delivery_unknown is delivery_unknown
    assert str(status) in str(err)


def test_server_error_message_from_json_body(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": False, "message": "Database down"}, status=500)
    with pytest.raises(TextLinkServerError) as info:
        client.send_sms(PHONE, "Hi")
    assert "Database down" in info.value.message


def test_body_excerpt_of_a_huge_body_is_short(client, mocked):
    mocked.post(URL["send-sms"], body="E" * 1_000_000, status=500)
    with pytest.raises(TextLinkServerError) as info:
        client.send_sms(PHONE, "Hi")
    assert 0 < len(info.value.body_excerpt) <= 200
    assert len(str(info.value)) < 1000


def test_huge_json_message_is_cut(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": False, "message": "m" * 100_000})
    with pytest.raises(TextLinkAPIError) as info:
        client.send_sms(PHONE, "Hi")
    assert len(info.value.message) <= 200


def test_non_json_200_is_an_invalid_response_not_a_value_error(client, mocked):
    mocked.post(URL["send-sms"], body="<html>Maintenance</html>", status=200)
    with pytest.raises(TextLinkInvalidResponseError) as info:
        client.send_sms(PHONE, "Hi")
    err = info.value
    assert not isinstance(err, ValueError)
    assert err.status_code == 200
    assert err.body_excerpt == "<html>Maintenance</html>"
    assert err.delivery_unknown is True


def test_json_list_is_an_invalid_response(client, mocked):
    mocked.post(URL["send-code"], json=[{"ok": True}])
    with pytest.raises(TextLinkInvalidResponseError):
        client.send_code(PHONE)


@pytest.mark.parametrize("body", [{}, {"queued": True}, {"ok": "true"}, {"ok": 1}, {"ok": None}])
def test_answer_without_a_boolean_ok_is_an_invalid_response(client, mocked, body):
    mocked.post(URL["send-sms"], json=body)
    with pytest.raises(TextLinkInvalidResponseError):
        client.send_sms(PHONE, "Hi")


def test_verify_code_invalid_response_is_raised_not_falsy(client, mocked):
    mocked.post(URL["verify-code"], body="oops")
    with pytest.raises(TextLinkInvalidResponseError):
        client.verify_code(PHONE, "123456")


@pytest.mark.parametrize("status", [500, 502])
def test_verify_code_5xx_is_raised_not_falsy(client, mocked, status):
    mocked.post(URL["verify-code"], json={"ok": False, "message": "Invalid code"}, status=status)
    with pytest.raises(TextLinkServerError):
        client.verify_code(PHONE, "123456")


def test_verify_code_4xx_without_textlink_answer_is_raised(client, mocked):
    mocked.post(URL["verify-code"], body="<h1>Not Found</h1>", status=404)
    with pytest.raises(TextLinkServerError) as excinfo:
        client.verify_code(PHONE, "123456")
    assert excinfo.value.delivery_unknown is False


@pytest.mark.parametrize("status", [400, 404, 422])
def test_verify_code_4xx_with_ok_false_is_a_wrong_code(client, mocked, status):
    """Should TextLink answer a wrong code with a 4xx status, it is still a wrong code."""
    mocked.post(URL["verify-code"], json={"ok": False, "message": "Invalid code"}, status=status)
    result = client.verify_code(PHONE, "123456")
    assert not result
    assert result.message == "Invalid code"


def test_send_sms_4xx_with_ok_false_raises_api_error_with_message(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": False, "message": "Bad number"}, status=400)
    with pytest.raises(TextLinkAPIError) as excinfo:
        client.send_sms(PHONE, "hi")
    assert type(excinfo.value) is TextLinkRefusedError
    assert excinfo.value.message == "Bad number"
    assert excinfo.value.status_code == 400


def test_redirects_are_not_followed(client, mocked):
    """A redirect would turn the POST into a GET elsewhere: it is an error, not followed."""
    mocked.post(URL["send-sms"], status=302, headers={"Location": "https://elsewhere.test/"})
    with pytest.raises(TextLinkServerError) as excinfo:
        client.send_sms(PHONE, "hi")
    assert excinfo.value.status_code == 302
    assert excinfo.value.delivery_unknown is False
    assert len(mocked.calls) == 1


def test_string_queued_false_is_not_queued(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": True, "queued": "false"})
    assert client.send_sms(PHONE, "hi").queued is False


def test_ok_false_payload_is_redacted(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": False, "message": "nope", "detail": f"key={API_KEY}"})
    with pytest.raises(TextLinkAPIError) as excinfo:
        client.send_sms(PHONE, "hi")
    assert API_KEY not in repr(excinfo.value.payload)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"retry_backoff": float("inf")}, ValueError),
        ({"retry_backoff": float("nan")}, ValueError),
        ({"max_retries": 1.5}, ValueError),
        ({"max_retries": True}, ValueError),
        ({"pool_size": 0}, ValueError),
        ({"base_url": "textlinksms.com/api"}, TextLinkConfigurationError),
        ({"base_url": "ftp://textlinksms.com/api"}, TextLinkConfigurationError),
    ],
)
def test_constructor_refuses_bad_arguments(kwargs, error):
    with pytest.raises(error):
        TextLinkClient(api_key="k", **kwargs)


def test_quota_message_mentioning_the_key_is_not_an_auth_error(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": False, "message": "Daily limit reached for API key"})
    with pytest.raises(TextLinkAPIError) as excinfo:
        client.send_sms(PHONE, "hi")
    assert type(excinfo.value) is TextLinkRefusedError


ANSWER_FAULTS: dict[str, tuple[dict[str, Any], type[TextLinkAPIError]]] = {
    "ok-false": ({"json": {"ok": False, "message": "x"}}, TextLinkAPIError),
    "key-not-found": (
        {"json": {"ok": False, "message": "API key not found"}},
        TextLinkAuthenticationError,
    ),
    "401": ({"body": "no", "status": 401}, TextLinkAuthenticationError),
    "429": ({"body": "no", "status": 429}, TextLinkRateLimitError),
    "500": ({"body": "no", "status": 500}, TextLinkServerError),
    "not-json": ({"body": "no"}, TextLinkInvalidResponseError),
}


@pytest.mark.parametrize("fault", list(ANSWER_FAULTS))
def test_answer_errors_are_api_errors_and_textlink_errors(client, mocked, fault):
    kwargs, expected = ANSWER_FAULTS[fault]
    mocked.post(URL["send-sms"], **kwargs)
    with pytest.raises(expected) as info:
        client.send_sms(PHONE, "Hi")
    assert isinstance(info.value, TextLinkAPIError)
    assert isinstance(info.value, TextLinkError)
    assert not isinstance(info.value, TextLinkTransportError)


# -- transport errors ---------------------------------------------------------------------------


def test_read_timeout_is_a_timeout_error_with_unknown_delivery(client, mocked):
    original = requests.ReadTimeout("read timed out")
    mocked.post(URL["send-sms"], body=original)
    with pytest.raises(TextLinkTimeoutError) as info:
        client.send_sms(PHONE, "Hi")
    err = info.value
    assert err.delivery_unknown is True
    assert err.__cause__ is original
    assert isinstance(err, TextLinkTransportError)
    assert isinstance(err, TextLinkError)
    assert not isinstance(err, TextLinkAPIError)
    assert len(mocked.calls) == 1


def test_connect_timeout_is_retried_then_a_timeout_error_with_known_delivery(
    client, mocked, sleeps
):
    original = requests.ConnectTimeout("connect timed out")
    mocked.post(URL["send-sms"], body=original)
    with pytest.raises(TextLinkTimeoutError) as info:
        client.send_sms(PHONE, "Hi")
    assert len(mocked.calls) == 3
    assert len(sleeps) == 2
    assert info.value.delivery_unknown is False
    assert info.value.__cause__ is original


def test_connection_refused_is_retried_then_a_connection_error(client, mocked, sleeps):
    original = refused(URL["send-code"])
    mocked.post(URL["send-code"], body=original)
    with pytest.raises(TextLinkConnectionError) as info:
        client.send_code(PHONE)
    err = info.value
    assert len(mocked.calls) == 3
    assert len(sleeps) == 2
    assert err.delivery_unknown is False
    assert err.__cause__ is original
    assert isinstance(err, TextLinkTransportError)
    assert BASE in str(err)


def test_dns_failure_is_retried(client, mocked, sleeps):
    mocked.post(URL["send-sms"], body=dns_failure(URL["send-sms"]))
    with pytest.raises(TextLinkConnectionError) as info:
        client.send_sms(PHONE, "Hi")
    assert len(mocked.calls) == 3
    assert info.value.delivery_unknown is False


def test_dropped_connection_is_not_retried_and_delivery_unknown(client, mocked, sleeps):
    original = dropped()
    mocked.post(URL["send-sms"], body=original)
    with pytest.raises(TextLinkConnectionError) as info:
        client.send_sms(PHONE, "Hi")
    assert len(mocked.calls) == 1
    assert sleeps == []
    assert info.value.delivery_unknown is True
    assert info.value.__cause__ is original


def test_other_request_exceptions_become_transport_errors(client, mocked):
    original = requests.exceptions.ChunkedEncodingError("broken chunk")
    mocked.post(URL["send-sms"], body=original)
    with pytest.raises(TextLinkTransportError) as info:
        client.send_sms(PHONE, "Hi")
    assert info.value.delivery_unknown is True
    assert info.value.__cause__ is original
    assert len(mocked.calls) == 1


# -- retry policy -------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("fault", ["refused", "connect-timeout"])
def test_never_reached_faults_are_retried_max_retries_times(
    client, mocked, sleeps, endpoint, fault
):
    exc = refused(URL[endpoint]) if fault == "refused" else requests.ConnectTimeout("slow")
    mocked.post(URL[endpoint], body=exc)
    with pytest.raises(TextLinkTransportError) as info:
        CALLS[endpoint](client)
    assert len(mocked.calls) == 3
    assert len(sleeps) == 2
    assert info.value.delivery_unknown is False


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_success_on_the_second_attempt_returns_the_result(client, mocked, sleeps, endpoint):
    mocked.post(URL[endpoint], body=refused(URL[endpoint]))
    mocked.post(URL[endpoint], json={"ok": True, "code": "111222"})
    result = CALLS[endpoint](client)
    assert len(mocked.calls) == 2
    assert len(sleeps) == 1
    assert type(result) is RESULT_TYPES[endpoint]
    assert not isinstance(result, VerifyResult) or result.valid
    # both attempts carried the same body
    assert mocked.calls[0].request.body == mocked.calls[1].request.body


def test_success_on_the_third_attempt(client, mocked, sleeps):
    mocked.post(URL["send-sms"], body=refused(URL["send-sms"]))
    mocked.post(URL["send-sms"], body=requests.ConnectTimeout("slow"))
    mocked.post(URL["send-sms"], json={"ok": True, "queued": True})
    assert client.send_sms(PHONE, "Hi").queued is True
    assert len(mocked.calls) == 3
    assert len(sleeps) == 2


def test_refused_then_dropped_stops_at_the_dropped_connection(client, mocked, sleeps):
    mocked.post(URL["send-sms"], body=refused(URL["send-sms"]))
    mocked.post(URL["send-sms"], body=dropped())
    mocked.post(URL["send-sms"], json={"ok": True})
    with pytest.raises(TextLinkConnectionError) as info:
        client.send_sms(PHONE, "Hi")
    assert len(mocked.calls) == 2
    assert info.value.delivery_unknown is True


@pytest.mark.parametrize("backoff", [0.5, 1.0, 0.1])
def test_backoff_grows_exponentially_with_jitter(mocked, backoff):
    delays: list[float] = []
    mocked.post(URL["send-sms"], body=refused(URL["send-sms"]))
    with TextLinkClient(api_key=API_KEY, base_url=BASE, retry_backoff=backoff) as c:
        c.sleep = delays.append
        for _ in range(20):
            with pytest.raises(TextLinkConnectionError):
                c.send_sms(PHONE, "Hi")
    firsts, seconds = delays[0::2], delays[1::2]
    assert len(firsts) == len(seconds) == 20
    for n, values in enumerate([firsts, seconds]):
        full = backoff * 2**n
        assert all(full / 2 <= d <= full for d in values), (n, values)
    assert all(second > first for first, second in zip(firsts, seconds, strict=True))
    # jitter: the delays are not all the same
    assert len(set(firsts)) > 1
    assert len(set(seconds)) > 1


@pytest.mark.parametrize(("pick", "expected"), [("low", [0.25, 0.5]), ("high", [0.5, 1.0])])
def test_backoff_bounds_exactly(client, mocked, sleeps, monkeypatch, pick, expected):
    # The client draws its jitter from the random module; pin it to either end.
    monkeypatch.setattr(random, "uniform", (lambda a, b: a) if pick == "low" else (lambda a, b: b))
    mocked.post(URL["send-sms"], body=refused(URL["send-sms"]))
    with pytest.raises(TextLinkConnectionError):
        client.send_sms(PHONE, "Hi")
    assert sleeps == pytest.approx(expected)


def test_zero_backoff_sleeps_zero(mocked):
    delays: list[float] = []
    mocked.post(URL["send-sms"], body=refused(URL["send-sms"]))
    with TextLinkClient(api_key=API_KEY, base_url=BASE, retry_backoff=0) as c:
        c.sleep = delays.append
        with pytest.raises(TextLinkConnectionError):
            c.send_sms(PHONE, "Hi")
    assert delays == [0, 0]


@pytest.mark.parametrize(("max_retries", "calls"), [(0, 1), (1, 2), (2, 3)])
def test_max_retries_bounds_the_number_of_calls(mocked, max_retries, calls):
    delays: list[float] = []
    mocked.post(URL["send-sms"], body=refused(URL["send-sms"]))
    with TextLinkClient(api_key=API_KEY, base_url=BASE, max_retries=max_retries) as c:
        c.sleep = delays.append
        with pytest.raises(TextLinkConnectionError) as info:
            c.send_sms(PHONE, "Hi")
    assert len(mocked.calls) == calls
    assert len(delays) == max_retries
    assert info.value.delivery_unknown is False


def test_real_sleep_is_the_default():
    with TextLinkClient(api_key=API_KEY, base_url=BASE) as c:
        assert c.sleep is time.sleep


NEVER_RETRIED: dict[str, dict[str, Any]] = {
    "read-timeout": {"body": requests.ReadTimeout("read timed out")},
    "500": {"body": "boom", "status": 500},
    "502": {"body": "bad gateway", "status": 502},
    "503": {"body": "unavailable", "status": 503},
    "429": {"body": "slow down", "status": 429, "headers": {"Retry-After": "1"}},
    "ok-false": {"json": {"ok": False, "message": "Refused"}},
    "dropped": {"body": dropped()},
    "not-json": {"body": "<html>"},
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("fault", list(NEVER_RETRIED))
def test_faults_after_sending_are_never_retried(client, mocked, sleeps, endpoint, fault):
    mocked.post(URL[endpoint], **NEVER_RETRIED[fault])
    mocked.post(URL[endpoint], json={"ok": True, "code": "123456"})  # a retry would succeed
    try:
        result = CALLS[endpoint](client)
    except TextLinkError:
        pass
    else:
        # Only a wrong-code answer to verify-code is not an exception.
        assert (endpoint, fault) == ("verify-code", "ok-false")
        assert not result
    assert len(mocked.calls) == 1
    assert sleeps == []


# -- bad input ----------------------------------------------------------------------------------

BAD_PHONES = ["0601234567", "+1", 12345, None, "", "+381 60 1234567", "+0601234567", "381601234567"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("phone", BAD_PHONES)
def test_bad_phone_number_is_refused_before_any_call(client, mocked, endpoint, phone):
    calls: dict[str, Callable[[], Any]] = {
        "send-sms": lambda: client.send_sms(phone, "Hi"),
        "send-code": lambda: client.send_code(phone),
        "verify-code": lambda: client.verify_code(phone, "123456"),
        "update-contect-tag": lambda: client.update_contact_tag(phone, "Warm"),
    }
    with pytest.raises(ValueError, match=r"E\.164") as info:
        calls[endpoint]()
    assert len(mocked.calls) == 0
    if isinstance(phone, str) and len(phone) > 4:
        assert phone not in str(info.value)  # masked even in the error text


#: Bad values on purpose, so the client is typed Any here.
BAD_OPTIONS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("empty text", lambda c: c.send_sms(PHONE, ""), "text"),
    ("blank text", lambda c: c.send_sms(PHONE, "   "), "text"),
    ("text not str", lambda c: c.send_sms(PHONE, 5), "text"),
    ("sim bool", lambda c: c.send_sms(PHONE, "Hi", sim_card_id=True), "sim_card_id"),
    ("sim str", lambda c: c.send_sms(PHONE, "Hi", sim_card_id="3"), "sim_card_id"),
    ("sim negative", lambda c: c.send_sms(PHONE, "Hi", sim_card_id=-1), "sim_card_id"),
    ("sim float", lambda c: c.send_sms(PHONE, "Hi", sim_card_id=1.0), "sim_card_id"),
    ("code sim bool", lambda c: c.send_code(PHONE, sim_card_id=False), "sim_card_id"),
    ("code sim str", lambda c: c.send_code(PHONE, sim_card_id="x"), "sim_card_id"),
    ("code sim negative", lambda c: c.send_code(PHONE, sim_card_id=-3), "sim_card_id"),
    ("empty custom_id", lambda c: c.send_sms(PHONE, "Hi", custom_id=""), "custom_id"),
    ("int custom_id", lambda c: c.send_sms(PHONE, "Hi", custom_id=5), "custom_id"),
    ("code empty custom_id", lambda c: c.send_code(PHONE, custom_id=""), "custom_id"),
    ("expiration zero", lambda c: c.send_code(PHONE, expiration_time=0), "expiration_time"),
    ("expiration negative", lambda c: c.send_code(PHONE, expiration_time=-1), "expiration_time"),
    ("expiration float", lambda c: c.send_code(PHONE, expiration_time=1.5), "expiration_time"),
    ("expiration str", lambda c: c.send_code(PHONE, expiration_time="600000"), "expiration_time"),
    ("expiration bool", lambda c: c.send_code(PHONE, expiration_time=True), "expiration_time"),
    ("country 3 letters", lambda c: c.send_code(PHONE, source_country="USA"), "source_country"),
    ("country 1 letter", lambda c: c.send_code(PHONE, source_country="U"), "source_country"),
    ("country digit", lambda c: c.send_code(PHONE, source_country="U1"), "source_country"),
    ("country empty", lambda c: c.send_code(PHONE, source_country=""), "source_country"),
    ("country int", lambda c: c.send_code(PHONE, source_country=12), "source_country"),
    ("service empty", lambda c: c.send_code(PHONE, service_name=""), "service_name"),
    ("code empty", lambda c: c.verify_code(PHONE, ""), "code"),
    ("code blank", lambda c: c.verify_code(PHONE, "  "), "code"),
    ("code None", lambda c: c.verify_code(PHONE, None), "code"),
    ("tag None", lambda c: c.update_contact_tag(PHONE, None), "tag"),
]


@pytest.mark.parametrize(
    ("call", "field"), [c[1:] for c in BAD_OPTIONS], ids=[c[0] for c in BAD_OPTIONS]
)
def test_bad_options_are_refused_before_any_call(client, mocked, call, field):
    with pytest.raises(ValueError, match=field):
        call(client)
    assert len(mocked.calls) == 0


@pytest.mark.parametrize("country", ["us", "Rs", "GB"])
def test_source_country_is_upper_cased(client, mocked, country):
    mocked.post(URL["send-code"], json={"ok": True, "code": "1"})
    client.send_code(PHONE, source_country=country)
    assert sent_json(mocked.calls[0])["source_country"] == country.upper()


@pytest.mark.parametrize("max_retries", [3, -1, 10])
def test_max_retries_out_of_range_is_refused(max_retries):
    with pytest.raises(ValueError, match="max_retries"):
        TextLinkClient(api_key=API_KEY, max_retries=max_retries)


def test_negative_backoff_is_refused():
    with pytest.raises(ValueError, match="retry_backoff"):
        TextLinkClient(api_key=API_KEY, retry_backoff=-0.1)


@pytest.mark.parametrize("api_key", ["", None, 123])
def test_missing_api_key_is_a_configuration_error(api_key):
    with pytest.raises(TextLinkConfigurationError, match="API_KEY"):
        TextLinkClient(api_key=api_key)


# -- secrets and masking ------------------------------------------------------------------------


def test_api_key_not_in_repr_or_str_of_the_client():
    with TextLinkClient(api_key=API_KEY, base_url=BASE) as c:
        for text in (repr(c), str(c), repr(c.session.auth), repr(vars(c))):
            assert API_KEY not in text
        assert API_KEY not in repr(dict(c.session.headers))
        assert BASE in repr(c)


KEY_ECHOES: dict[str, dict[str, Any]] = {
    "500-text": {"body": f"invalid token {API_KEY} for account", "status": 500},
    "401-text": {"body": f"Bearer {API_KEY} refused", "status": 401},
    "429-text": {"body": f"too fast, {API_KEY}", "status": 429},
    "200-text": {"body": f"<html>key={API_KEY}</html>"},
    "200-list": {"json": [API_KEY]},
    "200-no-ok": {"json": {"key": API_KEY}},
    "ok-false": {"json": {"ok": False, "message": f"Key {API_KEY} is disabled"}},
    "api-key-message": {"json": {"ok": False, "message": f"API key {API_KEY} not found"}},
    "500-json": {"json": {"ok": False, "message": f"bad {API_KEY}"}, "status": 500},
    # The key straddles the cut at 200 characters: no fragment of it may survive either.
    "500-straddle": {"body": "x" * 190 + API_KEY + "y" * 50, "status": 500},
    "200-straddle": {"body": "x" * 195 + API_KEY},
}


@pytest.mark.parametrize("echo", list(KEY_ECHOES))
def test_api_key_echoed_by_the_server_never_leaks(client, mocked, echo):
    mocked.post(URL["send-sms"], **KEY_ECHOES[echo])
    with pytest.raises(TextLinkAPIError) as info:
        client.send_sms(PHONE, "Hi")
    err = info.value
    fragment = API_KEY[:10]
    for text in (str(err), repr(err), err.message, err.body_excerpt, repr(err.args)):
        assert fragment not in text, text
    assert len(err.body_excerpt) <= 200


@pytest.mark.parametrize("fault", ["refused", "read-timeout", "dropped"])
def test_api_key_not_in_transport_error_text(client, mocked, fault):
    exc = {
        "refused": refused(URL["send-sms"]),
        "read-timeout": requests.ReadTimeout("read timed out"),
        "dropped": dropped(),
    }[fault]
    mocked.post(URL["send-sms"], body=exc)
    with pytest.raises(TextLinkTransportError) as info:
        client.send_sms(PHONE, "Hi")
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)


def test_logs_never_show_the_key_the_code_or_the_full_phone(client, mocked, caplog):
    caplog.set_level(logging.DEBUG, logger="django_textlink")
    code = "907311"
    mocked.post(URL["send-sms"], json={"ok": True})
    mocked.post(URL["send-code"], json={"ok": True, "code": code})
    mocked.post(URL["verify-code"], json={"ok": False, "message": "Invalid code"})
    mocked.post(URL["update-contect-tag"], json={"ok": True})
    client.send_sms(PHONE, "Hello")
    client.send_code(PHONE, service_name="Acme")
    client.verify_code(PHONE, code)
    client.update_contact_tag(PHONE, "Warm")

    mocked.replace(responses.POST, URL["send-sms"], body=f"oops {API_KEY}", status=500)
    with pytest.raises(TextLinkServerError):
        client.send_sms(PHONE, "Hello")
    mocked.replace(responses.POST, URL["send-sms"], json={"ok": False, "message": API_KEY})
    with pytest.raises(TextLinkAPIError):
        client.send_sms(PHONE, "Hello")
    mocked.replace(responses.POST, URL["send-sms"], body=refused(URL["send-sms"]))
    with pytest.raises(TextLinkConnectionError):
        client.send_sms(PHONE, "Hello")
    mocked.replace(responses.POST, URL["send-sms"], body=requests.ReadTimeout("timed out"))
    with pytest.raises(TextLinkTimeoutError):
        client.send_sms(PHONE, "Hello")

    records = [r for r in caplog.records if r.name.startswith("django_textlink")]
    assert len(records) >= 6  # a debug line per answered call, a warning per retry
    retry_warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(retry_warnings) == 2
    everything = caplog.text + "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    assert API_KEY not in everything
    assert code not in everything
    assert PHONE not in everything
    assert PHONE[1:] not in everything
    assert MASKED in everything
    assert all(MASKED in r.getMessage() for r in records)


def test_successful_calls_are_logged_at_debug(client, mocked, caplog):
    caplog.set_level(logging.DEBUG, logger="django_textlink")
    mocked.post(URL["send-sms"], json={"ok": True})
    client.send_sms(PHONE, "Hi")
    [record] = [r for r in caplog.records if r.name.startswith("django_textlink")]
    assert record.levelno == logging.DEBUG
    assert "send-sms" in record.getMessage()
    assert "200" in record.getMessage()


# -- timeouts -----------------------------------------------------------------------------------


def test_default_timeout_is_finite_and_passed_to_requests(client, mocked):
    assert client.timeout == (3.05, 10.0)
    assert all(math.isfinite(t) and t > 0 for t in client.timeout)
    mocked.post(URL["send-sms"], json={"ok": True})
    client.send_sms(PHONE, "Hi")
    assert mocked.calls[0].request.req_kwargs["timeout"] == (3.05, 10.0)


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [(5, 5.0), (0.5, 0.5), ((1, 2.5), (1.0, 2.5)), ([2, 4], (2.0, 4.0))],
)
def test_timeout_number_or_pair_is_passed_to_requests(mocked, timeout, expected):
    mocked.post(URL["send-sms"], json={"ok": True})
    with TextLinkClient(api_key=API_KEY, base_url=BASE, timeout=timeout) as c:
        assert c.timeout == expected
        seen: list[Any] = []
        original_post = c.session.post

        def recording_post(*args: Any, **kwargs: Any) -> requests.Response:
            seen.append(kwargs.get("timeout"))
            return original_post(*args, **kwargs)

        c.session.post = recording_post  # type: ignore[method-assign]
        c.send_sms(PHONE, "Hi")
        c.send_sms(PHONE, "Hi")
    assert seen == [expected, expected]
    assert mocked.calls[0].request.req_kwargs["timeout"] == expected


@pytest.mark.parametrize(
    "timeout",
    [None, 0, -1, math.inf, math.nan, ("a", 1), (1, 2, 3), (1,), (0, 5), (1, None), "10", True],
)
def test_bad_timeouts_are_configuration_errors(timeout):
    with pytest.raises(TextLinkConfigurationError):
        TextLinkClient(api_key=API_KEY, base_url=BASE, timeout=timeout)


# -- connection pooling -------------------------------------------------------------------------


def test_one_session_is_reused_across_calls(client, mocked):
    session = client.session
    assert isinstance(session, requests.Session)
    used: list[int] = []
    original_post = session.post

    def recording_post(*args: Any, **kwargs: Any) -> requests.Response:
        used.append(id(session))
        return original_post(*args, **kwargs)

    session.post = recording_post  # type: ignore[method-assign]
    for endpoint in ENDPOINTS:
        mocked.post(URL[endpoint], json={"ok": True, "code": "1"})
    for endpoint in ENDPOINTS * 3:
        CALLS[endpoint](client)
    assert len(mocked.calls) == 12
    assert used == [id(session)] * 12
    assert client.session is session


@pytest.mark.parametrize("pool_size", [1, 4, 25])
def test_adapter_pool_maxsize_is_pool_size(pool_size):
    with TextLinkClient(api_key=API_KEY, base_url=BASE, pool_size=pool_size) as c:
        for url in (BASE, "http://127.0.0.1:1/api"):
            adapter = c.session.get_adapter(url)
            assert adapter._pool_maxsize == pool_size  # type: ignore[attr-defined]
            assert adapter.poolmanager.connection_pool_kw["maxsize"] == pool_size  # type: ignore[attr-defined]
            # urllib3 must not retry on its own: retries are the client's decision alone
            assert adapter.max_retries.total == 0  # type: ignore[attr-defined]


def test_a_given_session_is_used(mocked):
    session = requests.Session()
    mocked.post(URL["send-sms"], json={"ok": True})
    with TextLinkClient(api_key=API_KEY, base_url=BASE, session=session) as c:
        assert c.session is session
        c.send_sms(PHONE, "Hi")
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {API_KEY}"


def test_cookies_from_textlink_are_not_kept(client, mocked):
    mocked.post(URL["send-sms"], json={"ok": True}, headers={"Set-Cookie": "sid=abc; Path=/"})
    client.send_sms(PHONE, "Hi")
    client.send_sms(PHONE, "Hi")
    assert len(client.session.cookies) == 0
    assert "Cookie" not in mocked.calls[1].request.headers


# -- parse_retry_after --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("120", 120.0),
        (" 30 ", 30.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-5", 0.0),
        ("inf", None),
        ("nan", None),
        ("soon", None),
        ("Mon, 99 Foo 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after_values(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    header = "Wed, 21 Oct 2015 07:28:00 GMT"
    moment = email.utils.parsedate_to_datetime(header).timestamp()
    assert parse_retry_after(header, now=moment - 90) == pytest.approx(90.0)
    assert parse_retry_after(header, now=moment) == pytest.approx(0.0)


def test_parse_retry_after_date_in_the_past_is_zero():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_parse_retry_after_date_uses_the_clock_by_default():
    header = email.utils.formatdate(time.time() + 60, usegmt=True)
    value = parse_retry_after(header)
    assert value is not None
    assert 55 <= value <= 61


@pytest.mark.parametrize("endpoint", ["send-sms", "send-code"])
def test_tls_failure_is_never_sent_and_never_retried(client, mocked, endpoint):
    mocked.post(URL[endpoint], body=requests.exceptions.SSLError("certificate verify failed"))
    mocked.post(URL[endpoint], json={"ok": True})
    sleeps: list[float] = []
    client.sleep = sleeps.append
    call = {
        "send-sms": lambda: client.send_sms(PHONE, "hi"),
        "send-code": lambda: client.send_code(PHONE),
    }
    with pytest.raises(TextLinkConnectionError) as excinfo:
        call[endpoint]()
    assert excinfo.value.delivery_unknown is False
    assert isinstance(excinfo.value.__cause__, requests.exceptions.SSLError)
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_verify_option_is_passed_to_every_request(mocked):
    mocked.post(URL["send-sms"], json={"ok": True})
    with TextLinkClient(api_key=API_KEY, base_url=BASE, verify="/etc/corporate-ca.pem") as c:
        c.send_sms(PHONE, "hi")
    assert mocked.calls[0].request.req_kwargs["verify"] == "/etc/corporate-ca.pem"
