"""ConsoleBackend: prints every SMS and verification code instead of sending it.

For development without a TextLink account. Codes are generated and checked by this
process (see :mod:`django_textlink.backends.simulated`), so a verification flow works
end to end: read the code from the console.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from django_textlink.backends.simulated import OutboxEntry, SimulatedBackend

_write_lock = threading.Lock()


class ConsoleBackend(SimulatedBackend):
    def __init__(self, *, stream: TextIO | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.stream = stream

    def _write(self, lines: list[str]) -> None:
        stream = self.stream or sys.stdout
        rule = "-" * 72
        with _write_lock:
            stream.write("\n".join([rule, *lines, rule, ""]))
            stream.flush()

    def deliver(self, entry: OutboxEntry) -> None:
        title = "Verification code" if entry.kind == "code" else "SMS"
        lines = [f"{title} (django-textlink ConsoleBackend, not sent)", f"To: {entry.phone_number}"]
        details = [
            f"{label}: {value}"
            for label, value in (
                ("SIM card", entry.sim_card_id),
                ("Custom id", entry.custom_id),
                ("Service", entry.service_name),
                (
                    "Expires in",
                    f"{entry.expiration_time // 1000}s" if entry.expiration_time else None,
                ),
                ("Source country", entry.source_country),
            )
            if value is not None
        ]
        self._write([*lines, *details, "", entry.text])

    def record_tag(self, phone_number: str, tag: str) -> None:
        self._write([f"Contact tag (django-textlink ConsoleBackend): {phone_number} -> {tag!r}"])
