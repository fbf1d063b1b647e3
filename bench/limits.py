"""Benchmark: what the durable limit store adds to each ``verify/send/`` request.

The verification limits used to live only in Django's cache; they now live in the
database by default (``TEXTLINK["LIMIT_STORE"] = "database"``), so no request can evict
them and every process shares them. This measures the price: the same ``POST
verify/send/`` requests (DRF view, every limit applied: per client, cooldown, per phone,
daily budget) through Django's test client, in this process, with

* the baseline: the cache store on a LocMem cache (what the package did before), and
* ours: the database store,

alternating (``--rounds``) after a warm-up of each. Each request is for a new number from
a new client address, so every one is allowed and sends (to the locmem backend: no
network, so the figure is the limit store's own cost). It prints each side's mean and p99
latency per request, the added milliseconds and the ratio ours / baseline.

The database is PostgreSQL when PGHOST is set (a throwaway database on that server),
else a throwaway file SQLite database (WAL, IMMEDIATE transactions; the settings of
bench/webhooks.py); ``--db`` forces either. Only the ratio is meaningful on a shared
machine.

    python bench/limits.py [--requests 300] [--rounds 3] [--db auto|postgres|sqlite]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhooks import database  # noqa: E402 - after the path

urlpatterns: list[Any] = []


def setup(budget: int) -> None:
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.urls import include, path

    from bench.webhook_app import settings as bench_settings

    options = {
        name: getattr(bench_settings, name) for name in dir(bench_settings) if name.isupper()
    }
    options.update(
        INSTALLED_APPS=[*bench_settings.INSTALLED_APPS, "rest_framework"],
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["testserver"],
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        TEXTLINK={
            **bench_settings.TEXTLINK,
            "BACKEND": "django_textlink.backends.locmem.LocMemBackend",
            "DAILY_SEND_BUDGET": budget,
            # The base limits' store alone: the fraud guard (its own cost is measured by
            # bench/pumping.py) would block the benchmark's sequential numbers, one range.
            "FRAUD_GUARD": {"MODE": "off"},
        },
    )
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    settings.configure(**options)
    django.setup()
    urlpatterns.append(path("api/textlink/", include("django_textlink.api.urls")))
    call_command("migrate", verbosity=0)


def run(store: str, start: int, count: int) -> list[float]:
    """``count`` sends with ``LIMIT_STORE = store``; each one's latency in seconds."""
    from django.conf import settings
    from django.test import Client, override_settings

    import django_textlink

    client = Client()
    latencies = []
    with override_settings(TEXTLINK={**settings.TEXTLINK, "LIMIT_STORE": store}):
        for n in range(start, start + count):
            number = f"+1202555{n % 10_000:04d}" if n < 10_000 else f"+1312555{n % 10_000:04d}"
            address = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
            began = time.perf_counter()
            answer = client.post(
                "/api/textlink/verify/send/",
                {"phone_number": number},
                content_type="application/json",
                REMOTE_ADDR=address,
            )
            latencies.append(time.perf_counter() - began)
            if answer.status_code != 202:
                raise SystemExit(
                    f"{store}: request {n} answered {answer.status_code}: {answer.content!r}"
                )
    django_textlink.outbox.clear()
    return latencies


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="sends per side per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", choices=["auto", "postgres", "sqlite"], default="auto")
    args = parser.parse_args(argv)
    kind = args.db if args.db != "auto" else ("postgres" if os.environ.get("PGHOST") else "sqlite")
    total = (2 * args.rounds + 2) * args.requests
    with tempfile.TemporaryDirectory() as directory, database(kind, Path(directory)) as where:
        setup(budget=total + 1)
        from django.db import connection

        print(f"== {where}; Django {__import__('django').get_version()}")
        print(f"== {args.requests} sends per side and round, {args.rounds} rounds, after a warm-up")
        offset = 0
        for store in ("cache", "database"):  # warm-up
            run(store, offset, args.requests)
            offset += args.requests
        results: dict[str, list[float]] = {"cache": [], "database": []}
        for _round in range(args.rounds):
            for store in ("cache", "database"):
                results[store] += run(store, offset, args.requests)
                offset += args.requests
        base, ours = results["cache"], results["database"]
        base_mean, ours_mean = statistics.fmean(base), statistics.fmean(ours)
        for label, values, mean in (
            ("baseline (cache store, LocMem)", base, base_mean),
            (f"ours (database store, {connection.vendor})", ours, ours_mean),
        ):
            print(f"{label}: mean {mean * 1000:.2f} ms, p99 {p99(values) * 1000:.2f} ms")
        print(f"added per verify/send/: {(ours_mean - base_mean) * 1000:.2f} ms")
        print(f"ratio ours / baseline: {ours_mean / base_mean:.2f}")
        connection.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
