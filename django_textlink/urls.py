"""``path("textlink/", include("django_textlink.urls"))`` (namespace ``textlink``): the
verification pages (``verify/``) and TextLink's webhooks (``webhooks/``)."""

from __future__ import annotations

from django.urls import include, path

app_name = "textlink"

urlpatterns = [
    path("verify/", include("django_textlink.verification.urls")),
    path("webhooks/", include("django_textlink.webhooks.urls")),
]
