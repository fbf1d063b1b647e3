"""The admin of stored webhook events: their state and error, and the replay of failed
events."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_textlink.admin._common import (
    EVENT_STATE_SYMBOLS,
    TITLE_LENGTH,
    WebhookEventAdminBase,
    excerpt,
    status_badge,
)
from django_textlink.models import (
    WebhookEvent,
)
from django_textlink.webhooks import store as webhook_store

#: The "Replay failed events" action replays at most this many events at a time (each is
#: processed in the request, one after the other).
REPLAY_LIMIT = 500


@admin.register(WebhookEvent)
class WebhookEventAdmin(WebhookEventAdminBase):
    """The events TextLink posted to the webhooks, read-only: they are stored by the
    webhook views. A receiver that raised leaves its event ``failed`` with the error;
    the "Replay failed events" action processes such events once more
    (:func:`django_textlink.webhooks.store.replay`)."""

    # Fits a laptop screen beside the admin's sidebars: a failed event's error is under its
    # state, on one line cut with an ellipsis (the whole error on the event's page).
    list_display = (
        "id",
        "kind",
        "phone_display",
        "state_with_error",
        "received_at",
        "attempts_display",
    )
    list_display_links = ("id", "kind")
    list_filter = ("kind", "state", "received_at")
    # JSON key lookups: icontains works on SQLite and PostgreSQL alike.
    search_fields = ("payload__phone_number", "payload__text", "error")
    date_hierarchy = "received_at"
    fields = (
        "kind",
        "state_display",
        "received_at",
        "attempts",
        "processed_at",
        "error",
        "payload_display",
        "dedup_key",
    )
    readonly_fields = fields
    actions = ("replay_failed",)

    class Media:
        css = {"all": ("django_textlink/admin.css",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only the webhook views store events

    def has_change_permission(self, request: HttpRequest, obj: WebhookEvent | None = None) -> bool:
        # Without an object: the changelist and its actions. An event's page is view-only.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    @admin.display(description=_("state"), ordering="state")
    def state_display(self, obj: WebhookEvent) -> str:
        return status_badge(obj.state, obj.get_state_display(), EVENT_STATE_SYMBOLS)

    @admin.display(description=_("state"), ordering="state")
    def state_with_error(self, obj: WebhookEvent) -> str:
        """The changelist's state: a failed event's error under it, on one line."""
        badge = self.state_display(obj)
        if not obj.error:
            return badge
        return format_html(
            '{} <span class="textlink-sync-error" title="{}">{}</span>',
            badge,
            excerpt(obj.error, TITLE_LENGTH),
            excerpt(obj.error, 80),
        )

    @admin.display(description=_("attempts"), ordering="attempts")
    def attempts_display(self, obj: WebhookEvent) -> int:
        return obj.attempts

    @admin.display(description=_("phone number"))
    def phone_display(self, obj: WebhookEvent) -> str:
        value = obj.payload.get("phone_number") if isinstance(obj.payload, dict) else None
        return str(value) if value not in (None, "") else "-"

    @admin.display(description=_("error"))
    def error_excerpt(self, obj: WebhookEvent) -> str:
        if not obj.error:
            return ""
        return format_html('<span title="{}">{}</span>', obj.error, excerpt(obj.error, 80))

    @admin.display(description=_("payload"))
    def payload_display(self, obj: WebhookEvent) -> str:
        pretty = json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre class="textlink-json">{}</pre>', pretty)

    @admin.action(description=_("Replay failed events"), permissions=["change"])
    def replay_failed(
        self, request: HttpRequest, queryset: QuerySet[WebhookEvent]
    ) -> HttpResponseBase | None:
        """Process the selected ``failed`` events once more, oldest first (at most
        ``REPLAY_LIMIT`` at a time); other events are skipped. Each is claimed with a
        conditional update, so a replay running twice at once processes it once."""
        State = WebhookEvent.State
        total = queryset.count()
        failed = queryset.order_by("received_at", "pk").filter(state=State.FAILED)
        ids = list(failed.values_list("pk", flat=True)[: REPLAY_LIMIT + 1])
        more = len(ids) > REPLAY_LIMIT
        ids = ids[:REPLAY_LIMIT]
        if not ids:
            self.message_user(
                request,
                _("None of the selected events failed: there is nothing to replay."),
                messages.WARNING,
            )
            return None
        skipped = total - (failed.count() if more else len(ids))  # not failed
        succeeded = webhook_store.replay(ids)
        still_failed = WebhookEvent.objects.filter(pk__in=ids, state=State.FAILED).count()
        if succeeded:
            self.message_user(
                request,
                ngettext(
                    "%(count)d event replayed successfully.",
                    "%(count)d events replayed successfully.",
                    succeeded,
                )
                % {"count": succeeded},
                messages.SUCCESS,
            )
        if still_failed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d event failed again: see its error.",
                    "%(count)d events failed again: see their errors.",
                    still_failed,
                )
                % {"count": still_failed},
                messages.ERROR,
            )
        if more:
            self.message_user(
                request,
                _(
                    "Only the oldest %(limit)d failed events were replayed: run the action "
                    "again for the others."
                )
                % {"limit": REPLAY_LIMIT},
                messages.WARNING,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d selected event was skipped: only failed events are replayed.",
                    "%(count)d selected events were skipped: only failed events are replayed.",
                    skipped,
                )
                % {"count": skipped},
                messages.INFO,
            )
        return None
