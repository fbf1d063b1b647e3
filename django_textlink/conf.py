"""Settings for django-textlink, read from ``settings.TEXTLINK`` at call time.

Nothing is cached, so ``override_settings(TEXTLINK=...)`` takes effect at once. Each
option has one typed accessor on :data:`conf`; an option that is required but missing,
or malformed, raises :class:`~django_textlink.exceptions.TextLinkConfigurationError`
naming the key to fix.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from django_textlink.exceptions import TextLinkConfigurationError

DEFAULT_BASE_URL = "https://textlinksms.com/api"
DEFAULT_BACKEND = "django_textlink.backends.textlink.TextLinkBackend"
#: (connect, read) seconds: fail fast when TextLink is unreachable, give it time to answer.
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 10.0)

Timeout = float | tuple[float, float]

#: The TRUSTED_PROXIES item that trusts a peer with no IP address (a Unix socket).
UNIX_PEER = "unix"
LIMIT_STORES = ("database", "cache")

DEFAULTS: dict[str, Any] = {
    "API_KEY": None,
    "BASE_URL": DEFAULT_BASE_URL,
    "BACKEND": DEFAULT_BACKEND,
    "WEBHOOK_SECRET": None,
    "TIMEOUT": DEFAULT_TIMEOUT,
    "MAX_RETRIES": 2,
    "RETRY_BACKOFF": 0.5,
    "POOL_SIZE": 50,
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
    # Messaging (see django_textlink.sending)
    "BULK_CHUNK_SIZE": 1000,
    "BULK_CONCURRENCY": 50,
    "BULK_RATE_LIMIT": 500,
    "BULK_MAX_ATTEMPTS": 5,
    "CLAIM_TIMEOUT": 300,
    "TASK_BACKEND": "default",
    # Webhooks and contacts
    "WEBHOOK_MAX_BODY": 64 * 1024,
    "WEBHOOK_PROCESSING": "inline",
    "OPT_OUT_KEYWORDS": ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"),
    "OPT_IN_KEYWORDS": ("START", "UNSTOP", "SUBSCRIBE"),
}


def setting_name(key: str) -> str:
    """How a user spells option ``key`` in settings.py, for error messages."""
    return f'settings.TEXTLINK["{key}"]'


class TextLinkSettings:
    """Typed, uncached access to ``settings.TEXTLINK``."""

    @property
    def raw(self) -> Mapping[str, Any]:
        value = getattr(settings, "TEXTLINK", None)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise TextLinkConfigurationError(
                f"settings.TEXTLINK must be a dict, not {type(value).__name__}."
            )
        return value

    def get(self, key: str) -> Any:
        return self.raw.get(key, DEFAULTS.get(key))

    def require(self, key: str, why: str = "") -> Any:
        value = self.get(key)
        if value in (None, ""):
            reason = f" {why}" if why else ""
            raise TextLinkConfigurationError(
                f"{setting_name(key)} is not set.{reason} Add it to the TEXTLINK dict in your "
                "settings."
            )
        return value

    @property
    def API_KEY(self) -> str | None:
        value = self.get("API_KEY")
        if value is not None and not isinstance(value, str):
            raise TextLinkConfigurationError(f"{setting_name('API_KEY')} must be a string.")
        return value or None

    @property
    def BASE_URL(self) -> str:
        value = self.get("BASE_URL")
        problem = base_url_problem(value)
        if problem:
            raise TextLinkConfigurationError(f"{setting_name('BASE_URL')} {problem}")
        return str(value).rstrip("/")

    @property
    def BACKEND(self) -> str:
        value = self.get("BACKEND")
        if not isinstance(value, str) or not value:
            raise TextLinkConfigurationError(
                f"{setting_name('BACKEND')} must be the dotted path of a backend class."
            )
        return value

    @property
    def WEBHOOK_SECRETS(self) -> list[str]:
        """``WEBHOOK_SECRET`` as a list (a single string, or several during rotation)."""
        value = self.get("WEBHOOK_SECRET")
        if value in (None, ""):
            return []
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list | tuple) or not all(
            isinstance(v, str) and v for v in values
        ):
            raise TextLinkConfigurationError(
                f"{setting_name('WEBHOOK_SECRET')} must be a non-empty string or a list of them."
            )
        return list(values)

    @property
    def TIMEOUT(self) -> Timeout:
        return validate_timeout(self.get("TIMEOUT"))

    @property
    def MAX_RETRIES(self) -> int:
        value = self.get("MAX_RETRIES")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2:
            raise TextLinkConfigurationError(
                f"{setting_name('MAX_RETRIES')} must be 0, 1 or 2 (retries happen only when the "
                "request surely did not reach TextLink)."
            )
        return value

    @property
    def RETRY_BACKOFF(self) -> float:
        return _positive_number("RETRY_BACKOFF", self.get("RETRY_BACKOFF"), allow_zero=True)

    @property
    def POOL_SIZE(self) -> int:
        value = self.get("POOL_SIZE")  # >= BULK_CONCURRENCY keeps every sender on a warm connection
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TextLinkConfigurationError(
                f"{setting_name('POOL_SIZE')} must be a positive whole number."
            )
        return value

    @property
    def DEFAULT_REGION(self) -> str | None:
        """ISO-2 region used to read national numbers (no leading +), e.g. ``"US"``."""
        value = self.get("DEFAULT_REGION")
        if value in (None, ""):
            return None
        if not isinstance(value, str) or len(value) != 2 or not value.isalpha():
            raise TextLinkConfigurationError(
                f"{setting_name('DEFAULT_REGION')} must be an ISO 3166-1 alpha-2 code such as "
                f"'US', got {value!r}."
            )
        return value.upper()

    # -- phone verification ----------------------------------------------------------------

    @property
    def SERVICE_NAME(self) -> str | None:
        """Shown in the verification SMS (TextLink's ``service_name``)."""
        value = self.get("SERVICE_NAME")
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise TextLinkConfigurationError(f"{setting_name('SERVICE_NAME')} must be a string.")
        return value or None

    @property
    def CODE_LIFETIME(self) -> int:
        """Seconds a verification code stays valid (sent to TextLink in milliseconds)."""
        return _whole_number("CODE_LIFETIME", self.get("CODE_LIFETIME"), minimum=1)

    @property
    def SIM_CARD_ID(self) -> int | None:
        value = self.get("SIM_CARD_ID")
        return None if value is None else _whole_number("SIM_CARD_ID", value, minimum=0)

    @property
    def SOURCE_COUNTRY(self) -> str | None:
        return _country("SOURCE_COUNTRY", self.get("SOURCE_COUNTRY"))

    @property
    def ALLOWED_COUNTRIES(self) -> frozenset[str] | None:
        """ISO-2 regions codes may be sent to; None allows every country."""
        value = self.get("ALLOWED_COUNTRIES")
        if value is None:
            return None
        if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
            raise TextLinkConfigurationError(
                f"{setting_name('ALLOWED_COUNTRIES')} must be a list of ISO-2 codes such as "
                "['US', 'CA'], or None."
            )
        return frozenset(_country("ALLOWED_COUNTRIES", item) or "" for item in value)

    @property
    def RESEND_COOLDOWN(self) -> int:
        return _whole_number("RESEND_COOLDOWN", self.get("RESEND_COOLDOWN"), minimum=0)

    @property
    def SENDS_PER_PHONE_PER_HOUR(self) -> int:
        return _whole_number("SENDS_PER_PHONE_PER_HOUR", self.get("SENDS_PER_PHONE_PER_HOUR"))

    @property
    def SENDS_PER_IP_PER_HOUR(self) -> int:
        return _whole_number("SENDS_PER_IP_PER_HOUR", self.get("SENDS_PER_IP_PER_HOUR"))

    @property
    def WRONG_CODES_PER_CODE(self) -> int:
        return _whole_number("WRONG_CODES_PER_CODE", self.get("WRONG_CODES_PER_CODE"))

    @property
    def CHECKS_PER_PHONE_PER_HOUR(self) -> int:
        return _whole_number("CHECKS_PER_PHONE_PER_HOUR", self.get("CHECKS_PER_PHONE_PER_HOUR"))

    @property
    def CHECKS_PER_IP_PER_HOUR(self) -> int:
        """Code checks per client (IP, IPv6 /64) per hour, over every number."""
        return _whole_number("CHECKS_PER_IP_PER_HOUR", self.get("CHECKS_PER_IP_PER_HOUR"))

    @property
    def DAILY_SEND_BUDGET(self) -> int | None:
        """At most this many codes a day for the whole site (None: no budget)."""
        value = self.get("DAILY_SEND_BUDGET")
        return None if value is None else _whole_number("DAILY_SEND_BUDGET", value)

    def _trusted_proxy_items(self) -> list[Any]:
        value = self.get("TRUSTED_PROXIES") or ()
        if isinstance(value, str):
            value = (value,)
        if not isinstance(value, list | tuple | set | frozenset):
            raise TextLinkConfigurationError(
                f"{setting_name('TRUSTED_PROXIES')} must be a list of IP addresses or networks "
                f"such as ['10.0.0.0/8'] (or 'unix'), got {value!r}."
            )
        return list(value)

    @property
    def TRUSTED_PROXIES(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """Proxies (IPs or CIDRs) whose X-Forwarded-For is believed; empty: REMOTE_ADDR only.
        The item ``"unix"`` (see :attr:`TRUSTS_UNIX_PEER`) is not a network and is left out."""
        items = [item for item in self._trusted_proxy_items() if item != UNIX_PEER]
        try:
            return tuple(ipaddress.ip_network(str(item), strict=False) for item in items)
        except (TypeError, ValueError) as err:
            raise TextLinkConfigurationError(
                f"{setting_name('TRUSTED_PROXIES')} must be a list of IP addresses or networks "
                f"such as ['10.0.0.0/8'] (or 'unix'): {err}"
            ) from err

    @property
    def TRUSTS_UNIX_PEER(self) -> bool:
        """``"unix"`` in TRUSTED_PROXIES: a peer without an IP address (Django served on a
        Unix socket behind a proxy, so ``REMOTE_ADDR`` is empty) is a trusted proxy."""
        self.TRUSTED_PROXIES  # noqa: B018 -- validates the whole list
        return UNIX_PEER in self._trusted_proxy_items()

    @property
    def LIMIT_STORE(self) -> str:
        """Where the verification flow keeps its security state (limit counters, live-code
        markers, used tokens): ``"database"`` (the default; shared by every process,
        never evicted, survives restarts) or ``"cache"`` (the cache named by ``CACHE``,
        which must be shared and must not evict)."""
        value = self.get("LIMIT_STORE")
        if value not in LIMIT_STORES:
            raise TextLinkConfigurationError(
                f"{setting_name('LIMIT_STORE')} must be 'database' or 'cache', got {value!r}."
            )
        return str(value)

    @property
    def ALLOWED_ORIGINS(self) -> tuple[str, ...]:
        """Origins (``"https://app.example.com"``, or ``"https://*.example.com"``) whose
        pages may call the verification API cross-site from a browser."""
        value = self.get("ALLOWED_ORIGINS") or ()
        if isinstance(value, str):
            value = (value,)
        if not isinstance(value, list | tuple | set | frozenset) or not all(
            isinstance(item, str) and origin_problem(item) is None for item in value
        ):
            raise TextLinkConfigurationError(
                f"{setting_name('ALLOWED_ORIGINS')} must be a list of origins such as "
                f"['https://app.example.com'] (scheme and host, no path), got {value!r}."
            )
        return tuple(item.rstrip("/").lower() for item in value)

    @property
    def CACHE(self) -> str:
        """The alias in settings.CACHES that holds the verification state when
        ``LIMIT_STORE`` is ``"cache"``."""
        value = self.get("CACHE")
        if not isinstance(value, str) or value not in settings.CACHES:
            raise TextLinkConfigurationError(
                f"{setting_name('CACHE')} must name a cache in settings.CACHES, got {value!r}."
            )
        return value

    @property
    def TOKEN_MAX_AGE(self) -> int:
        """Seconds a verification token (proof of a verified phone) can be redeemed."""
        return _whole_number("TOKEN_MAX_AGE", self.get("TOKEN_MAX_AGE"))

    # -- messaging --------------------------------------------------------------------------

    @property
    def BULK_CHUNK_SIZE(self) -> int:
        """Messages per background task of a bulk send."""
        return _whole_number("BULK_CHUNK_SIZE", self.get("BULK_CHUNK_SIZE"))

    @property
    def BULK_CONCURRENCY(self) -> int:
        """Messages a task sends at once (threads over the pooled connections)."""
        return _whole_number("BULK_CONCURRENCY", self.get("BULK_CONCURRENCY"))

    @property
    def BULK_RATE_LIMIT(self) -> float | None:
        """At most this many messages per second per worker process (None: no limit)."""
        value = self.get("BULK_RATE_LIMIT")
        return None if value is None else _positive_number("BULK_RATE_LIMIT", value)

    @property
    def BULK_MAX_ATTEMPTS(self) -> int:
        """Attempts per message when TextLink answers 429 before it is marked failed."""
        return _whole_number("BULK_MAX_ATTEMPTS", self.get("BULK_MAX_ATTEMPTS"))

    @property
    def CLAIM_TIMEOUT(self) -> int:
        """Seconds after which a message still ``sending`` is taken for abandoned by a
        worker that died (see ``textlink_resume``)."""
        return _whole_number("CLAIM_TIMEOUT", self.get("CLAIM_TIMEOUT"), minimum=0)

    @property
    def TASK_BACKEND(self) -> str:
        """The alias in ``settings.TASKS`` that runs django-textlink's tasks."""
        value = self.get("TASK_BACKEND")
        if not isinstance(value, str) or not value:
            raise TextLinkConfigurationError(
                f"{setting_name('TASK_BACKEND')} must be the alias of a task backend."
            )
        return value

    # -- webhooks and contacts ----------------------------------------------------------------

    @property
    def WEBHOOK_MAX_BODY(self) -> int:
        """Largest webhook body accepted, in bytes (larger: 413)."""
        return _whole_number("WEBHOOK_MAX_BODY", self.get("WEBHOOK_MAX_BODY"))

    @property
    def WEBHOOK_PROCESSING(self) -> str:
        """``"inline"``: process each stored event in the webhook request; ``"task"``: as a
        background task."""
        value = self.get("WEBHOOK_PROCESSING")
        if value not in ("inline", "task"):
            raise TextLinkConfigurationError(
                f"{setting_name('WEBHOOK_PROCESSING')} must be 'inline' or 'task', got {value!r}."
            )
        return str(value)

    @property
    def OPT_OUT_KEYWORDS(self) -> frozenset[str]:
        """Inbound texts (trimmed, any case) that opt a contact out of bulk sends."""
        return _keywords("OPT_OUT_KEYWORDS", self.get("OPT_OUT_KEYWORDS"))

    @property
    def OPT_IN_KEYWORDS(self) -> frozenset[str]:
        """Inbound texts that opt a contact back in."""
        return _keywords("OPT_IN_KEYWORDS", self.get("OPT_IN_KEYWORDS"))


def _keywords(key: str, value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise TextLinkConfigurationError(f"{setting_name(key)} must be a list of words.")
    if not all(isinstance(word, str) and word.strip() for word in value):
        raise TextLinkConfigurationError(f"{setting_name(key)} must be a list of non-empty words.")
    return frozenset(word.strip().upper() for word in value)


def _whole_number(key: str, value: object, *, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise TextLinkConfigurationError(
            f"{setting_name(key)} must be a whole number >= {minimum}, got {value!r}."
        )
    return value


def _country(key: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 2 or not value.isalpha():
        raise TextLinkConfigurationError(
            f"{setting_name(key)} must be ISO 3166-1 alpha-2 codes such as 'US', got {value!r}."
        )
    return value.upper()


def _positive_number(key: str, value: object, *, allow_zero: bool = False) -> float:
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        kind = "a finite number of seconds >= 0" if allow_zero else "a finite number of seconds > 0"
        raise TextLinkConfigurationError(f"{setting_name(key)} must be {kind}, got {value!r}.")
    return float(value)  # type: ignore[arg-type]


def validate_timeout(value: object, key: str = "TIMEOUT") -> Timeout:
    """A finite positive number, or a (connect, read) pair of them. ``None`` is refused:
    a request without a timeout can hang a worker forever."""
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise TextLinkConfigurationError(
                f"{setting_name(key)} must be a number or a (connect, read) pair, got {value!r}."
            )
        return (_positive_number(key, value[0]), _positive_number(key, value[1]))
    return _positive_number(key, value)


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


conf = TextLinkSettings()
