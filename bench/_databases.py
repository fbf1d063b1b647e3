"""The benchmarks' throwaway databases, shared by bench/bulk.py and bench/webhooks.py (and
their settings modules).

A benchmark picks the engine and the name through two environment variables that its
settings module reads with :func:`database_setting`: ``TEXTLINK_BENCH_DB_ENGINE``
(``postgres`` or ``sqlite``) and ``TEXTLINK_BENCH_DB_NAME`` (the SQLite file, or the
PostgreSQL database). :func:`throwaway_postgres` creates that PostgreSQL database on the
server that PGHOST, PGPORT, PGUSER and PGPASSWORD name, and drops it afterwards.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ENGINE = "TEXTLINK_BENCH_DB_ENGINE"
NAME = "TEXTLINK_BENCH_DB_NAME"


def database_setting(
    default_name: str,
    *,
    postgres: dict[str, Any] | None = None,
    sqlite: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``DATABASES["default"]`` for the engine the environment names, with the extra keys
    given for that engine (e.g. ``CONN_MAX_AGE``, ``OPTIONS``)."""
    name = os.environ.get(NAME, default_name)
    if os.environ.get(ENGINE) == "postgres":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "HOST": os.environ.get("PGHOST", ""),
            "PORT": os.environ.get("PGPORT", ""),
            **(postgres or {}),
        }
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": name, **(sqlite or {})}


def use_sqlite(path: str) -> str:
    """Point the settings at the SQLite file ``path``; returns SQLite's version."""
    os.environ[ENGINE] = "sqlite"
    os.environ[NAME] = path
    return sqlite3.sqlite_version


@contextmanager
def throwaway_postgres(prefix: str) -> Iterator[str]:
    """Create a PostgreSQL database for this process, point the settings at it, and drop
    it afterwards (closing Django's connections first); yields a description of it."""
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{os.getpid()}"
    os.environ[ENGINE] = "postgres"
    os.environ[NAME] = name
    maintenance = psycopg.connect(dbname="postgres", autocommit=True)
    try:
        maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = maintenance.execute("SHOW server_version").fetchone()
        where = os.environ.get("PGHOST", "default host")
        yield f"PostgreSQL {version[0] if version else '?'} (database {name} on {where})"
    finally:
        close_connections()
        maintenance.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        maintenance.close()


def close_connections() -> None:
    """Close Django's connections, if Django got as far as opening any."""
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()
