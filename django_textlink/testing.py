"""Test helpers for sites that use django-textlink.

With pytest, nothing is needed: the plugin installed with the package empties
``django_textlink.outbox`` before each test and offers the ``textlink_outbox`` fixture.
With Django's test runner, mix :class:`TextLinkTestMixin` into your test cases.
"""

from __future__ import annotations

from typing import Any

from django_textlink.backends.locmem import reset as reset_outbox

LOCMEM_BACKEND = "django_textlink.backends.locmem.LocMemBackend"


class TextLinkTestMixin:
    """Empties the outbox (and simulated codes) before each test."""

    def _pre_setup(self, *args: Any, **kwargs: Any) -> None:
        reset_outbox()
        super()._pre_setup(*args, **kwargs)  # type: ignore[misc]


__all__ = ["LOCMEM_BACKEND", "TextLinkTestMixin", "reset_outbox"]
