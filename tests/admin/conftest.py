"""What every admin test runs with: the locmem backend (the plugin's ``textlink_locmem``),
background tasks run at once after the commit, and a fast password hasher for the admin
users."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.inline_tasks import run_tasks_inline


@pytest.fixture(autouse=True)
def admin_test_settings(settings: Any, textlink_locmem: list[Any]) -> list[Any]:
    # Autouse fixtures come first: the admin user's password is hashed quickly too.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    run_tasks_inline(settings)
    return textlink_locmem
