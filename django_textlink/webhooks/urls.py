"""The webhook URLs, included by :mod:`django_textlink.urls` under ``webhooks/`` (in its
``textlink`` namespace)."""

from __future__ import annotations

from django.urls import path

from django_textlink.webhooks import views

urlpatterns = [
    path("received/", views.ReceivedWebhookView.as_view(), name="webhook-received"),
    path("sent/", views.SentWebhookView.as_view(), name="webhook-sent"),
    path("failed/", views.FailedWebhookView.as_view(), name="webhook-failed"),
    path("tag/", views.TagWebhookView.as_view(), name="webhook-tag"),
]
