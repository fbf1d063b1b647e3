"""The interface every django-textlink backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from django_textlink.results import SendCodeResult, SendResult, TagResult, VerifyResult

#: Lifetime of a verification code when the caller does not give one (TextLink's own
#: Python client sends the same 10 minutes).
DEFAULT_CODE_LIFETIME_MS = 10 * 60 * 1000


class BaseBackend(ABC):
    """Sends SMS and verification codes. Subclasses implement the four calls with the
    same arguments and results as :class:`django_textlink.client.TextLinkClient`, and
    raise :class:`django_textlink.exceptions.TextLinkError` subclasses on failure."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abstractmethod
    def send_sms(
        self,
        phone_number: str,
        text: str,
        *,
        sim_card_id: int | None = None,
        custom_id: str | None = None,
    ) -> SendResult: ...

    @abstractmethod
    def send_code(
        self,
        phone_number: str,
        *,
        service_name: str | None = None,
        sim_card_id: int | None = None,
        custom_id: str | None = None,
        expiration_time: int | None = None,
        source_country: str | None = None,
    ) -> SendCodeResult: ...

    @abstractmethod
    def verify_code(self, phone_number: str, code: str) -> VerifyResult: ...

    @abstractmethod
    def update_contact_tag(self, phone_number: str, tag: str) -> TagResult: ...

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release resources. The default does nothing."""

    def __enter__(self) -> BaseBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
