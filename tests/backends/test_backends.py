"""Backends: selection by dotted path, LocMem, Console, and the HTTP backend's shared client."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

import pytest
import responses
from django.test import SimpleTestCase, override_settings
from responses import matchers

import django_textlink
from django_textlink.backends import get_backend, load_backend_class
from django_textlink.backends import simulated as simulated_module
from django_textlink.backends.console import ConsoleBackend
from django_textlink.backends.locmem import LocMemBackend, tag_updates
from django_textlink.backends.simulated import OutboxEntry
from django_textlink.backends.textlink import TextLinkBackend
from django_textlink.client import TextLinkClient
from django_textlink.exceptions import TextLinkAPIError, TextLinkConfigurationError
from django_textlink.results import SendCodeResult, SendResult, TagResult
from django_textlink.testing import TextLinkTestMixin

HTTP_PATH = "django_textlink.backends.textlink.TextLinkBackend"
CONSOLE_PATH = "django_textlink.backends.console.ConsoleBackend"
LOCMEM_PATH = "django_textlink.backends.locmem.LocMemBackend"

API = "https://textlinksms.test/api"
TEST_KEY = "tl-test-key-0123456789abcdef"
PHONE = "+381601234567"
OTHER_PHONE = "+12025550143"


@pytest.fixture
def locmem():
    return LocMemBackend()


@pytest.fixture
def api():
    """Fake TextLink: every request must be registered, and every registered one made."""
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def clock(monkeypatch):
    """A controllable clock for the simulated codes (no sleeping)."""
    now = SimpleNamespace(value=1_700_000_000.0)
    monkeypatch.setattr(simulated_module, "time", SimpleNamespace(time=lambda: now.value))
    return now


def other_code(code):
    """A 6-digit code guaranteed to differ from ``code``."""
    return f"{(int(code) + 1) % 10**6:06d}"


# -- get_backend --------------------------------------------------------------------------


def test_get_backend_default_from_test_settings_is_http_backend():
    assert type(get_backend()) is TextLinkBackend


@pytest.mark.parametrize(
    ("path", "cls"),
    [(HTTP_PATH, TextLinkBackend), (CONSOLE_PATH, ConsoleBackend), (LOCMEM_PATH, LocMemBackend)],
)
def test_get_backend_uses_dotted_path_from_settings(settings, path, cls):
    settings.TEXTLINK = {**settings.TEXTLINK, "BACKEND": path}
    assert type(get_backend()) is cls
    assert load_backend_class() is cls


def test_get_backend_with_explicit_path_ignores_settings():
    assert type(get_backend(LOCMEM_PATH)) is LocMemBackend
    assert type(get_backend(CONSOLE_PATH)) is ConsoleBackend


def test_get_backend_passes_options_to_the_backend():
    stream = io.StringIO()
    backend = get_backend(CONSOLE_PATH, stream=stream)
    backend.send_sms(PHONE, "hi")
    assert "hi" in stream.getvalue()


def test_get_backend_without_backend_setting_uses_http_backend(settings):
    settings.TEXTLINK = {"API_KEY": "k"}
    assert type(get_backend()) is TextLinkBackend


@pytest.mark.parametrize(
    "path",
    [
        "nope.Nope",
        "django_textlink.backends.locmem.Missing",
        "django.contrib.auth.models.User",
        "django_textlink.conf.conf",
    ],
)
def test_bad_backend_path_in_settings_raises_naming_the_setting(settings, path):
    settings.TEXTLINK = {**settings.TEXTLINK, "BACKEND": path}
    with pytest.raises(TextLinkConfigurationError) as excinfo:
        get_backend()
    assert 'TEXTLINK["BACKEND"]' in str(excinfo.value)
    assert path in str(excinfo.value)


def test_bad_explicit_backend_path_raises_configuration_error_not_blaming_the_setting():
    with pytest.raises(TextLinkConfigurationError, match=r"backend path names 'nope\.Nope'") as exc:
        get_backend("nope.Nope")
    assert "TEXTLINK" not in str(exc.value)


# -- LocMemBackend ------------------------------------------------------------------------


def test_locmem_send_sms_records_into_outbox(locmem):
    result = locmem.send_sms(PHONE, "Hello there", sim_card_id=3, custom_id="order-17")

    assert isinstance(result, SendResult)
    assert django_textlink.outbox == [
        OutboxEntry(
            kind="sms", phone_number=PHONE, text="Hello there", sim_card_id=3, custom_id="order-17"
        )
    ]


def test_locmem_send_sms_keeps_order(locmem):
    locmem.send_sms(PHONE, "first")
    locmem.send_sms(OTHER_PHONE, "second")
    assert [(e.phone_number, e.text) for e in django_textlink.outbox] == [
        (PHONE, "first"),
        (OTHER_PHONE, "second"),
    ]


def test_locmem_send_code_records_a_six_digit_code(locmem):
    result = locmem.send_code(PHONE, service_name="Acme", custom_id="c-1")

    assert isinstance(result, SendCodeResult)
    [entry] = django_textlink.outbox
    assert entry.kind == "code"
    assert entry.phone_number == PHONE
    assert re.fullmatch(r"\d{6}", entry.code)
    assert entry.code in entry.text
    assert "Acme" in entry.text
    assert entry.service_name == "Acme"
    assert entry.custom_id == "c-1"
    assert result.code == entry.code


def test_locmem_right_code_verifies_once(locmem):
    code = locmem.send_code(PHONE).code

    assert locmem.verify_code(PHONE, code)
    second = locmem.verify_code(PHONE, code)
    assert not second
    assert second.valid is False


def test_locmem_code_verifies_through_another_backend_instance():
    """A site builds a backend per request: the code sent by one must verify in another."""
    code = get_backend(LOCMEM_PATH).send_code(PHONE).code
    assert get_backend(LOCMEM_PATH).verify_code(PHONE, code)


def test_locmem_code_accepts_surrounding_whitespace(locmem):
    code = locmem.send_code(PHONE).code
    assert locmem.verify_code(PHONE, f" {code} ")


def test_locmem_wrong_code_is_falsy_and_does_not_consume_the_right_one(locmem):
    code = locmem.send_code(PHONE).code

    wrong = locmem.verify_code(PHONE, other_code(code))
    assert not wrong
    assert wrong.message
    assert locmem.verify_code(PHONE, code)


def test_locmem_code_is_bound_to_its_phone_number(locmem):
    code = locmem.send_code(PHONE).code
    assert not locmem.verify_code(OTHER_PHONE, code)
    assert locmem.verify_code(PHONE, code)


def test_locmem_verify_without_any_code_sent_is_falsy(locmem):
    assert not locmem.verify_code(PHONE, "123456")


def test_locmem_code_expires(locmem, clock):
    code = locmem.send_code(PHONE, expiration_time=1).code  # 1 ms
    clock.value += 0.001

    result = locmem.verify_code(PHONE, code)
    assert not result
    assert "expired" in result.message.lower()


def test_locmem_code_is_valid_until_it_expires(locmem, clock):
    code = locmem.send_code(PHONE, expiration_time=1000).code
    clock.value += 0.999
    assert locmem.verify_code(PHONE, code)


def test_locmem_default_code_lifetime_is_ten_minutes(locmem, clock):
    start = clock.value
    code = locmem.send_code(PHONE).code
    clock.value = start + 599
    assert locmem.verify_code(PHONE, code)

    code = locmem.send_code(PHONE).code
    clock.value += 600
    assert not locmem.verify_code(PHONE, code)


def test_locmem_new_code_replaces_the_old_one(locmem):
    old = locmem.send_code(PHONE).code
    new = locmem.send_code(PHONE).code
    while new == old:  # one chance in a million
        new = locmem.send_code(PHONE).code

    assert not locmem.verify_code(PHONE, old)
    assert locmem.verify_code(PHONE, new)


def test_locmem_update_contact_tag_is_recorded(locmem):
    result = locmem.update_contact_tag(PHONE, "vip")
    locmem.update_contact_tag(OTHER_PHONE, "")

    assert isinstance(result, TagResult)
    assert tag_updates == [(PHONE, "vip"), (OTHER_PHONE, "")]
    assert django_textlink.outbox == []


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.send_sms("0601234567", "hi"),
        lambda b: b.send_sms("+1 202 555 0143", "hi"),
        lambda b: b.send_sms(None, "hi"),
        lambda b: b.send_sms(PHONE, ""),
        lambda b: b.send_sms(PHONE, "   "),
        lambda b: b.send_sms(PHONE, "hi", sim_card_id=-1),
        lambda b: b.send_sms(PHONE, "hi", custom_id=""),
        lambda b: b.send_code("0601234567"),
        lambda b: b.send_code(PHONE, expiration_time=0),
        lambda b: b.send_code(PHONE, source_country="Serbia"),
        lambda b: b.update_contact_tag("abc", "vip"),
        lambda b: b.update_contact_tag(PHONE, None),
    ],
)
def test_locmem_invalid_input_raises_value_error_and_records_nothing(locmem, call):
    with pytest.raises(ValueError):  # noqa: PT011 - each call has its own message
        call(locmem)
    assert django_textlink.outbox == []
    assert tag_updates == []


def test_locmem_invalid_phone_error_does_not_echo_the_full_number(locmem):
    with pytest.raises(ValueError, match=r"E\.164") as excinfo:
        locmem.send_sms("0601234567", "hi")
    assert "0601234567" not in str(excinfo.value)


# -- the outbox is emptied before every test ----------------------------------------------


def test_outbox_starts_empty_first(locmem):
    locmem.send_sms(PHONE, "from the first test")
    assert len(django_textlink.outbox) == 1


def test_outbox_starts_empty_second(locmem):
    locmem.send_sms(PHONE, "from the second test")
    assert len(django_textlink.outbox) == 1


def test_tag_updates_start_empty_first(locmem):
    locmem.update_contact_tag(PHONE, "a")
    assert len(tag_updates) == 1


def test_tag_updates_start_empty_second(locmem):
    locmem.update_contact_tag(PHONE, "b")
    assert len(tag_updates) == 1


@pytest.fixture(scope="module")
def sent_during_module_setup():
    """Something a wider-scoped fixture sent (e.g. while creating shared data)."""
    LocMemBackend().send_sms(PHONE, "sent by a module-scoped fixture")
    LocMemBackend().update_contact_tag(PHONE, "module")


def test_outbox_is_emptied_after_wider_scoped_fixtures_ran(sent_during_module_setup):
    assert django_textlink.outbox == []
    assert tag_updates == []


def test_textlink_outbox_fixture_is_the_package_outbox(textlink_outbox, locmem):
    assert textlink_outbox is django_textlink.outbox
    assert textlink_outbox == []
    locmem.send_sms(PHONE, "seen through the fixture")
    assert [e.text for e in textlink_outbox] == ["seen through the fixture"]


def test_textlink_locmem_fixture_switches_the_backend(textlink_locmem):
    from django.conf import settings

    assert textlink_locmem is django_textlink.outbox
    backend = get_backend()
    assert type(backend) is LocMemBackend
    # The rest of TEXTLINK is kept.
    assert settings.TEXTLINK["API_KEY"] == TEST_KEY

    backend.send_sms(PHONE, "through the configured backend")
    assert [e.text for e in textlink_locmem] == ["through the configured backend"]


def test_backend_is_http_again_after_textlink_locmem_test():
    assert type(get_backend()) is TextLinkBackend


# -- TextLinkTestMixin (Django's test runner) ---------------------------------------------


class _LeftoverMessages:
    """Puts a message, a code and a tag update in place after the pytest plugin's own reset
    and before Django's ``_pre_setup``, as a previous test under Django's runner would."""

    @pytest.fixture(autouse=True)
    def _leftovers(self):
        backend = LocMemBackend()
        self.leftover_code = backend.send_code(PHONE).code
        backend.update_contact_tag(PHONE, "old")


class TextLinkTestMixinTests(TextLinkTestMixin, _LeftoverMessages, SimpleTestCase):
    def test_pre_setup_empties_outbox_tag_updates_and_codes(self):
        assert django_textlink.outbox == []
        assert tag_updates == []
        assert not LocMemBackend().verify_code(PHONE, self.leftover_code)

    def test_sends_work_after_reset(self):
        LocMemBackend().send_sms(PHONE, "fresh")
        assert [e.text for e in django_textlink.outbox] == ["fresh"]


class WithoutMixinTests(_LeftoverMessages, SimpleTestCase):
    """Control: without the mixin the leftovers are still there, so the test above
    really measures the mixin."""

    def test_leftovers_remain_without_the_mixin(self):
        assert len(django_textlink.outbox) == 1
        assert tag_updates == [(PHONE, "old")]


# -- ConsoleBackend -----------------------------------------------------------------------


def test_console_prints_sms_with_recipient_and_options():
    stream = io.StringIO()
    result = ConsoleBackend(stream=stream).send_sms(
        PHONE, "Your order shipped", sim_card_id=2, custom_id="order-9"
    )

    out = stream.getvalue()
    assert isinstance(result, SendResult)
    assert "Your order shipped" in out
    assert f"To: {PHONE}" in out
    assert "SIM card: 2" in out
    assert "Custom id: order-9" in out
    assert "not sent" in out
    assert django_textlink.outbox == []


def test_console_prints_to_stdout_by_default(capsys):
    ConsoleBackend().send_sms(PHONE, "to the terminal")
    captured = capsys.readouterr()
    assert "to the terminal" in captured.out
    assert PHONE in captured.out


def test_console_prints_codes_that_verify():
    stream = io.StringIO()
    backend = ConsoleBackend(stream=stream)
    backend.send_code(
        PHONE, service_name="Acme", expiration_time=300_000, source_country="rs", sim_card_id=1
    )

    out = stream.getvalue()
    assert "Verification code" in out
    assert f"To: {PHONE}" in out
    assert "Service: Acme" in out
    assert "Expires in: 300s" in out
    assert "Source country: RS" in out
    # Read the code off the console, as a developer would.
    [code] = re.findall(r"verification code is (\d{6})", out)
    assert backend.verify_code(PHONE, code)
    assert not backend.verify_code(PHONE, code)


def test_console_wrong_code_is_falsy():
    backend = ConsoleBackend(stream=io.StringIO())
    code = backend.send_code(PHONE).code
    assert not backend.verify_code(PHONE, other_code(code))


def test_console_prints_tag_updates():
    stream = io.StringIO()
    result = ConsoleBackend(stream=stream).update_contact_tag(PHONE, "vip")
    assert isinstance(result, TagResult)
    assert PHONE in stream.getvalue()
    assert "'vip'" in stream.getvalue()
    assert tag_updates == []


def test_console_invalid_input_raises_and_prints_nothing():
    stream = io.StringIO()
    backend = ConsoleBackend(stream=stream)
    with pytest.raises(ValueError, match="text"):
        backend.send_sms(PHONE, "")
    with pytest.raises(ValueError, match=r"E\.164"):
        backend.send_code("0601234567")
    assert stream.getvalue() == ""


# -- TextLinkBackend (HTTP) ---------------------------------------------------------------


def test_http_backend_send_sms_posts_to_textlink(api):
    api.post(
        f"{API}/send-sms",
        json={"ok": True, "queued": True},
        match=[
            matchers.json_params_matcher(
                {"phone_number": PHONE, "text": "Hi", "sim_card_id": 4, "custom_id": "m-1"}
            ),
            matchers.header_matcher({"Authorization": f"Bearer {TEST_KEY}"}),
        ],
    )
    result = TextLinkBackend().send_sms(PHONE, "Hi", sim_card_id=4, custom_id="m-1")
    assert isinstance(result, SendResult)
    assert result.queued is True


def test_http_backend_send_code_and_verify_code(api):
    api.post(
        f"{API}/send-code",
        json={"ok": True, "code": 123456},
        match=[
            matchers.json_params_matcher(
                {"phone_number": PHONE, "service_name": "Acme", "expiration_time": 60_000}
            )
        ],
    )
    api.post(
        f"{API}/verify-code",
        json={"ok": True},
        match=[matchers.json_params_matcher({"phone_number": PHONE, "code": "123456"})],
    )
    api.post(
        f"{API}/verify-code",
        json={"ok": False, "message": "Invalid code"},
        match=[matchers.json_params_matcher({"phone_number": PHONE, "code": "000000"})],
    )
    backend = get_backend()

    assert backend.send_code(PHONE, service_name="Acme", expiration_time=60_000).code == "123456"
    assert backend.verify_code(PHONE, "123456")
    wrong = backend.verify_code(PHONE, "000000")
    assert not wrong
    assert wrong.message == "Invalid code"


def test_http_backend_update_contact_tag(api):
    api.post(
        f"{API}/update-contect-tag",
        json={"ok": True},
        match=[matchers.json_params_matcher({"phone_number": PHONE, "tag": "vip"})],
    )
    assert isinstance(TextLinkBackend().update_contact_tag(PHONE, "vip"), TagResult)


def test_http_backend_raises_textlink_errors(api):
    api.post(f"{API}/send-sms", json={"ok": False, "message": "Not enough credits"})
    with pytest.raises(TextLinkAPIError) as excinfo:
        TextLinkBackend().send_sms(PHONE, "Hi")
    assert excinfo.value.message == "Not enough credits"


def test_http_backend_validates_input_before_any_request(api):
    with pytest.raises(ValueError, match=r"E\.164"):
        TextLinkBackend().send_sms("0601234567", "Hi")
    assert len(api.calls) == 0


def test_http_backends_share_one_client_per_configuration():
    first, second = TextLinkBackend(), get_backend()
    assert isinstance(first.client, TextLinkClient)
    assert first.client is second.client
    assert first.client.base_url == API


def test_http_backend_client_follows_base_url_setting(settings):
    before = TextLinkBackend().client
    settings.TEXTLINK = {**settings.TEXTLINK, "BASE_URL": "https://elsewhere.test/api/"}
    after = TextLinkBackend().client
    assert after is not before
    assert after.base_url == "https://elsewhere.test/api"


def test_http_backend_timeout_setting_reaches_the_client(settings):
    settings.TEXTLINK = {**settings.TEXTLINK, "TIMEOUT": (1, 7)}
    assert TextLinkBackend().client.timeout == (1.0, 7.0)


def test_changing_the_key_gives_a_new_client_and_closes_the_old(api):
    from django.conf import settings

    old = TextLinkBackend().client
    # Give the old client a pooled connection to observe its closing.
    adapter = old.session.get_adapter(API)
    adapter.poolmanager.connection_from_url(API)
    assert len(adapter.poolmanager.pools) == 1

    api.post(
        f"{API}/send-sms",
        json={"ok": True},
        match=[matchers.header_matcher({"Authorization": "Bearer rotated-key"})],
    )
    with override_settings(TEXTLINK={**settings.TEXTLINK, "API_KEY": "rotated-key"}):
        assert len(adapter.poolmanager.pools) == 0  # closed by the setting_changed hook
        backend = TextLinkBackend()
        assert backend.client is not old
        backend.send_sms(PHONE, "with the new key")

    api.post(
        f"{API}/send-sms",
        json={"ok": True},
        match=[matchers.header_matcher({"Authorization": f"Bearer {TEST_KEY}"})],
    )
    TextLinkBackend().send_sms(PHONE, "with the original key again")


def test_key_changed_in_place_still_gets_its_own_client(api, settings):
    """Even without a setting_changed signal (a dict edited in place), a client is never
    reused for another API key."""
    settings.TEXTLINK = {**settings.TEXTLINK}
    old = TextLinkBackend().client
    settings.TEXTLINK["API_KEY"] = "edited-in-place"
    api.post(
        f"{API}/send-sms",
        json={"ok": True},
        match=[matchers.header_matcher({"Authorization": "Bearer edited-in-place"})],
    )
    backend = TextLinkBackend()
    assert backend.client is not old
    backend.send_sms(PHONE, "Hi")


@pytest.mark.parametrize("textlink", [{"BASE_URL": API}, {"BASE_URL": API, "API_KEY": ""}])
def test_missing_api_key_raises_at_send_time_naming_it(api, settings, textlink):
    settings.TEXTLINK = textlink
    backend = get_backend()  # creating the backend does not need the key
    assert type(backend) is TextLinkBackend

    with pytest.raises(TextLinkConfigurationError, match=r'TEXTLINK\["API_KEY"\]'):
        backend.send_sms(PHONE, "Hi")
    assert len(api.calls) == 0


def test_http_backend_with_its_own_client(api):
    sub_api = "https://sub.textlinksms.test/api"
    api.post(
        f"{sub_api}/send-sms",
        json={"ok": True},
        match=[matchers.header_matcher({"Authorization": "Bearer sub-account-key"})],
    )
    with TextLinkClient(api_key="sub-account-key", base_url=sub_api) as client:
        backend = TextLinkBackend(client=client)
        assert backend.client is client
        backend.send_sms(PHONE, "from the sub-account")
    assert api.calls[0].request.url == f"{sub_api}/send-sms"


def test_http_backend_with_its_own_client_needs_no_api_key_setting(api, settings):
    settings.TEXTLINK = {"BASE_URL": API}
    api.post(f"{API}/send-sms", json={"ok": True})
    client = TextLinkClient(api_key="explicit-key", base_url=API)
    get_backend(client=client).send_sms(PHONE, "Hi")
    assert api.calls[0].request.headers["Authorization"] == "Bearer explicit-key"
    client.close()
