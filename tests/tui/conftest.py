"""The terminal's tests: see deskfixtures.py."""

from deskfixtures import desk, make_app, seeded, test_clock, utc  # noqa: F401
