"""Models of django-textlink."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class VerifiedPhoneNumber(models.Model):
    """A phone number that passed verification, optionally for a user, and when.

    The code is never stored: this only records that verification succeeded.
    """

    phone_number = models.CharField(_("phone number"), max_length=16, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="verified_phone_numbers",
    )
    verified_at = models.DateTimeField(_("verified at"), default=timezone.now)

    objects: ClassVar[models.Manager[VerifiedPhoneNumber]] = models.Manager()

    class Meta:
        verbose_name = _("verified phone number")
        verbose_name_plural = _("verified phone numbers")
        ordering = ("-verified_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("user", "phone_number"),
                condition=Q(user__isnull=False),
                name="textlink_verified_phone_unique_per_user",
            ),
            models.UniqueConstraint(
                fields=("phone_number",),
                condition=Q(user__isnull=True),
                name="textlink_verified_phone_unique_without_user",
            ),
        ]

    def __str__(self) -> str:
        return self.phone_number

    @classmethod
    def record(cls, phone_number: str, user: Any = None) -> VerifiedPhoneNumber:
        """Record (or refresh) a verification of ``phone_number`` for ``user``."""
        owner = user if user is not None and getattr(user, "is_authenticated", False) else None
        obj, _created = cls.objects.update_or_create(
            phone_number=phone_number,
            user=owner,
            defaults={"verified_at": timezone.now()},
        )
        return obj


def is_phone_verified(phone_number: str, user: Any = None) -> bool:
    """Whether ``phone_number`` (E.164) was verified, for ``user`` when given."""
    from django_textlink.phone import InvalidPhoneNumber, normalize_phone

    try:
        phone_number = normalize_phone(phone_number)
    except InvalidPhoneNumber:
        return False
    verified = VerifiedPhoneNumber.objects.filter(phone_number=phone_number)
    if user is not None:
        verified = verified.filter(user=user)
    return bool(verified.exists())


class Contact(models.Model):
    """A person TextLink's chat app knows, by phone number (E.164, unique).

    Tags sync both ways: a tag set here (:func:`django_textlink.contacts.set_tag`) is
    pushed to TextLink off the request cycle (``tag_sync_state``), and a tag that arrives
    by webhook is saved without being pushed back.
    """

    class TagSync(models.TextChoices):
        SYNCED = "synced", _("in sync")
        PENDING = "pending", _("waiting to be pushed")
        FAILED = "failed", _("push failed")

    phone_number = models.CharField(_("phone number"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    tag = models.CharField(_("tag"), max_length=100, blank=True, db_index=True)
    opted_out = models.BooleanField(
        _("opted out"),
        default=False,
        db_index=True,
        help_text=_("Bulk sends skip contacts who opted out (e.g. replied STOP)."),
    )
    opted_out_at = models.DateTimeField(_("opted out at"), null=True, blank=True)
    subuser_id = models.BigIntegerField(
        _("TextLink sub-account id"), null=True, blank=True, help_text=_("Sent by TextLink.")
    )
    tag_sync_state = models.CharField(
        _("tag sync"), max_length=8, choices=TagSync.choices, default=TagSync.SYNCED
    )
    tag_sync_error = models.TextField(_("tag sync error"), blank=True)
    tag_synced_at = models.DateTimeField(_("tag synced at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[models.Manager[Contact]] = models.Manager()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ("name", "phone_number")

    def __str__(self) -> str:
        return f"{self.name} ({self.phone_number})" if self.name else self.phone_number


class Broadcast(models.Model):
    """One text sent to many recipients, in chunks, off the request cycle."""

    text = models.TextField(_("text"))
    sim_card_id = models.PositiveBigIntegerField(_("SIM card id"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    skipped_invalid = models.PositiveIntegerField(_("skipped: invalid numbers"), default=0)
    skipped_duplicates = models.PositiveIntegerField(_("skipped: duplicates"), default=0)
    skipped_opted_out = models.PositiveIntegerField(_("skipped: opted out"), default=0)
    #: Up to ``MAX_REPORTED_INVALID`` of the invalid inputs, as ``{"value", "reason"}``.
    invalid_numbers = models.JSONField(_("invalid numbers"), default=list, blank=True)

    objects: ClassVar[models.Manager[Broadcast]] = models.Manager()

    MAX_REPORTED_INVALID = 1000

    class Meta:
        verbose_name = _("bulk send")
        verbose_name_plural = _("bulk sends")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        excerpt = self.text if len(self.text) <= 40 else f"{self.text[:39]}…"
        return f"#{self.pk}: {excerpt}"

    def progress(self) -> dict[str, int]:
        """Messages per status (one query), plus ``total`` and ``done``."""
        counts = dict.fromkeys(SMSMessage.Status.values, 0)
        for row in (
            SMSMessage.objects.filter(broadcast=self)
            .values("status")
            .annotate(n=models.Count("pk"))
            .order_by()
        ):
            counts[row["status"]] = row["n"]
        counts["total"] = sum(counts[status] for status in SMSMessage.Status.values)
        pending = counts[SMSMessage.Status.QUEUED] + counts[SMSMessage.Status.SENDING]
        counts["done"] = counts["total"] - pending
        return counts


class SMSMessage(models.Model):
    """One SMS, sent (outbound) or received (inbound).

    Outbound lifecycle: ``queued`` -> ``sending`` -> ``sent`` or ``failed``; ``unknown``
    when TextLink may or may not have accepted it (a read timeout, a 5xx, a worker that
    died mid-send): such a message is never re-sent automatically. Inbound messages are
    ``received``. Every status change is a conditional update, so one message is never
    sent twice, even by two workers at once.
    """

    class Direction(models.TextChoices):
        OUTBOUND = "outbound", _("outbound")
        INBOUND = "inbound", _("inbound")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        UNKNOWN = "unknown", _("unknown")
        RECEIVED = "received", _("received")

    direction = models.CharField(
        _("direction"), max_length=8, choices=Direction.choices, default=Direction.OUTBOUND
    )
    phone_number = models.CharField(_("phone number"), max_length=16)
    text = models.TextField(_("text"))
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    custom_id = models.CharField(
        _("custom id"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Sent to TextLink with the message; the failed-message webhook echoes it."),
    )
    sim_card_id = models.PositiveBigIntegerField(_("SIM card id"), null=True, blank=True)
    textlink_id = models.BigIntegerField(_("TextLink id"), null=True, blank=True, db_index=True)
    queued_by_textlink = models.BooleanField(
        _("queued by TextLink"),
        default=False,
        help_text=_("TextLink accepted it and is waiting for a free SIM."),
    )
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )
    broadcast = models.ForeignKey(
        Broadcast,
        verbose_name=_("bulk send"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )

    objects: ClassVar[models.Manager[SMSMessage]] = models.Manager()

    class Meta:
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS messages")
        ordering = ("-created_at", "-pk")
        indexes = [
            models.Index(fields=["status", "created_at"], name="textlink_msg_status_idx"),
            models.Index(fields=["direction", "created_at"], name="textlink_msg_direction_idx"),
            models.Index(fields=["created_at"], name="textlink_msg_created_idx"),
            models.Index(fields=["phone_number", "created_at"], name="textlink_msg_phone_idx"),
            models.Index(fields=["broadcast", "status"], name="textlink_msg_broadcast_idx"),
        ]

    def __str__(self) -> str:
        arrow = "→" if self.direction == self.Direction.OUTBOUND else "←"
        return f"{arrow} {self.phone_number}: {self.text[:40]}"


class WebhookEvent(models.Model):
    """One event TextLink posted to a webhook URL, stored before anything else happens.

    TextLink sends no event id and does not redeliver, so each event is kept, keyed by a
    hash of its kind and payload (the secret removed): the same body posted twice is one
    row. Processing then runs exactly once; a failure is recorded for replay.
    """

    class Kind(models.TextChoices):
        RECEIVED = "received", _("message received")
        SENT = "sent", _("message sent")
        FAILED = "failed", _("message failed")
        TAG = "tag", _("tag changed")

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        PROCESSING = "processing", _("processing")
        PROCESSED = "processed", _("processed")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    payload = models.JSONField(_("payload"), default=dict)
    dedup_key = models.CharField(_("de-duplication key"), max_length=64, unique=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("processing attempts"), default=0)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    objects: ClassVar[models.Manager[WebhookEvent]] = models.Manager()

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ("-received_at", "-pk")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class VerificationState(models.Model):
    """One entry of the verification flow's security state, in the database store (the
    default ``TEXTLINK["LIMIT_STORE"]``): a slice of a rate-limit counter, the marker of
    a live code, "a code was just sent to this number", or a used token.

    ``key`` never holds a phone number, an IP address or a token: only a keyed hash of
    them (see :mod:`django_textlink.verification.store`). Rows past ``expires_at`` mean nothing;
    ``textlink_purge`` deletes them, and the store does so from time to time on its own.
    """

    key = models.CharField(_("key"), max_length=200, primary_key=True)
    count = models.IntegerField(_("count"), default=0)
    value = models.CharField(_("value"), max_length=64, blank=True)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    objects: ClassVar[models.Manager[VerificationState]] = models.Manager()

    class Meta:
        verbose_name = _("verification state entry")
        verbose_name_plural = _("verification state entries")

    def __str__(self) -> str:
        return self.key


class VerificationActivity(models.Model):
    """The fraud guard's figures: codes sent and numbers verified in one number range
    during one period (:data:`~django_textlink.verification.guard.activity.PERIOD` seconds).

    A range is a number without its last digits (``TEXTLINK["FRAUD_GUARD"]["RANGE_DIGITS"]``):
    no full phone number is kept here. The guard reads these rows for its conversion figures
    and the admin's fraud guard page for the last 24 hours; ``textlink_purge`` deletes rows
    older than two days.
    """

    period = models.DateTimeField(_("period"))
    country = models.CharField(
        _("country"), max_length=3, blank=True, help_text=_('ISO-2, or "001" for no country.')
    )
    number_range = models.CharField(_("number range"), max_length=16)
    sends = models.PositiveIntegerField(_("codes sent"), default=0)
    verified = models.PositiveIntegerField(_("numbers verified"), default=0)

    objects: ClassVar[models.Manager[VerificationActivity]] = models.Manager()

    class Meta:
        verbose_name = _("verification activity")
        verbose_name_plural = _("verification activity")
        constraints = [
            models.UniqueConstraint(
                fields=("number_range", "period"), name="textlink_activity_range_period"
            ),
        ]
        indexes = [
            models.Index(fields=("country", "period"), name="textlink_activity_country"),
            models.Index(fields=("period",), name="textlink_activity_period"),
        ]

    def __str__(self) -> str:
        return f"{self.number_range} @ {self.period:%Y-%m-%d %H:%M}"


class VerificationBlock(models.Model):
    """A number range or a country the fraud guard refuses codes to until ``ends_at``
    (or until someone lifts the block in the admin).

    Blocks escalate: one placed soon after the previous block on the same range or country
    ended lasts twice as long (``BLOCK_FIRST`` doubling up to ``BLOCK_MAX``).
    """

    class Scope(models.TextChoices):
        RANGE = "range", _("number range")
        COUNTRY = "country", _("country")

    class Reason(models.TextChoices):
        RANGE_VELOCITY = "range_velocity", _("range over budget")
        LOW_CONVERSION = "low_conversion", _("low conversion")

    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices)
    value = models.CharField(
        _("range or country"),
        max_length=16,
        help_text=_("A number without its last digits, or an ISO country code."),
    )
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    level = models.PositiveSmallIntegerField(
        _("level"), default=1, help_text=_("1 for a first block; each escalation adds one.")
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"), db_index=True)
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("lifted by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects: ClassVar[models.Manager[VerificationBlock]] = models.Manager()

    class Meta:
        verbose_name = _("fraud guard block")
        verbose_name_plural = _("fraud guard blocks")
        ordering = ("-starts_at",)
        indexes = [
            models.Index(fields=("scope", "value", "ends_at"), name="textlink_block_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.value}"
