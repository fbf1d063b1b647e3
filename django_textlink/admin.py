"""Django admin for django-textlink: messages, contacts, bulk sends, and a "send an SMS"
action any site can add to its own ``ModelAdmin`` with :func:`send_sms_action`::

    from django_textlink.admin import send_sms_action

    class CustomerAdmin(admin.ModelAdmin):
        actions = [send_sms_action(phone_field="phone")]

The action leads to a confirmation page (like Django's "delete selected"): the text, an
optional SIM card, how many recipients it goes to and which numbers are skipped and why,
and a live character counter (GSM-7 or UCS-2, SMS parts). Confirming stores a
:class:`~django_textlink.models.Broadcast` with
:func:`~django_textlink.messaging.create_broadcast`, reading the selected rows as one
streaming query, and opens the bulk send's progress page.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core import signing
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_textlink import contacts, messaging, tasks
from django_textlink.conf import conf
from django_textlink.encoding import analyze
from django_textlink.exceptions import TextLinkError
from django_textlink.forms import PhoneNumberField
from django_textlink.messaging import (
    MAX_TEXT_LENGTH,
    RecipientScreen,
    create_broadcast,
    known_contacts,
    requeue,
)
from django_textlink.messaging.recipients import INSERT_BATCH
from django_textlink.models import (
    Broadcast,
    Contact,
    SMSMessage,
    VerifiedPhoneNumber,
    WebhookEvent,
)
from django_textlink.webhooks import store as webhook_store

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

    VerifiedPhoneNumberAdminBase = admin.ModelAdmin[VerifiedPhoneNumber]
    SMSMessageAdminBase = admin.ModelAdmin[SMSMessage]
    ContactAdminBase = admin.ModelAdmin[Contact]
    BroadcastAdminBase = admin.ModelAdmin[Broadcast]
    WebhookEventAdminBase = admin.ModelAdmin[WebhookEvent]
    AnyModelAdmin = admin.ModelAdmin[Any]
    ContactFormBase = forms.ModelForm[Contact]
else:
    VerifiedPhoneNumberAdminBase = SMSMessageAdminBase = admin.ModelAdmin
    ContactAdminBase = BroadcastAdminBase = AnyModelAdmin = admin.ModelAdmin
    WebhookEventAdminBase = admin.ModelAdmin
    ContactFormBase = forms.ModelForm

#: The permission :func:`send_sms_action` asks for by default (Django creates it).
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
#: A conversation page shows at most this many messages, the latest ones.
CONVERSATION_LENGTH = 200
#: The "Replay failed events" action replays at most this many events at a time (each is
#: processed in the request, one after the other).
REPLAY_LIMIT = 500
#: Contact.tag's max_length.
TAG_MAX_LENGTH = 100
#: Selected rows are read and updated this many at a time.
ACTION_BATCH = 500

Status = SMSMessage.Status
Direction = SMSMessage.Direction
ActionFunction = Callable[[Any, HttpRequest, "QuerySet[Any]"], HttpResponseBase | None]


# -- helpers ----------------------------------------------------------------------------------


def _excerpt(text: str, length: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else f"{text[: length - 1]}…"


#: The longest text put in a truncated cell's title (the tooltip with the whole text).
TITLE_LENGTH = 500


def _truncated(text: str, length: int = 60) -> str:
    """A changelist's text cell: one line, cut by the admin CSS with an ellipsis where the
    column ends; the whole text (up to ``TITLE_LENGTH``) is in the title."""
    return format_html(
        '<span title="{}">{}</span>', _excerpt(text, TITLE_LENGTH), _excerpt(text, length)
    )


def _counter_announcements() -> dict[str, str]:
    """What the live SMS counter announces to screen readers when the encoding or the
    number of parts changes (sms_counter.js fills in the numbers): one SMS part, or
    several."""

    def announcement(parts: int) -> str:
        return ngettext(
            "%(encoding)s, %(segments)s SMS part", "%(encoding)s, %(segments)s SMS parts", parts
        )

    return {"sms_announce_one": announcement(1), "sms_announce_other": announcement(2)}


def _normalize_newlines(text: str) -> str:
    """Browsers post a textarea's line breaks as CR LF: one break is one character."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _selection_context(request: HttpRequest) -> dict[str, Any]:
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


def _broadcast_admin(site: admin.AdminSite) -> Any:
    """The ModelAdmin of Broadcast on ``site``, else on the default site (where the
    progress page of a send started from another site is), or None."""
    for candidate in (site, admin.site):
        if candidate.is_registered(Broadcast):
            return candidate.get_model_admin(Broadcast)
    return None


# -- the "send an SMS" action -------------------------------------------------------------------


class SendSMSForm(forms.Form):
    """The confirmation page's form: the text and, optionally, the SIM card."""

    required_css_class = "required"

    text = forms.CharField(
        label=_("Text"),
        max_length=MAX_TEXT_LENGTH,
        widget=forms.Textarea(
            attrs={
                "rows": 6,
                "cols": 60,
                "class": "vLargeTextField",
                "data-sms-counter": "sms-counter",
                "aria-describedby": "sms-counter",
            }
        ),
    )
    sim_card_id = forms.IntegerField(
        label=_("SIM card id"),
        required=False,
        min_value=0,
        help_text=_(
            "Optional: the TextLink SIM card to send from. Empty: TEXTLINK['SIM_CARD_ID'], "
            "or TextLink chooses."
        ),
    )

    def clean_text(self) -> str:
        return _normalize_newlines(self.cleaned_data["text"])


@dataclass
class RecipientSummary:
    """What :func:`create_broadcast` will make of the selected numbers, counted in advance
    the same way: invalid numbers, then duplicates (after normalization), then numbers of
    contacts who opted out."""

    rows: int = 0
    recipients: int = 0
    invalid: int = 0
    duplicates: int = 0
    opted_out: int = 0
    invalid_examples: list[dict[str, str]] = field(default_factory=list)
    duplicate_examples: list[str] = field(default_factory=list)
    opted_out_examples: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return self.invalid + self.duplicates + self.opted_out


def _recipients(
    queryset: QuerySet[Any], phone_field: str, contact_field: str | None
) -> Iterator[str | tuple[str, int | None]]:
    """The selected phone numbers (with contact ids when known), as one streaming query.

    A missing number (None, e.g. a user without a phone across a relation) becomes "",
    which :func:`create_broadcast` reports as invalid."""
    queryset = queryset.order_by()
    if contact_field:
        rows = queryset.values_list(phone_field, contact_field).iterator(chunk_size=INSERT_BATCH)
        for phone, contact_id in rows:
            yield ("" if phone is None else str(phone), contact_id)
    else:
        values = queryset.values_list(phone_field, flat=True).iterator(chunk_size=INSERT_BATCH)
        for phone in values:
            yield "" if phone is None else str(phone)


def summarize_recipients(recipients: Iterator[str | tuple[str, int | None]]) -> RecipientSummary:
    """Count what :func:`create_broadcast` would send and skip, without storing anything
    (the same :class:`~django_textlink.messaging.RecipientScreen`): one query per
    ``INSERT_BATCH`` distinct numbers for the opted-out contacts."""
    screen = RecipientScreen(max_examples=MAX_EXAMPLES)
    summary = RecipientSummary()
    for batch in screen.batches(recipients, INSERT_BATCH):
        known = known_contacts(phone for phone, _ in batch)
        opted_out = sorted(phone for phone, _ in batch if known.get(phone, (0, False))[1])
        summary.opted_out += len(opted_out)
        summary.recipients += len(batch) - len(opted_out)
        room = MAX_EXAMPLES - len(summary.opted_out_examples)
        summary.opted_out_examples.extend(opted_out[: max(room, 0)])
    summary.rows = screen.rows
    summary.invalid, summary.invalid_examples = screen.invalid, screen.invalid_examples
    summary.duplicates, summary.duplicate_examples = screen.duplicates, screen.duplicate_examples
    return summary


def send_sms_action(
    phone_field: str = "phone_number",
    description: _StrOrPromise | None = None,
    contact_field: str | None = None,
    *,
    permission: str | None = SEND_PERMISSION,
) -> ActionFunction:
    """An admin action, named ``send_sms``, that sends one SMS to the selected objects.

    ``phone_field`` is the field, or a lookup across relations
    (``"verified_phone_numbers__phone_number"``), that holds the phone numbers;
    ``contact_field`` a field or lookup holding the :class:`Contact` id, if any (on
    ``Contact`` itself, ``"pk"`` is the default). Numbers are normalized to E.164; invalid
    ones, duplicates and contacts who opted out are skipped, and the confirmation page says
    so before anything is sent. Only users with ``permission`` (default: may add a bulk
    send; None for everyone with access to the changelist) can send.
    """

    def send_sms(
        modeladmin: AnyModelAdmin, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponseBase | None:
        return _send_sms(
            modeladmin,
            request,
            queryset,
            phone_field=phone_field,
            contact_field=contact_field or ("pk" if queryset.model is Contact else None),
            permission=permission,
        )

    return admin.action(
        send_sms,
        description=description or _("Send an SMS to the selected %(verbose_name_plural)s"),
    )


def _new_send_token() -> str:
    """A signed one-time token for one confirmation page: see :func:`_claim_send_token`."""
    return signing.dumps(uuid.uuid4().hex, salt=SEND_ONCE_SALT)


def _claim_send_token(token: str) -> bool:
    """True the first time a valid token is presented: a second click on "Send", or the
    same form posted again, does not send the SMS twice. ``cache.add`` is atomic, so two
    requests at once cannot both claim it."""
    try:
        nonce = signing.loads(token, salt=SEND_ONCE_SALT, max_age=SEND_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return False
    cache = caches[conf.CACHE]
    return bool(cache.add(f"textlink:admin-send:{nonce}", 1, timeout=SEND_TOKEN_MAX_AGE))


def _send_sms(
    modeladmin: AnyModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    phone_field: str,
    contact_field: str | None,
    permission: str | None,
) -> HttpResponseBase | None:
    if permission and not request.user.has_perm(permission):
        modeladmin.message_user(
            request, _("You do not have permission to send SMS messages."), messages.ERROR
        )
        return None
    bound = "_textlink_send_sms" in request.POST
    form = SendSMSForm(request.POST if bound else None)
    token = request.POST.get("_send_token", "") if bound else ""
    if bound and "_send" in request.POST and form.is_valid():
        if not _claim_send_token(token):
            modeladmin.message_user(
                request,
                _("This form was already sent (or has expired): nothing was sent again."),
                messages.WARNING,
            )
            return None
        broadcast = create_broadcast(
            _recipients(queryset, phone_field, contact_field),
            form.cleaned_data["text"],
            sim_card_id=form.cleaned_data["sim_card_id"],
            created_by=request.user,
        )
        modeladmin.message_user(request, _broadcast_message(broadcast), messages.SUCCESS)
        broadcast_admin = _broadcast_admin(modeladmin.admin_site)
        if broadcast_admin is None or not broadcast_admin.has_view_permission(request, broadcast):
            return None  # back to the changelist, with the message
        site_name = broadcast_admin.admin_site.name
        try:
            url = reverse(
                f"{site_name}:django_textlink_broadcast_progress",
                args=[broadcast.pk],
                current_app=site_name,
            )
        except NoReverseMatch:  # a BroadcastAdmin without the progress page
            return None
        return HttpResponseRedirect(url)

    summary = summarize_recipients(_recipients(queryset, phone_field, contact_field))
    text = _normalize_newlines(str(form["text"].value() or ""))
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        **_selection_context(request),
        "title": _("Send an SMS"),
        "subtitle": None,
        "opts": opts,
        "objects_name": opts.verbose_name_plural,
        "selected_count": queryset.count(),
        "summary": summary,
        "max_examples": MAX_EXAMPLES,
        "form": form,
        "info": analyze(text),
        **_counter_announcements(),
        "send_token": token or _new_send_token(),
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(
        request,
        [
            f"admin/{opts.app_label}/{opts.model_name}/send_sms_confirmation.html",
            f"admin/{opts.app_label}/send_sms_confirmation.html",
            "admin/django_textlink/send_sms_confirmation.html",
        ],
        context,
    )


def _broadcast_message(broadcast: Broadcast) -> str:
    message = ngettext(
        "Bulk send #%(id)d stored: %(count)d message to send.",
        "Bulk send #%(id)d stored: %(count)d messages to send.",
        broadcast.recipients,
    ) % {"id": broadcast.pk, "count": broadcast.recipients}
    skipped = broadcast.skipped_invalid + broadcast.skipped_duplicates + broadcast.skipped_opted_out
    if skipped:
        message += " " + (
            _("Skipped: %(invalid)d invalid, %(duplicates)d duplicate, %(opted_out)d opted out.")
            % {
                "invalid": broadcast.skipped_invalid,
                "duplicates": broadcast.skipped_duplicates,
                "opted_out": broadcast.skipped_opted_out,
            }
        )
    return message


# -- ModelAdmins --------------------------------------------------------------------------------


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
        return _truncated(obj.text)

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
        opts = self.model._meta
        examples = list(
            outbound.filter(status=Status.UNKNOWN)
            .order_by("-created_at", "-pk")
            .select_related(None)
            .only("pk", "phone_number", "text", "error", "created_at")[:MAX_EXAMPLES]
        )
        context = {
            **self.admin_site.each_context(request),
            **_selection_context(request),
            "title": _("Retry messages whose delivery is unknown?"),
            "subtitle": None,
            "opts": opts,
            "failed": counts["failed"],
            "unknown": counts["unknown"],
            "examples": examples,
            "max_examples": MAX_EXAMPLES,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/django_textlink/smsmessage/retry_confirmation.html", context
        )


class ContactForm(ContactFormBase):
    """Numbers are stored in E.164, as bulk sends and webhooks look them up."""

    phone_number = PhoneNumberField(label=_("phone number"))

    class Meta:
        model = Contact
        fields = ("phone_number", "name", "tag", "opted_out")


class SetTagForm(forms.Form):
    """The "Set tag" action's page: the tag for every selected contact."""

    required_css_class = "required"

    tag = forms.CharField(
        label=_("Tag"),
        max_length=TAG_MAX_LENGTH,
        required=False,
        help_text=_("Leave it empty to remove the tag of the selected contacts."),
    )


class ReplyForm(SendSMSForm):
    """The reply box of a contact's conversation page; a contact who opted out gets a
    reply only when "Send anyway" is ticked."""

    send_anyway = forms.BooleanField(
        label=_("Send anyway"),
        required=False,
        help_text=_("This contact opted out of SMS: tick this to send this reply all the same."),
    )

    def __init__(self, *args: Any, opted_out: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opted_out = opted_out
        self.fields["text"].label = _("Reply")
        self.fields["text"].widget.attrs["rows"] = 4
        if not opted_out:
            del self.fields["send_anyway"]

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.opted_out and not self.cleaned_data.get("send_anyway"):
            self.add_error(
                "send_anyway",
                _("This contact opted out of SMS: tick “Send anyway” to reply all the same."),
            )
        return cleaned


def _batches(pks: list[int], size: int = ACTION_BATCH) -> Iterator[list[int]]:
    for start in range(0, len(pks), size):
        yield pks[start : start + size]


@admin.register(Contact)
class ContactAdmin(ContactAdminBase):
    """Contacts, their two-way tag sync and their conversation.

    * Editing the tag here (the change form, or the "Set tag" action) saves it and pushes
      it to TextLink after the commit, off the request cycle
      (:func:`django_textlink.contacts.set_tag`); saving a contact without changing its tag
      pushes nothing. A push that failed is shown in the changelist (filter "tag sync") and
      is queued again by the "Retry failed tag pushes" action.
    * ``<id>/conversation/``: the contact's messages, both ways, with a reply box (see
      :meth:`conversation_view`).
    """

    form = ContactForm
    # Fits a laptop screen beside the admin's sidebars (a contact's page has the dates);
    # the Conversation link comes right after the name (get_list_display).
    list_display = ("phone_number", "name", "tag", "tag_sync_display", "opted_out")
    list_filter = ("tag", "tag_sync_state", "opted_out")
    search_fields = ("phone_number", "name", "tag")
    readonly_fields = (
        "opted_out_at",
        "tag_sync_state",
        "tag_sync_error",
        "tag_synced_at",
        "subuser_id",
        "created_at",
        "updated_at",
    )
    actions = (send_sms_action(contact_field="pk"), "set_tag", "retry_tag_push")

    class Media:
        css = {"all": ("django_textlink/admin.css",)}

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        if obj.opted_out and obj.opted_out_at is None:
            obj.opted_out_at = timezone.now()
        elif not obj.opted_out:
            obj.opted_out_at = None
        super().save_model(request, obj, form, change)
        if "tag" in form.changed_data:
            contacts.set_tag(obj, obj.tag)  # pushed to TextLink after the commit

    # -- the changelist ---------------------------------------------------------------------

    def get_list_display(self, request: HttpRequest) -> Any:
        list_display = list(super().get_list_display(request))
        if self.has_change_permission(request) and "conversation_link" not in list_display:
            # Early in the row, where no narrow screen cuts it off.
            at = list_display.index("name") + 1 if "name" in list_display else len(list_display)
            list_display.insert(at, "conversation_link")
        return list_display

    @admin.display(description=_("tag sync"), ordering="tag_sync_state")
    def tag_sync_display(self, obj: Contact) -> str:
        badge = status_badge(obj.tag_sync_state, obj.get_tag_sync_state_display(), TAG_SYNC_SYMBOLS)
        if obj.tag_sync_state == Contact.TagSync.FAILED and obj.tag_sync_error:
            return format_html(
                '{} <span class="textlink-sync-error" title="{}">{}</span>',
                badge,
                obj.tag_sync_error,
                _excerpt(obj.tag_sync_error, 80),
            )
        return badge

    @admin.display(description=_("conversation"))
    def conversation_link(self, obj: Contact) -> str:
        return format_html(
            '<a href="{}" aria-label="{}">{}</a>',
            self._conversation_url(obj),
            _("Conversation with %(contact)s") % {"contact": obj},
            _("Conversation"),
        )

    def _conversation_url(self, obj: Contact) -> str:
        return reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_conversation",
            args=[obj.pk],
            current_app=self.admin_site.name,
        )

    # -- tag actions --------------------------------------------------------------------------

    @admin.action(description=_("Set tag"), permissions=["change"])
    def set_tag(self, request: HttpRequest, queryset: QuerySet[Contact]) -> HttpResponseBase | None:
        """An intermediate page asks for the tag, then :func:`contacts.set_tag` sets it on
        each selected contact (in one transaction) and pushes it after the commit.
        Contacts that already have this tag, in sync, are left alone."""
        bound = "_textlink_set_tag" in request.POST
        form = SetTagForm(request.POST if bound else None)
        if bound and "_apply" in request.POST and form.is_valid():
            tag = form.cleaned_data["tag"]
            pks = list(queryset.order_by("pk").values_list("pk", flat=True))
            changed = unchanged = 0
            with transaction.atomic():
                for batch in _batches(pks):
                    for contact in Contact.objects.filter(pk__in=batch).order_by("pk"):
                        if contact.tag == tag and contact.tag_sync_state == Contact.TagSync.SYNCED:
                            unchanged += 1
                            continue
                        contacts.set_tag(contact, tag)
                        changed += 1
            if tag:
                message = ngettext(
                    "Tag “%(tag)s” set on %(count)d contact; it is pushed to TextLink in the "
                    "background.",
                    "Tag “%(tag)s” set on %(count)d contacts; it is pushed to TextLink in the "
                    "background.",
                    changed,
                ) % {"tag": tag, "count": changed}
            else:
                message = ngettext(
                    "Tag removed from %(count)d contact; the change is pushed to TextLink in "
                    "the background.",
                    "Tag removed from %(count)d contacts; the change is pushed to TextLink in "
                    "the background.",
                    changed,
                ) % {"count": changed}
            self.message_user(request, message, messages.SUCCESS if changed else messages.INFO)
            if unchanged:
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d contact already had this tag, in sync with TextLink: "
                        "left alone.",
                        "%(count)d contacts already had this tag, in sync with TextLink: "
                        "left alone.",
                        unchanged,
                    )
                    % {"count": unchanged},
                    messages.INFO,
                )
            return None

        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            **_selection_context(request),
            "title": _("Set the tag of contacts"),
            "subtitle": None,
            "opts": opts,
            "selected_count": queryset.count(),
            "examples": list(queryset.order_by("name", "pk")[:MAX_EXAMPLES]),
            "max_examples": MAX_EXAMPLES,
            "form": form,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/django_textlink/contact/set_tag.html", context)

    @admin.action(description=_("Retry failed or stuck tag pushes"), permissions=["change"])
    def retry_tag_push(
        self, request: HttpRequest, queryset: QuerySet[Contact]
    ) -> HttpResponseBase | None:
        """Mark the selected contacts whose tag push failed (or has been pending for longer
        than ``contacts.STALE_TAG_PUSH``: its task was lost) ``pending`` again and push
        their current tag after the commit (as :func:`contacts.set_tag` does). Other
        contacts are left alone."""
        Sync = Contact.TagSync
        total = queryset.count()
        pks = list(
            contacts.retryable_tag_pushes(queryset.order_by("pk")).values_list("pk", flat=True)
        )
        if not pks:
            self.message_user(
                request,
                _(
                    "No tag push of the selected contacts failed or is stuck: there is nothing "
                    "to retry."
                ),
                messages.WARNING,
            )
            return None
        queued: list[int] = []
        with transaction.atomic():
            for batch in _batches(pks):
                marked = list(
                    contacts.retryable_tag_pushes(
                        Contact.objects.select_for_update().filter(pk__in=batch)
                    ).values_list("pk", flat=True)
                )
                Contact.objects.filter(pk__in=marked).update(
                    tag_sync_state=Sync.PENDING, tag_sync_error="", updated_at=timezone.now()
                )
                queued.extend(marked)
            for pk in queued:
                transaction.on_commit(partial(tasks.enqueue_tag_push, pk))
        self.message_user(
            request,
            ngettext(
                "%(count)d tag push queued again.",
                "%(count)d tag pushes queued again.",
                len(queued),
            )
            % {"count": len(queued)},
            messages.SUCCESS if queued else messages.WARNING,
        )
        left = total - len(queued)
        if left:
            self.message_user(
                request,
                ngettext(
                    "%(count)d selected contact was left alone: only failed tag pushes, and "
                    "pushes pending for more than %(minutes)d minutes, are retried.",
                    "%(count)d selected contacts were left alone: only failed tag pushes, and "
                    "pushes pending for more than %(minutes)d minutes, are retried.",
                    left,
                )
                % {"count": left, "minutes": contacts.STALE_TAG_PUSH.total_seconds() // 60},
                messages.INFO,
            )
        return None

    # -- the conversation -----------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        return [
            path(
                "<path:object_id>/conversation/",
                self.admin_site.admin_view(self.conversation_view),
                name="{}_{}_conversation".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        contact = self.get_object(request, unquote(object_id))
        if contact is not None and self.has_change_permission(request, contact):
            extra_context["conversation_url"] = self._conversation_url(contact)
        return super().change_view(request, object_id, form_url, extra_context)

    def conversation_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """A contact's messages, inbound and outbound, oldest first (the latest
        ``CONVERSATION_LENGTH``), with a reply box that sends through
        :func:`django_textlink.messaging.send_sms`.

        Permissions: the page asks for the change permission on the contact (a reply is
        a change to the conversation, and the page shows the messages); replying also asks
        for ``django_textlink.add_smsmessage`` (:data:`REPLY_PERMISSION`): without it the
        thread is shown without the reply box, and a reply posted anyway gets 403.

        A reply to a contact who opted out is sent only when "Send anyway" is ticked. A
        sent reply redirects back here (post/redirect/get); a failed one is shown with
        the reason, the typed text kept (the failed message is in the thread too). Each
        rendered form can be posted once: a double click does not send twice.
        """
        request.current_app = self.admin_site.name
        contact = self.get_object(request, unquote(object_id))
        if contact is None:
            raise Http404(_("There is no contact with this id."))
        if not self.has_change_permission(request, contact):
            raise PermissionDenied
        may_reply = bool(request.user.has_perm(REPLY_PERMISSION))
        url = self._conversation_url(contact)
        error: str | None = None
        delivery_unknown = False
        token = ""
        if request.method == "POST":
            if not may_reply:
                raise PermissionDenied
            form = ReplyForm(request.POST, opted_out=contact.opted_out)
            if form.is_valid():
                if not _claim_send_token(request.POST.get("_send_token", "")):
                    self.message_user(
                        request,
                        _("This reply was already sent (or the page expired): nothing was "
                          "sent again."),
                        messages.WARNING,
                    )  # fmt: skip
                    return HttpResponseRedirect(url)
                try:
                    messaging.send_sms(
                        contact.phone_number,
                        form.cleaned_data["text"],
                        sim_card_id=form.cleaned_data["sim_card_id"],
                        contact=contact,
                    )
                except TextLinkError as err:
                    error = str(err)
                    delivery_unknown = err.delivery_unknown
                except ValueError as err:
                    error = str(err)
                else:
                    self.message_user(
                        request,
                        _("SMS sent to %(phone)s.") % {"phone": contact.phone_number},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(url)
            else:
                token = request.POST.get("_send_token", "")  # nothing was sent with it
        else:
            form = ReplyForm(opted_out=contact.opted_out)

        thread, total = self._thread(contact)
        text = _normalize_newlines(str(form["text"].value() or ""))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Conversation with %(contact)s") % {"contact": contact},
            "subtitle": None,
            "opts": self.opts,
            "original": contact,
            "contact": contact,
            "thread": thread,
            "total": total,
            "older": total - len(thread),
            "messages_url": self._messages_url(request, contact),
            "may_reply": may_reply,
            "form": form,
            "info": analyze(text),
            **_counter_announcements(),
            "send_token": token or _new_send_token(),
            "error": error,
            "delivery_unknown": delivery_unknown,
            "form_url": url,
            "media": self.media + form.media,
            "has_view_permission": True,
        }
        return TemplateResponse(
            request,
            [
                f"admin/{self.opts.app_label}/{self.opts.model_name}/conversation.html",
                "admin/django_textlink/contact/conversation.html",
            ],
            context,
        )

    def _thread(self, contact: Contact) -> tuple[list[dict[str, Any]], int]:
        """The latest ``CONVERSATION_LENGTH`` messages of ``contact`` (linked to it, or to
        its number), oldest first, and how many there are in all."""
        messages_of_contact = SMSMessage.objects.filter(
            Q(contact=contact) | Q(phone_number=contact.phone_number)
        ).select_related(None)
        latest = list(
            messages_of_contact.order_by("-created_at", "-pk").only(
                "pk", "direction", "status", "text", "error", "created_at", "sent_at"
            )[: CONVERSATION_LENGTH + 1]
        )
        total = messages_of_contact.count() if len(latest) > CONVERSATION_LENGTH else len(latest)
        thread = []
        for message in reversed(latest[:CONVERSATION_LENGTH]):
            inbound = message.direction == Direction.INBOUND
            thread.append(
                {
                    "message": message,
                    "inbound": inbound,
                    "badge": None
                    if inbound
                    else status_badge(message.status, message.get_status_display()),
                }
            )
        return thread, total

    def _messages_url(self, request: HttpRequest, contact: Contact) -> str | None:
        """The SMS messages changelist, filtered on the contact's number, when the user may
        see it."""
        if not self.admin_site.is_registered(SMSMessage):
            return None
        if not self.admin_site.get_model_admin(SMSMessage).has_view_permission(request):
            return None
        changelist = reverse(
            f"{self.admin_site.name}:django_textlink_smsmessage_changelist",
            current_app=self.admin_site.name,
        )
        return f"{changelist}?{urlencode({'phone_number': contact.phone_number})}"


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
        return _truncated(obj.text)

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
        context = {
            **self.admin_site.each_context(request),
            "title": _("Progress of bulk send #%(id)s") % {"id": broadcast.pk},
            "subtitle": None,
            "opts": self.opts,
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
            "media": self.media,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/django_textlink/broadcast/progress.html", context)


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
            _excerpt(obj.error, TITLE_LENGTH),
            _excerpt(obj.error, 80),
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
        return format_html('<span title="{}">{}</span>', obj.error, _excerpt(obj.error, 80))

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


__all__ = [
    "REPLY_PERMISSION",
    "SEND_PERMISSION",
    "BroadcastAdmin",
    "ContactAdmin",
    "RecipientSummary",
    "ReplyForm",
    "SMSMessageAdmin",
    "SendSMSForm",
    "SetTagForm",
    "VerifiedPhoneNumberAdmin",
    "WebhookEventAdmin",
    "send_sms_action",
    "summarize_recipients",
]
