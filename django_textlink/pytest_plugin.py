"""pytest plugin, registered through the ``pytest11`` entry point.

* Between tests, ``django_textlink.outbox`` (and the locmem backend's tag updates and
  the simulated codes) are emptied, so no test sees another's messages. This costs
  nothing in a project that never uses those backends: nothing is imported for it, and
  the reset runs only once a simulated backend (locmem, console) has been loaded.
* ``textlink_outbox``: the outbox list, for assertions.
* ``textlink_locmem``: switches ``TEXTLINK["BACKEND"]`` to the locmem backend for one test
  (needs pytest-django's ``settings`` fixture) and returns the outbox.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

#: Imported by the locmem and console backends: until it is, there is nothing to reset.
_SIMULATED = "django_textlink.backends.simulated"


def _reset_if_loaded() -> None:
    if _SIMULATED in sys.modules:
        from django_textlink.backends.locmem import reset

        reset()


@pytest.fixture(autouse=True)
def _textlink_reset_outbox() -> Iterator[None]:
    _reset_if_loaded()
    yield
    _reset_if_loaded()


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
