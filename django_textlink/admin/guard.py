"""The fraud guard's page: its blocks (active first, with their reason and end, and an
action to lift them) above the last 24 hours of codes sent, numbers verified and
conversion, by country and by the busiest number ranges."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_textlink.admin._common import VerificationBlockAdminBase, status_badge
from django_textlink.models import VerificationBlock
from django_textlink.verification.clock import as_datetime, now
from django_textlink.verification.guard import activity
from django_textlink.verification.guard import blocks as guard_blocks

#: The figures' span on the page, and how many ranges it lists.
FIGURES_SPAN = 24 * 3600
TOP_RANGES = 20

BLOCK_SYMBOLS = {"active": "✗", "ended": "○", "lifted": "✓"}


def _with_conversion(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        sends = row["sends"] or 0
        row["conversion"] = round(100 * (row["verified"] or 0) / sends) if sends else None
    return rows


class ActiveFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return (("active", _("Active")), ("ended", _("Ended or lifted")))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        active: QuerySet[Any] = guard_blocks.active(queryset)
        if self.value() == "active":
            return active
        if self.value() == "ended":
            return queryset.exclude(pk__in=active.values("pk"))
        return queryset


@admin.register(VerificationBlock)
class VerificationBlockAdmin(VerificationBlockAdminBase):
    change_list_template = "admin/django_textlink/verificationblock/change_list.html"
    list_display = ("value", "scope", "reason", "level", "ends_at", "state")
    list_filter = (ActiveFilter, "scope", "reason")
    search_fields = ("value",)
    actions = ["lift_blocks"]
    readonly_fields = (
        "scope",
        "value",
        "reason",
        "level",
        "starts_at",
        "ends_at",
        "lifted_at",
        "lifted_by",
    )

    class Media:
        css = {"all": ("django_textlink/admin.css",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only the fraud guard places blocks

    @admin.display(description=_("state"))
    def state(self, block: VerificationBlock) -> str:
        if block.lifted_at is not None:
            return status_badge("lifted", _("Lifted"), BLOCK_SYMBOLS)
        if block.ends_at > as_datetime(now()):
            return status_badge("active", _("Active"), BLOCK_SYMBOLS)
        return status_badge("ended", _("Ended"), BLOCK_SYMBOLS)

    @admin.action(description=_("Lift the selected blocks"), permissions=["change"])
    def lift_blocks(self, request: HttpRequest, queryset: QuerySet[VerificationBlock]) -> None:
        lifted = guard_blocks.lift(guard_blocks.active(queryset), request.user)
        self.message_user(
            request,
            ngettext(
                "%(count)d block lifted: codes can be sent there again.",
                "%(count)d blocks lifted: codes can be sent there again.",
                lifted,
            )
            % {"count": lifted},
            messages.SUCCESS if lifted else messages.WARNING,
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        since = now() - FIGURES_SPAN
        context = {
            "figures_since": as_datetime(since),
            "countries": _with_conversion(activity.by_country(since)),
            "ranges": _with_conversion(activity.top_ranges(since, TOP_RANGES)),
            "active_blocks": guard_blocks.active(VerificationBlock.objects.all()).count(),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)
