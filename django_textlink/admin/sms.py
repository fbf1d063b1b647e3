"""The admin of SMS messages: read-only rows, a status badge, retries of failed (and,
after confirmation, unknown) messages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_textlink.admin._common import (
    MAX_EXAMPLES,
    Direction,
    SMSMessageAdminBase,
    Status,
    admin_page,
    status_badge,
    truncated,
)
from django_textlink.messaging import (
    requeue,
)
from django_textlink.models import (
    Broadcast,
    SMSMessage,
)


class BroadcastListFilter(admin.SimpleListFilter):
    """``?broadcast__id__exact=<id>`` (the link of a bulk send's progress page), shown in
    the sidebar only while it is applied, so it can be seen and cleared."""

    title = _("bulk send")
    parameter_name = "broadcast__id__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        # Django applies only the filters it shows: an unknown id shows too (and matches
        # nothing) rather than being ignored.
        value = self.value()
        if not value:
            return []
        broadcast = Broadcast.objects.filter(pk=value).first() if value.isdigit() else None
        return [(value, str(broadcast) if broadcast else _("(no such bulk send)"))]

    def value(self) -> str:
        return str(super().value() or "")

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(broadcast_id=value) if value.isdigit() else queryset.none()


@admin.register(SMSMessage)
class SMSMessageAdmin(SMSMessageAdminBase):
    """Messages are read-only here: they change only by sending (a form save could
    overwrite what a worker wrote meanwhile). Failed ones can be retried (an action)."""

    # Fits a laptop screen beside the admin's sidebars: the status says the direction too
    # (inbound messages are "received"; the direction filter stays), the text is one line
    # cut with an ellipsis, the bulk send is its number; a message's page has the rest.
    list_display = (
        "phone_number",
        "status_display",
        "text_excerpt",
        "created_at",
        "broadcast_display",
    )
    list_filter = ("status", "direction", "created_at", BroadcastListFilter)
    search_fields = ("phone_number", "text")
    date_hierarchy = "created_at"
    list_select_related = ("broadcast",)
    raw_id_fields = ("contact", "broadcast")
    actions = ("retry_failed",)

    class Media:
        css = {"all": ("django_textlink/admin.css",)}

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, obj: SMSMessage) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description=_("text"))
    def text_excerpt(self, obj: SMSMessage) -> str:
        return truncated(obj.text)

    @admin.display(description=_("bulk send"), ordering="broadcast")
    def broadcast_display(self, obj: SMSMessage) -> str:
        if obj.broadcast_id is None:
            return "-"
        return format_html('<span title="{}">#{}</span>', str(obj.broadcast), obj.broadcast_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # outbound messages are stored by sending, inbound ones by webhooks

    def has_change_permission(self, request: HttpRequest, obj: SMSMessage | None = None) -> bool:
        # Without an object: the changelist and its actions. A message's own page is
        # view-only, inbound or outbound.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def get_readonly_fields(self, request: HttpRequest, obj: SMSMessage | None = None) -> Any:
        return [f.name for f in self.model._meta.concrete_fields]

    @admin.action(description=_("Retry failed messages"), permissions=["change"])
    def retry_failed(
        self, request: HttpRequest, queryset: QuerySet[SMSMessage]
    ) -> HttpResponseBase | None:
        """Queue ``failed`` messages again. ``unknown`` ones may have reached the phone:
        they are retried only after a confirmation page says so."""
        outbound = queryset.order_by().filter(direction=Direction.OUTBOUND)
        counts = queryset.order_by().aggregate(
            total=Count("pk"),
            failed=Count("pk", filter=Q(direction=Direction.OUTBOUND, status=Status.FAILED)),
            unknown=Count("pk", filter=Q(direction=Direction.OUTBOUND, status=Status.UNKNOWN)),
        )
        if not counts["failed"] and not counts["unknown"]:
            self.message_user(
                request,
                _("None of the selected messages failed: there is nothing to retry."),
                messages.WARNING,
            )
            return None
        decided = "_retry_unknown" in request.POST or "_retry_failed_only" in request.POST
        if counts["unknown"] and not decided:
            return self._retry_confirmation(request, outbound, counts)
        include_unknown = "_retry_unknown" in request.POST
        statuses = [Status.FAILED, Status.UNKNOWN] if include_unknown else [Status.FAILED]
        queued = requeue(
            outbound.filter(status__in=statuses).values_list("pk", flat=True),
            include_unknown=include_unknown,
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d message queued again.",
                "%(count)d messages queued again.",
                queued,
            )
            % {"count": queued},
            messages.SUCCESS if queued else messages.WARNING,
        )
        left = counts["total"] - queued
        if left:
            if include_unknown:
                note = ngettext(
                    "%(count)d selected message was left alone: only failed or unknown "
                    "outbound messages are retried.",
                    "%(count)d selected messages were left alone: only failed or unknown "
                    "outbound messages are retried.",
                    left,
                )
            else:
                note = ngettext(
                    "%(count)d selected message was left alone: only failed outbound "
                    "messages are retried.",
                    "%(count)d selected messages were left alone: only failed outbound "
                    "messages are retried.",
                    left,
                )
            self.message_user(request, note % {"count": left}, messages.INFO)
        return None

    def _retry_confirmation(
        self, request: HttpRequest, outbound: QuerySet[SMSMessage], counts: dict[str, int]
    ) -> TemplateResponse:
        examples = list(
            outbound.filter(status=Status.UNKNOWN)
            .order_by("-created_at", "-pk")
            .select_related(None)
            .only("pk", "phone_number", "text", "error", "created_at")[:MAX_EXAMPLES]
        )
        return admin_page(
            self,
            request,
            "admin/django_textlink/smsmessage/retry_confirmation.html",
            {
                "failed": counts["failed"],
                "unknown": counts["unknown"],
                "examples": examples,
                "max_examples": MAX_EXAMPLES,
            },
            title=_("Retry messages whose delivery is unknown?"),
            media=self.media,
            selection=True,
        )
