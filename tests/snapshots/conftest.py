"""Snapshots share the terminal tests' fixed desk and clock (tests/tui/deskfixtures.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tui"))

from deskfixtures import make_app, seeded, test_clock, utc  # noqa: E402, F401
