"""The verification pages, included by :mod:`django_textlink.urls` under ``verify/`` (in its
``textlink`` namespace)."""

from __future__ import annotations

from django.urls import path

from django_textlink.verification import views

urlpatterns = [
    path("", views.VerifyPhoneView.as_view(), name="verify"),
    path("confirm/", views.ConfirmPhoneView.as_view(), name="verify-confirm"),
    path("done/", views.VerifyDoneView.as_view(), name="verify-done"),
]
