from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("textlink/", include("django_textlink.urls")),
    path("api/textlink/", include("django_textlink.api.urls")),
]
