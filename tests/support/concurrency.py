"""Helpers for tests that run code in several threads against a real shared database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import connection, connections


def file_sqlite_database(tmp_path: Path) -> Iterator[None]:
    """Run a test on a migrated file SQLite database instead of the in-memory one (use as
    the body of a pytest fixture).

    Each thread opens its own connection; on the shared-cache in-memory database a second
    writer fails at once ("database table is locked"), a file database makes it wait for
    the lock as a deployment does. Transactions start IMMEDIATE (Django's SQLite option for
    concurrent writers), so a transaction that read first cannot fail to upgrade its lock.
    Needs ``django_db(transaction=True)``. PostgreSQL is used as it is.
    """
    if connection.vendor != "sqlite":
        yield
        return
    memory_settings = connections.settings["default"]
    memory_connection = connections["default"]
    connections.settings["default"] = {
        **memory_settings,
        "NAME": str(tmp_path / "db.sqlite3"),
        "OPTIONS": {**memory_settings.get("OPTIONS", {}), "transaction_mode": "IMMEDIATE"},
    }
    connections["default"] = connections.create_connection("default")
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield
    finally:
        connections["default"].close()
        connections.settings["default"] = memory_settings
        connections["default"] = memory_connection


def run_in_threads(targets: list[Callable[[], Any]]) -> list[Any]:
    """Start every target at the same moment, each in its own thread with its own DB
    connection; return their results (re-raising the first error)."""
    barrier = threading.Barrier(len(targets))
    results: list[Any] = [None] * len(targets)
    errors: list[BaseException] = []

    def run(index: int, target: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = target()
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, target)) for index, target in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    if errors:
        raise errors[0]
    return results
