"""The real app, started as the analyst starts it, in a pseudo-terminal of its own.

The whole process is timed: interpreter, imports, opening the desk, the first queue page on
screen. The app says when a queue page is painted by appending a line to the file named by
``DESKTERM_BENCH_MARK`` (``tui/screens/queue.py``); the line carries the app's own
``time.monotonic()``, a clock every process of the machine shares, so polling the file adds
nothing to what is measured. Keys are then typed into the terminal and timed to the next
painted page, and ``ctrl+q`` ends the app; its peak RSS comes from ``wait4``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

MARK_ENV = "DESKTERM_BENCH_MARK"
QUIT = b"\x11"  # ctrl+q
NEXT_PAGE = b"]"


class StartFailed(RuntimeError):
    """The app did not paint its queue; the message ends with what it last showed."""


@dataclass(frozen=True)
class StartSample:
    #: From launching the process to the first queue page painted, in seconds.
    first_paint: float
    #: Peak resident memory of the app process, in bytes.
    peak_rss: int
    #: Key-to-painted-page times in seconds, by what the key does.
    keys: dict[str, list[float]] = field(default_factory=dict)


def command(database_url: str, login: str) -> list[str]:
    """``deskterm`` from the running environment, as an analyst would type it."""
    script = Path(sys.executable).with_name("deskterm")
    found = str(script) if script.exists() else shutil.which("deskterm")
    head = [found] if found else [sys.executable, "-c", "from deskterm.cli import main; main()"]
    return [*head, "--db", database_url, "--as", login]


def start_once(
    database_url: str,
    login: str,
    *,
    keys: Sequence[tuple[str, bytes]] = (),
    size: tuple[int, int] = (120, 40),
    timeout: float = 60.0,
) -> StartSample:
    """Start the app, wait for its first painted queue, type ``keys``, quit, and measure."""
    with tempfile.TemporaryDirectory(prefix="deskterm-bench-") as folder:
        mark = Path(folder) / "painted"
        master, slave = os.openpty()
        columns, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {**os.environ, MARK_ENV: str(mark), "TERM": "xterm-256color"}
        env.pop("TEXTUAL", None)  # no devtools, no debug console
        screen: deque[bytes] = deque(maxlen=64)
        started = time.monotonic()
        process = subprocess.Popen(
            command(database_url, login),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        reader = threading.Thread(target=_drain, args=(master, screen), daemon=True)
        reader.start()
        try:
            first = _wait_for_mark(mark, 1, process, screen, timeout)
            timed: dict[str, list[float]] = {}
            for label, key in keys:
                marks = _marks(mark)
                if key == NEXT_PAGE and marks[-1].last:
                    continue  # the key would do nothing on the last page
                seen = len(marks)
                pressed = time.monotonic()
                os.write(master, key)
                painted = _wait_for_mark(mark, seen + 1, process, screen, timeout)
                timed.setdefault(label, []).append(painted - pressed)
            os.write(master, QUIT)
            usage = _reap(process, timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(process.pid, 0)
            process.returncode = -9
            raise
        finally:
            reader.join(timeout=5)
            with contextlib.suppress(OSError):
                os.close(master)
    # ru_maxrss is in kibibytes on Linux.
    return StartSample(first_paint=first - started, peak_rss=usage.ru_maxrss * 1024, keys=timed)


def _drain(master: int, screen: deque[bytes]) -> None:
    """Read what the app writes, or its writes would block once the terminal buffer fills."""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the app closed the terminal
            return
        if not chunk:
            return
        screen.append(chunk)


@dataclass(frozen=True)
class _Mark:
    at: float
    view: str
    last: bool


def _marks(path: Path) -> list[_Mark]:
    """The painted pages so far: ``<monotonic> <view> <rows> more|last`` per line."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    marks = []
    for line in lines:
        parts = line.split()
        if len(parts) == 4:  # a line still being written is read again next time
            marks.append(_Mark(at=float(parts[0]), view=parts[1], last=parts[3] == "last"))
    return marks


def _wait_for_mark(
    path: Path, count: int, process: subprocess.Popen[bytes], screen: deque[bytes], timeout: float
) -> float:
    deadline = time.monotonic() + timeout
    while True:
        marks = _marks(path)
        if len(marks) >= count:
            return marks[count - 1].at
        if process.poll() is not None:
            raise StartFailed(f"the app ended (exit {process.returncode}): {_tail(screen)}")
        if time.monotonic() > deadline:
            raise StartFailed(f"no queue painted within {timeout:.0f}s: {_tail(screen)}")
        time.sleep(0.002)


def _reap(process: subprocess.Popen[bytes], timeout: float) -> resource.struct_rusage:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if time.monotonic() > deadline:
            raise StartFailed("the app did not quit on ctrl+q")
        time.sleep(0.01)


def _tail(screen: deque[bytes]) -> str:
    """The last readable words the app put on its terminal, without escape sequences."""
    import re

    text = b"".join(screen).decode("utf-8", "replace")
    text = re.sub(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[\]P_^][^\x07\x1b]*(\x07|\x1b\\)?", " ", text)
    words = " ".join(text.split())
    return words[-300:] or "nothing on screen"
