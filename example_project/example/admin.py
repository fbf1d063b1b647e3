"""The example's admin: users get django-textlink's "send an SMS" action, to the phone
numbers they verified at signup (``user.verified_phone_numbers``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from django_textlink.admin import send_sms_action
from django_textlink.models import VerifiedPhoneNumber

User = get_user_model()

if TYPE_CHECKING:
    UserAdminBase = DjangoUserAdmin[Any]
    VerifiedPhoneInlineBase = admin.TabularInline[VerifiedPhoneNumber, Any]
else:
    UserAdminBase = DjangoUserAdmin
    VerifiedPhoneInlineBase = admin.TabularInline


class VerifiedPhoneNumberInline(VerifiedPhoneInlineBase):
    model = VerifiedPhoneNumber
    fields = ("phone_number", "verified_at")
    readonly_fields = ("phone_number", "verified_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # only the verification flow records numbers


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(UserAdminBase):
    inlines = (*DjangoUserAdmin.inlines, VerifiedPhoneNumberInline)
    actions = (
        send_sms_action(
            phone_field="verified_phone_numbers__phone_number",
            description="Send an SMS to the selected users' verified phones",
        ),
    )
