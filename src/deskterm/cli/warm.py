"""``python -m deskterm.cli.warm FD``: the warm process of ``deskterm serve ssh``.

It imports the app, opens it once headless to its first painted queue (to fill the caches
every session would otherwise fill for itself), closes the desk again, freezes what it holds
out of the garbage collector's sight and waits for the server to ask for sessions: each one
a ``fork``, which runs the app as ``python -m deskterm --as LOGIN`` would, on the terminal the
server sent. The protocol and the server's side are in ``deskterm/serve/warm.py``.

It sits with the CLI because it is the app's composition root, as ``deskterm`` itself is: the
server (``deskterm.serve``) only starts it by name and never imports the app.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import io
import os
import selectors
import signal
import socket
import sys
import termios
import traceback
from collections.abc import Sequence
from typing import Any

from deskterm.serve.warm import MAX_MESSAGE, decode, send

#: What the app's first screen imports (the app imports them lazily, at its start): imported
#: first, then the rehearsal (``rehearse``) brings in whatever the list misses. Importing more
#: costs the warm process once; importing less costs every session. A module that cannot be
#: imported here (an optional driver) is skipped, not fatal.
WARM_MODULES: tuple[str, ...] = (
    "deskterm.cli",
    "deskterm.cli.common",
    "deskterm.config",
    "deskterm.tui.app",
    "deskterm.tui.driver",
    "deskterm.tui.watch",
    "deskterm.tui.drafts",
    "deskterm.tui.screens.queue",
    "deskterm.tui.screens.loading",
    "deskterm.tui.widgets.bar",
    "deskterm.tui.format",
    "deskterm.desk.setup",
    "deskterm.desk.identity",
    "deskterm.desk.context",
    "deskterm.desk.live",
    "deskterm.desk.views",
    "deskterm.desk.presence",
    "deskterm.desk.callbacks",
    "deskterm.desk.sla_check",
    "textual.drivers.linux_driver",
    "textual.widgets",
    "textual.widgets._data_table",
    "textual.widgets._footer",
    "textual.widgets._header",
    "textual.widgets._static",
    "textual.widgets._label",
    "textual.widgets._tabs",
    "textual.widgets._input",
    "textual.css.query",
    "textual._xterm_parser",
    "rich.console",
    "rich.text",
    "sqlite3",
    "platformdirs",
    "pydantic_settings",
)

#: The dispositions a fresh interpreter starts with: Python ignores these two itself (it
#: reports a broken pipe as an error instead of dying of it), and turns SIGINT into
#: KeyboardInterrupt. Everything else is the system's default.
_PYTHON_IGNORES = ("SIGPIPE", "SIGXFSZ")


# ---------------------------------------------------------------------------- the child


def default_signals() -> None:
    """Every signal as a freshly started Python has it, none blocked."""
    for signum in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP cannot be set
            signal.signal(signum, signal.SIG_DFL)
    for name in _PYTHON_IGNORES:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def _standard_streams() -> None:
    """New ``sys.stdin/stdout/stderr`` on the terminal, as the interpreter makes them at start
    on a terminal (line-buffered): the warm process's own were made for ``/dev/null``."""
    encoding = sys.stdout.encoding if sys.stdout is not None else "utf-8"
    sys.stdin = io.TextIOWrapper(
        io.BufferedReader(io.FileIO(0, "rb", closefd=False)), encoding=encoding
    )
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(1, "wb", closefd=False)),
        encoding=encoding,
        line_buffering=True,
        write_through=False,
    )
    sys.stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "wb", closefd=False)),
        encoding=encoding,
        errors="backslashreplace",
        line_buffering=True,
    )
    # Textual writes to the interpreter's original streams.
    for name in ("stdin", "stdout", "stderr"):
        setattr(sys, f"__{name}__", getattr(sys, name))


def become_session(terminal: int, argv: list[str], env: dict[str, str]) -> int:
    """In the forked child: lead a new session on ``terminal``, then run the app's command
    line as ``python -m deskterm ARGV`` would; its exit status."""
    os.setsid()
    # The controlling tty: the kernel then sends SIGWINCH on a resize and SIGHUP on hang-up.
    fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(terminal, fd)
    # Nothing of the warm process (its socket to the server, its wakeup pipe) stays open.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    default_signals()
    os.environ.clear()
    os.environ.update(env)
    # The language the warm process settled on (its rehearsal spoke) is not the session's:
    # read it again from this session's locale, the client's (the app then makes it the
    # analyst's own, if they chose one).
    from deskterm import i18n

    i18n.use(None)
    _standard_streams()
    sys.argv = ["deskterm", *argv]
    from deskterm.cli import main

    code = 0
    try:
        main()
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)  # noqa: T201 (as the interpreter does)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return code


# ---------------------------------------------------------------------------- the warm process


def warm_up(database_url: str | None) -> None:
    """Import what the first screen needs and check the desk opens; hold nothing open."""
    for module in WARM_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    # What the app imports in idle time after its first paint (its other screens): done
    # here, the pages are shared by every session instead of copied into each.
    from deskterm.tui import app

    for module in (*(m for m, _name in app.LATER_MODES.values()), *app.WARM_MODULES):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    _build_command_once()
    if database_url:
        from deskterm.desk.setup import open_database

        # Opened to find out now (not in each session) that it can be, then closed: a pooled
        # connection shared by two processes after a fork corrupts both.
        open_database(database_url).dispose()


def rehearse(database_url: str) -> None:
    """Open the app once, headless, as its first analyst, to its painted queue, and close it.

    Textual, Rich and SQLAlchemy fill caches on first use (parsed styles, cell widths,
    compiled statements, loaded stylesheets); filled here, every session finds them shared
    instead of building and holding its own copy. The app runs without live updates, polls,
    presence or warm-up timers, so nothing is left running: every thread must have ended, or
    no session is forked from this process (a fork copies no thread but their locks)."""
    import asyncio
    import threading
    import time

    from deskterm.desk.analysts import list_analysts
    from deskterm.desk.context import Desk
    from deskterm.desk.setup import open_database
    from deskterm.tui.app import DeskApp

    db = open_database(database_url)
    try:
        analysts = Desk(db, None).read(list_analysts)
    finally:
        db.dispose()
    if not analysts:
        return
    app = DeskApp(
        database_url,
        analysts[0].login,
        listen=False,
        poll_seconds=None,
        sla_seconds=None,
        presence_seconds=None,
        warm_screens=False,
    )

    async def show_queue() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 30
            while app.desk is None and time.monotonic() < deadline:
                await pilot.pause(0.05)
            await app.workers.wait_for_complete()
            await pilot.pause()

    try:
        asyncio.run(show_queue())
    finally:
        if app.desk is not None:
            app.desk.db.dispose()
    deadline = time.monotonic() + 10
    while threading.active_count() > 1:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{threading.active_count() - 1} thread(s) outlived the rehearsal")
        time.sleep(0.02)


def _build_command_once() -> None:
    """Typer builds the whole ``deskterm`` command tree (every option of every command, their
    annotations evaluated) on each call of the app: a sixth of a forked session's start. Built
    here once, the sessions share it."""
    import typer.main

    from deskterm.cli import app

    built = typer.main.get_command(app)
    build = typer.main.get_command

    def get_command(typer_instance: typer.Typer) -> Any:
        return built if typer_instance is app else build(typer_instance)

    # Typer.__call__ looks the function up in its module at each call.
    typer.main.get_command = get_command


def serve_forks(sock: socket.socket) -> None:
    """Fork a session per request until the server's end of ``sock`` closes."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    while True:
        for key, _events in selector.select():
            if key.fileobj is sock:
                try:
                    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, 4)
                except InterruptedError:
                    continue
                if not data:
                    return  # the server is gone
                _fork(sock, data, fds)
            else:
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_r, 512):
                        pass
        _reap(sock)


def _fork(sock: socket.socket, data: bytes, fds: list[int]) -> None:
    message = decode(data)
    if message is None or len(fds) != 1:
        for fd in fds:
            os.close(fd)
        return
    request = message.get("id")
    argv = [str(a) for a in message.get("argv", [])]
    env = {str(k): str(v) for k, v in dict(message.get("env", {})).items()}
    terminal = fds[0]
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(terminal)
        send(sock, {"id": request, "error": f"cannot fork: {exc.strerror or exc}"})
        return
    if pid == 0:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            sock.close()
            code = become_session(terminal, argv, env)
        finally:
            os._exit(code)
    os.close(terminal)
    send(sock, {"id": request, "pid": pid})


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send(sock, {"exited": pid, "status": os.waitstatus_to_exitcode(status)})


def main(args: Sequence[str]) -> int:
    """``python -m deskterm.serve.warm FD [--plain]``: ``FD`` is this end of the server's
    socket pair; ``DESKTERM_DATABASE_URL`` the desk to check; ``--plain``: imports only, no
    rehearsal of the app (after a warm process failed)."""
    sock = socket.socket(fileno=int(args[0]))
    os.set_blocking(sock.fileno(), True)
    # The server's ctrl+c is the server's business: it stops us by closing the socket.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    url = os.environ.get("DESKTERM_DATABASE_URL")
    try:
        warm_up(url)
        if url and "--plain" not in args:
            rehearse(url)
    except Exception as exc:
        send(sock, {"failed": f"{type(exc).__name__}: {str(exc)[:300]}"})
        return 1
    # Everything imported lives as long as every session: out of the collector's sight, a
    # collection in a child neither walks it nor writes to its pages (which would copy them).
    gc.collect()
    gc.freeze()
    send(sock, {"ready": os.getpid()})
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        serve_forks(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
