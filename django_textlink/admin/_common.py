"""What the model admins share: their typed bases, limits, display helpers (status
badges, truncated cells) and the selection an intermediate page re-posts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import ngettext

from django_textlink.models import (
    Broadcast,
    Contact,
    SMSMessage,
    VerificationBlock,
    VerifiedPhoneNumber,
    WebhookEvent,
)

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

    VerifiedPhoneNumberAdminBase = admin.ModelAdmin[VerifiedPhoneNumber]
    SMSMessageAdminBase = admin.ModelAdmin[SMSMessage]
    ContactAdminBase = admin.ModelAdmin[Contact]
    BroadcastAdminBase = admin.ModelAdmin[Broadcast]
    WebhookEventAdminBase = admin.ModelAdmin[WebhookEvent]
    VerificationBlockAdminBase = admin.ModelAdmin[VerificationBlock]
    AnyModelAdmin = admin.ModelAdmin[Any]
    ContactFormBase = forms.ModelForm[Contact]
else:
    VerifiedPhoneNumberAdminBase = SMSMessageAdminBase = admin.ModelAdmin
    ContactAdminBase = BroadcastAdminBase = AnyModelAdmin = admin.ModelAdmin
    WebhookEventAdminBase = VerificationBlockAdminBase = admin.ModelAdmin
    ContactFormBase = forms.ModelForm

SEND_PERMISSION = "django_textlink.add_broadcast"
#: At most this many examples of each kind of skipped number are shown.
MAX_EXAMPLES = 50
#: Seconds between two reloads of an unfinished bulk send's progress page.
PROGRESS_REFRESH = 2
#: A confirmation page can be sent once, within this many seconds.
SEND_TOKEN_MAX_AGE = 24 * 3600
SEND_ONCE_SALT = "django_textlink.admin.send_sms"
#: The permission a reply from a contact's conversation page asks for (Django creates it).
REPLY_PERMISSION = "django_textlink.add_smsmessage"
#: Contact.tag's max_length.
TAG_MAX_LENGTH = 100
#: Selected rows are read and updated this many at a time.
ACTION_BATCH = 500

Status = SMSMessage.Status
Direction = SMSMessage.Direction
ActionFunction = Callable[[Any, HttpRequest, "QuerySet[Any]"], HttpResponseBase | None]


def excerpt(text: str, length: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else f"{text[: length - 1]}…"


#: The longest text put in a truncated cell's title (the tooltip with the whole text).
TITLE_LENGTH = 500


def truncated(text: str, length: int = 60) -> str:
    """A changelist's text cell: one line, cut by the admin CSS with an ellipsis where the
    column ends; the whole text (up to ``TITLE_LENGTH``) is in the title."""
    return format_html(
        '<span title="{}">{}</span>', excerpt(text, TITLE_LENGTH), excerpt(text, length)
    )


def counter_announcements() -> dict[str, str]:
    """What the live SMS counter announces to screen readers when the encoding or the
    number of parts changes (sms_counter.js fills in the numbers): one SMS part, or
    several."""

    def announcement(parts: int) -> str:
        return ngettext(
            "%(encoding)s, %(segments)s SMS part", "%(encoding)s, %(segments)s SMS parts", parts
        )

    return {"sms_announce_one": announcement(1), "sms_announce_other": announcement(2)}


def normalize_newlines(text: str) -> str:
    """Browsers post a textarea's line breaks as CR LF: one break is one character."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def selection_context(request: HttpRequest) -> dict[str, Any]:
    """What an intermediate page re-posts so the changelist runs the same action on the
    same selection: the action, ``select_across``, ``index`` and the selected ids; the
    form posts back to the changelist URL with its query string (filters, search)."""
    actions = request.POST.getlist("action")
    try:
        index = int(request.POST.get("index", 0))
    except ValueError:
        index = 0
    action = actions[index] if 0 <= index < len(actions) else (actions[0] if actions else "")
    return {
        "action_name": action,
        "select_across": request.POST.get("select_across", "0"),
        "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "form_url": request.get_full_path(),
    }


def admin_page(
    model_admin: AnyModelAdmin,
    request: HttpRequest,
    template: str | list[str],
    context: dict[str, Any],
    *,
    title: Any,
    media: Any,
    selection: bool = False,
) -> TemplateResponse:
    """One of the admin's own pages for ``model_admin`` (an action's confirmation, the
    conversation, the progress page): ``context`` with the admin site's, the model's ``opts``,
    ``title`` (no subtitle) and ``media``, and with ``selection`` what the page re-posts so
    that the changelist runs the same action on the same rows (:func:`selection_context`);
    rendered in the admin site's own namespace (``current_app``)."""
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            **(selection_context(request) if selection else {}),
            "title": title,
            "subtitle": None,
            "opts": model_admin.model._meta,
            "media": media,
            **context,
        },
    )


def broadcast_admin(site: admin.AdminSite) -> Any:
    """The ModelAdmin of Broadcast on ``site``, else on the default site (where the
    progress page of a send started from another site is), or None."""
    for candidate in (site, admin.site):
        if candidate.is_registered(Broadcast):
            return candidate.get_model_admin(Broadcast)
    return None


STATUS_SYMBOLS: dict[str, str] = {
    Status.QUEUED: "○",
    Status.SENDING: "◔",
    Status.SENT: "✓",
    Status.FAILED: "✗",
    Status.UNKNOWN: "?",
    Status.RECEIVED: "↓",
}


#: Symbols of the webhook events' states and of the contacts' tag sync states.
EVENT_STATE_SYMBOLS: dict[str, str] = {
    WebhookEvent.State.PENDING: "○",
    WebhookEvent.State.PROCESSING: "◔",
    WebhookEvent.State.PROCESSED: "✓",
    WebhookEvent.State.FAILED: "✗",
}
TAG_SYNC_SYMBOLS: dict[str, str] = {
    Contact.TagSync.SYNCED: "✓",
    Contact.TagSync.PENDING: "○",
    Contact.TagSync.FAILED: "✗",
}


def status_badge(status: str, label: _StrOrPromise, symbols: dict[str, str] | None = None) -> str:
    """A coloured badge that also says the status in words (never colour alone).
    ``symbols``: the symbol of each status (default: the messages' statuses)."""
    return format_html(
        '<span class="textlink-status textlink-status--{}">'
        '<span aria-hidden="true">{}</span> {}</span>',
        status,
        (STATUS_SYMBOLS if symbols is None else symbols).get(status, "•"),
        label,
    )
