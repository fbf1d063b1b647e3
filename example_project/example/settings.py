"""Settings of the django-textlink example project, read from the environment and
``example_project/.env`` with django-environ (see ``.env.example`` for every variable)."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import django
import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="django-insecure-example-project-only")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_textlink",
    "example",
]
# Swagger UI's files for the API's docs page (/api/textlink/docs/), served locally: no CDN.
# In django-textlink[drf]; without it the page says what to install.
if find_spec("drf_spectacular_sidecar") is not None:
    INSTALLED_APPS.append("drf_spectacular_sidecar")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example.urls"

# The phone verification API (django_textlink.api), its OpenAPI schema at /api/schema/ and
# its browsable docs at /api/textlink/docs/.
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {"TITLE": "django-textlink example", "VERSION": "1.0"}
WSGI_APPLICATION = "example.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers wait for SQLite's lock instead of failing with "database is
    # locked" when a transaction that read first tries to write (Django 5.1+).
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

_api_key = env.str("TEXTLINK_API_KEY", default="")
_timeout = [float(part) for part in env.list("TEXTLINK_TIMEOUT", default=["3.05", "10"])]

TEXTLINK = {
    "API_KEY": _api_key or None,
    "BASE_URL": env.str("TEXTLINK_BASE_URL", default="https://textlinksms.com/api"),
    "BACKEND": env.str("TEXTLINK_BACKEND", default="")
    or (
        "django_textlink.backends.textlink.TextLinkBackend"
        if _api_key
        else "django_textlink.backends.console.ConsoleBackend"
    ),
    "WEBHOOK_SECRET": env.list("TEXTLINK_WEBHOOK_SECRET", default=[]) or None,
    "TIMEOUT": _timeout[0] if len(_timeout) == 1 else tuple(_timeout),
    "DEFAULT_REGION": env.str("TEXTLINK_DEFAULT_REGION", default="") or None,
    "SERVICE_NAME": env.str("TEXTLINK_SERVICE_NAME", default="django-textlink example"),
    "ALLOWED_COUNTRIES": env.list("TEXTLINK_ALLOWED_COUNTRIES", default=[]) or None,
    "RESEND_COOLDOWN": env.int("TEXTLINK_RESEND_COOLDOWN", default=60),
    "BULK_CHUNK_SIZE": env.int("TEXTLINK_BULK_CHUNK_SIZE", default=1000),
    "BULK_CONCURRENCY": env.int("TEXTLINK_BULK_CONCURRENCY", default=50),
}

# Where the offline TextLink sandbox's inbox is (example_project/demo.py sets it): the home
# page links to it, and says it runs on the sandbox when BASE_URL points there.
TEXTLINK_SANDBOX_URL = env.str("TEXTLINK_SANDBOX_URL", default="").rstrip("/")

# Background tasks (bulk sends, retries): see docs/tasks.md.
# "immediate": inline, in the process that enqueues them (Django's ImmediateBackend).
# "db": stored in the database by django-tasks-db; `manage.py db_worker` runs them.
# Django 6 has django.tasks built in; on Django 5.2 the django-tasks backport provides it.
TEXTLINK_TASKS = env.str("TEXTLINK_TASKS", default="immediate")
_tasks_module = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
if TEXTLINK_TASKS == "immediate":
    TASKS = {"default": {"BACKEND": f"{_tasks_module}.backends.immediate.ImmediateBackend"}}
elif TEXTLINK_TASKS == "db":
    if django.VERSION < (6, 0):
        INSTALLED_APPS.append("django_tasks")
    INSTALLED_APPS.append("django_tasks_db")
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
else:
    raise ImproperlyConfigured(
        f"TEXTLINK_TASKS must be 'immediate' or 'db', got {TEXTLINK_TASKS!r}."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_textlink": {"handlers": ["console"], "level": "INFO"}},
}
