"""Typed results of TextLink calls, shared by the client and every backend.

Only a success returns a result: a refusal or a fault raises a
:class:`~django_textlink.exceptions.TextLinkError`, so there is no ``ok`` flag to check
(a wrong verification code is the one ordinary "no": a falsy :class:`VerifyResult`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SendResult:
    """TextLink accepted a message. ``queued`` means accepted and waiting for a free SIM:
    it is a success, not an error."""

    queued: bool = False
    #: The rest of TextLink's answer (fields can differ between TextLink versions).
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class SendCodeResult:
    """TextLink sent a verification code.

    TextLink returns the code it sent in ``code``. It is there only because TextLink puts
    it in its answer: TextLink keeps and checks the code itself, so never store, log or
    show it. It is left out of ``repr``.
    """

    code: str | None = field(default=None, repr=False)
    queued: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of ``verify_code``: truthy exactly when the code is valid.

    A wrong or expired code is an ordinary answer (``valid=False`` with TextLink's
    ``message``), not an exception.
    """

    valid: bool
    message: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __bool__(self) -> bool:
        return self.valid


@dataclass(frozen=True)
class TagResult:
    """TextLink updated a contact's tag."""

    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)
