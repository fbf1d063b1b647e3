"""Where things are, for tests that run a script, read a document or start a process."""

from __future__ import annotations

from pathlib import Path

#: The repository's root (where pyproject.toml, README.md, bench/ and example_project/ are).
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = ROOT / "example_project"
