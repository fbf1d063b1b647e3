"""Run the example project (what `make demo` runs) as a user would, for tests.

::

    with run_example(tmp_path, TEXTLINK_API_KEY="") as (url, log_path):
        requests.get(url)  # url: "http://127.0.0.1:<port>/"
        log_path.read_text()  # the server's stdout and stderr (console backend SMS included)

The example's own manage.py runs in a subprocess on a throwaway SQLite database in
``tmp_path``: migrate, then the development server (no autoreload) on a free port. The
``TEXTLINK_*``, ``DJANGO_*`` and ``DATABASE_URL`` variables of the calling environment are
dropped so only ``extra`` configures the example.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.support.paths import EXAMPLE_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def example_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment the example runs in: a SQLite file in ``tmp_path``, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEXTLINK_", "DJANGO_")) and key != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'example.sqlite3'}",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@contextmanager
def run_example(tmp_path: Path, **extra: str) -> Iterator[tuple[str, Path]]:
    """Migrate and serve the example project; yields ``(url, log_path)``."""
    env = example_env(tmp_path, **extra)
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput", "-v0"], cwd=EXAMPLE_DIR, env=env, check=True, timeout=120
    )
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=EXAMPLE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(url, timeout=2)
                    break
                except requests.ConnectionError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"example server did not start:\n{log_path.read_text()}")
                    time.sleep(0.2)
            yield url, log_path
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
