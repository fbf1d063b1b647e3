"""System checks for django-textlink (``manage.py check``, ``check --deploy``).

=============== ==========================================================================
textlink.E001   The HTTP backend is configured but ``TEXTLINK["API_KEY"]`` is not set.
textlink.E002   ``TEXTLINK["BASE_URL"]`` is not an http(s) URL with a host.
textlink.E003   ``TEXTLINK["BACKEND"]`` cannot be imported or is not a backend.
textlink.E004   Another ``TEXTLINK`` option is malformed: its parser in
                :mod:`django_textlink.conf` refuses it (the message names the option and
                what it must be). Every key of ``conf.DEFAULTS`` is parsed.
textlink.W001   (deploy) The console or locmem backend is in use with ``DEBUG = False``.
textlink.W002   ``TEXTLINK["BASE_URL"]`` is plain http to a host other than loopback:
                the API key would cross the network unencrypted.
textlink.W003   ``TEXTLINK["CODE_LIFETIME"]`` is over 10 minutes (OWASP ASVS 2.7).
textlink.E006   The webhook URLs are routed but ``TEXTLINK["WEBHOOK_SECRET"]`` is not set and
                DEBUG is off: every webhook would be refused with 403.
textlink.E005   ``LIMIT_STORE`` is ``"cache"`` and that cache is a DummyCache: no limit can
                hold, so every code request would be refused.
textlink.E007   ``TEXTLINK`` has a key that is no option (a typo, which would leave the
                option at its default); the message names the nearest option. Silence it
                (SILENCED_SYSTEM_CHECKS) to keep a key of your own there.
textlink.W004   (deploy) No ``TEXTLINK["ALLOWED_COUNTRIES"]``: codes can be sent, at your
                cost, to any country (SMS pumping fraud targets expensive destinations).
textlink.W005   (deploy) ``LIMIT_STORE`` is ``"cache"`` on a per-process LocMem cache: each
                process counts on its own, multiplying every limit, and cheap requests
                can evict the counters.
textlink.W006   (deploy) ``LIMIT_STORE`` is ``"cache"`` on a database or file cache, whose
                ``incr`` is not atomic and which culls entries when full.
textlink.W008   (deploy) ``LIMIT_STORE`` is ``"cache"`` on Memcached, which evicts when full.
textlink.W007   (deploy) The site is behind a proxy (``SECURE_PROXY_SSL_HEADER`` or
                ``USE_X_FORWARDED_HOST``/``_PORT`` is set) but ``TRUSTED_PROXIES`` is empty:
                every client shares the proxy's per-IP limit (or, on a Unix socket, the
                one bucket of requests without an address).
textlink.E008   ``TEXTLINK["CHALLENGE"]`` cannot be imported or is not a subclass of
                :class:`~django_textlink.verification.challenge.Challenge`.
textlink.W009   (deploy) The fraud guard is off or only monitors
                (``TEXTLINK["FRAUD_GUARD"]["MODE"]``): SMS pumping is not stopped.
=============== ==========================================================================
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse

from django_textlink.backends import load_backend_class
from django_textlink.backends.simulated import SimulatedBackend
from django_textlink.backends.textlink import TextLinkBackend
from django_textlink.conf import DEFAULTS, conf, setting_name
from django_textlink.exceptions import TextLinkConfigurationError

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _backend_class() -> tuple[type | None, list[CheckMessage]]:
    try:
        return load_backend_class(), []
    except TextLinkConfigurationError as err:
        return None, [Error(str(err), id="textlink.E003")]


#: The id of the error for a malformed option; every option not listed here is E004.
MALFORMED_OPTION_IDS: dict[str, str] = {"BASE_URL": "textlink.E002", "BACKEND": "textlink.E003"}
UNKNOWN_OPTION_ID = "textlink.E007"


def _option_errors() -> dict[str, CheckMessage]:
    """An Error for each key of DEFAULTS whose value its parser in conf refuses (the
    parser that the code uses when it reads the option), by key."""
    errors: dict[str, CheckMessage] = {}
    for key in DEFAULTS:
        try:
            conf.parsed(key)
        except TextLinkConfigurationError as err:
            errors[key] = Error(str(err), id=MALFORMED_OPTION_IDS.get(key, "textlink.E004"))
    return errors


def _unknown_option_errors(raw: Mapping[Any, Any]) -> list[CheckMessage]:
    """An Error for each key of ``settings.TEXTLINK`` that is no option, naming the
    nearest option: django-textlink would silently ignore it, leaving the option it was
    meant to be at its default."""
    messages: list[CheckMessage] = []
    for key in raw:
        if key in DEFAULTS:
            continue
        if isinstance(key, str):
            name = setting_name(key)
            # Upper-cased: "webhook_processing" is close to WEBHOOK_PROCESSING.
            nearest = difflib.get_close_matches(key.upper(), DEFAULTS, n=1)
        else:
            name, nearest = f"settings.TEXTLINK[{key!r}]", []
        suggestion = f'; did you mean "{nearest[0]}"?' if nearest else "."
        messages.append(
            Error(
                f"Unknown option {name}{suggestion}",
                hint="django-textlink ignores it. Correct or remove it (the options are listed "
                "in docs/settings.md); to keep a key of your own there, add "
                f'"{UNKNOWN_OPTION_ID}" to SILENCED_SYSTEM_CHECKS.',
                id=UNKNOWN_OPTION_ID,
            )
        )
    return messages


@register()
def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Every option of ``conf.DEFAULTS`` is parsed (E002, E003, E004), unknown keys are
    reported (E007), then the checks that look at several options or other settings."""
    try:
        raw = conf.raw
    except TextLinkConfigurationError as err:
        return [Error(str(err), hint="Set TEXTLINK = {...} in settings.", id="textlink.E004")]

    errors = _option_errors()
    messages: list[CheckMessage] = list(errors.values())
    messages += _unknown_option_errors(raw)

    backend_class = None
    if "BACKEND" not in errors:  # else reported as E003 already
        backend_class, backend_errors = _backend_class()
        messages += backend_errors
    if (
        backend_class is not None
        and issubclass(backend_class, TextLinkBackend)
        and "API_KEY" not in errors
        and not conf.API_KEY
    ):
        messages.append(
            Error(
                f"{setting_name('API_KEY')} is not set, but the TextLink HTTP backend is in use.",
                hint="Add your key from TextLink's API console, or use "
                "django_textlink.backends.console.ConsoleBackend in development.",
                id="textlink.E001",
            )
        )

    if "BASE_URL" not in errors:
        parts = urlsplit(conf.BASE_URL)
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            messages.append(
                Warning(
                    f"{setting_name('BASE_URL')} uses plain http to {parts.hostname}: the API key "
                    "would travel unencrypted.",
                    hint="Use https://, or http:// only towards a local test server.",
                    id="textlink.W002",
                )
            )

    messages += _verification_checks()
    messages += _webhook_checks()
    if "CHALLENGE" not in errors:
        messages += _challenge_checks()
    return messages


def _challenge_checks() -> list[CheckMessage]:
    from django_textlink.verification.challenge import challenge_class

    try:
        challenge_class()
    except TextLinkConfigurationError as err:
        hint = "Name a Challenge subclass, or None to turn step-up off."
        return [Error(str(err), hint=hint, id="textlink.E008")]
    return []


def _webhook_checks() -> list[CheckMessage]:
    try:
        secrets = conf.WEBHOOK_SECRETS
    except TextLinkConfigurationError:
        return []  # reported as textlink.E004
    if secrets or settings.DEBUG:
        return []
    try:
        reverse("textlink:webhook-received")
    except NoReverseMatch:
        return []  # the site does not route the webhooks
    return [
        Error(
            f"{setting_name('WEBHOOK_SECRET')} is not set: with DEBUG off, every TextLink "
            "webhook is refused with 403.",
            hint="Set the same secret as in TextLink's API console (a list while rotating).",
            id="textlink.E006",
        )
    ]


def _counter_cache_backend() -> str | None:
    """The dotted backend path of the cache that holds the verification state, or None
    when it lives in the database (the default ``LIMIT_STORE``)."""
    try:
        if conf.LIMIT_STORE != "cache":
            return None
        alias = conf.CACHE
    except TextLinkConfigurationError:
        return None
    return str(settings.CACHES[alias].get("BACKEND", ""))


def _verification_checks() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    try:
        lifetime = conf.CODE_LIFETIME
    except TextLinkConfigurationError:
        lifetime = 0
    if lifetime > MAX_RECOMMENDED_CODE_LIFETIME:
        messages.append(
            Warning(
                f"{setting_name('CODE_LIFETIME')} is {lifetime} seconds: codes live longer than "
                "10 minutes, giving guessing attacks more time.",
                hint="Use 600 seconds or less.",
                id="textlink.W003",
            )
        )
    backend = _counter_cache_backend()
    if backend and backend.endswith(".DummyCache"):
        messages.append(
            Error(
                f"{setting_name('LIMIT_STORE')} is 'cache' and the cache is a DummyCache: no "
                "limit can be counted, so every verification code request would be refused.",
                hint=f"Remove {setting_name('LIMIT_STORE')} (the database store is the "
                f"default), or point {setting_name('CACHE')} at a shared cache that does not "
                "evict (Redis with maxmemory-policy noeviction).",
                id="textlink.E005",
            )
        )
    return messages


MAX_RECOMMENDED_CODE_LIFETIME = 600


@register(Tags.security, deploy=True)
def check_deploy(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    backend_class, _errors = _backend_class()
    simulated = backend_class is not None and issubclass(backend_class, SimulatedBackend)
    if simulated and not settings.DEBUG:
        assert backend_class is not None
        messages.append(
            Warning(
                f"{setting_name('BACKEND')} is {backend_class.__name__} while DEBUG is False: "
                "no SMS will reach a phone.",
                hint="Use django_textlink.backends.textlink.TextLinkBackend in production.",
                id="textlink.W001",
            )
        )
    try:
        allowed = conf.ALLOWED_COUNTRIES
    except TextLinkConfigurationError:
        allowed = frozenset()  # reported by check_settings as textlink.E004
    if allowed is None:
        messages.append(
            Warning(
                f"{setting_name('ALLOWED_COUNTRIES')} is not set: verification codes can be sent "
                "to any country, at your cost.",
                hint="List the countries your users are in, e.g. ['US', 'CA'].",
                id="textlink.W004",
            )
        )
    backend = _counter_cache_backend() or ""
    store_hint = (
        f"Remove {setting_name('LIMIT_STORE')} to keep the limits in the database (the "
        f"default), or point {setting_name('CACHE')} at a shared cache that does not evict "
        "(Redis with maxmemory-policy noeviction)."
    )
    for suffixes, problem, check_id in UNSAFE_LIMIT_CACHES:
        if backend.endswith(suffixes):
            messages.append(Warning(problem, hint=store_hint, id=check_id))
            break
    messages += _proxy_checks()
    messages += _guard_mode_checks()
    return messages


#: Cache backends that cannot hold the verification limits safely (``LIMIT_STORE =
#: "cache"``): the class names' endings, what goes wrong, and the warning's id.
UNSAFE_LIMIT_CACHES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        (".LocMemCache",),
        "The verification limits are kept in a LocMem cache, which each process keeps on its "
        "own (with N processes every limit is N times higher), which a restart empties and "
        "whose culling lets cheap requests evict every counter.",
        "textlink.W005",
    ),
    (
        (".PyMemcacheCache", ".PyLibMCCache"),
        "The verification limits are kept in Memcached, which evicts entries when it is full: "
        "a flood of cheap requests can evict the counters.",
        "textlink.W008",
    ),
    (
        (".DatabaseCache", ".FileBasedCache"),
        "The verification limits are kept in a database or file cache, whose incr is not "
        "atomic (concurrent requests can exceed a limit) and which culls entries when full.",
        "textlink.W006",
    ),
)


def _proxy_checks() -> list[CheckMessage]:
    try:
        trusted = conf.TRUSTED_PROXIES or conf.TRUSTS_UNIX_PEER
    except TextLinkConfigurationError:
        return []  # reported as textlink.E004
    behind_proxy = bool(
        getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
        or getattr(settings, "USE_X_FORWARDED_HOST", False)
        or getattr(settings, "USE_X_FORWARDED_PORT", False)
    )
    if trusted or not behind_proxy:
        return []
    return [
        Warning(
            f"The site is behind a proxy but {setting_name('TRUSTED_PROXIES')} is empty: the "
            "per-IP verification limits see the proxy, not the client, so all clients share "
            "one limit (behind a Unix socket REMOTE_ADDR is empty, and all requests share "
            "the bucket of requests without an address).",
            hint=f"Set {setting_name('TRUSTED_PROXIES')} to the proxy's addresses, e.g. "
            "['10.0.0.0/8'], or to ['unix'] when Django listens on a Unix socket behind nginx; "
            "the proxy must set X-Forwarded-For (nginx: proxy_set_header X-Forwarded-For "
            "$remote_addr).",
            id="textlink.W007",
        )
    ]


def _guard_mode_checks() -> list[CheckMessage]:
    try:
        mode = conf.FRAUD_GUARD.mode
    except TextLinkConfigurationError:
        return []  # reported by check_settings as textlink.E004
    if mode == "guard":
        return []
    return [
        Warning(
            f'{setting_name("FRAUD_GUARD")}["MODE"] is {mode!r}: the fraud guard does not '
            "refuse SMS pumping, which costs you an SMS per attempt.",
            hint='Remove "MODE" (the default, "guard") once the monitor\'s reports look right.',
            id="textlink.W009",
        )
    ]
