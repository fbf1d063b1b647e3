"""System checks for django-textlink (``manage.py check``, ``check --deploy``).

=============== ==========================================================================
textlink.E001   The HTTP backend is configured but ``TEXTLINK["API_KEY"]`` is not set.
textlink.E002   ``TEXTLINK["BASE_URL"]`` is not an http(s) URL with a host.
textlink.E003   ``TEXTLINK["BACKEND"]`` cannot be imported or is not a backend.
textlink.E004   Another ``TEXTLINK`` option is malformed (the message names it).
textlink.W001   (deploy) The console or locmem backend is in use with ``DEBUG = False``.
textlink.W002   ``TEXTLINK["BASE_URL"]`` is plain http to a host other than loopback:
                the API key would cross the network unencrypted.
=============== ==========================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from django_textlink.backends import load_backend_class
from django_textlink.backends.simulated import SimulatedBackend
from django_textlink.backends.textlink import TextLinkBackend
from django_textlink.conf import base_url_problem, conf, setting_name
from django_textlink.exceptions import TextLinkConfigurationError

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _backend_class() -> tuple[type | None, list[CheckMessage]]:
    try:
        return load_backend_class(), []
    except TextLinkConfigurationError as err:
        return None, [Error(str(err), id="textlink.E003")]


@register()
def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        conf.raw  # noqa: B018 -- raises when TEXTLINK is not a dict
    except TextLinkConfigurationError as err:
        return [Error(str(err), hint="Set TEXTLINK = {...} in settings.", id="textlink.E004")]

    messages: list[CheckMessage] = []
    backend_class, errors = _backend_class()
    messages += errors

    if backend_class is not None and issubclass(backend_class, TextLinkBackend):
        try:
            api_key = conf.API_KEY
        except TextLinkConfigurationError as err:
            messages.append(Error(str(err), id="textlink.E004"))
        else:
            if not api_key:
                messages.append(
                    Error(
                        f"{setting_name('API_KEY')} is not set, but the TextLink HTTP backend "
                        "is in use.",
                        hint="Add your key from TextLink's API console, or use "
                        "django_textlink.backends.console.ConsoleBackend in development.",
                        id="textlink.E001",
                    )
                )

    base_url = conf.get("BASE_URL")
    problem = base_url_problem(base_url)
    if problem:
        messages.append(Error(f"{setting_name('BASE_URL')} {problem}", id="textlink.E002"))
    else:
        parts = urlsplit(str(base_url))
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            messages.append(
                Warning(
                    f"{setting_name('BASE_URL')} uses plain http to {parts.hostname}: the API key "
                    "would travel unencrypted.",
                    hint="Use https://, or http:// only towards a local test server.",
                    id="textlink.W002",
                )
            )

    for key in ("TIMEOUT", "MAX_RETRIES", "RETRY_BACKOFF", "POOL_SIZE", "WEBHOOK_SECRETS",
                "DEFAULT_REGION"):  # fmt: skip
        try:
            getattr(conf, key)
        except TextLinkConfigurationError as err:
            messages.append(Error(str(err), id="textlink.E004"))
    return messages


@register(Tags.security, deploy=True)
def check_deploy(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    backend_class, _errors = _backend_class()
    if (
        backend_class is not None
        and issubclass(backend_class, SimulatedBackend)
        and not settings.DEBUG
    ):
        return [
            Warning(
                f"{setting_name('BACKEND')} is {backend_class.__name__} while DEBUG is False: "
                "no SMS will reach a phone.",
                hint="Use django_textlink.backends.textlink.TextLinkBackend in production.",
                id="textlink.W001",
            )
        ]
    return []
