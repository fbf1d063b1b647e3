"""Settings for ``bench/webhooks.py`` (it sets the variables read here).

PostgreSQL (``TEXTLINK_BENCH_DB_ENGINE=postgres``; the server from the usual PGHOST,
PGPORT, PGUSER, PGPASSWORD, the database ``TEXTLINK_BENCH_DB_NAME``) or a file SQLite
database (``TEXTLINK_BENCH_DB_NAME`` is its path) in WAL mode, with a 30 s busy timeout and
IMMEDIATE transactions so that concurrent writers wait for the lock instead of failing
with "database is locked". Connections persist between requests (``CONN_MAX_AGE``), as
in a deployment. django-textlink's default settings, except the webhook secret.
"""

from __future__ import annotations

import os

from bench._databases import database_setting

SECRET_KEY = "bench-only-not-secret"  # noqa: S105
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.webhook_app.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_textlink",
    "bench.webhook_app",
]
# The same stack in front of both views.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]

DATABASES = {
    "default": database_setting(
        "bench-webhooks.sqlite3",
        postgres={"CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True},
        sqlite={
            "CONN_MAX_AGE": 600,
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            },
        },
    )
}

TEXTLINK = {
    "API_KEY": "bench-key",
    "BASE_URL": "http://127.0.0.1:9/api",  # nothing is sent: only webhooks are posted
    "WEBHOOK_SECRET": os.environ.get("TEXTLINK_BENCH_WEBHOOK_SECRET", "bench-webhook-secret"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
