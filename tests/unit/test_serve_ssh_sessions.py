"""``deskterm serve ssh``: how a session ends, and what the server's log says of each client.

A hang-up must end the app at once however the server was started (``nohup`` ignores
``SIGHUP``, and an ignored signal is inherited); every request that is not served, and each
app's start and end, is one line naming the client, with what the client chose quoted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import pytest
from asyncssh.x11 import update_xauth
from test_serve_ssh import PATIENCE, Terminal, gone, register, serving

from deskterm.desk.setup import open_database
from deskterm.serve.ssh import refused_environment
from factories import SUPERVISOR, KnownDesk, build_known_desk

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

#: From the client's going to the app's being reaped: a terminal's hang-up is instant, and
#: the server's grace (3 s before SIGTERM) must play no part in it.
HANG_UP_MAX = 0.5

# The server as a supervisor may start it: `nohup` leaves SIGHUP ignored, some leave it
# blocked; both are inherited by every process the server starts.
_SERVER = """\
import os, signal, sys
if sys.argv[1] == "nohup":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
elif sys.argv[1] == "blocked":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
os.execv(sys.executable, [sys.executable, "-m", "deskterm", *sys.argv[2:]])
"""


@pytest.fixture
def server_log() -> Iterator[list[str]]:
    """Every line the SSH server logs, as formatted (the CLI may have stopped the logger
    from propagating, so the handler sits on it directly)."""
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


async def logged(lines: list[str], *parts: str) -> str:
    """The first line holding every one of ``parts``, once it is logged."""
    deadline = time.monotonic() + PATIENCE
    while True:
        for line in lines:
            if all(part in line for part in parts):
                return line
        assert time.monotonic() < deadline, f"no line with {parts}: {lines}"
        await asyncio.sleep(0.02)


def connect(port: int, key: asyncssh.SSHKey, **options) -> asyncssh.SSHClientConnection:
    return asyncssh.connect(
        "127.0.0.1",
        port,
        username="anyone",
        client_keys=[key],
        known_hosts=None,
        config=None,
        **({"agent_path": None} | options),
    )


def client_of(conn: asyncssh.SSHClientConnection, key: asyncssh.SSHKey, login: str) -> str:
    """How the server's log names this connection."""
    host, port = conn.get_extra_info("sockname")[:2]
    return f"{host}:{port} ({login}, key {key.get_fingerprint('sha256')})"


# --------------------------------------------------------------------------- hang-up


class ServerProcess:
    """``deskterm serve ssh`` in a process of its own, its log read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reading = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), PATIENCE)
        finally:
            if self.process.returncode is None:
                self.process.kill()
            await self._reading


@contextlib.asynccontextmanager
async def server_process(
    desk_url: str, host_key: Path, signals: str
) -> AsyncIterator[ServerProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SERVER,
        signals,
        "--db",
        desk_url,
        "serve",
        "ssh",
        "--port",
        "0",
        "--host-key",
        str(host_key),
        stderr=asyncio.subprocess.PIPE,
    )
    server = ServerProcess(process)
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("signals", ["as started", "nohup", "blocked"])
async def test_a_hang_up_ends_the_app_at_once_however_the_server_was_started(
    tmp_path: Path, signals: str
) -> None:
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    db = open_database(url)
    try:
        sam_key = register(build_known_desk(db))
    finally:
        db.dispose()
    async with server_process(url, tmp_path / "host_key", signals) as server:
        listening = await logged(server.lines, "listening on")
        port = int(listening.split(" port ")[1].split()[0])
        conn = await connect(port, sam_key)
        client = client_of(conn, sam_key, SUPERVISOR)
        _chan, terminal = await conn.create_session(
            lambda: Terminal(80, 24), term_type="xterm-256color", term_size=(80, 24), encoding=None
        )
        await terminal.until("the app on screen", lambda lines: any("deskterm" in x for x in lines))
        started = await logged(server.lines, client, "app started (pid ")
        pid = int(started.split("(pid ")[1].split(",")[0])
        assert not gone(pid)

        conn.abort()  # the laptop lid closes
        left = time.monotonic()
        while not gone(pid) and time.monotonic() - left < 10:
            await asyncio.sleep(0.01)
        took = time.monotonic() - left
        assert took < HANG_UP_MAX, f"the app (pid {pid}) outlived its hang-up by {took:.2f}s"

        ended = await logged(server.lines, client, f"app ended (pid {pid}, signal SIGHUP)")
        logging.getLogger(__name__).info("%s: reaped %.3fs after the client went", signals, took)
        assert "hung up (the client went away)" in ended and "last sent SIGHUP" in ended
        await logged(server.lines, client, "disconnected")
    assert server.process.returncode == 0, server.lines


# --------------------------------------------------------------------------- the log


async def test_every_refused_request_is_logged_with_the_client(
    known: KnownDesk, server_log: list[str], tmp_path: Path
) -> None:
    sam_key = register(known)
    async with serving(known) as server, connect(server.port, sam_key) as conn:
        client = client_of(conn, sam_key, SUPERVISOR)

        ran = await conn.run("printf '\x1b]0;owned\x07'; cat /etc/passwd", check=False)
        assert ran.exit_status == 1
        await logged(server_log, client, "refused command \"printf '\\x1b]0;owned")
        assert (await conn.run(check=False)).exit_status == 1
        await logged(server_log, client, "refused a session without a terminal (ssh -T)")
        with pytest.raises((asyncssh.ChannelOpenError, asyncssh.SFTPError)):
            await conn.start_sftp_client()
        await logged(server_log, client, "refused subsystem 'sftp'")

        with pytest.raises(asyncssh.ChannelOpenError, match="no forwarding"):
            await conn.open_connection("db.internal", 5432)
        await logged(server_log, client, "refused port forwarding to 'db.internal' port 5432")
        with pytest.raises(asyncssh.ChannelListenError):
            await conn.forward_remote_port("0.0.0.0", 8022, "127.0.0.1", 22)
        await logged(server_log, client, "refused port forwarding from '0.0.0.0' port 8022")
        with pytest.raises(asyncssh.ChannelOpenError, match="no forwarding"):
            await conn.open_unix_connection("/run/postgresql/.s.PGSQL.5432")
        await logged(server_log, client, "refused socket forwarding to '/run/postgresql/")
        with pytest.raises(asyncssh.ChannelListenError):
            await conn.forward_remote_path("/tmp/deskterm-in.sock", "/tmp/deskterm-out.sock")
        await logged(server_log, client, "refused socket forwarding from '/tmp/deskterm-in.sock'")
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.open_tun()
        await logged(server_log, client, "refused a layer 3 tunnel (ssh -w)")

        # X11 needs the client to have a display of its own to offer.
        xauth = tmp_path / "Xauthority"
        await update_xauth(str(xauth), "", "9", b"MIT-MAGIC-COOKIE-1", bytes(16))
        with pytest.raises(asyncssh.ChannelOpenError, match="X11"):
            await conn.create_session(
                asyncssh.SSHClientSession,
                term_type="xterm",
                x11_forwarding=True,
                x11_display=":9",
                x11_auth_path=str(xauth),
            )
        await logged(server_log, client, "refused X11 forwarding (ssh -X)")

    async with (
        serving(known) as server,
        connect(server.port, sam_key, agent_forwarding=str(tmp_path / "agent.sock")) as conn,
    ):
        client = client_of(conn, sam_key, SUPERVISOR)
        await conn.run(check=False)
        await logged(server_log, client, "refused agent forwarding (ssh -A)")
        assert not server.sessions

    refused = [line for line in server_log if "refused" in line]
    assert len(refused) == 11, refused
    # Nothing the client sent reaches the log raw: no escape, no line break.
    assert not any("\x1b" in line or "\n" in line for line in server_log)


async def test_an_app_s_start_and_end_are_logged_with_its_pid_and_status(
    known: KnownDesk, server_log: list[str]
) -> None:
    """The app here is a stand-in that ends with status 3 at the first line typed."""
    sam_key = register(known)
    stand_in = [sys.executable, "-c", "import sys; sys.stdin.read(1); sys.exit(3)"]
    async with (
        serving(known, command=lambda login: stand_in) as server,
        connect(server.port, sam_key) as conn,
    ):
        client = client_of(conn, sam_key, SUPERVISOR)
        chan, _terminal = await conn.create_session(
            lambda: Terminal(100, 30),
            term_type="xterm-256color",
            term_size=(100, 30),
            env={"COLORTERM": "truecolor", "LD_PRELOAD": "/tmp/evil.so", "X\x1b[2J": "1"},
            encoding=None,
        )
        started = await logged(server_log, client, "app started (pid ")
        pid = int(started.split("(pid ")[1].split(",")[0])
        assert started.endswith(f"app started (pid {pid}, 100x30, 'xterm-256color')")
        chan.write(b"q\n")  # the terminal is in line mode: a key and Enter
        await asyncio.wait_for(chan.wait_closed(), PATIENCE)
        assert chan.get_exit_status() == 3
        ended = await logged(server_log, client, f"app ended (pid {pid}, exit 3) after ")
        assert "hung up" not in ended
    refused = await logged(server_log, client, "refused environment")
    assert refused.endswith(
        "refused environment 'LD_PRELOAD', 'X\\x1b[2J' (only COLORTERM, NO_COLOR, LANG, LC_ALL, "
        "LC_MESSAGES, LANGUAGE reach the app)"
    )
    await logged(server_log, client, "disconnected")


def test_only_the_terminal_s_own_variables_and_the_locale_pass() -> None:
    sent = {
        b"COLORTERM": b"truecolor",
        b"NO_COLOR": b"1",
        b"LANG": b"C.UTF-8",
        b"LC_ALL": b"de_DE.UTF-8",
        b"LC_MESSAGES": b"cs_CZ.UTF-8@euro",
        b"LANGUAGE": b"pt_BR:pt:en",
        b"COLORTERM ": b"truecolor",
        b"LC_CTYPE": b"de_DE.UTF-8",
        b"\xff": b"x",
    }
    assert refused_environment(sent) == ["'COLORTERM '", "'LC_CTYPE'", "b'\\xff'"]
    assert refused_environment({b"COLORTERM": b"\x1b]52;c;"}) == ["'COLORTERM'"]
    # A locale that is no locale name (a space, a control sequence, a shell's $(...), a
    # page of text) is dropped and said so.
    for value in (b"de DE", b"de\x1b[2J", b"$(reboot)", b"", b"x" * 65, b"de_DE\xff"):
        assert refused_environment({b"LANG": value}) == ["'LANG'"], value


async def test_the_client_s_locale_reaches_the_app(known: KnownDesk, server_log: list[str]) -> None:
    """The app (a stand-in that prints its locale variables) gets the client's, not the
    server's; a value that is no locale name does not reach it."""
    sam_key = register(known)
    shown = "import os; print(*(os.environ.get(v, '-') for v in ('LANG', 'LC_ALL', 'LANGUAGE')))"
    stand_in = [sys.executable, "-c", shown]
    async with (
        serving(known, command=lambda login: stand_in) as server,
        connect(server.port, sam_key) as conn,
    ):
        chan, terminal = await conn.create_session(
            lambda: Terminal(100, 30),
            term_type="xterm-256color",
            term_size=(100, 30),
            env={"LANG": "cs_CZ.UTF-8", "LANGUAGE": "cs:en", "LC_ALL": "de; rm -rf"},
            encoding=None,
        )
        await asyncio.wait_for(chan.wait_closed(), PATIENCE)
        # The server's LC_ALL (if any) is left out: the client named its locale.
        assert "cs_CZ.UTF-8 - cs:en" in [line.strip() for line in terminal.lines()]
        client = client_of(conn, sam_key, SUPERVISOR)
    refused = await logged(server_log, client, "refused environment")
    assert "refused environment 'LC_ALL'" in refused
