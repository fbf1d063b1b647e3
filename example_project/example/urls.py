from django.contrib import admin
from django.urls import include, path

from example import signup, views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("signup/", signup.signup, name="signup"),
    path("signup/complete/", signup.signup_complete, name="signup-complete"),
    path("textlink/", include("django_textlink.urls")),
]
