"""The example project's app (found by Django as the default AppConfig of ``example``)."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

from example.checks import check_secret_key


class ExampleConfig(AppConfig):
    name = "example"

    def ready(self) -> None:
        checks.register(check_secret_key, checks.Tags.security)
