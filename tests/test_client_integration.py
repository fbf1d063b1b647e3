"""TextLinkClient against a real local HTTP server: the TextLink sandbox
(django_textlink.sandbox.run_sandbox), which records every request with its headers and
counts the TCP connections that carried API calls."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from django_textlink import __version__
from django_textlink.client import TextLinkClient
from django_textlink.exceptions import (
    TextLinkAuthenticationError,
    TextLinkConnectionError,
    TextLinkRateLimitError,
    TextLinkServerError,
    TextLinkTimeoutError,
)
from django_textlink.sandbox import Answer, RunningSandbox, run_sandbox

pytestmark = pytest.mark.integration

API_KEY = "tl-integration-key-5a4b3c2d1e"
PHONE = "+381601234567"
MASKED = "+381*******67"


@pytest.fixture(autouse=True)
def _no_proxy_for_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy configured in the environment must not intercept 127.0.0.1."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server() -> Iterator[RunningSandbox]:
    with run_sandbox(api_key=API_KEY) as srv:
        yield srv


@pytest.fixture
def client(server: RunningSandbox) -> Iterator[TextLinkClient]:
    with TextLinkClient(api_key=API_KEY, base_url=server.base_url, timeout=(1, 2)) as c:
        c.sleep = lambda seconds: None
        yield c


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_send_code_then_verify_wrong_then_right_code(client, server):
    sent = client.send_code(PHONE, service_name="Acme", expiration_time=600000)
    assert sent.code is not None
    assert len(sent.code) == 6
    assert sent.code.isdigit()
    assert sent.code == server.last_code(PHONE)

    wrong = client.verify_code(PHONE, other_code(sent.code))
    assert not wrong
    assert wrong.message == "Invalid code"

    right = client.verify_code(PHONE, sent.code)
    assert right
    assert right.valid is True

    # the sandbox, like TextLink, accepts a code once
    assert not client.verify_code(PHONE, sent.code)
    assert [call.endpoint for call in server.api_calls()] == [
        "send-code",
        "verify-code",
        "verify-code",
        "verify-code",
    ]
    assert server.api_calls()[2].request == {"phone_number": PHONE, "code": sent.code}


def test_send_sms_with_every_option_reaches_the_server_exactly(client, server):
    result = client.send_sms(PHONE, "Hello from the tests", sim_card_id=12, custom_id="msg-42")
    assert result.queued is False
    [call] = server.api_calls()
    assert call.endpoint == "send-sms"
    headers = call.headers
    assert call.request == {
        "phone_number": PHONE,
        "text": "Hello from the tests",
        "sim_card_id": 12,
        "custom_id": "msg-42",
    }
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith(f"django-textlink/{__version__}")


def test_update_contact_tag_reaches_the_server(client, server):
    client.update_contact_tag(PHONE, "Warm")
    assert server.tags() == {PHONE: "Warm"}
    assert server.api_calls()[0].endpoint == "update-contect-tag"


def test_sequential_calls_reuse_one_tcp_connection(client, server):
    for i in range(20):
        if i % 4 == 0:
            client.send_code(PHONE)
        elif i % 4 == 1:
            client.verify_code(PHONE, "000000")
        elif i % 4 == 2:
            client.update_contact_tag(PHONE, "Cold")
        else:
            client.send_sms(PHONE, f"Message {i}")
    assert len(server.api_calls()) == 20
    assert server.api_connections == 1


def test_a_new_client_per_call_would_open_new_connections(server):
    """The counter above is meaningful: separate clients do open separate connections."""
    for _ in range(3):
        with TextLinkClient(api_key=API_KEY, base_url=server.base_url) as c:
            c.send_sms(PHONE, "Hi")
    assert server.api_connections == 3


def test_wrong_api_key_is_an_authentication_error(server):
    with (
        TextLinkClient(api_key="tl-wrong-key", base_url=server.base_url) as c,
        pytest.raises(TextLinkAuthenticationError) as info,
    ):
        c.send_sms(PHONE, "Hi")
    assert info.value.message == "API key not found"
    assert len(server.api_calls()) == 1


def test_wrong_api_key_on_verify_is_raised_not_a_wrong_code(server):
    with (
        TextLinkClient(api_key="tl-wrong-key", base_url=server.base_url) as c,
        pytest.raises(TextLinkAuthenticationError),
    ):
        c.verify_code(PHONE, "123456")


def test_read_timeout_is_not_retried_and_delivery_unknown(server):
    server.set_faults(latency=1.0)
    sleeps: list[float] = []
    with TextLinkClient(api_key=API_KEY, base_url=server.base_url, timeout=(1, 0.2)) as c:
        c.sleep = sleeps.append
        started = time.monotonic()
        with pytest.raises(TextLinkTimeoutError) as info:
            c.send_sms(PHONE, "Hi")
        elapsed = time.monotonic() - started
    assert info.value.delivery_unknown is True
    assert isinstance(info.value.__cause__, requests.ReadTimeout)
    assert elapsed < 0.9
    assert len(server.api_calls()) == 1  # recorded on arrival, before the latency
    assert sleeps == []


def test_closed_port_is_retried_then_a_connection_error(monkeypatch):
    port = closed_port()
    sleeps: list[float] = []
    with TextLinkClient(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/api", retry_backoff=0.01
    ) as c:
        c.sleep = sleeps.append
        with pytest.raises(TextLinkConnectionError) as info:
            c.send_code(PHONE)
    assert len(sleeps) == c.max_retries == 2
    assert 0.005 <= sleeps[0] <= 0.01
    assert 0.01 <= sleeps[1] <= 0.02
    assert info.value.delivery_unknown is False
    assert isinstance(info.value.__cause__, requests.ConnectionError)


def test_closed_port_with_max_retries_zero_is_not_retried():
    port = closed_port()
    sleeps: list[float] = []
    with TextLinkClient(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/api", max_retries=0
    ) as c:
        c.sleep = sleeps.append
        with pytest.raises(TextLinkConnectionError):
            c.send_sms(PHONE, "Hi")
    assert sleeps == []


def test_server_error_override_is_not_retried(client, server):
    server.set_faults(
        numbers={
            f"send-sms:{PHONE}": Answer(
                503,
                "<h1>Service Unavailable</h1>",
                text=True,
                headers={"Content-Type": "text/html"},
            )
        }
    )
    with pytest.raises(TextLinkServerError) as info:
        client.send_sms(PHONE, "Hi")
    assert info.value.status_code == 503
    assert info.value.delivery_unknown is True
    assert info.value.body_excerpt == "<h1>Service Unavailable</h1>"
    assert len(server.api_calls()) == 1
    # the connection survives an error answer
    server.set_faults(numbers={})
    client.send_sms(PHONE, "Hi")
    assert server.api_connections == 1


def test_rate_limit_override_carries_retry_after(client, server):
    server.set_faults(
        numbers={f"send-code:{PHONE}": Answer(429, {"ok": False}, headers={"Retry-After": "30"})}
    )
    with pytest.raises(TextLinkRateLimitError) as info:
        client.send_code(PHONE)
    assert info.value.retry_after == 30.0
    assert len(server.api_calls()) == 1


def test_queued_answer_is_a_success(client, server):
    server.set_faults(numbers={f"send-sms:{PHONE}": Answer(200, {"ok": True, "queued": True})})
    assert client.send_sms(PHONE, "Hi").queued is True


def test_no_secret_or_full_phone_in_any_log_record(server, caplog):
    """A leak sweep over every logger (urllib3 included) during a run with errors and retries."""
    caplog.set_level(logging.DEBUG)
    with TextLinkClient(api_key=API_KEY, base_url=server.base_url, timeout=(1, 2)) as c:
        sent = c.send_code(PHONE)
        c.verify_code(PHONE, sent.code or "")
        c.send_sms(PHONE, "Hi")
        server.set_faults(numbers={f"send-sms:{PHONE}": Answer(500, f"echo {API_KEY}", text=True)})
        with pytest.raises(TextLinkServerError):
            c.send_sms(PHONE, "Hi")
    with (
        TextLinkClient(
            api_key=API_KEY, base_url=f"http://127.0.0.1:{closed_port()}/api", retry_backoff=0
        ) as c,
        pytest.raises(TextLinkConnectionError),
    ):
        c.send_sms(PHONE, "Hi")
    text = caplog.text + "".join(f"{r.getMessage()}{r.args!r}" for r in caplog.records)
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # the sweep saw them
    assert API_KEY not in text
    assert sent.code not in text
    assert PHONE not in text
    assert MASKED in text


def test_https_with_a_trusted_ca_works_and_reuses_one_connection():
    with run_sandbox(api_key=API_KEY, tls=True) as tls_server:
        assert tls_server.base_url.startswith("https://")
        with TextLinkClient(
            api_key=API_KEY, base_url=tls_server.base_url, verify=tls_server.cafile
        ) as tls_client:
            for _ in range(5):
                assert tls_client.send_sms(PHONE, "over TLS").queued is False
        assert tls_server.connections == 1  # nothing else connected: no control API call
        assert tls_server.api_connections == 1
        assert len(tls_server.api_calls()) == 5


def test_untrusted_certificate_is_a_connection_error_never_sent_never_retried():
    sleeps: list[float] = []
    with run_sandbox(api_key=API_KEY, tls=True) as tls_server:
        with TextLinkClient(
            api_key=API_KEY, base_url=tls_server.base_url, verify=True
        ) as tls_client:
            tls_client.sleep = sleeps.append
            with pytest.raises(TextLinkConnectionError) as excinfo:
                tls_client.send_sms(PHONE, "never sent")
        assert tls_server.api_calls() == []
        assert tls_server.connections == 1  # one attempt, no retry
    assert excinfo.value.delivery_unknown is False
    assert "TLS" in str(excinfo.value)
    assert sleeps == []
