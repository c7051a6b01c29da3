"""Connections sized for a team (issue 17): an app holds at most one pooled connection (let go
once idle: tests/unit/test_connections_at_rest.py), every listener of a process shares one
``LISTEN`` connection, the pool is a setting, and ``db status`` counts who is connected."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from contextlib import ExitStack, suppress
from pathlib import Path

import pytest
from sqlalchemy import text

from deskterm.cli import main
from deskterm.config import load_settings
from deskterm.db.engine import APPLICATION_NAME, LISTEN_APPLICATION_NAME, Database
from deskterm.db.notify import EVENTS_CHANNEL, PRESENCE_CHANNEL, Listener
from deskterm.desk.setup import open_database
from deskterm.domain.errors import DatabaseUnavailable, InvalidInput


@pytest.fixture
def pg_url(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only: SQLite has no server connections to count or LISTEN")
    return db_url


def _my_ports() -> set[int]:
    """The local TCP ports of this process's sockets: how this test's connections are told
    apart in ``pg_stat_activity`` from those of the tests running beside it."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _mine(db: Database) -> Counter[str]:
    """This process's connections to the server, by application name (the asking one left
    out)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT application_name FROM pg_stat_activity "
                "WHERE client_port = ANY(:ports) AND pid <> pg_backend_pid()"
            ),
            {"ports": sorted(_my_ports())},
        ).all()
    return Counter(name for (name,) in rows)


def _heard(listener: Listener, payload: str) -> bool:
    for _ in range(50):
        if any(n.payload == payload for n in listener.wait(0.1)):
            return True
    return False


def test_four_idle_apps_hold_one_connection_each_and_one_listener(pg_url: str) -> None:
    if "127.0.0.1" not in pg_url and "localhost" not in pg_url:
        pytest.skip("counted by TCP port: needs a TCP URL")
    with ExitStack() as stack:
        apps = [open_database(pg_url) for _ in range(4)]
        for db in apps:
            stack.callback(db.dispose)
        listeners = [stack.enter_context(Listener(db)) for db in apps]
        for db in apps:
            with db.read() as session:
                session.execute(text("SELECT count(*) FROM ticket")).scalar_one()
        # What the asking connection is: the first app's one pooled connection, so it is out.
        counted = _mine(apps[0])
        assert counted[LISTEN_APPLICATION_NAME] == 1, counted
        assert counted[APPLICATION_NAME] <= 3, counted  # the asker's own is the fourth
        assert len({listener.backend_pid for listener in listeners}) == 1
        for db in apps:
            assert db.engine.pool.checkedin() <= 1  # type: ignore[attr-defined]
    # Closed: nothing of this process is left on the server.
    probe = Database(pg_url)
    try:
        left = _mine(probe)
        assert left[LISTEN_APPLICATION_NAME] == 0 and left[APPLICATION_NAME] == 0, left
    finally:
        probe.dispose()


def test_two_listeners_share_one_connection_and_each_hears(pg_url: str) -> None:
    db = open_database(pg_url)
    try:
        with Listener(db) as a, Listener(db, [EVENTS_CHANNEL]) as b:
            assert a.backend_pid is not None and a.backend_pid == b.backend_pid
            with db.write() as session:
                session.execute(text("SELECT pg_notify(:c, 'both')"), {"c": EVENTS_CHANNEL})
                session.execute(text("SELECT pg_notify(:c, 'a-only')"), {"c": PRESENCE_CHANNEL})
            assert _heard(a, "both") and _heard(b, "both")
            # b listens to the events only: presence never reaches it.
            with db.write() as session:
                session.execute(text("SELECT pg_notify(:c, 'after')"), {"c": EVENTS_CHANNEL})
            assert _heard(b, "after")
            assert all(n.payload != "a-only" for n in b.wait(0.2))
            b.close()
            # The last subscriber still hears on the same connection.
            with db.write() as session:
                session.execute(text("SELECT pg_notify(:c, 'still')"), {"c": EVENTS_CHANNEL})
            assert _heard(a, "still")
    finally:
        db.dispose()


def test_a_broken_listening_connection_tells_everyone_and_listening_again_reconnects(
    pg_url: str,
) -> None:
    db = open_database(pg_url)
    try:
        a, b = Listener(db), Listener(db)
        with a, b:
            pid = a.backend_pid
            with db.write() as session:
                session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            for listener in (a, b):
                with pytest.raises(DatabaseUnavailable, match="stopped sending changes"):
                    for _ in range(50):
                        listener.wait(0.1)
        with Listener(db) as again:
            assert again.backend_pid not in (None, pid)
            with db.write() as session:
                session.execute(text("SELECT pg_notify(:c, 'back')"), {"c": EVENTS_CHANNEL})
            assert _heard(again, "back")
    finally:
        db.dispose()


def test_a_burst_overflows_and_falls_back_to_one_connection(pg_url: str) -> None:
    db = Database(pg_url, pool_size=1, pool_overflow=4)
    barrier = threading.Barrier(5)
    pids: list[int] = []

    def read() -> None:
        with db.read() as session:
            barrier.wait(timeout=10)  # all five hold a connection at once
            pids.append(int(session.execute(text("SELECT pg_backend_pid()")).scalar_one()))

    try:
        threads = [threading.Thread(target=read) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(pids)) == 5
        pool = db.engine.pool
        assert pool.checkedout() == 0 and pool.checkedin() == 1  # type: ignore[attr-defined]
    finally:
        db.dispose()


def test_pool_size_zero_keeps_no_connection_at_rest(pg_url: str) -> None:
    db = Database(pg_url, pool_size=0, pool_overflow=0)
    try:
        with db.read() as session:
            first = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with db.read() as session:
            second = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert first != second  # each unit of work connected afresh
    finally:
        db.dispose()


def test_the_pool_follows_the_settings(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKTERM_POOL_SIZE", "2")
    monkeypatch.setenv("DESKTERM_POOL_OVERFLOW", "0")
    db = Database(pg_url)
    try:
        assert db.engine.pool.size() == 2  # type: ignore[attr-defined]
        assert db.engine.pool._max_overflow == 0  # type: ignore[attr-defined]
    finally:
        db.dispose()


def test_pool_settings_have_defaults_and_bounds(tmp_path: Path) -> None:
    empty = tmp_path / "none.toml"
    settings = load_settings({}, empty)
    assert (settings.pool_size, settings.pool_overflow) == (1, 4)
    assert (settings.pool_idle_seconds, settings.pooler, settings.listen_url) == (0.5, "none", None)
    with pytest.raises(
        InvalidInput, match=r"DESKTERM_POOL_IDLE_SECONDS: '-1' is not between 0 and 3600 seconds"
    ):
        load_settings({"DESKTERM_POOL_IDLE_SECONDS": "-1"}, empty)
    with pytest.raises(InvalidInput, match=r"DESKTERM_POOLER: 'bouncer' is not one of"):
        load_settings({"DESKTERM_POOLER": "bouncer"}, empty)
    with pytest.raises(InvalidInput, match=r"DESKTERM_LISTEN_URL: .* must be a postgresql:// URL"):
        load_settings({"DESKTERM_LISTEN_URL": "sqlite:///x.db"}, empty)
    with pytest.raises(InvalidInput, match=r"DESKTERM_POOL_SIZE: '21' is not between 0 and 20"):
        load_settings({"DESKTERM_POOL_SIZE": "21"}, empty)
    with pytest.raises(InvalidInput, match=r"DESKTERM_POOL_OVERFLOW: 'many' is not a number"):
        load_settings({"DESKTERM_POOL_OVERFLOW": "many"}, empty)
    file = tmp_path / "deskterm.toml"
    file.write_text("[desk]\npool_overflow = -1\n")
    with pytest.raises(InvalidInput, match=r"\[desk\] pool_overflow: -1 is not between 0 and 50"):
        load_settings({}, file)
    file.write_text("[desk]\npool_size = 3\npool_overflow = 0\n")
    assert (load_settings({}, file).pool_size, load_settings({}, file).pool_overflow) == (3, 0)


def _db_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, *args: str
) -> str:
    monkeypatch.setenv("DESKTERM_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setattr(sys, "argv", ["deskterm", "db", "status", *args])
    capsys.readouterr()
    with suppress(SystemExit):
        main()
    return capsys.readouterr().out


def test_db_status_counts_connections(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = open_database(db_url)
    try:
        with ExitStack() as stack:
            if not db.is_sqlite:
                stack.enter_context(Listener(db))
            shown = json.loads(_db_status(monkeypatch, capsys, db_url, "--json"))
            said = _db_status(monkeypatch, capsys, db_url)
    finally:
        db.dispose()
    assert shown["state"] == "up to date"
    if db.is_sqlite:
        assert shown["connections"] is None
        assert "Connections" not in said
        return
    c = shown["connections"]
    assert set(c) == {
        "in_use",
        "active",
        "idle",
        "deskterm",
        "listeners",
        "server_in_use",
        "max_connections",
    }
    # Our listener, the app's pooled connection and the command's own, at least.
    assert c["listeners"] >= 1 and c["deskterm"] >= 2 and c["active"] >= 1
    assert c["in_use"] >= c["active"] + c["idle"] and c["server_in_use"] >= c["in_use"]
    assert c["max_connections"] > 0
    assert f"of max_connections {c['max_connections']}" in said
    assert "Connections" in said and "listening)" in said


def test_a_listener_that_cannot_connect_says_so_and_leaves_nothing_behind() -> None:
    from deskterm.db import notify

    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_size=1, pool_overflow=0)
    try:
        with pytest.raises(DatabaseUnavailable, match="stopped sending changes"):
            Listener(db, connect_timeout=1).open()
        assert not any(dict(key).get("port") == "1" for key in notify._HUBS), (
            "a failed hub is forgotten"
        )
    finally:
        db.dispose()


def test_the_live_pace_answers_at_once_then_coalesces_and_slows_while_busy() -> None:
    from deskterm.desk.live import LivePace

    pace = LivePace(first=0.5, busiest=2.0)
    # Quiet: the first notice is looked at at once.
    assert pace.due(True, 100.0)
    pace.looked(100.0)
    # More within the interval: coalesced, and the wait says when the next look is due.
    assert not pace.due(True, 100.2)
    assert pace.wait(True, 0.25, 100.2) == pytest.approx(0.3)
    assert pace.wait(False, 0.25, 100.2) == 0.25
    # Notices never stop: each look doubles the wait, up to the busiest pace.
    looks = [100.0]
    now = 100.0
    while now < 120.0:
        now += 0.05
        if pace.due(True, now):
            pace.looked(now)
            looks.append(now)
    gaps = [round(b - a, 2) for a, b in zip(looks, looks[1:], strict=False)]
    assert gaps[0] == pytest.approx(0.5, abs=0.06) and max(gaps) == pytest.approx(2.0, abs=0.06)
    assert len(looks) < 14  # not 400
    # A quiet spell: back to answering at once, then at the first pace.
    assert not pace.due(False, now + 5)
    assert pace.due(True, now + 5.01)
    pace.looked(now + 5.01)
    assert not pace.due(True, now + 5.3) and pace.due(True, now + 5.52)


def test_a_paced_wait_is_woken_only_by_the_channels_it_names(pg_url: str) -> None:
    """While an app's look is pending, a busy desk's changes wait for it (they would only
    wake its thread); a call wakes it at once, and nothing is lost."""
    import threading
    import time

    # Channels of its own: tests beside it notify on the desk's (channels are database-wide).
    changes, calls = f"paced_changes_{os.getpid()}", f"paced_calls_{os.getpid()}"
    db = open_database(pg_url)
    try:
        with Listener(db, [changes, calls]) as listener:
            with db.write() as session:
                session.execute(text("SELECT pg_notify(:c, 'change')"), {"c": changes})
            began = time.monotonic()
            heard = listener.wait(1.5, wake=(calls,))
            # Not woken by the change: handed out when the time was up.
            assert time.monotonic() - began >= 1.4
            assert [n.payload for n in heard] == ["change"]

            def ring() -> None:
                time.sleep(0.3)
                with db.write() as session:
                    session.execute(text("SELECT pg_notify(:c, 'more')"), {"c": changes})
                    session.execute(text("SELECT pg_notify(:c, 'ring')"), {"c": calls})

            thread = threading.Thread(target=ring)
            thread.start()
            began = time.monotonic()
            heard = listener.wait(20, wake=(calls,))
            thread.join()
            assert time.monotonic() - began < 15  # woken, not timed out
            assert sorted(n.payload for n in heard) == ["more", "ring"]
    finally:
        db.dispose()
