"""``gunicorn bench.webhook_app.wsgi:application`` (``bench/webhooks.py`` starts it)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.webhook_app.settings")

application = get_wsgi_application()
