from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from example import signup, views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("signup/", signup.signup, name="signup"),
    path("signup/complete/", signup.signup_complete, name="signup-complete"),
    path("textlink/", include("django_textlink.urls")),
    path("api/textlink/", include("django_textlink.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
