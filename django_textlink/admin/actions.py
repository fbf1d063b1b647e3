"""The "send an SMS" action for any ModelAdmin (:func:`send_sms_action`): a
confirmation page, then a stored :class:`~django_textlink.models.Broadcast` and its
progress page."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.cache import caches
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_textlink.conf import conf
from django_textlink.encoding import analyze
from django_textlink.messaging import (
    MAX_TEXT_LENGTH,
    RecipientScreen,
    create_broadcast,
    known_contacts,
)
from django_textlink.messaging.recipients import INSERT_BATCH
from django_textlink.models import (
    Broadcast,
    Contact,
)

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

from django_textlink.admin._common import (
    MAX_EXAMPLES,
    SEND_ONCE_SALT,
    SEND_PERMISSION,
    SEND_TOKEN_MAX_AGE,
    ActionFunction,
    AnyModelAdmin,
    admin_page,
    broadcast_admin,
    counter_announcements,
    normalize_newlines,
)


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
        return normalize_newlines(self.cleaned_data["text"])


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
    """The selected phone numbers (with contact ids when known), as one streaming query in
    primary-key order, so that of two selected rows with the same number the older one is
    the recipient (its contact is the message's), whatever order the database reads them in.

    A missing number (None, e.g. a user without a phone across a relation) becomes "",
    which :func:`create_broadcast` reports as invalid."""
    queryset = queryset.order_by("pk")
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


def new_send_token() -> str:
    """A signed one-time token for one confirmation page: see :func:`claim_send_token`."""
    return signing.dumps(uuid.uuid4().hex, salt=SEND_ONCE_SALT)


def claim_send_token(token: str) -> bool:
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
        if not claim_send_token(token):
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
        progress_admin = broadcast_admin(modeladmin.admin_site)
        if progress_admin is None or not progress_admin.has_view_permission(request, broadcast):
            return None  # back to the changelist, with the message
        site_name = progress_admin.admin_site.name
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
    text = normalize_newlines(str(form["text"].value() or ""))
    opts = modeladmin.model._meta
    return admin_page(
        modeladmin,
        request,
        [
            f"admin/{opts.app_label}/{opts.model_name}/send_sms_confirmation.html",
            f"admin/{opts.app_label}/send_sms_confirmation.html",
            "admin/django_textlink/send_sms_confirmation.html",
        ],
        {
            "objects_name": opts.verbose_name_plural,
            "selected_count": queryset.count(),
            "summary": summary,
            "max_examples": MAX_EXAMPLES,
            "form": form,
            "info": analyze(text),
            **counter_announcements(),
            "send_token": token or new_send_token(),
        },
        title=_("Send an SMS"),
        media=modeladmin.media + form.media,
        selection=True,
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
