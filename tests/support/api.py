"""Fixtures of the verification API's tests: the backend behind the API, TextLink faked.

A test module uses them by name::

    from tests.support import api as api_support

    locmem = api_support.locmem
    textlink = api_support.textlink
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses


@pytest.fixture
def textlink(settings: Any) -> Iterator[responses.RequestsMock]:
    """TextLink's HTTP API, faked; the HTTP backend (the test settings' default) is used."""
    settings.TEXTLINK = {
        **settings.TEXTLINK,
        "BACKEND": "django_textlink.backends.textlink.TextLinkBackend",
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def textlink_url(settings: Any, endpoint: str) -> str:
    """The URL of TextLink's ``endpoint`` under the configured ``BASE_URL``."""
    return f"{settings.TEXTLINK['BASE_URL'].rstrip('/')}/{endpoint}"
