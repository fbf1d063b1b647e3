"""``path("textlink/", include("django_textlink.urls"))`` (namespace ``textlink``)."""

from __future__ import annotations

from django.urls import path

from django_textlink import views, webhooks

app_name = "textlink"

urlpatterns = [
    path("verify/", views.VerifyPhoneView.as_view(), name="verify"),
    path("verify/confirm/", views.ConfirmPhoneView.as_view(), name="verify-confirm"),
    path("verify/done/", views.VerifyDoneView.as_view(), name="verify-done"),
    path("webhooks/received/", webhooks.ReceivedWebhookView.as_view(), name="webhook-received"),
    path("webhooks/sent/", webhooks.SentWebhookView.as_view(), name="webhook-sent"),
    path("webhooks/failed/", webhooks.FailedWebhookView.as_view(), name="webhook-failed"),
    path("webhooks/tag/", webhooks.TagWebhookView.as_view(), name="webhook-tag"),
]
