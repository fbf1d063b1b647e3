"""Every error django-textlink raises about TextLink, rooted in :class:`TextLinkError`.

::

    TextLinkError
    ├── TextLinkConfigurationError     (also an ImproperlyConfigured)
    ├── TextLinkAPIError               TextLink answered, but not with success (.message)
    │   ├── TextLinkAuthenticationError    401/403, or "API key not found"
    │   ├── TextLinkRateLimitError         429 (.retry_after, seconds or None)
    │   ├── TextLinkServerError            other non-2xx (.status_code, .body_excerpt)
    │   └── TextLinkInvalidResponseError   2xx whose body is not the JSON object we expect
    └── TextLinkTransportError         no usable answer at all
        ├── TextLinkConnectionError        the request never reached TextLink
        └── TextLinkTimeoutError           connect timeout (never reached) or read timeout (maybe)

``delivery_unknown`` is True when TextLink may have acted on the request even though we
got no success answer (a read timeout, a 5xx, a dropped connection). A message in that
state must not be re-sent automatically: it could reach the phone twice.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class TextLinkError(Exception):
    """Root of every error django-textlink raises about TextLink."""

    #: True when TextLink may have accepted the request despite the error.
    delivery_unknown: bool = False

    def __init__(self, message: str = "", *, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint

    def __str__(self) -> str:
        if self.endpoint:
            return f"{self.message} (TextLink endpoint: {self.endpoint})"
        return self.message


class TextLinkConfigurationError(TextLinkError, ImproperlyConfigured):
    """A setting is missing or malformed. The message names the setting to fix."""


class TextLinkAPIError(TextLinkError):
    """TextLink answered, but not with success.

    An ``{"ok": false, "message": "..."}`` answer raises its subclass
    :class:`TextLinkRefusedError` (or :class:`TextLinkAuthenticationError` when it is
    about the key); ``.message`` holds TextLink's text. The other subclasses cover
    HTTP-level failures.
    """

    def __init__(
        self,
        message: str = "",
        *,
        endpoint: str | None = None,
        status_code: int | None = None,
        payload: dict[str, object] | None = None,
        body_excerpt: str = "",
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.status_code = status_code
        self.payload = payload if payload is not None else {}
        #: The start of the response body (for non-JSON and non-2xx answers).
        self.body_excerpt = body_excerpt


class TextLinkRefusedError(TextLinkAPIError):
    """TextLink understood the request and said no: an ``{"ok": false, "message": "..."}``
    answer that is not about the API key (a wrong or expired code, a number it refuses).
    ``verify_code`` answers a wrong code with a falsy result instead of raising this."""


class TextLinkAuthenticationError(TextLinkAPIError):
    """TextLink refused the API key (HTTP 401/403, or "API key not found")."""


class TextLinkRateLimitError(TextLinkAPIError):
    """TextLink answered 429. ``retry_after`` is the wait in seconds it asked for, if any."""

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        endpoint: str | None = None,
        status_code: int | None = 429,
        body_excerpt: str = "",
    ) -> None:
        super().__init__(
            message, endpoint=endpoint, status_code=status_code, body_excerpt=body_excerpt
        )
        self.retry_after = retry_after


class TextLinkServerError(TextLinkAPIError):
    """Any other non-2xx answer. Carries ``status_code`` and a short ``body_excerpt``."""

    delivery_unknown = True


class TextLinkInvalidResponseError(TextLinkAPIError):
    """TextLink answered 2xx with a body that is not a JSON object."""

    delivery_unknown = True


class TextLinkTransportError(TextLinkError):
    """No usable answer: connection failure or timeout. The original error is ``__cause__``."""

    def __init__(
        self, message: str = "", *, endpoint: str | None = None, delivery_unknown: bool = True
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.delivery_unknown = delivery_unknown


class TextLinkConnectionError(TextLinkTransportError):
    """The connection failed (refused, DNS, reset)."""


class TextLinkTimeoutError(TextLinkTransportError):
    """TextLink did not answer in time (connect or read timeout)."""


__all__ = [
    "TextLinkAPIError",
    "TextLinkAuthenticationError",
    "TextLinkConfigurationError",
    "TextLinkConnectionError",
    "TextLinkError",
    "TextLinkInvalidResponseError",
    "TextLinkRateLimitError",
    "TextLinkRefusedError",
    "TextLinkServerError",
    "TextLinkTimeoutError",
    "TextLinkTransportError",
]
