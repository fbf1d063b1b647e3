"""System checks of the example project.

============= ===========================================================================
example.E001  ``DEBUG`` is off and ``SECRET_KEY`` is the example's public default, or
              another key that is no secret (empty, shorter than 50 characters, fewer
              than 5 different characters, or starting with ``django-insecure-``).
============= ===========================================================================

The default key is in this repository for anyone to read: a site running on it can have
its sessions, password reset links, signed cookies and django-textlink's verification
tokens forged. It is only tolerated with ``DEBUG`` on, on a developer's machine.
``manage.py check``, ``runserver`` and ``migrate`` refuse to go on with it; a WSGI server
runs no checks, so run ``manage.py check --deploy`` when deploying.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured

#: settings.py's fallback when DJANGO_SECRET_KEY is not set.
DEFAULT_SECRET_KEY = "django-insecure-example-project-only"
INSECURE_PREFIX = "django-insecure-"
MIN_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5

HINT = (
    "Set DJANGO_SECRET_KEY (in the environment or example_project/.env) to a long random "
    'string, e.g. the output of: python -c "from django.core.management.utils import '
    'get_random_secret_key; print(get_random_secret_key())". Or, on your own machine '
    "only, set DJANGO_DEBUG=True."
)


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` is no secret, or None."""
    if key == DEFAULT_SECRET_KEY:
        return "is the example project's public default"
    if not key:
        return "is empty"
    if key.startswith(INSECURE_PREFIX):
        return f"starts with {INSECURE_PREFIX!r}, the mark of a generated development key"
    if len(key) < MIN_LENGTH:
        return f"is {len(key)} characters long (at least {MIN_LENGTH} are needed)"
    if len(set(key)) < MIN_UNIQUE_CHARACTERS:
        return f"has fewer than {MIN_UNIQUE_CHARACTERS} different characters"
    return None


def check_secret_key(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """example.E001: no public or weak SECRET_KEY with DEBUG off."""
    if settings.DEBUG:
        return []
    try:
        key = str(settings.SECRET_KEY)
    except ImproperlyConfigured:  # Django refuses to hand out an empty SECRET_KEY
        key = ""
    problem = secret_key_problem(key)
    if problem is None:
        return []
    return [
        Error(
            f"SECRET_KEY {problem}, and DEBUG is off: anyone could forge this site's "
            "sessions, signed cookies and verification tokens.",
            hint=HINT,
            id="example.E001",
        )
    ]
