"""Django settings for ``bench/bulk.py`` (it sets the variables read here).

PostgreSQL (``TEXTLINK_BENCH_DB_ENGINE=postgres``; the server from the usual PGHOST,
PGPORT, PGUSER, PGPASSWORD, the database ``TEXTLINK_BENCH_DB_NAME``) or a throwaway file
SQLite database (``TEXTLINK_BENCH_DB_NAME`` is its path), and django-textlink's default
settings, except the API key and the base URL of the TextLink sandbox the benchmark runs
(``django_textlink.sandbox``).
"""

from __future__ import annotations

import os

SECRET_KEY = "bench-only-not-secret"  # noqa: S105
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_textlink",
]

_NAME = os.environ.get("TEXTLINK_BENCH_DB_NAME", "bench.sqlite3")
if os.environ.get("TEXTLINK_BENCH_DB_ENGINE") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _NAME,
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "HOST": os.environ.get("PGHOST", ""),
            "PORT": os.environ.get("PGPORT", ""),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _NAME,
        }
    }
TEXTLINK = {
    "API_KEY": os.environ.get("TEXTLINK_BENCH_API_KEY", "bench-key"),
    "BASE_URL": os.environ.get("TEXTLINK_BENCH_BASE_URL", "http://127.0.0.1:9/api"),
}
