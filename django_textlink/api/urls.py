"""URLs of the verification API: ``path("api/textlink/", include("django_textlink.api.urls"))``.

Without Django REST framework installed, importing this module raises
``ImproperlyConfigured`` (install ``django-textlink[drf]``).
"""

from __future__ import annotations

from django.urls import path

from django_textlink.api import views

app_name = "textlink-api"

urlpatterns = [
    path("verify/send/", views.SendCodeView.as_view(), name="verify-send"),
    path("verify/check/", views.CheckCodeView.as_view(), name="verify-check"),
]
