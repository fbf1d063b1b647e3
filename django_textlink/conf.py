"""Settings for django-textlink, read from ``settings.TEXTLINK`` at call time.

Nothing is cached, so ``override_settings(TEXTLINK=...)`` takes effect at once. Each
option has one typed accessor on :data:`conf`; an option that is required but missing,
or malformed, raises :class:`~django_textlink.exceptions.TextLinkConfigurationError`
naming the key to fix.
"""

from __future__ import annotations

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

DEFAULTS: dict[str, Any] = {
    "API_KEY": None,
    "BASE_URL": DEFAULT_BASE_URL,
    "BACKEND": DEFAULT_BACKEND,
    "WEBHOOK_SECRET": None,
    "TIMEOUT": DEFAULT_TIMEOUT,
    "MAX_RETRIES": 2,
    "RETRY_BACKOFF": 0.5,
    "POOL_SIZE": 10,
    "DEFAULT_REGION": None,
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
        value = self.get("POOL_SIZE")
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


conf = TextLinkSettings()
