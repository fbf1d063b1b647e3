"""LocMemBackend: records every SMS into ``django_textlink.outbox`` (for tests).

Each entry is an :class:`OutboxEntry`; verification codes are real random codes that
``verify_code`` checks, and the code is on the entry (``entry.code``), as if read off
the phone. Tag updates are recorded in :data:`tag_updates`.

The bundled pytest plugin empties both before every test; with Django's own test
runner, use :class:`django_textlink.testing.TextLinkTestMixin`.
"""

from __future__ import annotations

import threading

import django_textlink
from django_textlink.backends.simulated import OutboxEntry, SimulatedBackend, simulated_codes

#: ``(phone_number, tag)`` for each ``update_contact_tag`` call, in order.
tag_updates: list[tuple[str, str]] = []

_lock = threading.Lock()


class LocMemBackend(SimulatedBackend):
    def deliver(self, entry: OutboxEntry) -> None:
        with _lock:
            django_textlink.outbox.append(entry)

    def record_tag(self, phone_number: str, tag: str) -> None:
        with _lock:
            tag_updates.append((phone_number, tag))


def reset() -> None:
    """Empty the outbox, the tag updates and the simulated codes."""
    with _lock:
        django_textlink.outbox.clear()
        tag_updates.clear()
    simulated_codes.clear()


__all__ = ["LocMemBackend", "OutboxEntry", "reset", "tag_updates"]
