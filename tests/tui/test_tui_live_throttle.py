"""A busy desk does not flood an open app (issue 17): the first change after a quiet spell is
looked at once, then at most one look per ``LivePace.FIRST`` while notices keep coming,
and nothing is lost: the look after the burst sees all of it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import opened, until
from seed import Seeded, seed
from sqlalchemy import text

from deskterm.desk import views
from deskterm.desk.tickets import create_ticket
from deskterm.tui.app import DeskApp
from deskterm.tui.screens.queue import QueueScreen
from factories import AGENT, AGENT2


@pytest.fixture
def pg_seeded(db_url: str, test_clock) -> Iterator[Seeded]:
    from deskterm.desk.setup import open_database

    db = open_database(db_url)
    made = seed(db)
    made.url = db_url  # type: ignore[attr-defined]
    yield made
    db.dispose()


def _app(seeded: Seeded, tmp_path: Path) -> DeskApp:
    # No polling: what the app shows came by notification.
    url = seeded.url  # type: ignore[attr-defined]
    return DeskApp(url, AGENT2, data_dir=tmp_path, poll_seconds=None, presence_seconds=None)


async def _within(pilot, condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"not within 10 s: {what}")


def _queue_ids(app: DeskApp) -> set[int]:
    screen = app.screen
    return set(screen.rows) if isinstance(screen, QueueScreen) else set()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_stream_of_changes_is_looked_at_a_few_times_and_nothing_is_lost(
    pg_seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = pg_seeded
    looks: list[float] = []
    real = views.latest_event_id

    def counted(session, actor):  # type: ignore[no-untyped-def]
        if threading.current_thread().name != "MainThread":
            looks.append(time.monotonic())
        return real(session, actor)

    monkeypatch.setattr(views, "latest_event_id", counted)
    app = DeskApp(seeded.url, AGENT2, data_dir=tmp_path, poll_seconds=None, presence_seconds=None)  # type: ignore[attr-defined]
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        await pilot.press("2")
        await until(pilot, lambda: app.screen.view == "groups" and _queue_ids(app))
        await _within(pilot, lambda: app.listening, "listening")
        await pilot.pause(1.5)  # a quiet spell
        looks.clear()

        def stream() -> int:
            made = 0
            for n in range(30):
                with seeded.known.db.write() as session:
                    session.execute(text("SELECT pg_notify('deskterm_events', :p)"), {"p": str(n)})
                if n == 20:
                    made = (
                        seeded.known.as_(AGENT)
                        .write(create_ticket, subject="Made in the middle of a burst")
                        .id
                    )
                time.sleep(0.05)
            return made

        made = await asyncio.to_thread(stream)
        await _within(pilot, lambda: made in _queue_ids(app), "the change made mid-burst shows")
    # 31 notices over about 1.5 s: looked at a handful of times, not once per notice.
    assert 1 <= len(looks) <= 8, len(looks)


RELAY = """
import sys, time
from deskterm.db.engine import Database
from deskterm.db.notify import Listener
listener = Listener(Database(sys.argv[1]))
listener.open()
print(listener.relayed, listener.backend_pid, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_an_app_whose_relay_ends_listens_again_at_once_and_still_hears(
    pg_seeded: Seeded, tmp_path: Path
) -> None:
    seeded = pg_seeded
    relay = subprocess.Popen(
        [sys.executable, "-c", RELAY, seeded.url],  # type: ignore[attr-defined]
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert relay.stdout is not None
        relayed, pid = (await asyncio.to_thread(relay.stdout.readline)).split()
        assert relayed == "False"
        app = DeskApp(
            seeded.url, AGENT2, data_dir=tmp_path, poll_seconds=None, presence_seconds=None
        )  # type: ignore[attr-defined]
        async with app.run_test(size=(100, 30)) as pilot:
            await opened(pilot)
            await pilot.press("2")
            await until(pilot, lambda: app.screen.view == "groups" and _queue_ids(app))
            await _within(pilot, lambda: app.listening, "listening")
            assert app.listener_pid == int(pid)  # through the other process's connection
            relay.kill()
            relay.wait()
            seen: list[bool] = []
            await _within(
                pilot,
                lambda: not seen.append(app.listening) and app.listener_pid not in (None, int(pid)),
                "listening on a connection of its own",
            )
            # Straight back, never through the pause a broken database gets.
            assert all(seen), "stopped listening in between"
            made = await asyncio.to_thread(
                seeded.known.as_(AGENT).write, create_ticket, subject="Heard after the relay"
            )
            await _within(pilot, lambda: made.id in _queue_ids(app), "heard again")
    finally:
        relay.kill()
        relay.wait()
