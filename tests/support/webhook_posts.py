"""What the webhook test modules share: the URL of each webhook, its signal, and a
recorder of the signals sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import models
from django.dispatch import Signal
from django.urls import reverse

from django_textlink import signals

#: The signal each webhook kind fires once per stored event.
SIGNALS: dict[str, Signal] = {
    "received": signals.sms_received,
    "sent": signals.sms_sent,
    "failed": signals.sms_failed,
    "tag": signals.contact_tag_changed,
}


def url(kind: str) -> str:
    """The default account's webhook URL for ``kind``."""
    return reverse(f"textlink:webhook-{kind}")


class Fired:
    """Every webhook signal sent during a test, as ``(kind, kwargs)``; thread-safe."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def record(self, kind: str, kwargs: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append((kind, kwargs))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [kwargs for fired_kind, kwargs in self.calls if fired_kind == kind]

    def kinds(self) -> list[str]:
        return [kind for kind, _kwargs in self.calls]


@contextmanager
def recording_signals(uid: str) -> Iterator[Fired]:
    """Record every webhook signal sent inside the block (receivers under ``uid``)."""
    recorder = Fired()
    for kind, signal in SIGNALS.items():

        def receiver(sender: Any, _kind: str = kind, **kwargs: Any) -> None:
            recorder.record(_kind, {"sender": sender, **kwargs})

        signal.connect(receiver, weak=False, dispatch_uid=f"{uid}-{kind}")
    try:
        yield recorder
    finally:
        for kind, signal in SIGNALS.items():
            signal.disconnect(dispatch_uid=f"{uid}-{kind}")


def texts_of(value: Any) -> Iterator[str]:
    """Every string a value shows: model fields, dict keys (as ``key:<name>``) and values,
    items, ``repr`` and ``str``."""
    if isinstance(value, models.Model):
        for field in value._meta.concrete_fields:
            yield from texts_of(getattr(value, field.attname))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"key:{key}"
            yield from texts_of(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from texts_of(item)
    yield repr(value)
    yield str(value)
