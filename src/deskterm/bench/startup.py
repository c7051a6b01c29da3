"""The real app, started as the analyst starts it, in a pseudo-terminal of its own.

The whole process is timed: interpreter, imports, opening the desk, the first queue page on
screen. The app says when a screen is painted by appending a line to the file named by
``DESKTERM_BENCH_MARK`` (``tui/benchmark.py``: ``<monotonic> <what> [details]``); the line
carries the app's own ``time.monotonic()``, a clock every process of the machine shares, so
polling the file adds nothing to what is measured. Keys are typed into the terminal as a
terminal sends them and each is timed from the moment it is written to the mark of what it
brings on screen. A mark that does not come within ``KEY_TIMEOUT`` leaves its row without that
sample and says why; the script goes on, since the key most likely did its work unmarked.

Peak memory is the app's own: ``VmHWM`` in ``/proc/<pid>/status``, read after the last key and
before ``ctrl+q``. ``wait4``'s ``ru_maxrss`` would not do: a forked child's peak counts the
pages it shared with the bench before ``exec``, so a bench that had just built a desk
reported its own size. ``VmHWM`` belongs to the address space ``exec`` made, nothing before.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MARK_ENV = "DESKTERM_BENCH_MARK"
#: How long one key may take to bring its mark; beyond it the row notes the key as unmarked.
KEY_TIMEOUT = 10.0
NO_MARK = "no mark: the app did not say when it painted"

# Keys as an xterm sends them.
QUIT = b"\x11"  # ctrl+q
NEW_CALL = b"\x0e"  # ctrl+n
SAVE = b"\x13"  # ctrl+s (Textual's raw mode turns off XON/XOFF, so it reaches the app)
ENTER = b"\r"
TAB = b"\t"
DASHBOARD = b"\x1b[12~"  # f2
URGENCY_LOW = b"\x1b[18~"  # f7
IMPACT_LOW = b"\x1b[18;2~"  # shift+f7
NEXT_PAGE = b"]"
#: A lone ESC, as xterm, tmux and most terminals send escape. Textual cannot tell it from the
#: start of a sequence until ``ESCDELAY`` (100 ms) has passed with nothing after it, and its
#: input thread looks again only every 100 ms: that wait is part of what the analyst feels.
ESCAPE = b"\x1b"
#: Escape as a terminal speaking the kitty keyboard protocol sends it: no wait to tell it
#: apart, so its time is the app's alone.
ESCAPE_KITTY = b"\x1b[27u"

# The rows the app's runs give (``run.py`` holds their goals).
SWITCH_VIEW = "key to painted page: switch view"
NEXT = "key to painted page: next page"
FIRST_PAINT = "start to first painted queue"
MEMORY = "peak memory (RSS)"
FIRST_NEW_CALL = "ctrl+n, first time in a session"
SAVED = "key to saved intake"
DASHBOARD_PAINT = "f2 to first paint of the dashboard"
ESCAPE_TO_QUEUE = "escape from a ticket to the queue"
#: Not a row: the same escape sent unambiguously, shown in the escape row's note.
ESCAPE_KITTY_LABEL = "escape (kitty protocol) from a ticket to the queue"
#: Not a row: from the first painted queue to the app's ``warm`` mark, noted beside the
#: first ctrl+n and f2.
WARM = "screens built ahead"

#: Keys typed into the queue, each timed to the next painted page.
QUEUE_KEYS: tuple[tuple[str, bytes], ...] = (
    (SWITCH_VIEW, b"2"),
    (NEXT, NEXT_PAGE),
    (NEXT, NEXT_PAGE),
    (SWITCH_VIEW, b"3"),
    (SWITCH_VIEW, b"1"),
)
#: The call the bench logs: low urgency and impact, so it sorts below the pages the queue
#: keys time and the desk hardly drifts from run to run.
CALL_SUBJECT = "Bench call: printer jams on tray 2"


class StartFailed(RuntimeError):
    """The app did not paint its queue; the message ends with what it last showed."""


@dataclass(frozen=True)
class Mark:
    """One line of the mark file: when the app painted ``what``, and its details."""

    at: float
    what: str
    details: tuple[str, ...] = ()

    @property
    def view(self) -> str:
        return self.details[0] if self.what == "queue" and self.details else ""

    @property
    def rows(self) -> int:
        if self.what != "queue" or len(self.details) < 2 or not self.details[1].isdigit():
            return 0
        return int(self.details[1])

    @property
    def last(self) -> bool:
        """A queue page with no page after it."""
        return self.what == "queue" and self.details[2:3] == ("last",)


def parse_marks(text: str) -> list[Mark]:
    """The marks in ``text``; a last line without its newline is still being written."""
    lines = text.split("\n")[:-1]
    marks = []
    for line in lines:
        parts = line.split()
        if len(parts) < 2:
            continue
        try:
            at = float(parts[0])
        except ValueError:
            continue
        marks.append(Mark(at=at, what=parts[1], details=tuple(parts[2:])))
    return marks


def peak_memory(status: str) -> int | None:
    """``VmHWM`` of a ``/proc/<pid>/status`` text, in bytes (the kernel writes kB)."""
    found = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


@dataclass
class StartSample:
    #: From launching the process to the first queue page painted, in seconds.
    first_paint: float
    #: The app's own peak resident memory in bytes (``VmHWM``); None where /proc has none.
    peak_rss: int | None
    #: Key-to-mark times in seconds, by row.
    keys: dict[str, list[float]] = field(default_factory=dict)
    #: Why a key of a row has no time, one reason per key.
    missing: dict[str, list[str]] = field(default_factory=dict)
    #: Why the app ended before the script did; the rows it did not reach have no time.
    failed: str = ""


class Running:
    """The app in its terminal, for a script: type keys, time them to marks."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        master: int,
        mark_file: Path,
        screen: _Screen,
        key_timeout: float,
        unmarked: set[str] | None = None,
    ) -> None:
        self.process = process
        self.master = master
        self.mark_file = mark_file
        self.screen = screen
        self.key_timeout = key_timeout
        #: Marks that did not come when waited for: the app does not write them, so later
        #: waits for them (in this start and the next) settle instead of timing out again.
        self.unmarked = set() if unmarked is None else unmarked
        self.keys: dict[str, list[float]] = {}
        self.missing: dict[str, list[str]] = {}

    def marks(self) -> list[Mark]:
        try:
            return parse_marks(self.mark_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []

    def last(self, what: str) -> Mark | None:
        return next((m for m in reversed(self.marks()) if m.what == what), None)

    def press(self, key: bytes) -> None:
        os.write(self.master, key)

    def wait(
        self,
        what: str,
        *,
        after: int,
        not_before: float = 0.0,
        timeout: float | None = None,
    ) -> Mark | None:
        """The first ``what`` mark past the first ``after`` marks, painted at or after
        ``not_before``; None when none comes within ``timeout``. Raises if the app ended."""
        if timeout is None:
            timeout = self.key_timeout if what not in self.unmarked else 0.0
        deadline = time.monotonic() + timeout
        while True:
            for mark in self.marks()[after:]:
                if mark.what == what and mark.at >= not_before:
                    self.unmarked.discard(what)
                    return mark
            if self.process.poll() is not None:
                raise StartFailed(
                    f"the app ended (exit {self.process.returncode}): {self.screen.tail()}"
                )
            if time.monotonic() > deadline:
                if not any(mark.what == what for mark in self.marks()):
                    self.unmarked.add(what)  # never written, not merely late
                return None
            time.sleep(0.002)

    def time(self, label: str, key: bytes, what: str) -> float | None:
        """Type ``key`` and note the seconds to the ``what`` it brings, under ``label``."""
        seen = len(self.marks())
        pressed = time.monotonic()
        self.press(key)
        # A mark from before the key (a page reloaded by a live refresh) is not its answer.
        mark = self.wait(what, after=seen, not_before=pressed)
        if mark is None:
            self.missing.setdefault(label, []).append(NO_MARK)
            self.settle()  # the key did its work unmarked, most likely: let it finish
            return None
        self.keys.setdefault(label, []).append(mark.at - pressed)
        return mark.at - pressed

    def step(self, key: bytes, what: str | None = None) -> None:
        """Type ``key``, untimed: wait for its ``what`` mark, or for the screen to go quiet."""
        seen = len(self.marks())
        self.press(key)
        if what is None or self.wait(what, after=seen) is None:
            self.settle()

    def settle(self, quiet: float = 0.15, most: float = 3.0) -> None:
        """Wait until the app has written nothing for ``quiet`` seconds (a blinking cursor
        writes twice a second), or ``most`` seconds have passed."""
        started = time.monotonic()
        while time.monotonic() - started < most:
            if time.monotonic() - max(self.screen.last_output, started) >= quiet:
                return
            time.sleep(0.01)

    def note_missing(self, label: str, reason: str) -> None:
        self.missing.setdefault(label, []).append(reason)


Script = Callable[[Running], None]


def analyst_script(run: Running) -> None:
    """What the analyst at the phone does: queue keys, the session's first call, a ticket."""
    for label, key in QUEUE_KEYS:
        shown = run.last("queue")
        if key == NEXT_PAGE and shown is not None and shown.last:
            continue  # the key would do nothing on the last page
        run.time(label, key, "queue")
    log_a_call(run)
    for label, escape in ((ESCAPE_TO_QUEUE, ESCAPE), (ESCAPE_KITTY_LABEL, ESCAPE_KITTY)):
        shown = run.last("queue")
        if shown is not None and not shown.rows:
            run.note_missing(label, f"the {shown.view} view was empty: no ticket to open")
            continue
        # A reload still on its way (the call just saved changed the queue) would paint
        # under the ticket and be taken for escape's answer: let it land first.
        run.settle()
        run.step(ENTER, "ticket")
        # The analyst reads the ticket before leaving it: its story and who else has it
        # open are still being read for a moment after its first paint.
        run.settle()
        run.time(label, escape, "queue")


def log_a_call(run: Running) -> None:
    """The session's first ``ctrl+n``, then an anonymous call typed and saved.

    The cursor starts in Caller; with no matches shown, tab goes on to Subject. Tab moves the
    focus only once its key has bubbled up to the screen, after the keys typed behind it
    were handed to the old field: so the screen settles before the subject is typed. With
    nobody picked as caller ``ctrl+s`` asks first, and ``a`` ("anonymous") saves: ``a`` is
    the key timed to the saved mark. The app then shows the new ticket, and escape returns
    to the queue.
    """
    wait_until_warm(run)
    run.time(FIRST_NEW_CALL, NEW_CALL, "intake")
    run.settle()
    run.step(TAB)
    run.step(CALL_SUBJECT.encode() + URGENCY_LOW + IMPACT_LOW)
    run.step(SAVE)
    seen = len(run.marks())
    run.time(SAVED, b"a", "saved")
    # Saved, the app shows the new ticket; unsaved, the call is still on screen. Escape
    # leaves either for the queue.
    if run.wait("ticket", after=seen) is None:
        run.settle()
    run.step(ESCAPE, "queue")


def supervisor_script(run: Running) -> None:
    """A supervisor's ``f2``, timed to the dashboard's first paint; its figures then fill in
    before the peak memory is read."""
    wait_until_warm(run)
    run.time(DASHBOARD_PAINT, DASHBOARD, "dashboard")
    run.settle(quiet=0.5, most=10.0)


def wait_until_warm(run: Running) -> None:
    """The phone rings a moment after the analyst has the queue: the app builds the new-call
    screen (and a supervisor's dashboard) in the first moments after its first paint, and
    says ``warm`` when they are ready. The first ctrl+n or f2 is typed then, and the time
    from the first paint to ``warm`` is kept beside the row: a key typed sooner waits for
    the rest of that build."""
    first = next((m for m in run.marks() if m.what == "queue"), None)
    warm = run.wait("warm", after=0)
    if warm is not None and first is not None:
        run.keys.setdefault(WARM, []).append(warm.at - first.at)


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
    script: Script = analyst_script,
    size: tuple[int, int] = (120, 40),
    timeout: float = 60.0,
    key_timeout: float = KEY_TIMEOUT,
    unmarked: set[str] | None = None,
) -> StartSample:
    """Start the app, wait for its first painted queue, run ``script``, read its peak memory,
    quit. Raises ``StartFailed`` when the app paints no queue; when it ends during the
    script, the sample keeps what was timed and says why in ``failed``.

    ``unmarked``: the marks found missing so far, shared by the starts of one bench run (and
    added to), so that a mark the app does not write is waited for once, not at every key.
    """
    with tempfile.TemporaryDirectory(prefix="deskterm-bench-") as folder:
        mark_file = Path(folder) / "painted"
        master, slave = os.openpty()
        columns, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {
            **os.environ,
            MARK_ENV: str(mark_file),
            "TERM": "xterm-256color",
            # A data folder of its own: no call draft left by an earlier run is resumed.
            "XDG_DATA_HOME": folder,
        }
        env.pop("TEXTUAL", None)  # no devtools, no debug console
        screen = _Screen()
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
        run = Running(process, master, mark_file, screen, key_timeout, unmarked)
        try:
            first = run.wait("queue", after=0, timeout=timeout)
            if first is None:
                raise StartFailed(
                    f"no queue painted within {timeout:.0f}s ({NO_MARK}): {screen.tail()}"
                )
            failed = ""
            peak = None
            try:
                script(run)
            except StartFailed as exc:
                failed = str(exc)  # what was timed before the app ended still counts
            else:
                peak = _peak_of(process.pid)
                run.press(QUIT)
                _reap(process, timeout=10.0)
        except BaseException:
            _kill(process)
            raise
        finally:
            reader.join(timeout=5)
            with contextlib.suppress(OSError):
                os.close(master)
    return StartSample(
        first_paint=first.at - started,
        peak_rss=peak,
        keys=run.keys,
        missing=run.missing,
        failed=failed,
    )


def time_command(
    argv: Sequence[str], *, runs: int, warmup: int = 1, timeout: float = 60.0
) -> list[float]:
    """Wall seconds of ``argv`` as a whole process, stdout to a pipe, ``runs`` times after
    ``warmup`` untimed runs (the page cache, compiled bytecode). Raises ``RuntimeError``
    with the command's last words when it fails."""
    env = {**os.environ}
    env.pop("TEXTUAL", None)
    times = []
    for number in range(warmup + runs):
        started = time.perf_counter()
        done = subprocess.run(
            list(argv), capture_output=True, env=env, timeout=timeout, check=False
        )
        elapsed = time.perf_counter() - started
        if done.returncode:
            said = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise RuntimeError(f"exit {done.returncode}: {said[-1] if said else 'no message'}")
        if number >= warmup:
            times.append(elapsed)
    return times


class _Screen:
    """What the app last wrote, and when."""

    def __init__(self) -> None:
        self.chunks: deque[bytes] = deque(maxlen=64)
        self.last_output = 0.0

    def tail(self) -> str:
        """The last readable words the app put on its terminal, without escape sequences."""
        text = b"".join(self.chunks).decode("utf-8", "replace")
        text = re.sub(
            r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[\]P_^][^\x07\x1b]*(\x07|\x1b\\)?", " ", text
        )
        words = " ".join(text.split())
        # A Rich traceback ends in a box; the exception's own line follows it.
        words = words.rpartition("╯")[2].strip() or words
        return words[-300:] or "nothing on screen"


def _drain(master: int, screen: _Screen) -> None:
    """Read what the app writes, or its writes would block once the terminal buffer fills."""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the app closed the terminal
            return
        if not chunk:
            return
        screen.chunks.append(chunk)
        screen.last_output = time.monotonic()


def _peak_of(pid: int) -> int | None:
    try:
        return peak_memory(Path(f"/proc/{pid}/status").read_text(encoding="utf-8"))
    except OSError:
        return None


def _reap(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """Wait for the app to quit; one that does not (a dialog asked something) is killed:
    its figures are taken already."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 9)
    with contextlib.suppress(ChildProcessError, subprocess.TimeoutExpired):
        process.wait(timeout=10)
