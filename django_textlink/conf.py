"""Settings for django-textlink: the options of ``settings.TEXTLINK``, checked and parsed once.

Options
    Every option is a key of :data:`DEFAULTS` and has exactly one parser, an
    :class:`Option` on :class:`TextLinkSettings`, read as an attribute of :data:`conf`
    (``conf.POOL_SIZE``). The parser turns the raw value into its typed form, or raises
    :class:`~django_textlink.exceptions.TextLinkConfigurationError` naming the key to fix.
    The system checks (:mod:`django_textlink.checks`) run the same parsers over every key of
    :data:`DEFAULTS`, so ``manage.py check`` accepts exactly what the code accepts.

Caching
    A parsed value is cached, so a hot path (each webhook, each message of a bulk send) does
    not parse its options again. The cache is emptied on Django's ``setting_changed`` signal
    for ``TEXTLINK`` (and for ``CACHES`` and ``TASKS``, which ``CACHE`` and ``TASK_BACKEND``
    are checked against), so ``override_settings(TEXTLINK=...)`` and pytest-django's
    ``settings`` fixture take effect at once. A cached value is also used only while
    ``settings.TEXTLINK`` still holds the very object it was parsed from: an option replaced
    in the dict in place (``settings.TEXTLINK["API_KEY"] = ...``, which sends no signal) is
    parsed again too; only a value mutated in place (a list appended to) goes unnoticed until
    the next signal. A malformed value is never cached: it raises on every access.

Value parsers
    The parsers read no settings (but those of ``CACHE`` and ``TASK_BACKEND``, which look
    up their alias in ``settings.CACHES`` and ``settings.TASKS``), so the public ones
    (``parse_timeout``, ``parse_pool_size``, ...) also serve
    :class:`~django_textlink.client.TextLinkClient` outside Django. They raise
    :class:`InvalidValue`, a ``ValueError`` whose text goes after the name of what holds the
    value ("must be a whole number >= 1, got 0."): ``conf`` puts the option's name in front,
    the client its argument's name, so both word the same limits the same way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any, Generic, NamedTuple, TypeVar, cast, overload
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed

from django_textlink._guard_options import parse_challenge, parse_fraud_guard
from django_textlink._values import (
    InvalidValue,
    is_number,
    parse_country,
    parse_number,
    parse_whole_number,
)
from django_textlink.exceptions import TextLinkConfigurationError

T = TypeVar("T")

DEFAULT_BASE_URL = "https://textlinksms.com/api"
DEFAULT_BACKEND = "django_textlink.backends.textlink.TextLinkBackend"
#: (connect, read) seconds: fail fast when TextLink is unreachable, give it time to answer.
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 10.0)
#: Retries of a request that surely never reached TextLink: at most this many (a request
#: that may have reached TextLink is never retried, so retries cannot send an SMS twice).
MAX_RETRIES_LIMIT = 2
DEFAULT_MAX_RETRIES = 2
#: Seconds: the base of the exponential backoff between retries.
DEFAULT_RETRY_BACKOFF = 0.5
#: Keep-alive connections per client; keep it >= BULK_CONCURRENCY so that every sending
#: thread has a warm connection (they are opened only when needed).
DEFAULT_POOL_SIZE = 50

Timeout = float | tuple[float, float]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The TRUSTED_PROXIES item that trusts a peer with no IP address (a Unix socket).
UNIX_PEER = "unix"
LIMIT_STORES = ("database", "cache")
WEBHOOK_PROCESSING_MODES = ("inline", "task")
#: The alias of the tasks framework's default backend (when ``settings.TASKS`` is not set).
DEFAULT_TASK_BACKEND = "default"
#: The step-up challenge of the fraud guard: a proof of work, no third party.
DEFAULT_CHALLENGE = "django_textlink.verification.challenge.ProofOfWork"

DEFAULTS: dict[str, Any] = {
    "API_KEY": None,
    "BASE_URL": DEFAULT_BASE_URL,
    "BACKEND": DEFAULT_BACKEND,
    "WEBHOOK_SECRET": None,
    "TIMEOUT": DEFAULT_TIMEOUT,
    "MAX_RETRIES": DEFAULT_MAX_RETRIES,
    "RETRY_BACKOFF": DEFAULT_RETRY_BACKOFF,
    "POOL_SIZE": DEFAULT_POOL_SIZE,
    "DEFAULT_REGION": None,
    # Phone verification (see django_textlink.verification)
    "SERVICE_NAME": None,
    "CODE_LIFETIME": 600,
    "SIM_CARD_ID": None,
    "SOURCE_COUNTRY": None,
    "ALLOWED_COUNTRIES": None,
    "RESEND_COOLDOWN": 60,
    "SENDS_PER_PHONE_PER_HOUR": 5,
    "SENDS_PER_IP_PER_HOUR": 10,
    "WRONG_CODES_PER_CODE": 5,
    "CHECKS_PER_PHONE_PER_HOUR": 10,
    "CHECKS_PER_IP_PER_HOUR": 30,
    "DAILY_SEND_BUDGET": None,
    "TRUSTED_PROXIES": (),
    "LIMIT_STORE": "database",
    "CACHE": "default",
    "ALLOWED_ORIGINS": (),
    "TOKEN_MAX_AGE": 1800,
    # The fraud guard (see django_textlink.verification.guard)
    "FRAUD_GUARD": None,
    "CHALLENGE": DEFAULT_CHALLENGE,
    # Messaging (see django_textlink.messaging)
    "BULK_CHUNK_SIZE": 1000,
    "BULK_CONCURRENCY": 50,
    "BULK_RATE_LIMIT": 500,
    "BULK_MAX_ATTEMPTS": 5,
    "CLAIM_TIMEOUT": 300,
    "TASK_BACKEND": DEFAULT_TASK_BACKEND,
    # Webhooks and contacts
    "WEBHOOK_MAX_BODY": 64 * 1024,
    "WEBHOOK_PROCESSING": "inline",
    "OPT_OUT_KEYWORDS": ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"),
    "OPT_IN_KEYWORDS": ("START", "UNSTOP", "SUBSCRIBE"),
}

#: Settings whose change empties the cache: TEXTLINK itself, and the settings that some
#: options are checked against (CACHE against CACHES, TASK_BACKEND against TASKS).
CACHE_CLEARING_SETTINGS = frozenset({"TEXTLINK", "CACHES", "TASKS"})


def setting_name(key: str) -> str:
    """How a user spells option ``key`` in settings.py, for error messages."""
    return f'settings.TEXTLINK["{key}"]'


def parse_timeout(value: object) -> Timeout:
    """A finite number of seconds > 0, or a ``(connect, read)`` pair of them. ``None`` is
    refused: a request without a timeout can hang a worker forever."""
    if not isinstance(value, list | tuple):
        return parse_number(value)
    if len(value) != 2 or not all(is_number(part) for part in value):
        raise InvalidValue(
            "must be a number of seconds or a (connect, read) pair of them, each finite and "
            f"> 0, got {value!r}."
        )
    return (float(value[0]), float(value[1]))


def parse_max_retries(value: object) -> int:
    """A whole number from 0 to :data:`MAX_RETRIES_LIMIT`."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_RETRIES_LIMIT:
        raise InvalidValue(
            f"must be a whole number from 0 to {MAX_RETRIES_LIMIT} (retries happen only when the "
            f"request surely did not reach TextLink), got {value!r}."
        )
    return value


def parse_retry_backoff(value: object) -> float:
    """Seconds, finite and >= 0: the base of the exponential backoff between retries."""
    return parse_number(value, allow_zero=True)


def parse_pool_size(value: object) -> int:
    """Keep-alive connections per client: a whole number >= 1."""
    return parse_whole_number(value, minimum=1)


def base_url_problem(value: object) -> str | None:
    """Why ``value`` is not a usable base URL, or None when it is."""
    if not isinstance(value, str) or not value:
        return "must be a URL such as 'https://textlinksms.com/api'."
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError:
        return f"is not a valid URL: {value!r}."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http(s) URL with a host, got {value!r}."
    if parts.query or parts.fragment:
        return f"must not have a query string or fragment, got {value!r}."
    return None


def parse_base_url(value: object) -> str:
    """TextLink's API root, an http(s) URL without query or fragment (trailing ``/``
    removed)."""
    problem = base_url_problem(value)
    if problem:
        raise InvalidValue(problem)
    return str(value).rstrip("/")


def origin_problem(value: str) -> str | None:
    """Why ``value`` is not an origin (``scheme://host[:port]``, the host may start with
    ``*.``), or None."""
    try:
        parts = urlsplit(value.rstrip("/"))
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError:
        return "is not a valid origin"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) origin with a host"
    if parts.path or parts.query or parts.fragment or parts.username:
        return "must be scheme://host[:port] only"
    if parts.hostname.startswith("*.") and "." not in parts.hostname[2:]:
        return "must name a domain under the wildcard (https://*.example.com, not *.com)"
    return None


def parse_keywords(value: object) -> frozenset[str]:
    """A list of non-empty words, returned trimmed and upper-case."""
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise InvalidValue(f"must be a list of words, got {value!r}.")
    if not all(isinstance(word, str) and word.strip() for word in value):
        raise InvalidValue(f"must be a list of non-empty words, got {value!r}.")
    return frozenset(word.strip().upper() for word in value)


def _whole_number_or_zero(value: object) -> int:
    return parse_whole_number(value, minimum=0)


def _optional_whole_number(value: object) -> int | None:
    return None if value is None else parse_whole_number(value)


# -- option parsers ------------------------------------------------------------------------


def _parse_api_key(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):  # the value is a secret: only its type is shown
        raise InvalidValue(f"must be a string, got a {type(value).__name__}.")
    return value or None


def _parse_backend(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidValue(f"must be the dotted path of a backend class, got {value!r}.")
    return value


def _parse_webhook_secret(value: object) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) and v for v in values):
        raise InvalidValue("must be a non-empty string or a list of them.")  # no secret shown
    return tuple(values)


def _parse_region(value: object) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) != 2 or not value.isalpha():
        raise InvalidValue(f"must be an ISO 3166-1 alpha-2 code such as 'US', got {value!r}.")
    return value.upper()


def _parse_service_name(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"must be a non-empty string, got {value!r}.")
    return value


def _parse_sim_card_id(value: object) -> int | None:
    return None if value is None else parse_whole_number(value, minimum=0)


def _parse_allowed_countries(value: object) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise InvalidValue(
            f"must be a list of ISO-2 codes such as ['US', 'CA'], or None, got {value!r}."
        )
    return frozenset(parse_country(item) or "" for item in value)


class TrustedProxies(NamedTuple):
    """``TRUSTED_PROXIES`` parsed: its networks, and whether it holds ``"unix"``."""

    networks: tuple[IPNetwork, ...]
    unix_peer: bool


def _parse_trusted_proxies(value: object) -> TrustedProxies:
    expected = "must be a list of IP addresses or networks such as ['10.0.0.0/8'] (or 'unix')"
    items = value or ()
    if isinstance(items, str):
        items = (items,)
    if not isinstance(items, list | tuple | set | frozenset):
        raise InvalidValue(f"{expected}, got {value!r}.")
    try:
        networks = tuple(
            ipaddress.ip_network(str(item), strict=False) for item in items if item != UNIX_PEER
        )
    except (TypeError, ValueError) as err:
        raise InvalidValue(f"{expected}: {err}") from err
    return TrustedProxies(networks, UNIX_PEER in items)


def _parse_limit_store(value: object) -> str:
    if value not in LIMIT_STORES:
        raise InvalidValue(f"must be 'database' or 'cache', got {value!r}.")
    return str(value)


def _parse_cache(value: object) -> str:
    if not isinstance(value, str) or value not in settings.CACHES:
        raise InvalidValue(f"must name a cache in settings.CACHES, got {value!r}.")
    return value


def _parse_allowed_origins(value: object) -> tuple[str, ...]:
    items = value or ()
    if isinstance(items, str):
        items = (items,)
    if not isinstance(items, list | tuple | set | frozenset) or not all(
        isinstance(item, str) and origin_problem(item) is None for item in items
    ):
        raise InvalidValue(
            "must be a list of origins such as ['https://app.example.com'] (scheme and host, "
            f"no path), got {value!r}."
        )
    return tuple(item.rstrip("/").lower() for item in items)


def _parse_bulk_rate_limit(value: object) -> float | None:
    if value is None:
        return None
    return parse_number(value, unit="messages per second")


#: Read settings.TASKS (see _parse_task_backend).
_FROM_SETTINGS: Any = object()


def _parse_task_backend(value: object, backends: object = _FROM_SETTINGS) -> str:
    """An alias of ``backends`` (``settings.TASKS`` unless given; not set, the tasks
    framework has its ``"default"`` backend only, as Django 5.2's backport does)."""
    if not isinstance(value, str) or not value:
        raise InvalidValue(f"must be the alias of a task backend, got {value!r}.")
    if backends is _FROM_SETTINGS:
        backends = getattr(settings, "TASKS", None)
    if backends is None:
        aliases: tuple[object, ...] = (DEFAULT_TASK_BACKEND,)
    elif isinstance(backends, Mapping):
        aliases = tuple(backends)
    else:
        return value  # a malformed TASKS is the tasks framework's to report
    if value not in aliases:
        known = ", ".join(repr(alias) for alias in aliases) or "none"
        raise InvalidValue(
            f"must name a task backend in settings.TASKS (configured: {known}), got {value!r}."
        )
    return value


def _parse_webhook_processing(value: object) -> str:
    if value not in WEBHOOK_PROCESSING_MODES:
        raise InvalidValue(f"must be 'inline' or 'task', got {value!r}.")
    return str(value)


# -- the settings object -------------------------------------------------------------------


class Option(Generic[T]):
    """One option of ``settings.TEXTLINK`` and its one parser.

    As an attribute of :class:`TextLinkSettings` it reads, on an instance, as the option's
    parsed value (cached; see the module docstring); on the class, as the Option itself.
    ``parse`` takes the raw value (the default when the key is absent) and returns the
    parsed one or raises :class:`InvalidValue`, which is re-raised as a
    :class:`TextLinkConfigurationError` naming the option. ``key`` defaults to the
    attribute's name.
    """

    def __init__(self, parse: Callable[[Any], T], doc: str = "", *, key: str = "") -> None:
        self.parse = parse
        self.key = key
        self.__doc__ = doc or parse.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.key = self.key or name

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Option[T]: ...

    @overload
    def __get__(self, instance: TextLinkSettings, owner: type[Any] | None = None) -> T: ...

    def __get__(
        self, instance: TextLinkSettings | None, owner: type[Any] | None = None
    ) -> Option[T] | T:
        if instance is None:
            return self
        return instance.value_of(self)

    def __repr__(self) -> str:
        return f"<Option {self.key}>"


class TextLinkSettings:
    """Typed, cached access to ``settings.TEXTLINK``: one :class:`Option` per key of
    :data:`DEFAULTS`, read as an attribute (``conf.POOL_SIZE``)."""

    def __init__(self) -> None:
        #: key -> (the raw value it was parsed from, the parsed value)
        self._cache: dict[str, tuple[object, object]] = {}
        setting_changed.connect(self._setting_changed)  # weak: goes with this object

    def _setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if setting in CACHE_CLEARING_SETTINGS:
            self.clear_cache()

    def clear_cache(self) -> None:
        """Forget every parsed value (done on ``setting_changed`` for ``TEXTLINK``,
        ``CACHES`` and ``TASKS``)."""
        self._cache.clear()

    @property
    def raw(self) -> Mapping[str, Any]:
        """``settings.TEXTLINK`` as given (``{}`` when it is not set)."""
        value = getattr(settings, "TEXTLINK", None)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise TextLinkConfigurationError(
                f"settings.TEXTLINK must be a dict, not {type(value).__name__}."
            )
        return value

    def get(self, key: str) -> Any:
        """The raw, unparsed value of option ``key`` (its default when absent)."""
        return self.raw.get(key, DEFAULTS.get(key))

    def require(self, key: str, why: str = "") -> Any:
        """The raw value of option ``key``, which must be set (not None or empty)."""
        value = self.get(key)
        if value in (None, ""):
            reason = f" {why}" if why else ""
            raise TextLinkConfigurationError(
                f"{setting_name(key)} is not set.{reason} Add it to the TEXTLINK dict in your "
                "settings."
            )
        return value

    def value_of(self, option: Option[T]) -> T:
        """``option`` parsed from the current settings, from the cache when its raw value
        has not changed. Raises :class:`TextLinkConfigurationError` (every time, nothing is
        cached) when the value is malformed."""
        raw = self.get(option.key)
        cached = self._cache.get(option.key)
        if cached is not None and cached[0] is raw:
            return cast(T, cached[1])
        try:
            value = option.parse(raw)
        except InvalidValue as err:
            text = str(err)  # "[...]": the key of a dict option, written next to its name
            separator = "" if text.startswith("[") else " "
            message = f"{setting_name(option.key)}{separator}{text}"
            raise TextLinkConfigurationError(message) from err
        self._cache[option.key] = (raw, value)
        return value

    def parsed(self, key: str) -> Any:
        """Option ``key`` (a key of :data:`DEFAULTS`) parsed, as :meth:`value_of` gives it;
        what the system checks call for every option."""
        return self.value_of(OPTIONS[key])

    API_KEY = Option(_parse_api_key, "Your TextLink API key (None when not set).")
    BASE_URL = Option(parse_base_url)
    BACKEND = Option(_parse_backend, "The dotted path of the backend class.")
    _WEBHOOK_SECRET = Option(_parse_webhook_secret, key="WEBHOOK_SECRET")

    @property
    def WEBHOOK_SECRETS(self) -> list[str]:
        """``WEBHOOK_SECRET`` as a list (a single string, or several during rotation)."""
        return list(self._WEBHOOK_SECRET)  # a new list: callers cannot change the cache

    TIMEOUT = Option(parse_timeout)
    MAX_RETRIES = Option(parse_max_retries)
    RETRY_BACKOFF = Option(parse_retry_backoff)
    POOL_SIZE = Option(parse_pool_size, "Keep-alive connections per process (>= BULK_CONCURRENCY).")
    DEFAULT_REGION = Option(
        _parse_region, "ISO-2 region used to read national numbers (no leading +), e.g. 'US'."
    )

    # -- phone verification ----------------------------------------------------------------

    SERVICE_NAME = Option(_parse_service_name, "Shown in the verification SMS (service_name).")
    CODE_LIFETIME = Option(
        parse_whole_number,
        "Seconds a verification code stays valid (sent to TextLink in milliseconds).",
    )
    SIM_CARD_ID = Option(_parse_sim_card_id, "The TextLink SIM card to send from (None: any).")
    SOURCE_COUNTRY = Option(parse_country, "ISO-2 country of the sending SIM (None: any).")
    ALLOWED_COUNTRIES = Option(
        _parse_allowed_countries, "ISO-2 regions codes may be sent to; None allows every country."
    )
    RESEND_COOLDOWN = Option(_whole_number_or_zero, "Seconds before a code can be sent again.")
    SENDS_PER_PHONE_PER_HOUR = Option(parse_whole_number, "Codes sent per number per hour.")
    SENDS_PER_IP_PER_HOUR = Option(parse_whole_number, "Codes sent per client per hour.")
    WRONG_CODES_PER_CODE = Option(parse_whole_number, "Wrong guesses before a code is burnt.")
    CHECKS_PER_PHONE_PER_HOUR = Option(parse_whole_number, "Code checks per number per hour.")
    CHECKS_PER_IP_PER_HOUR = Option(
        parse_whole_number, "Code checks per client (IP, IPv6 /64) per hour, over every number."
    )
    DAILY_SEND_BUDGET = Option(
        _optional_whole_number,
        "At most this many codes a day for the whole site (None: no budget).",
    )
    _TRUSTED_PROXIES = Option(_parse_trusted_proxies, key="TRUSTED_PROXIES")

    @property
    def TRUSTED_PROXIES(self) -> tuple[IPNetwork, ...]:
        """Proxies (IPs or CIDRs) whose X-Forwarded-For is believed; empty: REMOTE_ADDR only.
        The item ``"unix"`` (see :attr:`TRUSTS_UNIX_PEER`) is not a network and is left out."""
        return self._TRUSTED_PROXIES.networks

    @property
    def TRUSTS_UNIX_PEER(self) -> bool:
        """``"unix"`` in TRUSTED_PROXIES: a peer without an IP address (Django served on a
        Unix socket behind a proxy, so ``REMOTE_ADDR`` is empty) is a trusted proxy."""
        return self._TRUSTED_PROXIES.unix_peer

    LIMIT_STORE = Option(
        _parse_limit_store,
        """Where the verification flow keeps its security state (limit counters, live-code
        markers, used tokens): ``"database"`` (the default; shared by every process,
        never evicted, survives restarts) or ``"cache"`` (the cache named by ``CACHE``,
        which must be shared and must not evict).""",
    )
    CACHE = Option(
        _parse_cache,
        """The alias in settings.CACHES that holds the verification state when
        ``LIMIT_STORE`` is ``"cache"``.""",
    )
    ALLOWED_ORIGINS = Option(
        _parse_allowed_origins,
        """Origins (``"https://app.example.com"``, or ``"https://*.example.com"``) whose
        pages may call the verification API cross-site from a browser.""",
    )
    TOKEN_MAX_AGE = Option(
        parse_whole_number,
        "Seconds a verification token (proof of a verified phone) can be redeemed.",
    )

    # -- the fraud guard --------------------------------------------------------------------

    FRAUD_GUARD = Option(
        parse_fraud_guard,
        """The fraud guard's options (a dict; see docs/fraud-guard.md), parsed into a
        :class:`~django_textlink._guard_options.GuardOptions`.""",
    )
    CHALLENGE = Option(
        parse_challenge,
        "The dotted path of the step-up challenge class (None: no step-up).",
    )

    # -- messaging --------------------------------------------------------------------------

    BULK_CHUNK_SIZE = Option(parse_whole_number, "Messages per background task of a bulk send.")
    BULK_CONCURRENCY = Option(
        parse_whole_number, "Messages a task sends at once (threads over the pooled connections)."
    )
    BULK_RATE_LIMIT = Option(
        _parse_bulk_rate_limit,
        "At most this many messages per second per worker process (None: no limit).",
    )
    BULK_MAX_ATTEMPTS = Option(
        parse_whole_number, "Attempts per message when TextLink answers 429 before it is failed."
    )
    CLAIM_TIMEOUT = Option(
        _whole_number_or_zero,
        """Seconds after which a message still ``sending`` is taken for abandoned by a
        worker that died (see ``textlink_resume``).""",
    )
    TASK_BACKEND = Option(
        _parse_task_backend, "The alias in ``settings.TASKS`` that runs django-textlink's tasks."
    )

    # -- webhooks and contacts ----------------------------------------------------------------

    WEBHOOK_MAX_BODY = Option(
        parse_whole_number, "Largest webhook body accepted, in bytes (larger: 413)."
    )
    WEBHOOK_PROCESSING = Option(
        _parse_webhook_processing,
        """``"inline"``: process each stored event in the webhook request; ``"task"``: as a
        background task.""",
    )
    OPT_OUT_KEYWORDS = Option(
        parse_keywords, "Inbound texts (trimmed, any case) that opt a contact out of bulk sends."
    )
    OPT_IN_KEYWORDS = Option(parse_keywords, "Inbound texts that opt a contact back in.")


def _options() -> dict[str, Option[Any]]:
    """Every Option of TextLinkSettings by key, in the order of DEFAULTS; refuses (at
    import) an option without a default or a default without an option."""
    found = {
        option.key: option
        for option in vars(TextLinkSettings).values()
        if isinstance(option, Option)
    }
    if found.keys() != DEFAULTS.keys():
        raise RuntimeError(
            "django_textlink.conf: DEFAULTS and the options of TextLinkSettings differ: "
            f"{sorted(found.keys() ^ DEFAULTS.keys())}"
        )
    return {key: found[key] for key in DEFAULTS}


#: The one parser of each option, by key (the keys of DEFAULTS, in order).
OPTIONS: dict[str, Option[Any]] = _options()


def validate_timeout(value: object, key: str = "TIMEOUT") -> Timeout:
    """:func:`parse_timeout`, raising :class:`TextLinkConfigurationError` naming option
    ``key`` (kept for callers of the former API)."""
    try:
        return parse_timeout(value)
    except InvalidValue as err:
        raise TextLinkConfigurationError(f"{setting_name(key)} {err}") from err


conf = TextLinkSettings()
