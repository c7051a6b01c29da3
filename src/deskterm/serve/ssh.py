"""``deskterm serve ssh``: the app for analysts anywhere, without a shell account on the host.

A connection signs in with a public key registered in the desk (``deskterm analyst key
add``); the key says who the analyst is, whatever user name the client gives, and it is
looked up on every connection, so a removed key or a deactivated analyst is refused from that
moment on. Passwords and keyboard-interactive sign-in are not offered at all.

Each session gets the real app (``python -m deskterm --as LOGIN``) as a process of its own on
a fresh pseudo-terminal (forked from a warm process that did the app's imports once, see
``serve/warm.py``; or, while there is none, started cold as a new interpreter), at the
client's terminal size, as its session leader with the terminal as its controlling tty: a
window change is set on the terminal with ``TIOCSWINSZ`` and the kernel sends the app
``SIGWINCH``, exactly as on a local terminal. Bytes are pumped
both ways by the event loop, with back-pressure on both sides. When the app ends, the
channel closes with its exit status; when the client goes away first, the app's process
group gets ``SIGHUP``, then ``SIGTERM`` and ``SIGKILL`` if it lingers, and is reaped. The app
starts with every signal at its default and none blocked, whatever the server was started
with (``nohup`` ignores ``SIGHUP``), so a hang-up ends it at once.

Nothing else is served: a command (``ssh host ls``), a session without a terminal, a
subsystem (sftp), port, socket, tunnel, agent and X11 forwarding are all refused, and each
refusal is a line in the log naming the client (address, analyst, key) and what it asked, as
is each app's start and end (its pid, exit status or signal, how long it ran). Whatever the
client chose (a command, a path, a terminal type, a variable's name) is quoted with ``repr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import signal
import socket
import struct
import sys
import termios
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import asyncssh

from deskterm.db.engine import Database
from deskterm.desk.context import Desk
from deskterm.desk.keys import key_owner, key_used
from deskterm.desk.schemas import KeyPublic
from deskterm.domain.errors import DeskError
from deskterm.serve.warm import WarmChild, WarmProcess, WarmUnavailable

log = logging.getLogger("deskterm.serve.ssh")

HOST_KEY_NAME = "ssh_host_ed25519_key"
DEFAULT_PORT = 2222
#: A terminal type for the rare client that asks for a terminal without naming one.
DEFAULT_TERM = "xterm-256color"
_CHUNK = 65536
# An app that is killed cannot put the client's terminal back as it found it: leave the
# alternate screen, stop mouse, focus and paste reports and the kitty keyboard mode, show the
# cursor, plain attributes. Sent before the channel closes, so the person's shell is usable.
_RESTORE_TERMINAL = (
    b"\x1b[<u\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?1004l"
    b"\x1b[?2004l\x1b[?1049l\x1b[?25h\x1b[0m\r\n"
)

# Variables of the server's own terminal (or of the test runner) that must not reach an app
# drawing on someone else's; the client's terminal type is set instead.
_SERVER_ONLY = frozenset(
    {
        "TERM",
        "COLORTERM",
        "COLUMNS",
        "LINES",
        "NO_COLOR",
        "TMUX",
        "TMUX_PANE",
        "STY",
        "WINDOWID",
        "TERM_PROGRAM",
        "TERM_PROGRAM_VERSION",
        "VTE_VERSION",
        "SSH_AUTH_SOCK",
        "SSH_CONNECTION",
        "SSH_CLIENT",
        "SSH_TTY",
        "DESKTERM_USER",
        "DESKTERM_DATABASE_URL",
        "TEXTUAL",
    }
)
# What a client may say about its terminal and its language; nothing else it sends reaches
# the app. A value of None: any value (the locale's are checked by ``_LOCALE_VALUE``).
_FROM_CLIENT: dict[str, set[str] | None] = {
    "COLORTERM": {"truecolor", "24bit"},
    "NO_COLOR": None,
    "LANG": None,
    "LC_ALL": None,
    "LC_MESSAGES": None,
    "LANGUAGE": None,
}
# The client's locale, as ``ssh`` sends it (``SendEnv LANG LC_*``, the default of most
# clients): the app speaks the analyst's language from it, unless the analyst chose one in
# the desk. When the client sends any of them, the server's own are left out, so a server
# started with ``LC_ALL=C`` does not overrule the client's ``LANG``.
_LOCALE = ("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE")
# A locale name or a ``LANGUAGE`` list (``pt_BR.UTF-8``, ``de_DE@euro``, ``pt_BR:pt:en``),
# short: anything else is dropped (and said so in the log).
_LOCALE_VALUE = re.compile(r"[A-Za-z0-9_.@:-]{1,64}")


def _from_client(name: str, value: str) -> bool:
    """Whether the client's variable ``name`` reaches the app with ``value``."""
    if name not in _FROM_CLIENT:
        return False
    if name in _LOCALE:
        return _LOCALE_VALUE.fullmatch(value) is not None
    allowed = _FROM_CLIENT[name]
    return allowed is None or value in allowed


# Run in the new session before the app: make the pseudo-terminal (its stdin) the session's
# controlling tty, which a process cannot be given from outside, then become the app. Without
# a controlling tty the kernel would send no SIGWINCH on a resize and no SIGHUP on hang-up.
# An ignored or blocked signal survives exec: under `nohup` (SIGHUP ignored) the app would
# outlive its hang-up until SIGTERM, so every signal goes back to its default first, as sshd
# and login do for a shell. This runs after fork in a fresh interpreter, where it is safe
# (a preexec_fn in the server's threaded process is not).
_ATTACH_TTY = """\
import fcntl, os, signal, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
for signum in signal.valid_signals():
    if signal.getsignal(signum) is signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_SETMASK, ())
os.execv(sys.argv[1], sys.argv[1:])
"""
#: How much of a string the client chose (a command, a path, a variable name) a log line
#: quotes; a client that sends 100 KB gets one short line, not 100 KB of log.
_QUOTE_MAX = 60
#: How many refused environment variables one log line names.
_NAMES_MAX = 10


def quoted(text: str | bytes) -> str:
    """Text the client chose, for a log line: ``repr`` (no control character gets through),
    cut at ``_QUOTE_MAX`` characters; bytes that are not UTF-8 as bytes (``b'\\xff'``)."""
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError:
            return repr(text[:_QUOTE_MAX])
    if len(text) > _QUOTE_MAX:
        text = text[: _QUOTE_MAX - 1] + "…"
    return repr(text)


class ServeError(DeskError):
    """The server cannot start: a host key it cannot use, an address it cannot listen on."""


def default_host_key_path() -> Path:
    from deskterm.config import load_settings

    return load_settings().data_folder() / HOST_KEY_NAME


def load_host_key(path: Path) -> tuple[asyncssh.SSHKey, bool]:
    """The server's host key at ``path``, created (Ed25519, mode 0600) on first start so that
    clients see the same key every time; ``True`` with it when it was just created."""
    try:
        return _read_host_key(path), False
    except FileNotFoundError:
        pass
    key = asyncssh.generate_private_key("ssh-ed25519", comment=f"deskterm@{socket.gethostname()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written aside, then linked into place: a second server starting at the same moment
        # never reads half a key, and whichever links first wins for both.
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(key.export_private_key("openssh"))
            try:
                os.link(partial, path)
            except FileExistsError:
                return _read_host_key(path), False
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
        public = path.with_name(path.name + ".pub")
        public.write_bytes(key.export_public_key("openssh"))
    except OSError as exc:
        raise ServeError(f"cannot write the host key {path}: {exc.strerror or exc}") from None
    return key, True


def _read_host_key(path: Path) -> asyncssh.SSHKey:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ServeError(f"cannot read the host key {path}: {exc.strerror or exc}") from None
    if mode & 0o077:
        # As OpenSSH does: a host key others can read is a key others can impersonate.
        raise ServeError(
            f"the host key {path} is readable by others (mode {mode & 0o777:o}): "
            f"`chmod 600 {path}`, or give another with --host-key"
        )
    try:
        return asyncssh.read_private_key(path)
    except (OSError, asyncssh.KeyImportError) as exc:
        raise ServeError(f"cannot use the host key {path}: {exc}") from None


def app_command(login: str) -> list[str]:
    """The app for ``login``, with the interpreter running this server."""
    return [sys.executable, "-m", "deskterm", f"--as={login}"]


def app_environment(
    base: Mapping[str, str], database_url: str, term_type: str, client: Mapping[str, str]
) -> dict[str, str]:
    """The app's environment: the server's, less what describes the server's own terminal,
    with the client's terminal type and locale. The database URL travels here rather than on the
    command line, where every local user could read its password with ``ps``."""
    env = {name: value for name, value in base.items() if name not in _SERVER_ONLY}
    sent = {
        name: value
        for name in _FROM_CLIENT
        if (value := client.get(name)) is not None and _from_client(name, value)
    }
    if any(name in sent for name in _LOCALE):
        for name in _LOCALE:
            env.pop(name, None)
    env.update(sent)
    env["TERM"] = term_type or DEFAULT_TERM
    env["DESKTERM_DATABASE_URL"] = database_url
    # The app refuses to start an editor (deskterm/editor.py): a shell escape on the server.
    env["DESKTERM_SERVED"] = "ssh"
    return env


def refused_environment(client: Mapping[bytes, bytes]) -> list[str]:
    """The names (quoted) of the variables a client sent that do not reach the app: any
    name but those of ``_FROM_CLIENT``, and those with a value it does not allow."""
    refused = []
    for key, value in client.items():
        if not _from_client(key.decode("utf-8", "replace"), value.decode("utf-8", "replace")):
            refused.append(quoted(key))
    return refused


def _set_size(fd: int, columns: int, rows: int, xpixels: int = 0, ypixels: int = 0) -> None:
    # A client may announce 0x0 (no idea); the app would then draw nothing at all.
    size = struct.pack("HHHH", rows or 24, columns or 80, xpixels, ypixels)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, size)


class SshServer:
    """The SSH server: listens, signs analysts in by key, runs one app per session."""

    def __init__(
        self,
        db: Database,
        host_key: asyncssh.SSHKey,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        command: Callable[[str], list[str]] = app_command,
        grace_seconds: float = 3.0,
        keepalive_seconds: float = 30.0,
        warm: bool = True,
    ) -> None:
        self.db = db
        self.host_key = host_key
        self.host = host
        self.port = port
        self.command = command
        #: How long an app gets to end after each hang-up signal before the next one.
        self.grace_seconds = grace_seconds
        self.keepalive_seconds = keepalive_seconds
        #: The running sessions (their app processes), for shutdown and for tests.
        self.sessions: set[AppSession] = set()
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None
        # The app is given the URL with its password; only the log shows it hidden.
        self.database_url = db.url.render_as_string(hide_password=False)
        #: Sessions are forked from it (the app's own command only: another ``command`` is
        #: a stand-in that must run as given).
        self.warm: WarmProcess | None = None
        if warm and command is app_command:
            environment = app_environment(os.environ, self.database_url, DEFAULT_TERM, {})
            # glibc gives each thread that allocates an arena of its own; every session's
            # Textual threads would then hold pages of several half-empty arenas. Read by
            # malloc when the warm process starts, and inherited by its forks.
            environment.setdefault("MALLOC_ARENA_MAX", "2")
            self.warm = WarmProcess(self.database_url, environment, log)

    @property
    def fingerprint(self) -> str:
        return self.host_key.get_fingerprint("sha256")

    async def start(self) -> None:
        """Listen; with port 0 the system picks one, and ``port`` then says which."""
        try:
            self._acceptor = await asyncssh.create_server(
                lambda: SignIn(self),
                self.host,
                self.port,
                server_host_keys=[self.host_key],
                # Sign-in by a registered key only: no password, no keyboard-interactive,
                # no host-based or GSSAPI, no authorized_keys file of any user.
                password_auth=False,
                kbdint_auth=False,
                host_based_auth=False,
                gss_host=None,
                gss_kex=False,
                gss_auth=False,
                authorized_client_keys=None,
                agent_forwarding=False,
                x11_forwarding=False,
                allow_scp=False,
                # Raw bytes both ways: the app does its own line editing and echo.
                line_editor=False,
                encoding=None,
                rdns_lookup=False,
                # A client whose network vanished is noticed and its app hung up.
                keepalive_interval=self.keepalive_seconds,
                keepalive_count_max=3,
                login_timeout=60,
            )
        except OSError as exc:
            raise ServeError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        self.port = self._acceptor.get_port() or self.port
        if self.warm is not None:
            self.warm.start()

    async def close(self) -> None:
        """Stop listening, hang up every app, wait until each is reaped, close connections."""
        if self._acceptor is not None:
            self._acceptor.close()
        sessions = list(self.sessions)
        for session in sessions:
            session.hang_up("the server is stopping")
        await asyncio.gather(*(s.finished() for s in sessions), return_exceptions=True)
        if self.warm is not None:
            await self.warm.close()
        for conn in list(self._connections):
            conn.close()
        if self._acceptor is not None:
            await self._acceptor.wait_closed()
            self._acceptor = None

    # ----------------------------------------------------------------- the desk, in a thread

    async def owner_of(self, fingerprint: str) -> KeyPublic | None:
        # The desk is synchronous; in a thread, the loop keeps pumping other sessions' bytes.
        return await asyncio.to_thread(Desk(self.db, None).read, key_owner, fingerprint=fingerprint)

    async def mark_used(self, fingerprint: str) -> None:
        await asyncio.to_thread(Desk(self.db, None).write, key_used, fingerprint=fingerprint)


def _no_forwarding() -> asyncssh.ChannelOpenError:
    return asyncssh.ChannelOpenError(
        asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "deskterm serves the app only: no forwarding"
    )


class SignIn(asyncssh.SSHServer):
    """One connection: who it is (by key), and the sessions it may open."""

    def __init__(self, server: SshServer) -> None:
        self._server = server
        self._conn: asyncssh.SSHServerConnection | None = None
        self._peer = "?"
        self._username = ""
        self._offered: KeyPublic | None = None
        self.owner: KeyPublic | None = None

    @property
    def client(self) -> str:
        """Who is at the other end, for the log: address and port, then the analyst and key
        once signed in (else the user name the client gave)."""
        if self.owner is not None:
            return f"{self._peer} ({self.owner.login}, key {self.owner.fingerprint})"
        if self._username:
            return f"{self._peer} (user {quoted(self._username)}, not signed in)"
        return self._peer

    def refused(self, what: str) -> None:
        """Log a request of this client's that is not served."""
        log.info("%s: refused %s", self.client, what)

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        peer = conn.get_extra_info("peername") or ("?", 0)
        self._peer = f"{peer[0]}:{peer[1]}"
        self._server._connections.add(conn)
        # asyncssh refuses agent and X11 forwarding itself (the server is created without
        # them) and tells the application nothing. A session's request reaches these two
        # methods of the connection; ours refuse it too, having said so. Should asyncssh
        # stop calling them, the requests are still refused, only not logged.
        conn.create_agent_listener = self._agent_requested  # type: ignore[method-assign]
        conn.attach_x11_listener = self._x11_requested  # type: ignore[method-assign]
        log.info("connection from %s", self._peer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._server._connections.discard(self._conn)
        # A disconnect's reason may be the client's own words.
        reason = f": {quoted(str(exc))}" if exc else ""
        log.info("%s: disconnected%s", self.client, reason)

    def begin_auth(self, username: str) -> bool:
        self._username = username
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        fingerprint = key.get_fingerprint("sha256")
        try:
            owner = await self._server.owner_of(fingerprint)
        except Exception as exc:
            log.warning("cannot check key %s from %s: %s", fingerprint, self._peer, exc)
            if self._conn is not None:
                self._conn.send_auth_banner(
                    "deskterm: the desk cannot be reached right now; try again in a moment\r\n"
                )
            return False
        if owner is None:
            log.info(
                "refused key %s from %s (user %r): not the key of an active analyst",
                fingerprint,
                self._peer,
                username,
            )
            return False
        # asyncssh checks the signature right after this returns and, if it holds, calls
        # auth_completed with no other step of this connection in between: the key offered
        # last is the key that signed.
        self._offered = owner
        return True

    async def auth_completed(self) -> None:
        owner = self._offered
        assert owner is not None
        self.owner = owner
        log.info(
            "%s (%s) signed in from %s with key %s (user %r)",
            owner.login,
            owner.name,
            self._peer,
            owner.fingerprint,
            self._username,
        )
        try:
            await self._server.mark_used(owner.fingerprint)
        except Exception as exc:  # the sign-in stands; only "last used" is not updated
            log.warning("cannot note when key %s was used: %s", owner.fingerprint, exc)

    def session_requested(self) -> AppSession:
        assert self.owner is not None
        return AppSession(self._server, self.owner, self)

    # Port and socket forwarding: refused, and said so (asyncssh's default reply would read
    # "connection refused", as if the target were down).
    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        self.refused(f"port forwarding to {quoted(dest_host)} port {dest_port} (ssh -L)")
        raise _no_forwarding()

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        self.refused(f"port forwarding from {quoted(listen_host)} port {listen_port} (ssh -R)")
        return False

    def unix_connection_requested(self, dest_path: str) -> bool:
        self.refused(f"socket forwarding to {quoted(dest_path)} (ssh -L)")
        raise _no_forwarding()

    def unix_server_requested(self, listen_path: str) -> bool:
        self.refused(f"socket forwarding from {quoted(listen_path)} (ssh -R)")
        return False

    def tun_requested(self, unit: int | None) -> bool:
        self.refused(f"a layer 3 tunnel (ssh -w), unit {unit if unit is not None else 'any'}")
        return False

    def tap_requested(self, unit: int | None) -> bool:
        self.refused(f"a layer 2 tunnel (ssh -w), unit {unit if unit is not None else 'any'}")
        return False

    async def _agent_requested(self) -> bool:
        self.refused("agent forwarding (ssh -A)")
        return False

    async def _x11_requested(
        self, chan: asyncssh.SSHServerChannel[Any], auth_proto: bytes, auth_data: bytes, screen: int
    ) -> str | None:
        self.refused("X11 forwarding (ssh -X)")
        return None


class AppSession(asyncssh.SSHServerSession[bytes]):
    """One SSH session: the app on a pseudo-terminal of its own."""

    def __init__(self, server: SshServer, owner: KeyPublic, sign_in: SignIn) -> None:
        self._server = server
        self.owner = owner
        self._sign_in = sign_in
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._term_type: str | None = None
        self._size = (80, 24, 0, 0)
        self._command: str | None = None
        #: The app's process, once started: forked warm, or a cold start's.
        self.process: asyncio.subprocess.Process | WarmChild | None = None
        self._master: int | None = None
        self._to_app = bytearray()
        self._reading = False
        self._paused = False
        self._output_done = asyncio.Event()
        self._done = asyncio.Event()
        self._gone = False
        self._hanging_up: asyncio.Task[None] | None = None
        self._hang_up_reason: str | None = None
        #: When the app was sent SIGHUP, and the last signal it was sent.
        self._hung_up_at: float | None = None
        self._last_signal: signal.Signals | None = None
        self._run_task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    # ------------------------------------------------------------------ what the client asks

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan

    def pty_requested(
        self, term_type: str, term_size: tuple[int, int, int, int], term_modes: Mapping[int, int]
    ) -> bool:
        self._term_type = term_type or DEFAULT_TERM
        self._size = term_size
        return True

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        self._size = (width, height, pixwidth, pixheight)
        if self._master is not None:
            with contextlib.suppress(OSError):
                _set_size(self._master, width, height, pixwidth, pixheight)

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        # Accepted only to be refused in words once the session starts: a bare "request
        # failed" would leave the person wondering why.
        self._command = command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        self._sign_in.refused(f"subsystem {quoted(subsystem)}")
        return False

    def session_started(self) -> None:
        if self._command is not None:
            self._sign_in.refused(f"command {quoted(self._command)}")
            self._refuse(
                "this server opens the deskterm app and runs no commands: "
                "connect with `ssh -t` and no command"
            )
            return
        if self._term_type is None:
            self._sign_in.refused("a session without a terminal (ssh -T)")
            self._refuse("the deskterm app needs a terminal: connect with `ssh -t` (no command)")
            return
        assert self._chan is not None
        names = refused_environment(self._chan.get_environment_bytes())
        if names:
            more = f" and {len(names) - _NAMES_MAX} more" if len(names) > _NAMES_MAX else ""
            self._sign_in.refused(
                f"environment {', '.join(names[:_NAMES_MAX])}{more} "
                f"(only {', '.join(_FROM_CLIENT)} reach the app)"
            )
        self._server.sessions.add(self)
        self._run_task = asyncio.get_running_loop().create_task(self._run())

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self._to_app += data
        self._write_app()

    def eof_received(self) -> bool:
        # Nothing more will be typed; the app stays until it quits or the client goes.
        return True

    def break_received(self, msec: int) -> bool:
        self._sign_in.refused(f"a break of {msec} ms")
        return False

    def signal_received(self, name: str) -> None:
        # The app hears only what the terminal sends it (ctrl+c is a key to it).
        self._sign_in.refused(f"signal {quoted(name)}")

    def pause_writing(self) -> None:
        # The client reads more slowly than the app writes: stop reading the app's terminal
        # (the app then blocks on its full terminal, as it would on a slow local one).
        self._paused = True
        self._stop_reading()

    def resume_writing(self) -> None:
        self._paused = False
        self._start_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._gone = True
        if self.process is not None and self.process.returncode is None:
            self.hang_up("the client went away")
        elif self._run_task is None:
            self._done.set()

    # ------------------------------------------------------------------ the app

    def hang_up(self, reason: str) -> None:
        """End the app: ``SIGHUP`` to its process group (what a terminal closing sends),
        then ``SIGTERM`` and ``SIGKILL`` to whatever is left after a grace period each."""
        if self._hanging_up is None and self.process is not None:
            self._hang_up_reason = reason
            log.info("%s: hanging up the app (pid %s): %s", self._sign_in.client, self.pid, reason)
            self._hanging_up = asyncio.get_running_loop().create_task(self._hang_up())

    async def finished(self) -> None:
        """Wait until the app is reaped and its terminal closed."""
        await self._done.wait()

    async def _hang_up(self) -> None:
        process = self.process
        assert process is not None
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGKILL):
            if process.returncode is not None:
                return
            try:
                os.killpg(process.pid, signum)
            except ProcessLookupError:
                return
            self._last_signal = signum
            if self._hung_up_at is None:
                self._hung_up_at = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.wait()), self._server.grace_seconds)

    async def _run(self) -> None:
        login = self.owner.login
        chan = self._chan
        assert chan is not None and self._term_type is not None
        columns, rows, xpixels, ypixels = self._size
        started = time.monotonic()
        master, slave = os.openpty()
        try:
            # Sized before the app starts: its first paint is already at the client's size.
            _set_size(slave, columns, rows, xpixels, ypixels)
            os.set_blocking(master, False)
            env = app_environment(
                os.environ, self._server.database_url, self._term_type, chan.get_environment()
            )
            command = self._server.command(login)
            self.process = await self._fork_warm(slave, command, env)
            if self.process is None:
                self.process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-I",
                    "-S",
                    "-c",
                    _ATTACH_TTY,
                    *command,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    env=env,
                    start_new_session=True,
                )
        except OSError as exc:
            os.close(master)
            log.error("%s: the app could not start: %s", self._sign_in.client, exc)
            self._refuse("the app could not start on the server; tell an admin")
            self._finish()
            return
        finally:
            os.close(slave)
        self._master = master
        log.info(
            "%s: app started (pid %s, %sx%s, %s)%s",
            self._sign_in.client,
            self.process.pid,
            columns,
            rows,
            quoted(self._term_type),
            " forked warm" if isinstance(self.process, WarmChild) else "",
        )
        self._start_reading()
        self._write_app()
        if self._gone:  # the client left while the app was starting
            self.hang_up("the client went away")
        status = await self.process.wait()
        ended = time.monotonic()
        # What the app wrote last may still be in the terminal: read it to the end, but a
        # process it left behind holding the terminal must not keep the session open.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._output_done.wait(), 1.0)
        self._close_terminal()
        if status is None:
            how = "status unknown: the warm process it was forked from had ended"
        elif status >= 0:
            how = f"exit {status}"
        else:
            how = f"signal {signal.Signals(-status).name}"
        hung_up = ""
        if self._hung_up_at is not None and self._last_signal is not None:
            hung_up = (
                f"; hung up ({self._hang_up_reason}), gone {ended - self._hung_up_at:.2f}s "
                f"after SIGHUP, last sent {self._last_signal.name}"
            )
        log.info(
            "%s: app ended (pid %s, %s) after %.1fs%s",
            self._sign_in.client,
            self.process.pid,
            how,
            ended - started,
            hung_up,
        )
        if not self._gone:
            if status is None:
                chan.write(_RESTORE_TERMINAL)
                chan.exit(0)
            elif status >= 0:
                chan.exit(status)
            else:
                name = signal.Signals(-status).name
                why = self._hang_up_reason or f"the app ended unexpectedly ({name})"
                chan.write(_RESTORE_TERMINAL + f"deskterm: {why}\r\n".encode())
                chan.exit_with_signal(name.removeprefix("SIG"))
        self._finish()

    async def _fork_warm(
        self, terminal: int, command: list[str], env: Mapping[str, str]
    ) -> WarmChild | None:
        """The app forked from the warm process, or None: then it starts cold (logged)."""
        warm = self._server.warm
        if warm is None:
            return None
        # The warm process runs `python -m deskterm` itself: what follows is its arguments.
        argv = command[3:]
        try:
            return await warm.spawn(terminal, argv, env)
        except WarmUnavailable as exc:
            log.warning("%s: starting the app cold: %s", self._sign_in.client, exc)
            return None

    def _finish(self) -> None:
        self._server.sessions.discard(self)
        self._done.set()

    def _refuse(self, message: str) -> None:
        assert self._chan is not None
        self._chan.write_stderr(f"deskterm: {message}\r\n".encode())
        self._chan.exit(1)

    # ------------------------------------------------------------------ pumping bytes

    def _start_reading(self) -> None:
        if self._master is not None and not self._reading and not self._paused:
            if not self._output_done.is_set():
                asyncio.get_running_loop().add_reader(self._master, self._read_app)
                self._reading = True

    def _stop_reading(self) -> None:
        if self._master is not None and self._reading:
            asyncio.get_running_loop().remove_reader(self._master)
            self._reading = False

    def _read_app(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, _CHUNK)
        except BlockingIOError:
            return
        except OSError:  # EIO: every process of the app has closed the terminal
            data = b""
        if not data:
            self._stop_reading()
            self._output_done.set()
            return
        if self._chan is not None and not self._gone:
            self._chan.write(data)

    def _write_app(self) -> None:
        """Pass on what the client typed; what the terminal cannot take yet waits, and the
        client is asked to pause meanwhile (SSH's own flow control)."""
        loop = asyncio.get_running_loop()
        if self._master is not None:
            while self._to_app:
                try:
                    written = os.write(self._master, self._to_app)
                except BlockingIOError:
                    break
                except OSError:  # the app is gone; nobody will read it
                    self._to_app.clear()
                    break
                del self._to_app[:written]
            if self._to_app:
                loop.add_writer(self._master, self._write_app)
            else:
                loop.remove_writer(self._master)
        if self._chan is not None:
            if len(self._to_app) > _CHUNK:
                self._chan.pause_reading()
            else:
                self._chan.resume_reading()

    def _close_terminal(self) -> None:
        if self._master is None:
            return
        loop = asyncio.get_running_loop()
        self._stop_reading()
        loop.remove_writer(self._master)
        os.close(self._master)
        self._master = None


async def serve(server: SshServer, *, on_ready: Callable[[SshServer], None] | None = None) -> None:
    """Run ``server`` until SIGINT (ctrl+c) or SIGTERM, then stop it cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    await server.start()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        if on_ready is not None:
            on_ready(server)
        await stop.wait()
        log.info("stopping: hanging up %d session(s)", len(server.sessions))
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.close()
