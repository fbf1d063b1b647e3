"""The admin of bulk sends: per-status counts in the list and a progress page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from django_textlink.admin._common import (
    MAX_EXAMPLES,
    PROGRESS_REFRESH,
    BroadcastAdminBase,
    Status,
    admin_page,
    status_badge,
    truncated,
)
from django_textlink.models import (
    Broadcast,
    SMSMessage,
)


def _status_count(*statuses: str) -> Coalesce:
    """The number of the broadcast's messages in ``statuses``, as a correlated subquery
    (the ``(broadcast, status)`` index answers it, for the listed rows only)."""
    messages_in_status = (
        SMSMessage.objects.filter(broadcast=OuterRef("pk"), status__in=statuses)
        .order_by()
        .values("broadcast")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(messages_in_status, output_field=IntegerField()), 0)


@admin.register(Broadcast)
class BroadcastAdmin(BroadcastAdminBase):
    """Bulk sends are made by the "send an SMS" action; here they are read-only, with a
    progress page for each."""

    list_display = (
        "id",
        "text_excerpt",
        "created_at",
        "created_by",
        "recipients",
        "progress_summary",
    )
    list_display_links = ("id", "text_excerpt")
    list_filter = ("created_at",)
    search_fields = ("text",)
    date_hierarchy = "created_at"
    list_select_related = ("created_by",)
    fields = (
        "progress_link",
        "text",
        "sim_card_id",
        "created_by",
        "created_at",
        "finished_at",
        "recipients",
        "skipped_invalid",
        "skipped_duplicates",
        "skipped_opted_out",
    )
    readonly_fields = fields

    class Media:
        css = {"all": ("django_textlink/admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Broadcast]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_sent=_status_count(Status.SENT),
                n_failed=_status_count(Status.FAILED),
                n_unknown=_status_count(Status.UNKNOWN),
                n_pending=_status_count(Status.QUEUED, Status.SENDING),
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by the send_sms action, or messaging.create_broadcast()

    def has_change_permission(self, request: HttpRequest, obj: Broadcast | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Broadcast | None = None) -> bool:
        # Deleting a send that is not over would strand its queued messages: workers find
        # them by their bulk send. (Nor is there a bulk delete action: see get_actions.)
        if obj is not None and obj.finished_at is None:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Django 6.1 passes action_location (and warns about overrides without it).
        if action_location is None:
            actions = super().get_actions(request)
        else:
            actions = super().get_actions(request, action_location)  # type: ignore[call-arg,unused-ignore]
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description=_("text"))
    def text_excerpt(self, obj: Broadcast) -> str:
        return truncated(obj.text)

    @admin.display(description=_("progress"))
    def progress_summary(self, obj: Broadcast) -> str:
        summary = _(
            "%(sent)d sent, %(failed)d failed, %(unknown)d unknown, %(pending)d pending"
        ) % {
            "sent": getattr(obj, "n_sent", 0),
            "failed": getattr(obj, "n_failed", 0),
            "unknown": getattr(obj, "n_unknown", 0),
            "pending": getattr(obj, "n_pending", 0),
        }
        return format_html('<a href="{}">{}</a>', self._progress_url(obj), summary)

    @admin.display(description=_("progress"))
    def progress_link(self, obj: Broadcast) -> str:
        return format_html(
            '<a href="{}">{}</a>', self._progress_url(obj), _("Show the progress of this send")
        )

    def _progress_url(self, obj: Broadcast) -> str:
        return reverse(
            f"{self.admin_site.name}:django_textlink_broadcast_progress",
            args=[obj.pk],
            current_app=self.admin_site.name,
        )

    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        return [
            path(
                "<path:object_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="{}_{}_progress".format(*info),
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request: HttpRequest, object_id: str) -> TemplateResponse:
        """How far a bulk send got; reloads itself every 2 s while messages are pending."""
        request.current_app = self.admin_site.name
        broadcast = self.get_object(request, unquote(object_id))
        if broadcast is None:
            raise Http404(_("There is no bulk send with this id."))
        if not self.has_view_permission(request, broadcast):
            raise PermissionDenied
        counts = broadcast.progress()
        pending = counts[Status.QUEUED] + counts[Status.SENDING]
        total = counts["total"]
        refresh = bool(pending) and request.GET.get("refresh") != "off"
        messages_url = None
        if self.admin_site.is_registered(SMSMessage):
            message_admin = self.admin_site.get_model_admin(SMSMessage)
            if message_admin.has_view_permission(request):
                changelist = reverse(
                    f"{self.admin_site.name}:django_textlink_smsmessage_changelist",
                    current_app=self.admin_site.name,
                )
                messages_url = f"{changelist}?broadcast__id__exact={broadcast.pk}"
        rows = [
            (status, label, counts[status])
            for status, label in Status.choices
            if status != Status.RECEIVED
        ]
        return admin_page(
            self,
            request,
            "admin/django_textlink/broadcast/progress.html",
            {
                "original": broadcast,
                "broadcast": broadcast,
                "counts": counts,
                "rows": [(status, status_badge(status, label), n) for status, label, n in rows],
                "total": total,
                "done": counts["done"],
                "pending": pending,
                "percent": round(100 * counts["done"] / total) if total else 100,
                "refresh": refresh,
                "refresh_seconds": PROGRESS_REFRESH,
                "paused": bool(pending) and not refresh,
                "invalid_examples": broadcast.invalid_numbers[:MAX_EXAMPLES],
                "max_examples": MAX_EXAMPLES,
                "messages_url": messages_url,
                "has_view_permission": True,
            },
            title=_("Progress of bulk send #%(id)s") % {"id": broadcast.pk},
            media=self.media,
        )
