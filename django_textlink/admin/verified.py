"""The admin of verified phone numbers (read-only: only the verification flow records
them)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from django_textlink.admin._common import (
    VerifiedPhoneNumberAdminBase,
)
from django_textlink.models import (
    VerifiedPhoneNumber,
)


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
