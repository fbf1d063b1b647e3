"""Django settings for ``bench/bulk.py`` (it sets the variables read here).

PostgreSQL (``TEXTLINK_BENCH_DB_ENGINE=postgres``; the server from the usual PGHOST,
PGPORT, PGUSER, PGPASSWORD, the database ``TEXTLINK_BENCH_DB_NAME``) or a throwaway file
SQLite database (``TEXTLINK_BENCH_DB_NAME`` is its path), and django-textlink's default
settings, except the API key and the base URL of the TextLink sandbox the benchmark runs
(``django_textlink.sandbox``).
"""

from __future__ import annotations

import os

from bench._databases import database_setting

SECRET_KEY = "bench-only-not-secret"  # noqa: S105
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_textlink",
]

DATABASES = {"default": database_setting("bench.sqlite3")}
TEXTLINK = {
    "API_KEY": os.environ.get("TEXTLINK_BENCH_API_KEY", "bench-key"),
    "BASE_URL": os.environ.get("TEXTLINK_BENCH_BASE_URL", "http://127.0.0.1:9/api"),
}
