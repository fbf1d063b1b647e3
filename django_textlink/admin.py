from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import HttpRequest

from django_textlink.models import VerifiedPhoneNumber

if TYPE_CHECKING:
    VerifiedPhoneNumberAdminBase = admin.ModelAdmin[VerifiedPhoneNumber]
else:
    VerifiedPhoneNumberAdminBase = admin.ModelAdmin


@admin.register(VerifiedPhoneNumber)
class VerifiedPhoneNumberAdmin(VerifiedPhoneNumberAdminBase):
    list_display = ("phone_number", "user", "verified_at")
    list_filter = ("verified_at",)
    search_fields = ("phone_number",)
    date_hierarchy = "verified_at"
    raw_id_fields = ("user",)
    readonly_fields = ("phone_number", "user", "verified_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only the verification flow records numbers
