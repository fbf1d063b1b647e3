"""``manage.py textlink_sandbox``: the offline TextLink sandbox, with the site's settings.

The same server and options as ``python -m django_textlink.sandbox``, but the API key
and webhook secret default to ``TEXTLINK["API_KEY"]`` and ``TEXTLINK["WEBHOOK_SECRET"]``
(its first value during a rotation), so a site whose ``BASE_URL`` points at the sandbox
works without other changes. ``-v 2`` logs every request.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_textlink.conf import conf
from django_textlink.exceptions import TextLinkConfigurationError
from django_textlink.sandbox.cli import DESCRIPTION, add_arguments, config_from_options
from django_textlink.sandbox.config import DEFAULT_API_KEY
from django_textlink.sandbox.server import SandboxServer, serve


class Command(BaseCommand):
    help = DESCRIPTION
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser, defaults=_settings_defaults(), verbose_flag=False)

    def handle(self, *args: Any, **options: Any) -> None:
        options["verbose"] = options.get("verbosity", 1) >= 2
        try:
            config = config_from_options(options)
        except ValueError as err:
            raise CommandError(str(err)) from err

        def write(text: str) -> None:
            self.stdout.write(text)
            self.stdout.flush()  # a piped stdout is block-buffered: show the banner now

        status = serve(config, write=write, notes=_base_url_note)
        if status:
            raise CommandError("The sandbox could not start.", returncode=status)


def _base_url_note(server: SandboxServer) -> list[str]:
    """A reminder when the site's own BASE_URL does not point at this sandbox."""
    try:
        base_url = conf.BASE_URL
    except TextLinkConfigurationError:
        return []
    port = f":{server.port}/"
    if base_url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")) and (
        port in base_url + "/"
    ):
        return []
    return [
        f'Note: this site\'s TEXTLINK["BASE_URL"] is {base_url}; set it to '
        f'"{server.base_url}" to send through the sandbox (e.g. in local settings).'
    ]


def _settings_defaults() -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    try:
        defaults["api_key"] = conf.API_KEY or DEFAULT_API_KEY
        secrets = conf.WEBHOOK_SECRETS
    except TextLinkConfigurationError:
        return defaults
    if secrets:
        defaults["webhook_secret"] = secrets[0]
    return defaults
