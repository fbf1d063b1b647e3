"""Models of django-textlink."""

from __future__ import annotations

from typing import Any, ClassVar, cast

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
        return cast(VerifiedPhoneNumber, obj)


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
