"""Connections at rest (issue 17): apps on one host share one ``LISTEN`` connection through a
relay, idle pools let their connections go, rested connections are pinged, a full server is
asked again, and the pooler settings are checked."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from deskterm.db import engine as engine_module
from deskterm.db.engine import (
    APPLICATION_NAME,
    LISTEN_APPLICATION_NAME,
    Database,
    connect_patiently,
)
from deskterm.db.notify import Listener, _relay_name
from deskterm.domain.errors import DatabaseUnavailable

BASE = os.environ.get("DESKTERM_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not BASE or not sys.platform.startswith("linux"),
    reason="PostgreSQL on Linux only: set DESKTERM_TEST_POSTGRES_URL",
)

#: One app: a desk, a listener, one unit of work, then idle; it says what it hears, and
#: listens again when its relay goes (as the app does).
APP = textwrap.dedent(
    """
    import sys
    from sqlalchemy import text
    from deskterm.db.engine import Database
    from deskterm.db.notify import Listener, RelayGone

    db = Database(sys.argv[1])
    with db.read() as session:
        session.execute(text("SELECT 1")).scalar_one()
    listener = Listener(db, ["h2_test"])
    listener.open()
    print("ready", listener.backend_pid, listener.relayed, flush=True)
    while True:
        try:
            for notice in listener.wait(1):
                print("heard", notice.payload, flush=True)
        except RelayGone:
            listener.close()
            listener = Listener(db, ["h2_test"])
            listener.open()
            print("again", listener.backend_pid, listener.relayed, flush=True)
    """
)


@pytest.fixture
def scratch() -> Iterator[str]:
    """A database of its own: its connections are counted in pg_stat_activity by name."""
    if not BASE:
        pytest.skip("PostgreSQL only")
    name = f"h2_{uuid.uuid4().hex[:12]}"
    admin = create_engine(BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield BASE.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _held(name: str) -> dict[str, int]:
    admin = create_engine(BASE or "")
    try:
        with admin.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT application_name, count(*) FROM pg_stat_activity "
                    "WHERE datname = :d GROUP BY 1"
                ),
                {"d": name},
            ).all()
    finally:
        admin.dispose()
    return {str(app): int(n) for app, n in rows}


def _line(app: subprocess.Popen[str], starts: str) -> str:
    assert app.stdout is not None
    for _ in range(20):
        line = app.stdout.readline()
        if line.startswith(starts):
            return line.strip()
        if not line:
            break
    raise AssertionError(f"no {starts!r} line; stderr: {app.stderr.read() if app.stderr else ''}")


def _notify(url: str, payload: str) -> None:
    db = Database(url, pool_size=0, pool_overflow=0, listen_url=url)
    try:
        with db.write() as session:
            session.execute(text("SELECT pg_notify('h2_test', :p)"), {"p": payload})
    finally:
        db.dispose()


@needs_postgres
def test_four_idle_apps_hold_one_listening_connection_and_survive_their_relay(
    scratch: str,
) -> None:
    name = scratch.rsplit("/", 1)[1]
    env = {**os.environ, "DESKTERM_POOL_IDLE_SECONDS": "0.3"}
    apps = [
        subprocess.Popen(
            [sys.executable, "-c", APP, scratch],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    try:
        ready = [_line(app, "ready").split() for app in apps]
        assert len({pid for _, pid, _ in ready}) == 1, ready  # one server process listens
        assert [relayed for *_, relayed in ready].count("False") == 1, ready
        # At rest: the pooled connections are let go; the one LISTEN connection stays.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            held = _held(name)
            if held.get(APPLICATION_NAME, 0) == 0:
                break
            time.sleep(0.2)
        assert held == {LISTEN_APPLICATION_NAME: 1}, held
        _notify(scratch, "hello")
        for app in apps:
            assert _line(app, "heard") == "heard hello"
        # The relay ends: the others hear it, one takes over, and all hear again.
        relay = next(
            app for app, (*_, relayed) in zip(apps, ready, strict=True) if relayed == "False"
        )
        relay.kill()
        relay.wait()
        others = [app for app in apps if app is not relay]
        again = [_line(app, "again").split() for app in others]
        assert [relayed for *_, relayed in again].count("False") == 1, again
        assert len({pid for _, pid, _ in again}) == 1, again
        _notify(scratch, "back")
        for app in others:
            assert _line(app, "heard") == "heard back"
        assert _held(name).get(LISTEN_APPLICATION_NAME) == 1
    finally:
        for app in apps:
            app.kill()
            app.wait()


@needs_postgres
def test_another_user_is_not_relayed_to(scratch: str) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to act as another user")
    db = Database(scratch)
    try:
        with Listener(db, ["h2_test"]) as listener:
            assert listener.relayed is False and listener._hub is not None
            name = _relay_name(listener._hub.params)
            assert name is not None
            probe = textwrap.dedent(
                f"""
                import os, socket
                os.setgid(65534); os.setuid(65534)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.settimeout(10)
                s.connect({name!r})
                try:
                    s.send(b'{{"listen":["h2_test"]}}')
                    said = s.recv(65536)
                except (BrokenPipeError, ConnectionResetError):
                    said = b""
                print("closed" if not said else said, flush=True)
                """
            )
            done = subprocess.run(
                ["/usr/bin/python3", "-c", probe], capture_output=True, text=True, timeout=30
            )
            # Accepted by the kernel, then closed unanswered: no hello, no notices.
            assert done.stdout.strip() == "closed", (done.stdout, done.stderr)
    finally:
        db.dispose()


@needs_postgres
def test_the_idle_reaper_never_closes_a_connection_in_use(scratch: str) -> None:
    db = Database(scratch, pool_size=1, pool_overflow=0, pool_idle_seconds=0.2)
    try:
        pool = db.engine.pool
        with db.read() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            assert pool.release_idle() == 0  # type: ignore[attr-defined]
            time.sleep(0.5)  # well past the idle time, still in use
            assert pool.release_idle() == 0  # type: ignore[attr-defined]
            assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
        # Given back, it goes once idle; the next unit of work connects again.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _held(scratch.rsplit("/", 1)[1]):
            time.sleep(0.1)
        assert _held(scratch.rsplit("/", 1)[1]) == {}
        with db.read() as session:
            assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        db.dispose()


@needs_postgres
def test_a_rested_connection_killed_meanwhile_is_replaced_unseen(
    scratch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(scratch, pool_size=1, pool_overflow=0, pool_idle_seconds=0)
    try:
        with db.read() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        killer = Database(scratch, pool_size=0, pool_overflow=0)
        with killer.write() as session:
            session.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        killer.dispose()
        # As if it had rested past the ping threshold (a restart overnight).
        monkeypatch.setattr(engine_module, "PING_AFTER_SECONDS", 0.0)
        with db.read() as session:
            assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        db.dispose()


def test_a_full_server_is_asked_again_and_other_failures_are_not() -> None:
    tries: list[int] = []

    def full_twice() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise OSError("FATAL:  sorry, too many clients already")
        return "connected"

    assert connect_patiently(full_twice, patience=5) == "connected" and len(tries) == 3

    def refused() -> str:
        tries.append(1)
        raise OSError("connection refused")

    tries.clear()
    with pytest.raises(OSError, match="refused"):
        connect_patiently(refused, patience=5)
    assert len(tries) == 1

    def always_full() -> str:
        raise OSError('FATAL:  too many connections for role "x"')

    with pytest.raises(OSError, match="too many connections"):
        connect_patiently(always_full, patience=0.3)


def test_a_transaction_pooler_without_a_listen_url_is_refused(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DESKTERM_POOLER": "transaction",
        "DESKTERM_CONFIG_FILE": str(tmp_path / "x.toml"),
    }
    env.pop("DESKTERM_LISTEN_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "deskterm", "config", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode != 0
    assert "needs listen_url" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    env["DESKTERM_LISTEN_URL"] = "postgresql://desk:secret@db.example/desk"
    shown = subprocess.run(
        [sys.executable, "-m", "deskterm", "config", "show"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert 'pooler = "transaction"' in shown.stdout and "secret" not in shown.stdout
    assert "pool_idle_seconds = 0.5" in shown.stdout


def test_a_listener_refuses_a_channel_name_that_is_not_one() -> None:
    if not BASE:
        pytest.skip("PostgreSQL only")
    db = Database(BASE, pool_size=0, pool_overflow=0)
    try:
        with pytest.raises(ValueError, match="not a channel name"):
            Listener(db, ["x; DROP"])
    finally:
        db.dispose()


@needs_postgres
def test_a_forked_child_listens_through_its_parent_and_leaves_it_whole(scratch: str) -> None:
    db = Database(scratch, pool_size=0, pool_overflow=0)
    try:
        with Listener(db, ["h2_test"]) as parent:
            assert parent.relayed is False
            read, write = os.pipe()
            child = os.fork()
            if child == 0:  # pragma: no cover - the child reports through the pipe
                said = "failed"
                try:
                    import gc

                    from deskterm.db import notify

                    # Whatever the child does with what it inherited (closes it, lets it
                    # be freed), the parent's connection must not hear of it.
                    parent.close()
                    notify._INHERITED.clear()
                    gc.collect()
                    with Listener(db, ["h2_test"]) as mine:
                        said = f"{mine.relayed} {mine.backend_pid}"
                finally:
                    os.write(write, said.encode())
                    os._exit(0)
            os.close(write)
            # A child stuck on a lock a parent's thread held at the fork must fail the test,
            # not hang the run.
            ready, _, _ = select.select([read], [], [], 60)
            if not ready:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                os.close(read)
                pytest.fail("the forked child hung (a lock held at the fork?)")
            with os.fdopen(read) as pipe:
                said = pipe.read()
            os.waitpid(child, 0)
            assert said == f"True {parent.backend_pid}"
            _notify(scratch, "after the child")
            heard = [n.payload for _ in range(50) for n in parent.wait(0.1)][:1]
            assert heard == ["after the child"]
    finally:
        db.dispose()


@needs_postgres
def test_a_full_server_makes_a_unit_of_work_wait_not_fail(scratch: str) -> None:
    role = f"h2_r{uuid.uuid4().hex[:10]}"
    admin = create_engine(BASE or "", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 1'))
    url = scratch.replace("//postgres@", f"//{role}@")
    first = Database(url, pool_size=1, pool_overflow=0, pool_idle_seconds=0.5)
    second = Database(url, pool_size=1, pool_overflow=0, pool_idle_seconds=0.5)
    try:
        with first.read() as session:
            session.execute(text("SELECT 1")).scalar_one()
        # The role's one connection rests in the first pool, let go within half a second:
        # the second waits for it rather than failing at once.
        with second.read() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
        # Held throughout, the limit is said as it always was, after the patience.
        with second.read() as session, pytest.raises(DatabaseUnavailable):
            session.execute(text("SELECT 1"))
            with first.read() as other:
                other.execute(text("SELECT 1"))
    finally:
        first.dispose()
        second.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def test_the_relay_name_gives_nothing_of_the_password_away() -> None:
    """The abstract socket's name is on show to every user of the host (/proc/net/unix)."""
    import sys

    from deskterm.db.notify import _relay_name

    if not sys.platform.startswith("linux"):
        pytest.skip("relays are Linux's abstract sockets")
    base = {"host": "db", "port": 5432, "dbname": "desk", "user": "desk"}
    one = _relay_name({**base, "password": "winter2026"})
    other = _relay_name({**base, "password": "summer2027"})
    assert one == other == _relay_name(base)
    assert one is not None and b"winter" not in one
    assert _relay_name({**base, "dbname": "other"}) != one
