"""Where the HTML flow keeps its state: the server-side session.

Only the phone number being verified and, after success, the signed verification token
are kept. Never the code.
"""

from __future__ import annotations

from django.http import HttpRequest

PHONE_KEY = "textlink_verification_phone"
TOKEN_KEY = "textlink_verification_token"  # noqa: S105 - a session key name


def set_pending_phone(request: HttpRequest, phone_number: str) -> None:
    request.session[PHONE_KEY] = phone_number
    request.session.pop(TOKEN_KEY, None)


def pending_phone(request: HttpRequest) -> str | None:
    value = request.session.get(PHONE_KEY)
    return value if isinstance(value, str) else None


def set_verified_token(request: HttpRequest, token: str) -> None:
    request.session[TOKEN_KEY] = token
    request.session.pop(PHONE_KEY, None)


def verified_token(request: HttpRequest) -> str | None:
    value = request.session.get(TOKEN_KEY)
    return value if isinstance(value, str) else None


def clear(request: HttpRequest) -> None:
    request.session.pop(PHONE_KEY, None)
    request.session.pop(TOKEN_KEY, None)
