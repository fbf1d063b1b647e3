"""The phone verification API for Django REST framework (optional: ``django-textlink[drf]``).

::

    # urls.py
    path("api/textlink/", include("django_textlink.api.urls")),  # namespace "textlink-api"

``POST verify/send/`` ``{"phone_number"}`` sends a code (202); ``POST verify/check/``
``{"phone_number", "code"}`` answers 200 with a signed ``token`` for the right code. The
views are thin shells over :class:`django_textlink.verification.PhoneVerification`, which
applies every limit; see :mod:`django_textlink.api.views` for the answers, authentication
and CSRF.

Only this sub-package imports ``rest_framework``: the rest of django-textlink works without it.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

try:
    import rest_framework  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised with rest_framework hidden
    raise ImproperlyConfigured(
        "django_textlink.api needs Django REST framework. Install it with "
        'pip install "django-textlink[drf]" and add "rest_framework" to INSTALLED_APPS.'
    ) from err
