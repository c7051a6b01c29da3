"""``deskterm bench ssh``: what an SSH session costs, measured with the real OpenSSH client.

The bench makes a desk of its own (a small demo in a temporary folder, or the database given),
starts ``deskterm serve ssh`` on a free port with a temporary host key, registers a key for
its analyst (``bench``) and opens N sessions with ``ssh -tt``, one after another, each on a
pseudo-terminal of the bench's own, all kept open. For each: the time from starting ``ssh``
to the queue painted on its terminal (the view tabs and a ticket row in the output), and the
server's memory: the proportional set size (``Pss`` of ``/proc/PID/smaps_rollup``) summed
over the server and every process under it, before the first session and after each. PSS
divides a page shared by several processes among them, so the sum grows by what the sessions
cost of their own, not by what they share with the warm process. Then every session quits
(ctrl+q) and the bench checks that each app ended and the server stops cleanly.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskterm.domain.errors import DeskError

#: The goals of issue 17: a session paints within this and costs at most this of its own.
PAINT_GOAL_MS = 300.0
MEMORY_GOAL_MB = 40.0
LOGIN = "bench"
#: The demo desk the bench makes when it is given none: small, the queue is what matters.
DEMO_TICKETS = 500
SIZE = (100, 30)
#: How long a session may take to paint, and the server to start, before the bench gives up.
PATIENCE = 60.0
#: After a paint, output quiet this long means the app has settled (for the memory reading).
SETTLE_QUIET = 0.5
SETTLE_MAX = 5.0

_ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[\]P_^][^\x07\x1b]*(?:\x07|\x1b\\)?")
#: The queue screen's view tabs, and a ticket reference in its table.
_TABS = re.compile(rb"1 Mine")
_ROW = re.compile(rb"\b[A-Z]{2,}-\d{4,}\b")


class BenchFailed(DeskError):
    """The bench cannot run or a session did not paint."""

    exit_code = 6


@dataclass
class SessionSample:
    number: int
    paint_ms: float
    #: The server tree's total PSS after this session painted and settled, in MB.
    memory_mb: float
    #: The app's process (found under the server).
    pid: int | None


@dataclass
class SshBenchResult:
    where: str
    warm: bool
    baseline_mb: float
    samples: list[SessionSample] = field(default_factory=list)
    #: The server tree's total PSS with every session open and settled, in MB.
    final_mb: float = 0.0
    all_ended: bool = False
    server_exit: int | None = None
    load_average: tuple[float, float] = (0.0, 0.0)

    @property
    def paint_p50(self) -> float:
        return statistics.median(s.paint_ms for s in self.samples)

    @property
    def paint_max(self) -> float:
        return max(s.paint_ms for s in self.samples)

    @property
    def memory_per_session(self) -> float:
        return (self.final_mb - self.baseline_mb) / len(self.samples)

    @property
    def passed(self) -> bool:
        return (
            self.paint_max <= PAINT_GOAL_MS
            and self.memory_per_session <= MEMORY_GOAL_MB
            and self.all_ended
            and self.server_exit == 0
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.where,
            "sessions": len(self.samples),
            "warm": self.warm,
            "per_session": [
                {
                    "session": s.number,
                    "paint_ms": round(s.paint_ms, 1),
                    "server_memory_mb": round(s.memory_mb, 1),
                    "pid": s.pid,
                }
                for s in self.samples
            ],
            "paint_ms": {"p50": round(self.paint_p50, 1), "max": round(self.paint_max, 1)},
            "baseline_memory_mb": round(self.baseline_mb, 1),
            "final_memory_mb": round(self.final_mb, 1),
            "memory_mb_per_session": round(self.memory_per_session, 1),
            "goals": {"paint_ms": PAINT_GOAL_MS, "memory_mb_per_session": MEMORY_GOAL_MB},
            "all_ended": self.all_ended,
            "server_exit": self.server_exit,
            "passed": self.passed,
            "load_average": {"before": self.load_average[0], "after": self.load_average[1]},
        }


# ---------------------------------------------------------------------------- memory


def pss_kb(pid: int) -> int:
    """``Pss`` of ``/proc/PID/smaps_rollup`` in kB; 0 for a process that is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    found = re.search(r"^Pss:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def descendants(root: int) -> list[int]:
    """``root`` and every process under it."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_mb(root: int) -> float:
    return sum(pss_kb(pid) for pid in descendants(root)) / 1024


# ---------------------------------------------------------------------------- the run


def _prepare_desk(url: str) -> str:
    """The desk ready for the bench: a demo on an empty database (``bench`` its agent); a
    desk an earlier ``bench ssh`` made is reused; any other desk is refused."""
    from deskterm.desk.analysts import desk_is_empty, list_analysts
    from deskterm.desk.context import Desk
    from deskterm.desk.demo import build_demo
    from deskterm.desk.setup import open_database

    db = open_database(url)
    try:
        where = db.describe()
        if desk_is_empty(db):
            build_demo(db, tickets=DEMO_TICKETS, me=LOGIN)
        elif LOGIN not in {a.login for a in Desk(db, None).read(list_analysts)}:
            raise BenchFailed(
                f"{where} is a desk without the analyst {LOGIN!r}: give the ssh bench an empty "
                "database, or none (it then makes its own)"
            )
    finally:
        db.dispose()
    return where


def _add_key(url: str, public: str) -> str:
    from deskterm.desk.context import Desk
    from deskterm.desk.keys import add_keys
    from deskterm.desk.setup import open_database

    db = open_database(url)
    try:
        (key,) = Desk(db, LOGIN).write(add_keys, login=LOGIN, text=public, comment="bench ssh")
        return key.fingerprint
    finally:
        db.dispose()


def _remove_key(url: str, fingerprint: str) -> None:
    from deskterm.desk.context import Desk
    from deskterm.desk.keys import remove_key
    from deskterm.desk.setup import open_database

    db = open_database(url)
    try:
        Desk(db, LOGIN).write(remove_key, login=LOGIN, key=fingerprint)
    finally:
        db.dispose()


class _Server:
    """``deskterm serve ssh`` as a process of its own, its log read as it comes."""

    def __init__(self, url: str, host_key: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "deskterm", "--db", url, "serve", "ssh", "--port", "0"]
            + ["--host-key", str(host_key)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        assert self.process.stderr is not None
        self._err = self.process.stderr.fileno()
        os.set_blocking(self._err, False)
        self._partial = b""
        self.lines: list[str] = []

    def read(self, timeout: float) -> None:
        ready, _, _ = select.select([self._err], [], [], timeout)
        if not ready:
            return
        with contextlib.suppress(BlockingIOError):
            data = os.read(self._err, 65536)
            if not data and self.process.poll() is not None:
                raise BenchFailed(f"the SSH server ended: {' / '.join(self.lines[-3:])}")
            self._partial += data
            *whole, self._partial = self._partial.split(b"\n")
            self.lines += [line.decode("utf-8", "replace") for line in whole]

    def wait_for(self, *texts: str, timeout: float = PATIENCE) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if any(text in line for text in texts):
                    return line
            if time.monotonic() > deadline:
                raise BenchFailed(f"the SSH server did not say {texts[0]!r}: {self.lines[-3:]}")
            self.read(0.1)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(PATIENCE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return -9


@dataclass
class _Session:
    process: subprocess.Popen[bytes]
    master: int
    output: bytearray


def _open_session(port: int, key: Path, env: dict[str, str]) -> _Session:
    master, slave = os.openpty()
    columns, rows = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    argv = ["ssh", "-tt", "-F", "/dev/null", "-i", str(key), "-p", str(port)]
    for option in (
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "IdentitiesOnly=yes",
        "BatchMode=yes",
        "LogLevel=ERROR",
    ):
        argv += ["-o", option]
    process = subprocess.Popen(
        [*argv, f"{LOGIN}@127.0.0.1"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    os.set_blocking(master, False)
    return _Session(process, master, bytearray())


def _drain(session: _Session, timeout: float) -> bool:
    """Read what arrived within ``timeout``; False when nothing did."""
    ready, _, _ = select.select([session.master], [], [], timeout)
    if not ready:
        return False
    try:
        data = os.read(session.master, 65536)
    except (BlockingIOError, OSError):
        return False
    session.output += data
    return bool(data)


def _painted(output: bytes | bytearray) -> bool:
    text = _ESCAPES.sub(b" ", output)
    return bool(_TABS.search(text) and _ROW.search(text))


def _drain_all(sessions: list[_Session]) -> None:
    """Keep every open session's terminal read, or an app blocks on a full one."""
    for session in sessions:
        while _drain(session, 0):
            pass
        del session.output[:-4096]


def run_ssh_bench(
    url: str | None, *, sessions: int, report: Callable[[str], None] | None = None
) -> SshBenchResult:
    """Open ``sessions`` sessions with OpenSSH's ``ssh`` one after another, timing each to its
    painted queue and reading the server's memory; then close them all."""
    say = report or (lambda _message: None)
    if shutil.which("ssh") is None:
        raise BenchFailed("the ssh bench needs OpenSSH's client `ssh` on the PATH")
    import asyncssh

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="deskterm-bench-ssh-") as folder:
        temp = Path(folder)
        desk_url = url or f"sqlite:///{temp / 'desk.db'}"
        say("preparing the desk")
        where = _prepare_desk(desk_url)
        key = asyncssh.generate_private_key("ssh-ed25519")
        key_path = temp / "id_ed25519"
        key_path.write_bytes(key.export_private_key("openssh"))
        key_path.chmod(0o600)
        fingerprint = _add_key(desk_url, key.export_public_key("openssh").decode())
        env = {name: value for name, value in os.environ.items() if name != "TEXTUAL"}
        # A data folder of its own: no call draft of a real analyst is resumed.
        env["XDG_DATA_HOME"] = str(temp / "data")
        env["TERM"] = "xterm-256color"
        server = _Server(desk_url, temp / "host_key", env)
        opened: list[_Session] = []
        try:
            listening = server.wait_for("listening on")
            port = int(listening.split(" port ")[1].split()[0])
            said = server.wait_for("warm process ready", "sessions start cold")
            warm = "warm process ready" in said
            say(f"server on port {port} ({'warm' if warm else 'cold starts'})")
            time.sleep(0.5)  # the server's own start settles
            root = server.process.pid
            result = SshBenchResult(where=where, warm=warm, baseline_mb=tree_mb(root))
            known = set(descendants(root))
            for number in range(1, sessions + 1):
                started = time.monotonic()
                session = _open_session(port, key_path, env)
                opened.append(session)
                while not _painted(session.output):
                    if session.process.poll() is not None:
                        tail = _ESCAPES.sub(b" ", bytes(session.output[-300:]))
                        raise BenchFailed(
                            f"session {number}: ssh ended with {session.process.returncode}: "
                            f"{tail.decode('utf-8', 'replace').strip()}"
                        )
                    if time.monotonic() - started > PATIENCE:
                        raise BenchFailed(f"session {number}: no queue within {PATIENCE:.0f}s")
                    _drain(session, 0.05)
                    _drain_all(opened[:-1])
                paint_ms = (time.monotonic() - started) * 1000
                _settle(opened)
                now = set(descendants(root))
                new = sorted(now - known)
                known |= now
                memory = tree_mb(root)
                result.samples.append(
                    SessionSample(number, paint_ms, memory, new[0] if new else None)
                )
                say(f"session {number}: painted in {paint_ms:.0f} ms, server {memory:.0f} MB")
                server.read(0)
            _settle(opened)
            result.final_mb = tree_mb(root)
            apps = [s.pid for s in result.samples if s.pid is not None]
            say("closing the sessions")
            for session in opened:
                with contextlib.suppress(OSError):
                    os.write(session.master, b"\x11")  # ctrl+q
            deadline = time.monotonic() + PATIENCE
            for session in opened:
                while session.process.poll() is None and time.monotonic() < deadline:
                    _drain_all(opened)
                    time.sleep(0.05)
            while any(_alive(pid) for pid in apps) and time.monotonic() < deadline:
                time.sleep(0.05)
            result.all_ended = len(apps) == sessions and not any(_alive(pid) for pid in apps)
            result.all_ended &= all(s.process.returncode == 0 for s in opened)
        finally:
            for session in opened:
                if session.process.poll() is None:
                    session.process.kill()
                    session.process.wait()
                with contextlib.suppress(OSError):
                    os.close(session.master)
            status = server.stop()
            with contextlib.suppress(Exception):
                _remove_key(desk_url, fingerprint)
        result.server_exit = status
    result.load_average = (load_before, os.getloadavg()[0])
    return result


def _settle(sessions: list[_Session]) -> None:
    """Until no terminal has had output for ``SETTLE_QUIET`` (the app is done warming up)."""
    deadline = time.monotonic() + SETTLE_MAX
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if any(_drain(s, 0) for s in sessions):
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= SETTLE_QUIET:
            return
        time.sleep(0.05)
        for session in sessions:
            del session.output[:-4096]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
