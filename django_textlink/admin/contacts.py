"""The admin of contacts: tags pushed to TextLink, the retry of failed pushes, and each
contact's conversation with a reply form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_textlink import contacts, messaging
from django_textlink.admin._common import (
    ACTION_BATCH,
    MAX_EXAMPLES,
    REPLY_PERMISSION,
    TAG_MAX_LENGTH,
    TAG_SYNC_SYMBOLS,
    ContactAdminBase,
    ContactFormBase,
    Direction,
    admin_page,
    counter_announcements,
    excerpt,
    normalize_newlines,
    status_badge,
)
from django_textlink.admin.actions import (
    SendSMSForm,
    claim_send_token,
    new_send_token,
    send_sms_action,
)
from django_textlink.encoding import analyze
from django_textlink.exceptions import TextLinkError
from django_textlink.forms import PhoneNumberField
from django_textlink.models import (
    Contact,
    SMSMessage,
)

#: A conversation page shows at most this many messages, the latest ones.
CONVERSATION_LENGTH = 200


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
                excerpt(obj.tag_sync_error, 80),
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

        return admin_page(
            self,
            request,
            "admin/django_textlink/contact/set_tag.html",
            {
                "selected_count": queryset.count(),
                "examples": list(queryset.order_by("name", "pk")[:MAX_EXAMPLES]),
                "max_examples": MAX_EXAMPLES,
                "form": form,
            },
            title=_("Set the tag of contacts"),
            media=self.media + form.media,
            selection=True,
        )

    @admin.action(description=_("Retry failed or stuck tag pushes"), permissions=["change"])
    def retry_tag_push(
        self, request: HttpRequest, queryset: QuerySet[Contact]
    ) -> HttpResponseBase | None:
        """Push the current tag again for the selected contacts whose push failed (or has
        been pending for longer than ``contacts.STALE_TAG_PUSH``: its task was lost), with
        :func:`django_textlink.contacts.retry_tag_pushes`. Other contacts are left alone."""
        total = queryset.count()
        queued = contacts.retry_tag_pushes(queryset)
        if not queued:
            self.message_user(
                request,
                _(
                    "No tag push of the selected contacts failed or is stuck: there is nothing "
                    "to retry."
                ),
                messages.WARNING,
            )
            return None
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
                if not claim_send_token(request.POST.get("_send_token", "")):
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
        text = normalize_newlines(str(form["text"].value() or ""))
        return admin_page(
            self,
            request,
            [
                f"admin/{self.opts.app_label}/{self.opts.model_name}/conversation.html",
                "admin/django_textlink/contact/conversation.html",
            ],
            {
                "original": contact,
                "contact": contact,
                "thread": thread,
                "total": total,
                "older": total - len(thread),
                "messages_url": self._messages_url(request, contact),
                "may_reply": may_reply,
                "form": form,
                "info": analyze(text),
                **counter_announcements(),
                "send_token": token or new_send_token(),
                "error": error,
                "delivery_unknown": delivery_unknown,
                "form_url": url,
                "has_view_permission": True,
            },
            title=_("Conversation with %(contact)s") % {"contact": contact},
            media=self.media + form.media,
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
