"""``deskterm serve ssh`` with a real SSH client (asyncssh) on loopback, and the real app.

The server runs in the test's event loop; each session starts the real ``deskterm`` in a
pseudo-terminal, and what it draws is read back through a terminal emulator (pyte), as the
analyst's terminal would show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pyte
import pytest

from deskterm.desk.keys import add_keys, list_keys, remove_key
from deskterm.desk.setup import open_database
from deskterm.serve.ssh import (
    ServeError,
    SshServer,
    app_environment,
    default_host_key_path,
    load_host_key,
)
from factories import ADMIN, AGENT2, SUPERVISOR, KnownDesk, build_known_desk

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

#: Generous: two test workers and the app's imports share two cores in CI.
PATIENCE = 60.0


def register(desk: KnownDesk, login: str = SUPERVISOR) -> asyncssh.SSHKey:
    """A new key, registered to ``login`` (Sam, the supervisor, unless said)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    desk.as_(ADMIN).write(add_keys, login=login, text=key.export_public_key("openssh").decode())
    return key


@contextlib.asynccontextmanager
async def serving(desk: KnownDesk, **options: Any) -> AsyncIterator[SshServer]:
    ssh = SshServer(
        desk.db,
        asyncssh.generate_private_key("ssh-ed25519"),
        host="127.0.0.1",
        port=0,
        grace_seconds=1.0,
        **options,
    )
    await ssh.start()
    try:
        yield ssh
    finally:
        await ssh.close()


@pytest.fixture
def sqlite_desk(tmp_path: Path) -> Iterator[KnownDesk]:
    """The known desk on SQLite only: the tests that start the app (a second each) need not
    run twice; the desk's side of keys is tested on both databases."""
    db = open_database(f"sqlite:///{tmp_path / 'desk.db'}")
    try:
        yield build_known_desk(db)
    finally:
        db.dispose()


def connect(
    server: SshServer, key: asyncssh.SSHKey | None, **options
) -> asyncssh.SSHClientConnection:
    """Sign in as a client would, with only ``key`` (no agent, no ~/.ssh)."""
    return asyncssh.connect(
        "127.0.0.1",
        server.port,
        username="anyone",
        client_keys=[key] if key is not None else [],
        agent_path=None,
        known_hosts=None,
        config=None,
        **options,
    )


class Terminal(asyncssh.SSHClientSession[bytes]):
    """The analyst's terminal: what arrives is drawn on a pyte screen."""

    def __init__(self, columns: int, rows: int) -> None:
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.changed = asyncio.Event()
        self.closed = asyncio.Event()

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self.stream.feed(data)
        self.changed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self.changed.set()

    def lines(self) -> list[str]:
        return list(self.screen.display)

    async def until(self, what: str, check: Callable[[list[str]], bool]) -> None:
        deadline = time.monotonic() + PATIENCE
        while not check(self.lines()):
            if self.closed.is_set():
                raise AssertionError(f"the session closed before {what}: {self.lines()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {PATIENCE:.0f}s: {self.lines()}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass


async def open_terminal(
    conn: asyncssh.SSHClientConnection, columns: int, rows: int
) -> tuple[asyncssh.SSHClientChannel[bytes], Terminal]:
    chan, terminal = await conn.create_session(
        lambda: Terminal(columns, rows),
        term_type="xterm-256color",
        term_size=(columns, rows),
        encoding=None,
    )
    return chan, terminal


def bar_line(lines: list[str]) -> str | None:
    """The top bar, whose right end says who is signed in: ``Sam Supervisor (...) · live``."""
    return next((line for line in lines if "Sam Supervisor (supervisor" in line), None)


def gone(pid: int) -> bool:
    """The process is no more, not even a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 15
    while not gone(pid):
        assert time.monotonic() < deadline, f"the app (pid {pid}) is still there"
        await asyncio.sleep(0.05)


async def test_the_key_opens_the_app_as_its_analyst_at_the_client_size(
    sqlite_desk: KnownDesk,
) -> None:
    sam_key = register(sqlite_desk)
    async with serving(sqlite_desk) as server, connect(server, sam_key) as conn:
        assert conn.get_server_host_key().get_fingerprint() == server.fingerprint
        chan, terminal = await open_terminal(conn, 100, 30)
        # The queue of the key's analyst (whatever user name was given), right-aligned at
        # the client's width.
        await terminal.until(
            "queue at 100 columns",
            lambda lines: (bar := bar_line(lines)) is not None and len(bar.rstrip()) > 90,
        )
        (session,) = server.sessions
        pid = session.pid
        assert pid is not None and not gone(pid)

        # The window grows: the app hears of it and fills the new size.
        terminal.screen.resize(40, 120)
        chan.change_terminal_size(120, 40)
        await terminal.until(
            "repaint at 120x40",
            lambda lines: (
                (bar := bar_line(lines)) is not None
                and len(bar.rstrip()) > 110
                # The footer, on the client's new last row.
                and "? Keys" in lines[39]
            ),
        )

        # ctrl+q: the app ends, the session closes with its exit status, nothing is left.
        chan.write(b"\x11")
        await asyncio.wait_for(chan.wait_closed(), PATIENCE)
        assert chan.get_exit_status() == 0
        await wait_gone(pid)
        assert not server.sessions

    (key,) = sqlite_desk.as_(ADMIN).read(list_keys, login=SUPERVISOR)
    assert key.last_used_at is not None


async def test_a_client_that_vanishes_leaves_no_process_behind(sqlite_desk: KnownDesk) -> None:
    sam_key = register(sqlite_desk)
    async with serving(sqlite_desk) as server:
        conn = await connect(server, sam_key)
        _chan, terminal = await open_terminal(conn, 80, 24)
        await terminal.until("the app on screen", lambda lines: any("deskterm" in x for x in lines))
        (session,) = server.sessions
        pid = session.pid
        assert pid is not None
        conn.abort()  # no goodbye: as when a laptop lid closes or the network drops

        await wait_gone(pid)
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)  # nor anything else of its process group
        deadline = time.monotonic() + 5
        while server.sessions:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)


async def test_only_registered_keys_of_active_analysts_sign_in(known: KnownDesk) -> None:
    async with serving(known) as server:
        stranger = asyncssh.generate_private_key("ssh-ed25519")
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(server, stranger)
        # No password, no keyboard-interactive: a key is the only way in.
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(server, None, password="secret")

        bob_key = asyncssh.generate_private_key("ssh-ed25519")
        known.as_(ADMIN).write(
            add_keys, login=AGENT2, text=bob_key.export_public_key("openssh").decode()
        )
        async with connect(server, bob_key):
            pass
        # Removed: refused at once, no restart of the server needed.
        known.as_(ADMIN).write(remove_key, login=AGENT2, key=bob_key.get_fingerprint())
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(server, bob_key)


async def test_nothing_but_the_app_is_served(known: KnownDesk) -> None:
    sam_key = register(known)
    async with serving(known) as server, connect(server, sam_key) as conn:
        ran = await conn.run("cat /etc/passwd", check=False)
        assert ran.exit_status == 1
        assert "runs no commands" in ran.stderr and not ran.stdout

        shell = await conn.run(check=False)  # a shell without a terminal
        assert shell.exit_status == 1
        assert "needs a terminal" in shell.stderr

        with pytest.raises((asyncssh.ChannelOpenError, asyncssh.SFTPError)):
            await conn.start_sftp_client()
        with pytest.raises(asyncssh.ChannelOpenError, match="no forwarding"):
            await conn.open_connection("127.0.0.1", server.port)
        with pytest.raises(asyncssh.ChannelListenError):
            await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", server.port)
        assert not server.sessions


# --------------------------------------------------------------------------- without a client


def test_the_host_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "host"
    key, created = load_host_key(path)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (tmp_path / "keys" / "host.pub").read_bytes() == key.export_public_key("openssh")
    again, created = load_host_key(path)
    assert not created and again.get_fingerprint() == key.get_fingerprint()

    path.chmod(0o644)
    with pytest.raises(ServeError, match="readable by others"):
        load_host_key(path)
    assert default_host_key_path().name == "ssh_host_ed25519_key"


def test_the_app_gets_the_client_terminal_not_the_server_s() -> None:
    env = app_environment(
        {"PATH": "/usr/bin", "TERM": "screen", "COLUMNS": "200", "DESKTERM_USER": "root"},
        "postgresql+psycopg://desk:secret@db/desk",
        "xterm-kitty",
        {"COLORTERM": "truecolor", "LD_PRELOAD": "/tmp/evil.so", "DESKTERM_USER": "ada"},
    )
    assert env == {
        "PATH": "/usr/bin",
        "TERM": "xterm-kitty",
        "COLORTERM": "truecolor",
        "DESKTERM_DATABASE_URL": "postgresql+psycopg://desk:secret@db/desk",
        "DESKTERM_SERVED": "ssh",
    }


def test_the_app_gets_the_client_locale_over_the_server_s() -> None:
    server = {"PATH": "/usr/bin", "LANG": "en_US.UTF-8", "LC_ALL": "C", "LC_CTYPE": "C.UTF-8"}
    env = app_environment(server, "sqlite:///d.db", "xterm", {"LANG": "de_DE.UTF-8"})
    # The client named its locale: none of the server's message locale is left to overrule
    # it (LC_ALL=C would); what is not about messages (LC_CTYPE) stays the server's.
    assert {k: v for k, v in env.items() if k.startswith(("LANG", "LC_"))} == {
        "LANG": "de_DE.UTF-8",
        "LC_CTYPE": "C.UTF-8",
    }
    # A client that names none, or only an unacceptable one, leaves the server's.
    for client in ({}, {"LANG": "de DE"}, {"LC_ALL": "x" * 65}):
        env = app_environment(server, "sqlite:///d.db", "xterm", client)
        assert (env["LANG"], env["LC_ALL"]) == ("en_US.UTF-8", "C")
    env = app_environment(
        server, "sqlite:///d.db", "xterm", {"LANGUAGE": "pt_BR:pt", "LC_MESSAGES": "pt_BR.UTF-8"}
    )
    assert (env["LANGUAGE"], env["LC_MESSAGES"], "LANG" in env) == (
        "pt_BR:pt",
        "pt_BR.UTF-8",
        False,
    )


def test_the_command_starts_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """`deskterm serve ssh` as an admin runs it: says where to connect and which host key
    to expect, refuses a key nobody registered, and stops cleanly on SIGINT."""
    url = f"sqlite:///{tmp_path / 'desk.db'}"  # a new desk: migrated on first use
    host_key = tmp_path / "host_key"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deskterm",
            "--db",
            url,
            "serve",
            "ssh",
            "--port",
            "0",
            "--host-key",
            str(host_key),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        said: list[str] = []
        assert process.stderr is not None
        while not any("listening on" in line for line in said):
            line = process.stderr.readline()
            assert line, f"the server ended: {said}"
            said.append(line)
        port = int(said[-1].split(" port ")[1].split()[0])
        while not any("nobody can sign in" in line for line in said):
            said.append(process.stderr.readline())
        fingerprint = load_host_key(host_key)[0].get_fingerprint()
        assert any(fingerprint in line for line in said)
        assert stat.S_IMODE(host_key.stat().st_mode) == 0o600

        async def knock() -> None:
            with pytest.raises(asyncssh.PermissionDenied):
                await asyncssh.connect(
                    "127.0.0.1",
                    port,
                    client_keys=[asyncssh.generate_private_key("ssh-ed25519")],
                    agent_path=None,
                    known_hosts=None,
                    config=None,
                )

        asyncio.run(knock())
        process.send_signal(signal.SIGINT)
        assert process.wait(PATIENCE) == 0
        rest = process.stderr.read()
        assert "refused key" in rest and "stopped" in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_app_without_a_terminal_says_so_instead_of_waiting() -> None:
    """What OpenSSH's forced command runs when a client asks for no terminal (`ssh -T`)."""
    ran = subprocess.run(
        [sys.executable, "-m", "deskterm", "--as", "ada"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )
    assert ran.returncode == 2
    assert ran.stdout == ""
    assert ran.stderr.startswith("deskterm: the app needs a terminal") and "ssh -t" in ran.stderr
