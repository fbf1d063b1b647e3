"""The example project refuses to run with DEBUG off on a SECRET_KEY that is no secret.

Its settings fall back to a SECRET_KEY that is in this repository for anyone to read; with
it, a deployed copy of the example could have its sessions, signed cookies and verification
tokens forged. The system check example.E001 (example_project/example/checks.py) stops
``manage.py check``, ``migrate`` and ``runserver`` when DEBUG is off and the key is that
default, empty, short or a ``django-insecure-`` one. The example's own manage.py runs in a
subprocess, as a user would run it, on a throwaway SQLite database.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.core.management.utils import get_random_secret_key

from tests.support.example_server import example_env, free_port
from tests.support.paths import EXAMPLE_DIR

WEBHOOK_SECRET = "whsec-example-test"  # else textlink.E006 fails the check with DEBUG off


def _load_checks() -> ModuleType:
    """example/checks.py, without putting the example project on sys.path."""
    spec = importlib.util.spec_from_file_location(
        "example_checks_under_test", EXAMPLE_DIR / "example" / "checks.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example_checks = _load_checks()


def _dotenv_sets_the_key() -> bool:
    dotenv = EXAMPLE_DIR / ".env"
    return dotenv.exists() and any(
        line.strip().startswith("DJANGO_SECRET_KEY") for line in dotenv.read_text().splitlines()
    )


def manage(
    tmp_path: Path, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """The example's manage.py, in a subprocess: only ``env`` configures it."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE_DIR,
        env=example_env(
            tmp_path, TEXTLINK_API_KEY="", TEXTLINK_WEBHOOK_SECRET=WEBHOOK_SECRET, **env
        ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def no_dotenv_key() -> None:
    if _dotenv_sets_the_key():
        pytest.skip("example_project/.env sets DJANGO_SECRET_KEY: the default is not in use")


def test_the_check_knows_the_settings_default():
    settings_source = (EXAMPLE_DIR / "example" / "settings.py").read_text()

    assert f'default="{example_checks.DEFAULT_SECRET_KEY}"' in settings_source


@pytest.mark.usefixtures("no_dotenv_key")
def test_check_fails_on_the_default_key_with_debug_off(tmp_path):
    result = manage(tmp_path, "check", DJANGO_DEBUG="False")

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "example.E001" in output
    assert "DJANGO_SECRET_KEY" in output  # the hint says what to set
    assert example_checks.DEFAULT_SECRET_KEY not in output  # no key is ever shown


@pytest.mark.usefixtures("no_dotenv_key")
def test_runserver_refuses_to_start_on_the_default_key_with_debug_off(tmp_path):
    try:
        result = manage(
            tmp_path,
            "runserver",
            "--noreload",
            f"127.0.0.1:{free_port()}",
            timeout=20,
            DJANGO_DEBUG="False",
        )
    except subprocess.TimeoutExpired:  # subprocess.run has killed the server
        pytest.fail("runserver started (and served for 20 s) on the public SECRET_KEY")

    assert result.returncode != 0
    assert "example.E001" in result.stdout + result.stderr


def test_check_passes_with_a_long_random_key_and_debug_off(tmp_path):
    result = manage(
        tmp_path, "check", DJANGO_DEBUG="False", DJANGO_SECRET_KEY=get_random_secret_key()
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "example.E001" not in output


@pytest.mark.usefixtures("no_dotenv_key")
def test_check_passes_on_the_default_key_with_debug_on(tmp_path):
    result = manage(tmp_path, "check", "--fail-level", "WARNING", DJANGO_DEBUG="True")

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "example.E001" not in output


@pytest.mark.parametrize(
    ("key", "weak"),
    [
        ("django-insecure-example-project-only", True),
        ("", True),
        ("change-me-to-a-long-random-string", True),  # .env.example's placeholder
        ("django-insecure-" + "k3#Vz9" * 10, True),
        ("a" * 80, True),
        ("ab" * 40, True),
        (get_random_secret_key(), False),
        ("k3#Vz9-Lq!8wPe2@Rm5" * 3, False),
    ],
)
def test_secret_key_problem(key, weak):
    problem = example_checks.secret_key_problem(key)

    assert (problem is not None) == weak
    if problem is not None:
        assert key not in problem or not key
