"""URLs of the verification API: ``path("api/textlink/", include("django_textlink.api.urls"))``.

``verify/send/`` and ``verify/check/``: the endpoints. ``docs/``: the API's documentation,
browsable (Swagger UI, from drf-spectacular-sidecar's files, served locally). ``schema/``:
its OpenAPI schema, with drf-spectacular installed (``django-textlink[openapi]``).

Without Django REST framework installed, importing this module raises
``ImproperlyConfigured`` (install ``django-textlink[drf]``).
"""

from __future__ import annotations

from importlib.util import find_spec

from django.urls import URLPattern, path

from django_textlink.api import views

app_name = "textlink-api"

urlpatterns: list[URLPattern] = [
    path("verify/send/", views.SendCodeView.as_view(), name="verify-send"),
    path("verify/check/", views.CheckCodeView.as_view(), name="verify-check"),
    path("docs/", views.api_docs, name="docs"),
]

if find_spec("drf_spectacular") is not None:  # pragma: no branch
    from django_textlink.api.openapi import SchemaView

    urlpatterns.append(path("schema/", SchemaView.as_view(), name="schema"))
