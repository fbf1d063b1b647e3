"""``path("textlink/", include("django_textlink.urls"))`` (namespace ``textlink``)."""

from __future__ import annotations

from django.urls import include, path

from django_textlink import views

app_name = "textlink"

urlpatterns = [
    path("verify/", views.VerifyPhoneView.as_view(), name="verify"),
    path("verify/confirm/", views.ConfirmPhoneView.as_view(), name="verify-confirm"),
    path("verify/done/", views.VerifyDoneView.as_view(), name="verify-done"),
    path("webhooks/", include("django_textlink.webhooks.urls")),
]
