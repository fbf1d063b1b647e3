from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed
from django.utils.translation import gettext_lazy as _


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "TEXTLINK":
        from django_textlink.backends.textlink import close_shared_clients

        close_shared_clients()


class TextLinkConfig(AppConfig):
    name = "django_textlink"
    label = "django_textlink"
    verbose_name = _("TextLink SMS")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_textlink import (
            checks,  # noqa: F401 - registers the system checks
            tasks,  # noqa: F401 - registers the tasks (see _queue)
        )

        setting_changed.connect(_settings_changed, dispatch_uid="django_textlink.settings_changed")
