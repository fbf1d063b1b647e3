"""``django_textlink.conf``: one parser per option, parsed values cached until the settings
change, defaults, and clear errors."""

from __future__ import annotations

import inspect
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_textlink.client import TextLinkClient
from django_textlink.conf import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    DEFAULTS,
    OPTIONS,
    TextLinkSettings,
    conf,
    setting_name,
)
from django_textlink.exceptions import TextLinkConfigurationError, TextLinkError
from tests.support.options import BAD_VALUES
from tests.support.paths import ROOT


def use(settings, **options):
    """Replace ``settings.TEXTLINK`` with exactly ``options``."""
    settings.TEXTLINK = dict(options)


# -- settings changes take effect at once ---------------------------------------------------


def test_settings_fixture_changes_take_effect_immediately(settings):
    use(settings, BASE_URL="https://first.test/api")
    assert conf.BASE_URL == "https://first.test/api"

    use(settings, BASE_URL="https://second.test/api")
    assert conf.BASE_URL == "https://second.test/api"


def test_override_settings_takes_effect_and_is_undone():
    assert conf.API_KEY == "tl-test-key-0123456789abcdef"
    with override_settings(TEXTLINK={"API_KEY": "other-key", "MAX_RETRIES": 0}):
        assert conf.API_KEY == "other-key"
        assert conf.MAX_RETRIES == 0
    assert conf.API_KEY == "tl-test-key-0123456789abcdef"
    assert conf.MAX_RETRIES == 2


# -- defaults -----------------------------------------------------------------------------


def test_defaults_when_textlink_is_empty(settings):
    use(settings)
    assert conf.BASE_URL == DEFAULT_BASE_URL == "https://textlinksms.com/api"
    assert conf.BACKEND == "django_textlink.backends.textlink.TextLinkBackend"
    assert conf.TIMEOUT == DEFAULT_TIMEOUT == (3.05, 10.0)
    assert conf.MAX_RETRIES == 2
    assert conf.POOL_SIZE == 50
    assert conf.API_KEY is None
    assert conf.WEBHOOK_SECRETS == []
    assert conf.DEFAULT_REGION is None


def test_default_timeout_is_finite():
    connect, read = DEFAULT_TIMEOUT
    assert math.isfinite(connect)
    assert math.isfinite(read)
    assert 0 < connect < read


def test_defaults_when_textlink_is_not_defined_at_all(settings):
    del settings.TEXTLINK
    assert conf.BASE_URL == "https://textlinksms.com/api"
    assert conf.BACKEND == "django_textlink.backends.textlink.TextLinkBackend"
    assert conf.TIMEOUT == (3.05, 10.0)
    assert conf.API_KEY is None


def test_given_values_override_defaults(settings):
    use(
        settings,
        API_KEY="k",
        BASE_URL="http://127.0.0.1:8000/api",
        BACKEND="django_textlink.backends.console.ConsoleBackend",
        TIMEOUT=5,
        MAX_RETRIES=1,
        POOL_SIZE=3,
        DEFAULT_REGION="rs",
    )
    assert conf.API_KEY == "k"
    assert conf.BASE_URL == "http://127.0.0.1:8000/api"
    assert conf.BACKEND == "django_textlink.backends.console.ConsoleBackend"
    assert conf.TIMEOUT == 5.0
    assert conf.MAX_RETRIES == 1
    assert conf.POOL_SIZE == 3
    assert conf.DEFAULT_REGION == "RS"


@pytest.mark.parametrize("timeout", [(2, 20), [2, 20]])
def test_timeout_pair_is_accepted_as_connect_read_tuple(settings, timeout):
    use(settings, TIMEOUT=timeout)
    assert conf.TIMEOUT == (2.0, 20.0)


def test_base_url_trailing_slash_is_stripped(settings):
    use(settings, BASE_URL="https://textlinksms.test/api/")
    assert conf.BASE_URL == "https://textlinksms.test/api"


# -- require ------------------------------------------------------------------------------


def test_require_returns_the_value_when_set():
    assert conf.require("API_KEY") == "tl-test-key-0123456789abcdef"


@pytest.mark.parametrize("textlink", [{}, {"API_KEY": ""}, {"API_KEY": None}])
def test_require_missing_key_raises_configuration_error_naming_it(settings, textlink):
    settings.TEXTLINK = textlink
    with pytest.raises(TextLinkConfigurationError) as excinfo:
        conf.require("API_KEY", "TextLinkBackend needs your TextLink API key.")
    err = excinfo.value
    assert isinstance(err, ImproperlyConfigured)
    assert isinstance(err, TextLinkError)
    assert 'TEXTLINK["API_KEY"]' in str(err)
    assert "TextLinkBackend needs your TextLink API key." in str(err)


def test_configuration_error_can_be_caught_as_improperly_configured(settings):
    use(settings)
    with pytest.raises(ImproperlyConfigured):
        conf.require("API_KEY")


# -- malformed values ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["not a dict", ["API_KEY", "x"], 42])
def test_textlink_not_a_dict_is_a_clear_error(settings, value):
    settings.TEXTLINK = value
    with pytest.raises(TextLinkConfigurationError, match=r"settings\.TEXTLINK must be a dict"):
        conf.get("API_KEY")
    with pytest.raises(TextLinkConfigurationError, match=type(value).__name__):
        conf.BASE_URL  # noqa: B018


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TIMEOUT", None),
        ("TIMEOUT", 0),
        ("TIMEOUT", -1),
        ("TIMEOUT", float("inf")),
        ("TIMEOUT", float("nan")),
        ("TIMEOUT", "10"),
        ("TIMEOUT", True),
        ("TIMEOUT", (1, 2, 3)),
        ("TIMEOUT", (1,)),
        ("TIMEOUT", (1, None)),
        ("TIMEOUT", (0, 10)),
        ("MAX_RETRIES", 3),
        ("MAX_RETRIES", -1),
        ("MAX_RETRIES", True),
        ("MAX_RETRIES", 1.0),
        ("MAX_RETRIES", "2"),
        ("POOL_SIZE", 0),
        ("POOL_SIZE", -5),
        ("POOL_SIZE", 2.5),
        ("POOL_SIZE", True),
        ("RETRY_BACKOFF", -0.1),
        ("RETRY_BACKOFF", "1"),
        ("DEFAULT_REGION", "USA"),
        ("DEFAULT_REGION", "1"),
        ("DEFAULT_REGION", "U1"),
        ("DEFAULT_REGION", 44),
        ("API_KEY", 12345),
        ("BASE_URL", "ftp://textlinksms.com/api"),
        ("BASE_URL", "not a url"),
        ("BASE_URL", "https://"),
        ("BASE_URL", "http://host:99999"),
        ("BASE_URL", "https://textlinksms.com/api?x=1"),
        ("BACKEND", ""),
        ("BACKEND", 42),
    ],
)
def test_malformed_option_raises_error_naming_it(settings, key, value):
    use(settings, **{key: value})
    with pytest.raises(TextLinkConfigurationError) as excinfo:
        getattr(conf, key)
    assert f'TEXTLINK["{key}"]' in str(excinfo.value)


@pytest.mark.parametrize("value", [["good", ""], [7], 7, ["good", None], {"a": "b"}])
def test_malformed_webhook_secret_raises_error_naming_it(settings, value):
    use(settings, WEBHOOK_SECRET=value)
    with pytest.raises(TextLinkConfigurationError, match=r'TEXTLINK\["WEBHOOK_SECRET"\]'):
        conf.WEBHOOK_SECRETS  # noqa: B018


def test_zero_retry_backoff_is_allowed(settings):
    use(settings, RETRY_BACKOFF=0)
    assert conf.RETRY_BACKOFF == 0.0


# -- webhook secrets ----------------------------------------------------------------------


def test_webhook_secret_string_gives_a_one_item_list(settings):
    use(settings, WEBHOOK_SECRET="s3cret")
    assert conf.WEBHOOK_SECRETS == ["s3cret"]


@pytest.mark.parametrize("value", [["new", "old"], ("new", "old")])
def test_webhook_secret_list_gives_all_secrets_in_order(settings, value):
    use(settings, WEBHOOK_SECRET=value)
    secrets = conf.WEBHOOK_SECRETS
    assert secrets == ["new", "old"]
    assert isinstance(secrets, list)


@pytest.mark.parametrize("value", [None, ""])
def test_unset_webhook_secret_gives_no_secrets(settings, value):
    use(settings, WEBHOOK_SECRET=value)
    assert conf.WEBHOOK_SECRETS == []


# -- one parser per option --------------------------------------------------------------------


def test_every_option_has_one_parser_in_the_order_of_defaults():
    assert list(OPTIONS) == list(DEFAULTS)
    for key, option in OPTIONS.items():
        assert option.key == key


def test_every_option_has_a_bad_value_here():
    assert set(BAD_VALUES) == set(DEFAULTS)


def test_every_default_is_accepted_by_its_parser(settings):
    use(settings)
    for key in DEFAULTS:
        conf.parsed(key)


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_every_option_refuses_its_bad_value_naming_it(settings, key):
    use(settings, **{key: BAD_VALUES[key]})
    with pytest.raises(TextLinkConfigurationError, match=re.escape(setting_name(key))):
        conf.parsed(key)


def test_webhook_processing_typo_names_the_allowed_values(settings):
    use(settings, WEBHOOK_PROCESSING="tasks")
    with pytest.raises(TextLinkConfigurationError) as excinfo:
        conf.WEBHOOK_PROCESSING  # noqa: B018
    assert str(excinfo.value) == (
        "settings.TEXTLINK[\"WEBHOOK_PROCESSING\"] must be 'inline' or 'task', got 'tasks'."
    )


def test_the_api_key_is_not_shown_when_malformed(settings):
    use(settings, API_KEY=b"tl-secret-bytes")
    with pytest.raises(TextLinkConfigurationError) as excinfo:
        conf.API_KEY  # noqa: B018
    assert "tl-secret-bytes" not in str(excinfo.value)
    assert "bytes" in str(excinfo.value)


def test_task_backend_must_name_a_configured_task_backend(settings):
    from tests.support.inline_tasks import tasks_setting

    settings.TASKS = tasks_setting("dummy.DummyBackend")
    use(settings, TASK_BACKEND="default")
    assert conf.TASK_BACKEND == "default"
    use(settings, TASK_BACKEND="textlink")
    with pytest.raises(TextLinkConfigurationError, match=r"settings\.TASKS.*'default'"):
        conf.TASK_BACKEND  # noqa: B018
    settings.TASKS = {
        **tasks_setting("dummy.DummyBackend"),
        **tasks_setting("dummy.DummyBackend", alias="textlink"),
    }
    assert conf.TASK_BACKEND == "textlink"
    settings.TASKS = tasks_setting("dummy.DummyBackend")  # cached, but TASKS changed
    with pytest.raises(TextLinkConfigurationError, match=r"got 'textlink'"):
        conf.TASK_BACKEND  # noqa: B018


def test_without_a_tasks_setting_only_the_default_task_backend_exists():
    """Django 5.2's backport without settings.TASKS (Django 6 always has one: its default
    in global_settings, so a test cannot take it away there)."""
    from django_textlink.conf import _parse_task_backend

    assert _parse_task_backend("default", backends=None) == "default"
    with pytest.raises(ValueError, match=r"settings\.TASKS \(configured: 'default'\)"):
        _parse_task_backend("textlink", backends=None)


def test_bulk_rate_limit_is_a_rate_not_seconds(settings):
    use(settings, BULK_RATE_LIMIT=-5)
    with pytest.raises(TextLinkConfigurationError, match="messages per second"):
        conf.BULK_RATE_LIMIT  # noqa: B018
    use(settings, BULK_RATE_LIMIT=None)
    assert conf.BULK_RATE_LIMIT is None


# -- the cache ----------------------------------------------------------------------------


@pytest.fixture
def parse_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """The raw values BULK_CHUNK_SIZE's parser is called with, from an empty cache."""
    calls: list[object] = []
    option = TextLinkSettings.BULK_CHUNK_SIZE
    parse = option.parse

    def counting_parse(value: object) -> int:
        calls.append(value)
        return parse(value)

    monkeypatch.setattr(option, "parse", counting_parse)
    conf.clear_cache()
    yield calls
    conf.clear_cache()  # forget what the counting parser returned


def test_a_value_is_parsed_once_then_cached(parse_calls):
    assert conf.BULK_CHUNK_SIZE == 1000
    assert conf.BULK_CHUNK_SIZE == 1000
    assert conf.parsed("BULK_CHUNK_SIZE") == 1000
    assert parse_calls == [1000]


def test_override_settings_takes_effect_at_once_and_is_undone(parse_calls):
    assert conf.BULK_CHUNK_SIZE == 1000
    with override_settings(TEXTLINK={"BULK_CHUNK_SIZE": 7}):
        assert conf.BULK_CHUNK_SIZE == 7
        assert conf.BULK_CHUNK_SIZE == 7
    assert conf.BULK_CHUNK_SIZE == 1000
    assert parse_calls == [1000, 7, 1000]


def test_setting_changed_empties_the_cache(parse_calls):
    """Even when the raw value is the very same object (here the default), a change of
    TEXTLINK parses again: the cache is emptied by the signal, not only bypassed."""
    assert conf.BULK_CHUNK_SIZE == 1000
    with override_settings(TEXTLINK={}):
        assert conf.BULK_CHUNK_SIZE == 1000
    assert parse_calls == [1000, 1000]


def test_other_settings_changes_keep_the_cache(parse_calls):
    assert conf.BULK_CHUNK_SIZE == 1000
    with override_settings(USE_TZ=False):
        assert conf.BULK_CHUNK_SIZE == 1000
    assert parse_calls == [1000]


def test_the_settings_fixture_takes_effect_at_once(settings, parse_calls):
    use(settings, BULK_CHUNK_SIZE=3)
    assert conf.BULK_CHUNK_SIZE == 3
    use(settings, BULK_CHUNK_SIZE=4)
    assert conf.BULK_CHUNK_SIZE == 4
    assert parse_calls == [3, 4]


def test_a_malformed_value_raises_on_every_access(settings, parse_calls):
    use(settings, BULK_CHUNK_SIZE=0)
    for _ in range(3):
        with pytest.raises(TextLinkConfigurationError, match=r'TEXTLINK\["BULK_CHUNK_SIZE"\]'):
            conf.BULK_CHUNK_SIZE  # noqa: B018
    assert parse_calls == [0, 0, 0]  # nothing cached
    use(settings, BULK_CHUNK_SIZE=5)
    assert conf.BULK_CHUNK_SIZE == 5


def test_an_option_replaced_in_place_is_parsed_again(settings):
    """``settings.TEXTLINK["API_KEY"] = ...`` sends no signal, yet is seen at once (the
    backend relies on it never to reuse a client for another key)."""
    use(settings, API_KEY="first-key")
    assert conf.API_KEY == "first-key"
    settings.TEXTLINK["API_KEY"] = "second-key"
    assert conf.API_KEY == "second-key"


def test_the_cache_option_follows_caches(settings):
    locmem = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    settings.CACHES = {"default": locmem, "limits": locmem}
    use(settings, CACHE="limits")
    assert conf.CACHE == "limits"  # cached
    settings.CACHES = {"default": locmem}
    with pytest.raises(TextLinkConfigurationError, match=r'TEXTLINK\["CACHE"\]'):
        conf.CACHE  # noqa: B018


def test_cached_webhook_secrets_cannot_be_changed_by_a_caller(settings):
    use(settings, WEBHOOK_SECRET=["new", "old"])
    conf.WEBHOOK_SECRETS.append("injected")
    assert conf.WEBHOOK_SECRETS == ["new", "old"]


# -- the client: the same defaults and the same parsers -------------------------------------

CLIENT_ARGUMENTS = {
    "timeout": "TIMEOUT",
    "max_retries": "MAX_RETRIES",
    "retry_backoff": "RETRY_BACKOFF",
    "pool_size": "POOL_SIZE",
}


def test_client_defaults_are_the_options_defaults():
    parameters = inspect.signature(TextLinkClient).parameters
    for argument, key in CLIENT_ARGUMENTS.items():
        assert parameters[argument].default == DEFAULTS[key], argument
    with TextLinkClient(api_key="k") as client:
        assert client.pool_size == DEFAULTS["POOL_SIZE"] == 50
        assert client.timeout == DEFAULTS["TIMEOUT"]
        assert client.max_retries == DEFAULTS["MAX_RETRIES"]
        assert client.retry_backoff == DEFAULTS["RETRY_BACKOFF"]


@pytest.mark.parametrize(
    ("argument", "value", "error"),
    [
        ("pool_size", 0, ValueError),
        ("pool_size", True, ValueError),
        ("max_retries", 3, ValueError),
        ("retry_backoff", -1, ValueError),
        ("retry_backoff", math.nan, ValueError),
        ("timeout", (1, 2, 3), TextLinkConfigurationError),
        ("timeout", None, TextLinkConfigurationError),
    ],
)
def test_client_and_settings_refuse_the_same_values_in_the_same_words(
    settings, argument, value, error
):
    key = CLIENT_ARGUMENTS[argument]
    with pytest.raises(error) as client_error:
        TextLinkClient(api_key="k", **{argument: value})
    use(settings, **{key: value})
    with pytest.raises(TextLinkConfigurationError) as settings_error:
        conf.parsed(key)
    problem = str(settings_error.value).removeprefix(setting_name(key))
    assert problem.startswith(" must be ")
    subject = "The TextLink timeout" if argument == "timeout" else argument
    assert str(client_error.value) == subject + problem


def test_client_and_its_parsers_need_no_django_settings():
    """``TextLinkClient`` is used outside Django: importing, constructing and refusing
    bad arguments must not touch settings."""
    script = """
from django.conf import settings
from django_textlink.client import TextLinkClient
client = TextLinkClient(api_key="k", pool_size=3, timeout=(1, 2), max_retries=0)
assert (client.pool_size, client.timeout, client.max_retries) == (3, (1.0, 2.0), 0)
assert TextLinkClient(api_key="k").pool_size == 50
try:
    TextLinkClient(api_key="k", pool_size=0)
except ValueError as err:
    print(err)
assert not settings.configured
"""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pool_size must be a whole number >= 1, got 0."
