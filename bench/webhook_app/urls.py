from __future__ import annotations

from django.urls import include, path

from bench.webhook_app import views

urlpatterns = [
    path("bench/insert/", views.insert_one),
    path("bench/ready/", views.ready),
    path("textlink/", include("django_textlink.urls")),
]
