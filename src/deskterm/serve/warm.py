"""The server's side of the warm process (``deskterm.cli.warm``): start it, ask it for
sessions, learn how they ended, restart it when it dies.

A fresh ``python -m deskterm`` spends about a second importing Textual, SQLAlchemy and the
desk before it paints, and holds some 100 MB of its own. The server therefore starts one
process (``python -m deskterm.cli.warm FD``) that imports what the app's first screen needs,
opens the desk once to check it (and closes it again: no connection, no thread may cross a
fork), freezes what it holds out of the garbage collector's sight and waits. Each session is a
``fork`` of it: the child shares every imported page with its parent until it writes to it, so
it paints in a fraction of the time and costs only what it allocates itself.

The server and the warm process speak over a socket pair the server made (no path on disk,
nobody else can connect), one datagram per message (``SOCK_SEQPACKET``), JSON:

- warm -> server ``{"ready": PID}`` once warm, or ``{"failed": "why"}`` before it exits;
- server -> warm ``{"id": N, "argv": [...], "env": {...}}`` with the pseudo-terminal's slave
  end attached (``SCM_RIGHTS``); warm -> server ``{"id": N, "pid": PID}`` or
  ``{"id": N, "error": "why"}``;
- warm -> server ``{"exited": PID, "status": S}`` once it reaped a child (``S`` as asyncio
  says it: the exit code, or minus the signal that ended it).

The warm process was started by the server in a session of its own, so the server's terminal
signals never reach it; it ends when the server's end of the socket closes, whatever way the
server went. It was exec'ed fresh, so it holds nothing of the server's (no host key, no
listening socket, no event loop); the child additionally closes every descriptor but its
terminal, and puts every signal back as a fresh interpreter has it, whatever the server
inherited (``nohup`` ignores ``SIGHUP``, and an ignored signal survives fork and exec).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from typing import Any

#: One message at most (an environment of a few kB, in practice).
MAX_MESSAGE = 1 << 20


def send(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def decode(data: bytes) -> dict[str, Any] | None:
    """A message, or None for one that is not a JSON object (never from our own server)."""
    try:
        message = json.loads(data)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


# ---------------------------------------------------------------------------- the server's side


class WarmUnavailable(Exception):
    """No session can be forked now: the caller starts the app the cold way."""


class WarmChild:
    """A session forked by the warm process, as much like ``asyncio.subprocess.Process`` as
    the server uses: ``pid``, ``returncode``, ``wait()``. The warm process reaps it and says
    its status; if the warm process dies first, the child lives on (re-parented), is
    watched through a pidfd, and its status is unknown (``returncode`` ``None`` after ``wait``
    with ``lost`` set)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        #: The warm process went away first: the status could not be learnt.
        self.lost = False
        self._ended = asyncio.Event()
        self._pidfd: int | None = None

    def ended(self, status: int | None) -> None:
        if self._ended.is_set():
            return
        self.returncode = status
        self.lost = status is None
        self._ended.set()
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    async def wait(self) -> int | None:
        await self._ended.wait()
        return self.returncode

    def orphaned(self) -> None:
        """The warm process is gone: learn of the end from the kernel instead."""
        if self._ended.is_set():
            return
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except OSError:  # already ended and reaped by whoever adopted it
            self.ended(None)
            return
        asyncio.get_running_loop().add_reader(self._pidfd, self.ended, None)


class WarmProcess:
    """The server's handle on the warm process: started with the server, restarted when it
    dies (at most once per ``RESTART_PAUSE`` seconds after a failure), asked for sessions."""

    #: How long a session waits for a warm process that is (re)starting before going cold.
    READY_WAIT = 10.0
    RESTART_PAUSE = 5.0

    def __init__(self, database_url: str, env: Mapping[str, str], log: logging.Logger) -> None:
        self.database_url = database_url
        self._env = dict(env)
        self._log = log
        self.pid: int | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._sock: socket.socket | None = None
        self._ready = asyncio.Event()
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._children: dict[int, WarmChild] = {}
        self._early: dict[int, int] = {}
        self._next_id = 0
        self._closing = False
        self._starting: asyncio.Task[None] | None = None
        self._failures = 0

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def start(self) -> None:
        """Start it in the background: the server listens meanwhile (early sessions wait)."""
        if self._starting is None or self._starting.done():
            self._starting = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        if self._failures:
            await asyncio.sleep(self.RESTART_PAUSE)
        if self._closing:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "deskterm.cli.warm",
                str(theirs.fileno()),
                *(["--plain"] if self._failures else []),
                pass_fds=[theirs.fileno()],
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                env=self._env,
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            self._failures += 1
            self._log.error("the warm process could not start: %s; sessions start cold", exc)
            return
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        asyncio.get_running_loop().add_reader(ours, self._receive)

    def _receive(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            data = sock.recv(MAX_MESSAGE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._lost()
            return
        message = decode(data)
        if message is None:
            return
        if "ready" in message:
            self.pid = int(message["ready"])
            self._failures = 0
            self._ready.set()
            self._log.info("warm process ready (pid %s): sessions are forked from it", self.pid)
        elif "failed" in message:
            self._log.error(
                "the warm process could not warm up: %s; sessions start cold", message["failed"]
            )
        elif "exited" in message:
            pid, status = int(message["exited"]), int(message["status"])
            child = self._children.pop(pid, None)
            if child is not None:
                child.ended(status)
            else:  # reaped before its pid reached us: kept for its session to find
                self._early[pid] = status
        elif "id" in message:
            future = self._pending.pop(int(message["id"]), None)
            if future is not None and not future.done():
                if "pid" in message:
                    future.set_result(int(message["pid"]))
                else:
                    future.set_exception(WarmUnavailable(str(message.get("error"))))

    def _lost(self) -> None:
        """The warm process ended (or closed its end): tell everyone waiting, restart it."""
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock)
            self._sock.close()
            self._sock = None
        was_ready = self._ready.is_set()
        self._ready.clear()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(WarmUnavailable("the warm process ended"))
        self._pending.clear()
        for child in self._children.values():
            child.orphaned()
        self._children.clear()
        process = self._process
        if process is not None:
            asyncio.get_running_loop().create_task(self._restart_after(process, was_ready))

    async def _restart_after(self, process: asyncio.subprocess.Process, was_ready: bool) -> None:
        status = await process.wait()
        if self._closing:
            return
        if not was_ready:
            self._failures += 1
        how = f"exit {status}" if status >= 0 else f"signal {signal.Signals(-status).name}"
        self._log.warning(
            "the warm process (pid %s) ended (%s); starting another", process.pid, how
        )
        self.start()

    async def spawn(self, terminal: int, argv: list[str], env: Mapping[str, str]) -> WarmChild:
        """A session forked on ``terminal`` (the pseudo-terminal's slave end; the caller
        still closes its own copy), or ``WarmUnavailable``."""
        if not self._ready.is_set():
            if self._closing or self._starting is None:
                raise WarmUnavailable("there is no warm process")
            try:
                await asyncio.wait_for(self._ready.wait(), self.READY_WAIT)
            except TimeoutError:
                raise WarmUnavailable("the warm process is not ready") from None
        sock = self._sock
        assert sock is not None
        self._next_id += 1
        request = self._next_id
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending[request] = future
        try:
            send(sock, {"id": request, "argv": argv, "env": dict(env)}, [terminal])
        except OSError as exc:
            self._pending.pop(request, None)
            raise WarmUnavailable(f"cannot reach the warm process: {exc}") from None
        pid = await future
        child = WarmChild(pid)
        if pid in self._early:
            child.ended(self._early.pop(pid))
        else:
            self._children[pid] = child
        return child

    async def close(self) -> None:
        """Stop it: closing our end is its signal to exit; its sessions are the server's to
        hang up (they are already, when this is called)."""
        self._closing = True
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock)
            self._sock.close()
            self._sock = None
        self._ready.clear()
        process = self._process
        if process is not None and process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                process.kill()
                await process.wait()
