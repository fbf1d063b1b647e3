from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path

from django_textlink.api.openapi import SchemaView
from example import signup, views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("logout/", LogoutView.as_view(next_page="home"), name="logout"),
    path("admin/", admin.site.urls),
    path("signup/", signup.signup, name="signup"),
    path("signup/complete/", signup.signup_complete, name="signup-complete"),
    path("textlink/", include("django_textlink.urls")),
    # The phone verification API, its browsable docs at api/textlink/docs/ and its schema at
    # api/textlink/schema/ (django_textlink.api.urls); the whole site's schema here.
    path("api/textlink/", include("django_textlink.api.urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
]
