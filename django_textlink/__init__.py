"""django-textlink: SMS sending and phone verification for Django through TextLink.

This module stays import-light: importing it never touches Django settings, so
the pytest plugin and ``django_textlink.outbox`` work before Django is set up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from django_textlink.backends.locmem import OutboxEntry

#: Everything the LocMemBackend "sent", in order. Emptied before every test by the
#: bundled pytest plugin (and by ``django_textlink.testing.TextLinkTestMixin``).
outbox: list[OutboxEntry] = []

__all__ = ["__version__", "outbox"]
