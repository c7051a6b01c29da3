"""Fixtures of the terminal's tests and snapshots: a seeded desk on SQLite, a clock that only
moves when told, and local time in UTC."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from seed import NOW, Seeded, seed

from deskterm.desk import clock
from deskterm.tui.app import DeskApp
from migrated import copy_migrated


class TestClock:
    """The desk's time in a test: fixed, moved on by hand (a call lasting 95 s, say)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times on screen are the analyst's local times: make that UTC everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def test_clock() -> Iterator[TestClock]:
    moving = TestClock(NOW)
    with clock.use_clock(moving):
        yield moving


@pytest.fixture
def seeded(tmp_path: Path, test_clock: TestClock) -> Iterator[Seeded]:
    from deskterm.desk.setup import open_database

    url = f"sqlite:///{tmp_path / 'desk.db'}"
    copy_migrated(url)
    db = open_database(url)
    made = seed(db)
    made.url = url  # type: ignore[attr-defined]
    yield made
    db.dispose()


@pytest.fixture
def desk(db_url: str, test_clock: TestClock) -> Iterator[Seeded]:
    """The terminal tests' fixed desk on each database (``db_url`` is both)."""
    from deskterm.desk.setup import open_database

    copy_migrated(db_url)
    db = open_database(db_url)
    made = seed(db)
    made.url = db_url  # type: ignore[attr-defined]
    yield made
    db.dispose()


@pytest.fixture
def make_app(seeded: Seeded, tmp_path: Path):
    """An app on the seeded desk as ``login``; no timers (no polling, no presence heartbeat),
    so tests decide when things move."""

    def make(login: str = "alice", url: str | None = None) -> DeskApp:
        return DeskApp(
            url or seeded.url,  # type: ignore[attr-defined]
            login,
            data_dir=tmp_path / "data",
            poll_seconds=None,
            presence_seconds=None,
        )

    return make
