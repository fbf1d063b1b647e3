"""System checks (``manage.py check`` / ``check --deploy``), asserted by id."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.checks import Error, Warning, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_textlink.backends.textlink import TextLinkBackend
from django_textlink.conf import DEFAULTS, setting_name
from tests.support.options import BAD_VALUES

HTTP_BACKEND = "django_textlink.backends.textlink.TextLinkBackend"
CONSOLE_BACKEND = "django_textlink.backends.console.ConsoleBackend"
LOCMEM_BACKEND = "django_textlink.backends.locmem.LocMemBackend"

GOOD = {
    "API_KEY": "tl-test-key",
    "BASE_URL": "https://textlinksms.test/api",
    "BACKEND": HTTP_BACKEND,
    "ALLOWED_COUNTRIES": ["US", "RS"],
    # The webhook URLs are routed in tests/urls.py: without a secret, E006 (see below).
    "WEBHOOK_SECRET": "whsec-checks-0123456789",
}

#: W005 (the cache store on LocMem) is asserted on its own below.
LOCMEM_COUNTERS = "textlink.W005"


class MyHTTPBackend(TextLinkBackend):
    """A site's own subclass of the HTTP backend (importable by dotted path)."""


def use(settings, **options):
    settings.TEXTLINK = {**GOOD, **options}


def textlink_messages(*, deploy=False, ignore=(LOCMEM_COUNTERS,)):
    """The django-textlink check messages, by id."""
    # databases=[]: Django 6.1 would also run the database checks, which need a connection.
    messages = run_checks(include_deployment_checks=deploy, databases=[])
    return {
        m.id: m for m in messages if m.id and m.id.startswith("textlink.") and m.id not in ignore
    }


def test_test_settings_pass_all_checks():
    assert textlink_messages() == {}
    # The test settings allow every country: fine for tests only. The limits are in the
    # database store (the default): no warning about their cache.
    assert set(textlink_messages(deploy=True, ignore=())) == {"textlink.W004"}


def test_good_settings_pass_all_checks(settings):
    use(settings)
    assert textlink_messages() == {}
    assert textlink_messages(deploy=True) == {}


# -- verification: W003, E005, W004-W006 ---------------------------------------------------


@pytest.mark.parametrize(("lifetime", "warned"), [(600, False), (601, True), (3600, True)])
def test_w003_code_lifetime_over_ten_minutes(settings, lifetime, warned):
    use(settings, CODE_LIFETIME=lifetime)
    messages = textlink_messages()
    assert ("textlink.W003" in messages) is warned
    if warned:
        assert str(lifetime) in messages["textlink.W003"].msg


def test_w004_no_country_allow_list_is_a_deploy_warning(settings):
    use(settings, ALLOWED_COUNTRIES=None)
    assert "textlink.W004" not in textlink_messages()
    messages = textlink_messages(deploy=True)
    assert set(messages) == {"textlink.W004"}
    assert 'TEXTLINK["ALLOWED_COUNTRIES"]' in messages["textlink.W004"].msg


def test_w005_cache_store_on_locmem_is_a_deploy_warning(settings):
    use(settings, LIMIT_STORE="cache")
    assert "textlink.W005" not in textlink_messages(ignore=())
    messages = textlink_messages(deploy=True, ignore=())
    assert set(messages) == {"textlink.W005"}
    assert 'TEXTLINK["LIMIT_STORE"]' in messages["textlink.W005"].hint


def test_the_database_store_needs_no_cache_warning(settings):
    use(settings)  # LIMIT_STORE defaults to "database"; the cache is LocMem
    assert textlink_messages(deploy=True, ignore=()) == {}
    use(settings, LIMIT_STORE="database", CACHE="default")
    assert textlink_messages(deploy=True, ignore=()) == {}


def test_limit_store_must_be_database_or_cache(settings):
    use(settings, LIMIT_STORE="redis")
    messages = textlink_messages()
    assert set(messages) == {"textlink.E004"}
    assert 'TEXTLINK["LIMIT_STORE"]' in messages["textlink.E004"].msg


def _counter_cache(settings, tmp_path, backend):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "limits": {"BACKEND": backend, "LOCATION": str(tmp_path)},
    }
    use(settings, LIMIT_STORE="cache", CACHE="limits")


def test_w006_file_cache_counters_are_a_deploy_warning(settings, tmp_path):
    _counter_cache(settings, tmp_path, "django.core.cache.backends.filebased.FileBasedCache")
    assert textlink_messages(ignore=()) == {}
    assert set(textlink_messages(deploy=True, ignore=())) == {"textlink.W006"}


class PyMemcacheCache(LocMemCache):
    """Named as Django's Memcached backend, which needs pymemcache (the check reads the
    backend's name only)."""


def test_w008_cache_store_on_memcached_is_a_deploy_warning(settings, tmp_path):
    _counter_cache(settings, tmp_path, "tests.test_checks.PyMemcacheCache")
    assert set(textlink_messages(deploy=True, ignore=())) == {"textlink.W008"}


def test_e005_dummy_cache_counters_are_an_error(settings, tmp_path):
    _counter_cache(settings, tmp_path, "django.core.cache.backends.dummy.DummyCache")
    messages = textlink_messages(ignore=())
    assert set(messages) == {"textlink.E005"}
    assert isinstance(messages["textlink.E005"], Error)


def test_a_dummy_cache_is_harmless_with_the_database_store(settings, tmp_path):
    _counter_cache(settings, tmp_path, "django.core.cache.backends.dummy.DummyCache")
    use(settings, CACHE="limits")
    assert textlink_messages(ignore=()) == {}


# -- W007: behind a proxy without TRUSTED_PROXIES ---------------------------------------------


@pytest.mark.parametrize(
    "proxy_setting",
    [
        {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")},
        {"USE_X_FORWARDED_HOST": True},
        {"USE_X_FORWARDED_PORT": True},
    ],
)
def test_w007_behind_a_proxy_without_trusted_proxies(settings, proxy_setting):
    use(settings)
    for name, value in proxy_setting.items():
        setattr(settings, name, value)
    messages = textlink_messages(deploy=True)
    assert set(messages) == {"textlink.W007"}
    assert "unix" in messages["textlink.W007"].hint
    assert "X-Forwarded-For" in messages["textlink.W007"].hint
    for trusted in (["10.0.0.0/8"], ["unix"]):
        use(settings, TRUSTED_PROXIES=trusted)
        assert textlink_messages(deploy=True) == {}


def test_no_w007_without_signs_of_a_proxy(settings):
    use(settings)
    assert "textlink.W007" not in textlink_messages(deploy=True)


def test_cache_option_must_name_a_configured_cache(settings):
    use(settings, CACHE="nope")
    messages = textlink_messages()
    assert set(messages) == {"textlink.E004"}
    assert 'TEXTLINK["CACHE"]' in messages["textlink.E004"].msg


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("CODE_LIFETIME", 0),
        ("RESEND_COOLDOWN", -1),
        ("SENDS_PER_PHONE_PER_HOUR", "5"),
        ("ALLOWED_COUNTRIES", "US"),
        ("ALLOWED_COUNTRIES", ["USA"]),
        ("SOURCE_COUNTRY", "1"),
        ("TRUSTED_PROXIES", ["not-an-ip"]),
        ("SIM_CARD_ID", -3),
        ("SERVICE_NAME", 5),
        ("TOKEN_MAX_AGE", 0),
        ("DAILY_SEND_BUDGET", True),
        ("CHECKS_PER_IP_PER_HOUR", 0),
        ("TRUSTED_PROXIES", "unix-socket"),
        ("TRUSTED_PROXIES", 10),
        ("LIMIT_STORE", None),
        ("ALLOWED_ORIGINS", ["app.example.com"]),
        ("ALLOWED_ORIGINS", ["https://app.example.com/path"]),
        ("ALLOWED_ORIGINS", ["https://*.com"]),
    ],
)
def test_e004_malformed_verification_options(settings, key, value):
    use(settings, **{key: value})
    messages = textlink_messages()
    assert "textlink.E004" in messages
    assert f'TEXTLINK["{key}"]' in messages["textlink.E004"].msg


@pytest.mark.django_db  # Django 6.1's check command also runs database checks
def test_manage_py_check_passes_with_test_settings():
    call_command("check", verbosity=0)


@pytest.mark.django_db  # Django 6.1's check command also runs database checks
def test_manage_py_check_fails_on_a_textlink_error(settings):
    use(settings, API_KEY=None)
    with pytest.raises(SystemCheckError, match=r"textlink\.E001"):
        call_command("check", verbosity=0)


# -- E001: HTTP backend without an API key ------------------------------------------------


@pytest.mark.parametrize("api_key", [None, ""])
def test_e001_http_backend_without_api_key(settings, api_key):
    use(settings, API_KEY=api_key)
    messages = textlink_messages()
    assert set(messages) == {"textlink.E001"}
    error = messages["textlink.E001"]
    assert isinstance(error, Error)
    assert 'TEXTLINK["API_KEY"]' in error.msg


def test_e001_when_api_key_key_is_absent(settings):
    settings.TEXTLINK = {"BASE_URL": "https://textlinksms.test/api"}  # default backend is HTTP
    assert "textlink.E001" in textlink_messages()


def test_e001_for_a_subclass_of_the_http_backend(settings):
    use(settings, API_KEY=None, BACKEND="tests.test_checks.MyHTTPBackend")
    assert "textlink.E001" in textlink_messages()


def test_no_e001_when_api_key_is_set(settings):
    use(settings, API_KEY="set")
    assert "textlink.E001" not in textlink_messages()


@pytest.mark.parametrize("backend", [CONSOLE_BACKEND, LOCMEM_BACKEND])
def test_no_e001_for_simulated_backends(settings, backend):
    use(settings, API_KEY=None, BACKEND=backend)
    assert textlink_messages() == {}


def test_api_key_of_the_wrong_type_is_e004_not_a_crash(settings):
    use(settings, API_KEY=12345)
    messages = textlink_messages()
    assert set(messages) == {"textlink.E004"}
    assert 'TEXTLINK["API_KEY"]' in messages["textlink.E004"].msg


# -- E002: BASE_URL -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    ["ftp://x", "not a url", "https://", "http://host:99999", "", 42, "https://x.test/api?a=1"],
)
def test_e002_bad_base_url(settings, base_url):
    use(settings, BASE_URL=base_url)
    messages = textlink_messages()
    assert set(messages) == {"textlink.E002"}
    assert 'TEXTLINK["BASE_URL"]' in messages["textlink.E002"].msg


@pytest.mark.parametrize(
    "base_url",
    ["https://textlinksms.com/api", "https://textlinksms.com/api/", "http://127.0.0.1:8000/api"],
)
def test_no_e002_for_good_base_urls(settings, base_url):
    use(settings, BASE_URL=base_url)
    assert textlink_messages() == {}


# -- E003: BACKEND ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend",
    [
        "nope.Nope",
        "nope",
        "django_textlink.backends.textlink.NoSuchBackend",
        "django.contrib.auth.models.User",
        "django_textlink.conf.conf",  # an object, not a class
        "",
        None,
    ],
)
def test_e003_bad_backend(settings, backend):
    use(settings, BACKEND=backend)
    messages = textlink_messages()
    assert set(messages) == {"textlink.E003"}
    assert 'TEXTLINK["BACKEND"]' in messages["textlink.E003"].msg


def test_bad_backend_does_not_break_deploy_checks(settings):
    use(settings, BACKEND="nope.Nope")
    messages = textlink_messages(deploy=True)
    assert set(messages) == {"textlink.E003"}


# -- E004: other malformed options --------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TIMEOUT", None),
        ("TIMEOUT", 0),
        ("TIMEOUT", float("inf")),
        ("TIMEOUT", "10"),
        ("TIMEOUT", (1, 2, 3)),
        ("MAX_RETRIES", 3),
        ("POOL_SIZE", 0),
        ("RETRY_BACKOFF", -1),
        ("DEFAULT_REGION", "USA"),
        ("WEBHOOK_SECRET", ["ok", ""]),
    ],
)
def test_e004_malformed_option(settings, key, value):
    use(settings, **{key: value})
    messages = textlink_messages()
    assert set(messages) == {"textlink.E004"}
    assert f'TEXTLINK["{key}"]' in messages["textlink.E004"].msg


def test_e004_reports_every_malformed_option(settings):
    use(settings, TIMEOUT=0, POOL_SIZE=0)
    messages = [m for m in run_checks(databases=[]) if m.id == "textlink.E004"]
    text = " ".join(m.msg for m in messages)
    assert len(messages) == 2
    assert 'TEXTLINK["TIMEOUT"]' in text
    assert 'TEXTLINK["POOL_SIZE"]' in text


def test_e004_when_textlink_is_not_a_dict(settings):
    settings.TEXTLINK = "https://textlinksms.com/api"
    messages = textlink_messages()
    assert set(messages) == {"textlink.E004"}
    assert "must be a dict" in messages["textlink.E004"].msg


# -- W001 (deploy): simulated backend with DEBUG = False ----------------------------------


@pytest.mark.parametrize(
    ("backend", "name"), [(CONSOLE_BACKEND, "ConsoleBackend"), (LOCMEM_BACKEND, "LocMemBackend")]
)
def test_w001_simulated_backend_in_production(settings, backend, name):
    use(settings, BACKEND=backend)
    settings.DEBUG = False
    messages = textlink_messages(deploy=True)
    assert set(messages) == {"textlink.W001"}
    warning = messages["textlink.W001"]
    assert isinstance(warning, Warning)
    assert name in warning.msg


@pytest.mark.parametrize("backend", [CONSOLE_BACKEND, LOCMEM_BACKEND])
def test_no_w001_when_debug_is_true(settings, backend):
    use(settings, BACKEND=backend)
    settings.DEBUG = True
    assert "textlink.W001" not in textlink_messages(deploy=True)


@pytest.mark.parametrize("backend", [CONSOLE_BACKEND, LOCMEM_BACKEND])
def test_no_w001_outside_deploy_checks(settings, backend):
    use(settings, BACKEND=backend)
    settings.DEBUG = False
    assert "textlink.W001" not in textlink_messages(deploy=False)


def test_no_w001_for_http_backend_in_production(settings):
    use(settings)
    settings.DEBUG = False
    assert "textlink.W001" not in textlink_messages(deploy=True)


# -- W002: plain http to a non-loopback host ----------------------------------------------


@pytest.mark.parametrize(
    "base_url", ["http://textlinksms.com/api", "http://10.0.0.5:8000/api", "http://example.test"]
)
def test_w002_plain_http_to_remote_host(settings, base_url):
    use(settings, BASE_URL=base_url)
    messages = textlink_messages()
    assert set(messages) == {"textlink.W002"}
    assert isinstance(messages["textlink.W002"], Warning)
    assert 'TEXTLINK["BASE_URL"]' in messages["textlink.W002"].msg


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1",
        "http://127.0.0.1:8000/api",
        "http://localhost:8000/api",
        "http://[::1]:8000/api",
        "https://textlinksms.com/api",
    ],
)
def test_no_w002_for_loopback_or_https(settings, base_url):
    use(settings, BASE_URL=base_url)
    assert "textlink.W002" not in textlink_messages()


# -- E006: webhook URLs routed without a WEBHOOK_SECRET ------------------------------------


#: A URLconf that routes no webhook (``settings.ROOT_URLCONF = __name__``).
urlpatterns: list[Any] = []


def without_webhook_secret(settings: Any, **options: Any) -> None:
    settings.TEXTLINK = {
        **{key: value for key, value in GOOD.items() if key != "WEBHOOK_SECRET"},
        **options,
    }


@pytest.mark.parametrize("secret", ["absent", None, "", []])
@pytest.mark.django_db  # Django 6.1's check command also runs database checks
def test_e006_routed_webhooks_without_a_secret_with_debug_off(settings, secret):
    settings.DEBUG = False
    if secret == "absent":
        without_webhook_secret(settings)
    else:
        without_webhook_secret(settings, WEBHOOK_SECRET=secret)

    messages = textlink_messages()

    assert set(messages) == {"textlink.E006"}
    error = messages["textlink.E006"]
    assert isinstance(error, Error)
    assert 'TEXTLINK["WEBHOOK_SECRET"]' in error.msg
    assert "403" in error.msg
    assert error.hint
    # Not only a deploy check: plain `manage.py check` fails on it.
    with pytest.raises(SystemCheckError, match=r"textlink\.E006"):
        call_command("check", verbosity=0)


def test_no_e006_when_debug_is_on(settings):
    settings.DEBUG = True
    without_webhook_secret(settings)
    assert "textlink.E006" not in textlink_messages(deploy=True)


@pytest.mark.parametrize(
    "secret", ["whsec-0123456789", ["whsec-old-0123", "whsec-new-4567"], ("only-one",)]
)
def test_no_e006_when_a_secret_is_set(settings, secret):
    settings.DEBUG = False
    without_webhook_secret(settings, WEBHOOK_SECRET=secret)
    assert textlink_messages() == {}
    assert "textlink.E006" not in textlink_messages(deploy=True)


def test_no_e006_when_the_webhooks_are_not_routed(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    without_webhook_secret(settings)
    assert textlink_messages() == {}


def test_a_malformed_secret_is_e004_not_e006(settings):
    settings.DEBUG = False
    without_webhook_secret(settings, WEBHOOK_SECRET=123)
    messages = textlink_messages()
    assert set(messages) == {"textlink.E004"}
    assert 'TEXTLINK["WEBHOOK_SECRET"]' in messages["textlink.E004"].msg


def test_the_test_settings_have_a_secret_and_no_e006(settings):
    assert settings.DEBUG is False
    assert "textlink.E006" not in textlink_messages()


# -- every option is checked ----------------------------------------------------------------

#: The check id of a malformed option; every other option is E004.
MALFORMED_IDS = {"BASE_URL": "textlink.E002", "BACKEND": "textlink.E003"}


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_every_option_is_checked(settings, key):
    """Each key of DEFAULTS, given a value its parser refuses, is one check error naming
    it (BAD_VALUES must have every key: an option cannot be added unchecked)."""
    use(settings, **{key: BAD_VALUES[key]})
    expected = MALFORMED_IDS.get(key, "textlink.E004")
    messages = [m for m in run_checks(databases=[]) if m.id and m.id.startswith("textlink.")]
    errors = [m for m in messages if m.id == expected and setting_name(key) in m.msg]
    assert len(errors) == 1, messages
    assert isinstance(errors[0], Error)
    assert set(textlink_messages()) == {expected}


def test_the_defaults_pass_every_check(settings):
    settings.TEXTLINK = {**DEFAULTS, **GOOD}
    assert textlink_messages() == {}
    assert textlink_messages(deploy=True) == {}


def test_e004_webhook_processing_typo_names_the_allowed_values(settings):
    """The issue's example: "tasks" passed the checks, then every webhook answered 500."""
    use(settings, WEBHOOK_PROCESSING="tasks")
    messages = textlink_messages()
    assert set(messages) == {"textlink.E004"}
    assert messages["textlink.E004"].msg == (
        "settings.TEXTLINK[\"WEBHOOK_PROCESSING\"] must be 'inline' or 'task', got 'tasks'."
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("BULK_CHUNK_SIZE", 0),
        ("BULK_CONCURRENCY", "50"),
        ("BULK_RATE_LIMIT", -1),
        ("BULK_MAX_ATTEMPTS", 0),
        ("CLAIM_TIMEOUT", -1),
        ("TASK_BACKEND", "defualt"),
        ("WEBHOOK_MAX_BODY", 0),
        ("OPT_OUT_KEYWORDS", "STOP"),
        ("OPT_IN_KEYWORDS", [""]),
    ],
)
def test_e004_options_unchecked_before(settings, key, value):
    use(settings, **{key: value})
    messages = textlink_messages()
    assert set(messages) == {"textlink.E004"}
    assert setting_name(key) in messages["textlink.E004"].msg


def test_a_malformed_trusted_proxies_is_reported_once(settings):
    use(settings, TRUSTED_PROXIES=["not-an-ip"])
    messages = [m for m in run_checks(databases=[]) if m.id == "textlink.E004"]
    assert len(messages) == 1


def test_a_malformed_api_key_is_reported_whatever_the_backend(settings):
    use(settings, API_KEY=12345, BACKEND=CONSOLE_BACKEND)
    assert set(textlink_messages()) == {"textlink.E004"}


# -- E007: unknown options ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "nearest"),
    [
        ("WEBHOOK_PROCESING", "WEBHOOK_PROCESSING"),
        ("WEBHOOK_SECRETS", "WEBHOOK_SECRET"),  # the name of conf's accessor
        ("webhook_processing", "WEBHOOK_PROCESSING"),  # compared upper-cased
        ("BULK_CONCURENCY", "BULK_CONCURRENCY"),
        ("RETRIES", "MAX_RETRIES"),
        ("FROBNICATE", None),
    ],
)
def test_e007_unknown_option_names_the_nearest_option(settings, key, nearest):
    use(settings, **{key: "whatever"})
    messages = textlink_messages()
    assert set(messages) == {"textlink.E007"}
    error = messages["textlink.E007"]
    assert isinstance(error, Error)
    suggestion = f'; did you mean "{nearest}"?' if nearest else "."
    assert error.msg == f'Unknown option settings.TEXTLINK["{key}"]{suggestion}'
    assert "SILENCED_SYSTEM_CHECKS" in error.hint


def test_e007_the_issue_example(settings):
    use(settings, WEBHOOK_PROCESING="task")
    assert textlink_messages()["textlink.E007"].msg == (
        'Unknown option settings.TEXTLINK["WEBHOOK_PROCESING"]; did you mean "WEBHOOK_PROCESSING"?'
    )


def test_e007_a_key_that_is_not_a_string(settings):
    settings.TEXTLINK = {**GOOD, 42: "x"}
    messages = textlink_messages()
    assert set(messages) == {"textlink.E007"}
    assert messages["textlink.E007"].msg == "Unknown option settings.TEXTLINK[42]."


def test_e007_reports_every_unknown_option(settings):
    use(settings, WEBHOOK_PROCESING="task", ALLOWED_COUNTRYS=["US"])
    messages = [m for m in run_checks(databases=[]) if m.id == "textlink.E007"]
    assert sorted(m.msg for m in messages) == [
        'Unknown option settings.TEXTLINK["ALLOWED_COUNTRYS"]; did you mean "ALLOWED_COUNTRIES"?',
        'Unknown option settings.TEXTLINK["WEBHOOK_PROCESING"]; did you mean "WEBHOOK_PROCESSING"?',
    ]


@pytest.mark.django_db  # Django 6.1's check command also runs database checks
def test_e007_fails_manage_py_check_unless_silenced(settings):
    use(settings, WEBHOOK_PROCESING="task")
    with pytest.raises(SystemCheckError, match=r"textlink\.E007"):
        call_command("check", verbosity=0)
    settings.SILENCED_SYSTEM_CHECKS = ["textlink.E007"]
    call_command("check", verbosity=0)


# -- the fraud guard: its options (E004), its challenge class (E008), its mode (W009) ---------


class NotAChallenge:
    """Importable, but no Challenge."""


@pytest.mark.parametrize(
    ("guard", "says"),
    [
        ({"MODEE": "guard"}, "has an unknown key 'MODEE'. Did you mean 'MODE'?"),
        ({"MODE": "on"}, "[\"MODE\"] must be one of 'guard', 'monitor', 'off', got 'on'."),
        ({"RANGE_DIGITS": 0}, '["RANGE_DIGITS"] must be a whole number >= 1, got 0.'),
        ({"RANGE_DIGITS": 9}, '["RANGE_DIGITS"] must be a whole number from 1 to 8, got 9.'),
        ({"COUNTRY_MIN_CONVERSION": 1.5}, '["COUNTRY_MIN_CONVERSION"] must be a number from 0'),
        ({"REFUSED_NUMBER_TYPES": ["PREMIUM"]}, "names unknown number types ['PREMIUM']"),
        ({"REFUSED_NUMBER_TYPES": "TOLL_FREE"}, "must be a list of number types"),
        ({"COUNTRIES": {"GB": "deny"}}, "[\"COUNTRIES\"] ['GB'] must be one of 'allow', 'block'"),
        ({"COUNTRIES": {"GBR": "block"}}, "must be ISO 3166-1 alpha-2 codes such as 'US'"),
        ({"SAFE_LIST": ["15555550100"]}, "must be a list of E.164 numbers or their prefixes"),
        ({"BLOCK_FIRST": 600, "BLOCK_MAX": 300}, '["BLOCK_MAX"] must be >= BLOCK_FIRST.'),
        ([("MODE", "off")], "must be a dict of the fraud guard's options"),
    ],
)
def test_a_malformed_fraud_guard_option_is_named(settings, guard, says):
    use(settings, FRAUD_GUARD=guard)
    messages = textlink_messages()
    assert set(messages) == {"textlink.E004"}
    assert messages["textlink.E004"].msg.startswith('settings.TEXTLINK["FRAUD_GUARD"]')
    assert says in messages["textlink.E004"].msg


def test_every_fraud_guard_default_passes_and_each_key_can_be_set(settings):
    from django_textlink._guard_options import GUARD_DEFAULTS

    use(settings, FRAUD_GUARD=dict(GUARD_DEFAULTS))
    assert textlink_messages() == {}
    use(settings, FRAUD_GUARD={"COUNTRIES": {"us": "allow"}, "SAFE_LIST": ["+1555555"]})
    assert textlink_messages() == {}
    from django_textlink.conf import conf

    assert conf.FRAUD_GUARD.country_mode("US") == "allow"
    assert conf.FRAUD_GUARD.is_safe("+15555550100")
    assert not conf.FRAUD_GUARD.is_safe("+15565550100")


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("tests.test_checks.Missing", "cannot be imported"),
        ("tests.test_checks.NotAChallenge", "must name a subclass of"),
    ],
)
def test_e008_a_challenge_class_that_is_no_challenge(settings, path, says):
    use(settings, CHALLENGE=path)
    messages = textlink_messages()
    assert set(messages) == {"textlink.E008"}
    assert says in messages["textlink.E008"].msg


def test_no_challenge_and_the_built_in_one_pass(settings):
    for value in (None, "django_textlink.verification.challenge.ProofOfWork"):
        use(settings, CHALLENGE=value)
        assert textlink_messages() == {}


@pytest.mark.parametrize("mode", ["monitor", "off"])
def test_w009_deploy_warns_when_the_guard_does_not_refuse(settings, mode):
    use(settings, FRAUD_GUARD={"MODE": mode}, ALLOWED_COUNTRIES=["US"])
    messages = textlink_messages(deploy=True)
    assert "textlink.W009" in messages
    assert f"is '{mode}'" in messages["textlink.W009"].msg
    use(settings, ALLOWED_COUNTRIES=["US"])
    assert "textlink.W009" not in textlink_messages(deploy=True)
