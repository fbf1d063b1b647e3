"""``django_textlink.conf``: settings read at call time, defaults, and clear errors."""

from __future__ import annotations

import math

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_textlink.conf import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, conf
from django_textlink.exceptions import TextLinkConfigurationError, TextLinkError


def use(settings, **options):
    """Replace ``settings.TEXTLINK`` with exactly ``options``."""
    settings.TEXTLINK = dict(options)


# -- read at call time --------------------------------------------------------------------


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
