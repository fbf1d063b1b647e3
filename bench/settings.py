"""Django settings for the benchmarks in bench/ (``bench/bulk.py`` sets the variables).

A throwaway file SQLite database (``TEXTLINK_BENCH_DB``) and django-textlink's default
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
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TEXTLINK_BENCH_DB", "bench.sqlite3"),
    }
}
TEXTLINK = {
    "API_KEY": os.environ.get("TEXTLINK_BENCH_API_KEY", "bench-key"),
    "BASE_URL": os.environ.get("TEXTLINK_BENCH_BASE_URL", "http://127.0.0.1:9/api"),
}
