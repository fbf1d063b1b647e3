"""Every test under tests/e2e/ is end-to-end (the demo, a real browser, worker processes,
the benchmarks' smoke runs): it carries the ``e2e`` marker, so ``make test-fast``
(``pytest -m "not e2e"``) leaves it out while ``make test`` runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)
