"""A second admin site for the tests: users get django-textlink's ``send_sms`` action
through :func:`~django_textlink.admin.send_sms_action`, with a phone lookup across a
relation. The default admin stays at /admin/ (the bulk send's progress page is there).

Use it with ``settings.ROOT_URLCONF = "tests.support.admin_site"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.urls import path

from django_textlink.admin import send_sms_action
from tests.urls import urlpatterns as default_urlpatterns

if TYPE_CHECKING:
    UserAdminBase = UserAdmin[Any]
else:
    UserAdminBase = UserAdmin

site = admin.AdminSite(name="textlink_test_admin")


class UserSMSAdmin(UserAdminBase):
    actions = (send_sms_action(phone_field="verified_phone_numbers__phone_number"),)


site.register(User, UserSMSAdmin)

urlpatterns = [path("useradmin/", site.urls), *default_urlpatterns]
