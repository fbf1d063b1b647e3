"""The benchmarks keep working (they are run by hand with `make bench`).

This runs each with a tiny workload; it asserts what the benchmark reports, never how
fast anything was (timings belong in bench/, where they are compared to a baseline).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_client_benchmark_runs_and_reports_ratios_over_one_connection():
    result = subprocess.run(
        [sys.executable, "bench/client.py", "--messages", "5", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "[plain HTTP]" in out
    assert "[HTTPS, as TextLink serves]" in out
    assert len(re.findall(r"ratio: \d+\.\d\dx", out)) == 3
    # Pooling works: 50 sends through the client used a single TCP connection (both runs).
    assert re.findall(r"TCP connections for 50 pooled sends:\s+(\d+)", out) == ["1", "1"]
