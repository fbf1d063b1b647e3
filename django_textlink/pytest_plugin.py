"""pytest plugin, registered through the ``pytest11`` entry point.

* Before every test, ``django_textlink.outbox`` (and the locmem backend's tag updates and
  simulated codes) are emptied, so no test sees another's messages.
* ``textlink_outbox``: the outbox list, for assertions.
* ``textlink_locmem``: switches ``TEXTLINK["BACKEND"]`` to the locmem backend for one test
  (needs pytest-django's ``settings`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _textlink_reset_outbox() -> Iterator[None]:
    from django_textlink.backends.locmem import reset

    reset()
    yield
    reset()


@pytest.fixture
def textlink_outbox() -> list[Any]:
    import django_textlink

    return django_textlink.outbox


@pytest.fixture
def textlink_locmem(settings: Any) -> list[Any]:
    import django_textlink

    settings.TEXTLINK = {
        **getattr(settings, "TEXTLINK", {}),
        "BACKEND": "django_textlink.backends.locmem.LocMemBackend",
    }
    return django_textlink.outbox
