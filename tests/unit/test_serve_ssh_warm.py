"""``deskterm serve ssh`` with the warm process: each session is forked from one process that
did the app's imports, and must behave exactly as a cold start did (its own session and
terminal, default signals, nothing of the server's), survive the warm process dying, and be
logged with its pid and status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import pytest
from test_serve_ssh import PATIENCE, Terminal, bar_line, connect, gone, open_terminal, register
from test_serve_ssh_sessions import client_of, logged, server_process

from deskterm.desk.setup import open_database
from deskterm.serve.ssh import SshServer
from factories import SUPERVISOR, KnownDesk, build_known_desk

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and pidfd: Linux"),
    pytest.mark.slow,
]


@pytest.fixture
def server_log() -> Iterator[list[str]]:
    """Every line the SSH server (and its warm process's handle) logs."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("deskterm.serve.ssh")
    handler = Collect(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def sqlite_desk(tmp_path: Path) -> Iterator[KnownDesk]:
    db = open_database(f"sqlite:///{tmp_path / 'desk.db'}")
    try:
        yield build_known_desk(db)
    finally:
        db.dispose()


@contextlib.asynccontextmanager
async def warm_server(desk: KnownDesk) -> AsyncIterator[SshServer]:
    server = SshServer(
        desk.db,
        asyncssh.generate_private_key("ssh-ed25519"),
        host="127.0.0.1",
        port=0,
        grace_seconds=1.0,
    )
    await server.start()
    try:
        assert server.warm is not None
        await asyncio.wait_for(server.warm._ready.wait(), PATIENCE)
        yield server
    finally:
        await server.close()


def proc_status(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def has_signal(mask: str, signum: int) -> bool:
    return bool(int(mask, 16) & (1 << (signum - 1)))


def fd_targets(pid: int) -> dict[int, str]:
    """What each open descriptor of ``pid`` is (``socket:[123]``, ``/dev/pts/4``, ...)."""
    targets = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):
            targets[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
    return targets


async def queue_on_screen(terminal: Terminal) -> None:
    await terminal.until("the queue", lambda lines: bar_line(lines) is not None)


async def test_a_session_is_forked_warm_paints_and_hangs_up_on_disconnect(
    sqlite_desk: KnownDesk, server_log: list[str]
) -> None:
    sam_key = register(sqlite_desk)
    async with warm_server(sqlite_desk) as server:
        warm_pid = server.warm.pid if server.warm else None
        assert warm_pid is not None
        conn = await connect(server, sam_key)
        client = client_of(conn, sam_key, SUPERVISOR)
        _chan, terminal = await open_terminal(conn, 100, 30)
        await queue_on_screen(terminal)
        started = await logged(server_log, client, "app started (pid ", "forked warm")
        (session,) = server.sessions
        pid = session.pid
        assert pid is not None and f"(pid {pid}, 100x30, 'xterm-256color')" in started
        # A child of the warm process, leading a session of its own on its own terminal.
        status = proc_status(pid)
        assert int(status["PPid"]) == warm_pid
        assert os.getsid(pid) == pid and os.getpgid(pid) == pid
        assert os.readlink(f"/proc/{pid}/fd/0").startswith("/dev/pts/")

        conn.abort()
        left = time.monotonic()
        while not gone(pid) and time.monotonic() - left < PATIENCE:
            await asyncio.sleep(0.01)
        assert gone(pid)
        ended = await logged(server_log, client, f"app ended (pid {pid}, signal SIGHUP)")
        assert "hung up (the client went away)" in ended and "last sent SIGHUP" in ended
        # Well within the grace before SIGTERM: the hang-up itself ended it.
        assert time.monotonic() - left < server.grace_seconds


async def test_ctrl_q_ends_the_session_with_the_app_s_status(
    sqlite_desk: KnownDesk, server_log: list[str]
) -> None:
    sam_key = register(sqlite_desk)
    async with warm_server(sqlite_desk) as server, connect(server, sam_key) as conn:
        client = client_of(conn, sam_key, SUPERVISOR)
        chan, terminal = await open_terminal(conn, 80, 24)
        await queue_on_screen(terminal)
        (session,) = server.sessions
        pid = session.pid
        chan.write(b"\x11")
        await asyncio.wait_for(chan.wait_closed(), PATIENCE)
        assert chan.get_exit_status() == 0
        ended = await logged(server_log, client, f"app ended (pid {pid}, exit 0) after ")
        assert "hung up" not in ended


async def test_the_child_has_default_signals_even_when_the_server_ignores_sighup(
    sqlite_desk: KnownDesk, server_log: list[str]
) -> None:
    """As under ``nohup``: SIGHUP ignored and blocked in the server when it starts the warm
    process, which inherits both; the app must get neither."""
    sam_key = register(sqlite_desk)
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP, signal.SIGTERM})
    try:
        async with warm_server(sqlite_desk) as server:
            assert server.warm is not None and server.warm.pid is not None
            warm = proc_status(server.warm.pid)
            assert has_signal(warm["SigIgn"], signal.SIGHUP)  # the premise holds
            conn = await connect(server, sam_key)
            _chan, terminal = await open_terminal(conn, 80, 24)
            await queue_on_screen(terminal)
            (session,) = server.sessions
            pid = session.pid
            assert pid is not None
            child = proc_status(pid)
            for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                assert not has_signal(child["SigIgn"], signum), signum
                assert not has_signal(child["SigBlk"], signum), signum
            conn.abort()
            left = time.monotonic()
            while not gone(pid) and time.monotonic() - left < PATIENCE:
                await asyncio.sleep(0.01)
            await logged(server_log, f"app ended (pid {pid}, signal SIGHUP)")
            assert time.monotonic() - left < server.grace_seconds
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        signal.signal(signal.SIGHUP, before)


async def test_no_descriptor_of_the_server_or_warm_process_reaches_the_app(
    sqlite_desk: KnownDesk,
) -> None:
    sam_key = register(sqlite_desk)
    async with warm_server(sqlite_desk) as server, connect(server, sam_key) as conn:
        assert server.warm is not None and server.warm.pid is not None
        _chan, terminal = await open_terminal(conn, 80, 24)
        await queue_on_screen(terminal)
        (session,) = server.sessions
        pid = session.pid
        assert pid is not None
        child = fd_targets(pid)
        assert {0, 1, 2} <= set(child)
        assert all(child[fd].startswith("/dev/pts/") for fd in (0, 1, 2))
        # Sockets and pipes are told apart by inode: none of the app's is one the server
        # (its listening socket, its connections) or the warm process (its socket to the
        # server, its wakeup pipe) holds.
        shared = re.compile(r"^(socket|pipe):\[\d+\]$")
        theirs = {
            target
            for owner in (os.getpid(), server.warm.pid)
            for target in fd_targets(owner).values()
            if shared.match(target)
        }
        leaked = {fd: t for fd, t in child.items() if t in theirs}
        assert not leaked, leaked
        # Nor the server's key material: the warm process was exec'ed fresh, and no file of
        # the server is open in the app.
        assert not any("key" in t for t in child.values()), child


async def test_the_warm_process_dying_is_survived(
    sqlite_desk: KnownDesk, server_log: list[str]
) -> None:
    sam_key = register(sqlite_desk)
    async with warm_server(sqlite_desk) as server:
        warm = server.warm
        assert warm is not None and warm.pid is not None
        first_warm = warm.pid
        conn = await connect(server, sam_key)
        chan, terminal = await open_terminal(conn, 80, 24)
        await queue_on_screen(terminal)
        (session,) = server.sessions
        pid = session.pid
        assert pid is not None

        os.kill(first_warm, signal.SIGKILL)
        await logged(server_log, f"the warm process (pid {first_warm}) ended (signal SIGKILL)")
        # The open session goes on; the next one is forked from a new warm process.
        await asyncio.wait_for(warm._ready.wait(), PATIENCE)
        assert warm.pid is not None and warm.pid != first_warm
        async with connect(server, sam_key) as second:
            client = client_of(second, sam_key, SUPERVISOR)
            chan2, terminal2 = await open_terminal(second, 80, 24)
            await queue_on_screen(terminal2)
            await logged(server_log, client, "forked warm")
            chan2.write(b"\x11")
            await asyncio.wait_for(chan2.wait_closed(), PATIENCE)
            assert chan2.get_exit_status() == 0

        # The orphaned session still ends cleanly, its end noticed without its parent.
        assert not gone(pid)
        chan.write(b"\x11")
        await asyncio.wait_for(chan.wait_closed(), PATIENCE)
        await logged(server_log, f"app ended (pid {pid}, status unknown")
        conn.close()
        deadline = time.monotonic() + PATIENCE
        while server.sessions:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)


async def test_closing_the_server_stops_the_warm_process(sqlite_desk: KnownDesk) -> None:
    server = SshServer(
        sqlite_desk.db, asyncssh.generate_private_key("ssh-ed25519"), host="127.0.0.1", port=0
    )
    await server.start()
    assert server.warm is not None
    await asyncio.wait_for(server.warm._ready.wait(), PATIENCE)
    pid = server.warm.pid
    assert pid is not None and not gone(pid)
    await server.close()
    assert gone(pid)


async def test_a_stand_in_command_still_starts_cold(sqlite_desk: KnownDesk) -> None:
    server = SshServer(
        sqlite_desk.db,
        asyncssh.generate_private_key("ssh-ed25519"),
        port=0,
        command=lambda login: [sys.executable, "-c", "pass"],
    )
    assert server.warm is None


async def test_the_warm_process_does_not_outlive_a_killed_server(tmp_path: Path) -> None:
    """However the server goes (here SIGKILL, no chance to clean up), the warm process sees
    its socket close and exits: no orphan keeps the app's memory."""
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    open_database(url).dispose()
    async with server_process(url, tmp_path / "host_key", "as started") as server:
        ready = await logged(server.lines, "warm process ready (pid ")
        warm_pid = int(ready.split("(pid ")[1].split(")")[0])
        assert not gone(warm_pid)
        server.process.kill()
        deadline = time.monotonic() + PATIENCE
        while not gone(warm_pid):
            assert time.monotonic() < deadline, "the warm process outlived its server"
            await asyncio.sleep(0.05)
