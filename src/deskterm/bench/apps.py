"""``deskterm bench load --apps N``: N open, idle apps beside the working analysts.

An open app costs the server connections even when nobody touches it: its engine's pool and
its share of a ``LISTEN`` connection. Issue 17 asks that 200 of them fit a stock PostgreSQL
(``max_connections = 100``) while 20 analysts work, nobody refused. So this holds N
app-equivalent sessions open for the whole load run, each with its own ``Database`` (the
engine as the app makes it, pool settings from the config) and a ``Listener`` (desk.live),
doing what an app on its queue screen does: on a notice, read ``latest_event_id`` and, when
it moved, the queue page and the tabs' counts (``page_and_counts``, as the queue screen
reads them), answering at most every ``ANSWER_EVERY`` seconds.

The apps run as threads in a few processes (``PER_PROCESS`` each), not a process each: 200
Python processes would starve the analysts on a small machine and measure the CPU, not the
connections. Their listeners share one ``LISTEN`` connection, as the apps of one host do
(db/notify.py's relay); each app's pool is its own.

Measured: sessions refused a connection (``too many clients``) at least once, other errors,
live refreshes, and the server's peak of client connections (``pg_stat_activity``, sampled
every ``SAMPLE_EVERY`` seconds on one connection opened before the apps) next to
``max_connections``. PostgreSQL only: SQLite has no connections to run out of.
"""

from __future__ import annotations

import math
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deskterm.domain.errors import DatabaseUnavailable, InvalidInput

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

    from deskterm.bench.load import Check

MAX_APPS = 500
#: Apps per process: threads are cheap, processes cost the analysts CPU.
PER_PROCESS = 50
#: How often the server's connections are counted.
SAMPLE_EVERY = 0.5
#: Rows of the queue page an app reads (a 40-line terminal shows about this many).
PAGE_ROWS = 30
#: A refused app tries again after this long, as the app's banner does.
RETRY_AFTER = 1.0
#: How long the apps may take to open, all of them.
OPEN_TIMEOUT = 180.0
CHECK = "no app session refused"

#: What a server (or PgBouncer) says when it will not take another connection.
_REFUSALS = (
    "too many clients",
    "too many connections",
    "remaining connection slots",
    "no more connections allowed",
    "connection refused",
    "could not connect",
    "connection failed",
    "query_wait_timeout",
    "server login has been failing",
)

Report = Callable[[str], None]


def check_apps(apps: int, *, backend: str) -> None:
    """Refuse a count out of range, or apps on SQLite, before anything is made."""
    if not 0 <= apps <= MAX_APPS:
        raise InvalidInput(f"between 0 and {MAX_APPS} apps, not {apps}", field="apps")
    if apps and backend != "postgresql":
        raise InvalidInput(
            "--apps needs PostgreSQL: open apps are measured by the connections they hold, "
            "and a SQLite desk has none",
            field="apps",
        )


def is_refusal(error: BaseException) -> bool:
    """Whether ``error`` is the server (or a pooler) turning a connection away."""
    text = " ".join(str(part) for part in (error, error.__cause__) if part).lower()
    return any(marker in text for marker in _REFUSALS)


def _relay_gone(error: BaseException) -> bool:
    from deskterm.desk.live import RelayGone

    return isinstance(error, RelayGone)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"[:300]


# --------------------------------------------------------------------------- one app


@dataclass
class _Tally:
    """What the apps of one process met; added up in the parent."""

    apps: int = 0
    opened: int = 0
    refused: int = 0
    errors: int = 0
    refreshes: int = 0
    notices: int = 0
    relistens: int = 0
    lines: list[str] = field(default_factory=list)

    def add(self, other: _Tally) -> None:
        for name in ("apps", "opened", "refused", "errors", "refreshes", "notices", "relistens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lines += other.lines[: max(0, 10 - len(self.lines))]


class _App:
    """One open app: a desk, a listener, and the page on its screen."""

    def __init__(self, url: str, login: str, number: int, stop: Event) -> None:
        self.url = url
        self.login = login
        self.number = number
        self.stop = stop
        self.tally = _Tally(apps=1)
        self.was_refused = False
        self.lock = threading.Lock()
        self._desk: Any = None
        self._listener: Any = None
        self._view = "mine"
        self._latest: int | None = None

    def open(self) -> bool:
        """Open as the app does at start: the desk, the listener, the first page."""
        from deskterm.db.engine import Database
        from deskterm.desk.context import Desk
        from deskterm.desk.views import views_for

        try:
            if self._desk is None:
                self._desk = Desk(Database(self.url), self.login)
                # The tab an app shows: analysts of the bench sit on different ones.
                views = self._desk.read(lambda _session, actor: views_for(actor))
                self._view = str(views[self.number % len(views)])
            self._listener = self._open_listener()
            self._refresh()
        except Exception as exc:
            self._failed(exc)
            self._close_listener()
            return False
        with self.lock:
            self.tally.opened = 1
        return True

    def run(self) -> None:
        """Until stopped: answer notices at the app's own pace (``desk.live.LivePace``)."""
        from deskterm.desk.live import LivePace

        pace = LivePace()
        pending = 0
        while not self.stop.is_set():
            if self._listener is None:
                if self.stop.wait(RETRY_AFTER) or not self.open():
                    continue
            try:
                # As the app waits: while a look is pending, more changes wake nobody.
                notices = self._listener.wait(
                    min(0.5, pace.wait(bool(pending), 0.5, time.monotonic())),
                    wake=() if pending else None,
                )
                pending += len(notices)
                if not pace.due(bool(pending), time.monotonic()):
                    continue
                with self.lock:
                    self.tally.notices += pending
                pending = 0
                self._refresh()
                pace.looked(time.monotonic())
            except Exception as exc:
                if self.stop.is_set():
                    break  # closing: other apps' processes (a relay among them) are ending
                if _relay_gone(exc):
                    # Another app that listened for this one closed: the app listens again
                    # at once and looks at everything, as it does; nothing failed.
                    with self.lock:
                        self.tally.relistens += 1
                    self._close_listener()
                    with suppress(Exception):
                        self._listener = self._open_listener()
                        self._refresh(force=True)
                    continue
                self._failed(exc)
                self._close_listener()

    def _open_listener(self) -> Any:
        from deskterm.desk.live import Listener

        listener = Listener(self._desk.db)
        listener.open()
        return listener

    def _refresh(self, *, force: bool = False) -> None:
        from deskterm.desk.pages import page_and_counts
        from deskterm.desk.views import latest_event_id

        latest = self._desk.read(latest_event_id)
        if latest == self._latest and not force:
            return
        self._latest = latest
        self._desk.read(page_and_counts, view=self._view, limit=PAGE_ROWS, counted=True)
        with self.lock:
            self.tally.refreshes += 1

    def _failed(self, exc: BaseException) -> None:
        with self.lock:
            if is_refusal(exc):
                if not self.was_refused:
                    self.was_refused = True
                    self.tally.refused += 1
            else:
                self.tally.errors += 1
            if len(self.tally.lines) < 3:
                self.tally.lines.append(f"app {self.number} ({self.login}): {_first_line(exc)}")

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(Exception):
                listener.close()

    def close(self) -> None:
        self._close_listener()
        if self._desk is not None:
            with suppress(Exception):
                self._desk.db.dispose()


def _process(
    url: str,
    apps: Sequence[tuple[int, str]],
    stop: Event,
    out: multiprocessing.Queue[tuple[str, Any]],
) -> None:
    """One process of apps: open them all, say so, keep them until ``stop``, report."""
    try:
        held = [_App(url, login, number, stop) for number, login in apps]
        opened: list[threading.Thread] = []
        for app in held:
            thread = threading.Thread(target=app.open, daemon=True)
            thread.start()
            opened.append(thread)
        for thread in opened:
            thread.join()
        out.put(("warm", sum(app.tally.opened for app in held)))
        threads = [threading.Thread(target=app.run, daemon=True) for app in held]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        tally = _Tally()
        for app in held:
            app.close()
            tally.add(app.tally)
        out.put(("done", tally))
    except BaseException as exc:
        out.put(("failed", _first_line(exc)))
        raise


# --------------------------------------------------------------------------- the sampler


class _Sampler:
    """Counts the server's client connections every ``SAMPLE_EVERY`` seconds, on a
    connection opened before the apps (a full server would refuse it later). It counts
    itself too (``deskterm-bench``)."""

    def __init__(self, url: str) -> None:
        import psycopg

        from deskterm.config import load_settings
        from deskterm.db.engine import Database

        # Behind a transaction pooler, straight to the server (where LISTEN goes): the
        # counter should not take one of the pooler's few server connections.
        db = Database(load_settings().listen_url or url)
        try:
            _args, params = db.engine.dialect.create_connect_args(db.url)
        finally:
            db.dispose()
        for key in ("context", "prepare_threshold", "application_name"):
            params.pop(key, None)
        try:
            # prepare_threshold None: simple statements, which a transaction pooler passes on.
            self._conn = psycopg.connect(
                autocommit=True,
                prepare_threshold=None,
                application_name="deskterm-bench",
                **params,
            )
            row = self._conn.execute("SHOW max_connections").fetchone()
        except psycopg.Error as exc:
            raise DatabaseUnavailable(
                f"cannot count the server's connections: {_first_line(exc)}"
            ) from exc
        self.max_connections = int(row[0]) if row else 0
        self.peak = 0
        self.at_peak: dict[str, int] = {}
        self.samples = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deskterm-apps-sampler")
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                rows = self._conn.execute(
                    "SELECT coalesce(application_name, ''), count(*) FROM pg_stat_activity "
                    "WHERE backend_type = 'client backend' GROUP BY 1"
                ).fetchall()
            except Exception as exc:
                self.error = _first_line(exc)
                return
            counts = {str(name) or "(none)": int(n) for name, n in rows}
            total = sum(counts.values())
            self.samples += 1
            if total > self.peak:
                self.peak, self.at_peak = total, counts
            if self._stop.wait(SAMPLE_EVERY):
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with suppress(Exception):
            self._conn.close()


# --------------------------------------------------------------------------- the holder


@dataclass(frozen=True)
class AppsReport:
    apps: int
    processes: int
    opened: int
    #: Sessions turned away by the server at least once (at start or later).
    refused: int
    #: Other failures: a query that failed, a listener that broke.
    errors: int
    refreshes: int
    notices: int
    #: Listeners that listened again because the app relaying for them closed.
    relistens: int
    peak_connections: int
    max_connections: int
    #: The server's connections by ``application_name`` when they peaked.
    at_peak: dict[str, int]
    samples: int
    #: The first errors met, one line each.
    lines: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.opened == self.apps and self.refused == 0 and self.errors == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "apps": self.apps,
            "processes": self.processes,
            "opened": self.opened,
            "refused": self.refused,
            "errors": self.errors,
            "refreshes": self.refreshes,
            "notices": self.notices,
            "relistens": self.relistens,
            "peak_connections": self.peak_connections,
            "max_connections": self.max_connections,
            "connections_at_peak": dict(sorted(self.at_peak.items())),
            "samples": self.samples,
            "error_lines": list(self.lines),
        }

    def check(self) -> Check:
        from deskterm.bench.load import Check

        problems = [f"{self.refused} of {self.apps} apps were refused a connection"] * bool(
            self.refused
        )
        if self.opened < self.apps:
            problems.append(f"{self.apps - self.opened} of {self.apps} apps never opened")
        if self.errors:
            problems.append(f"{self.errors} errors in open apps")
        return Check(
            name=CHECK,
            passed=self.passed,
            checked=f"{self.apps} apps, peak {self.peak_connections}/{self.max_connections}",
            problems=tuple(problems + list(self.lines))[:10],
            found=self.refused + self.errors + (self.apps - self.opened),
        )

    def lines_for_people(self) -> list[str]:
        held = ", ".join(f"{name} {n}" for name, n in sorted(self.at_peak.items()))
        return [
            f"apps: {self.opened}/{self.apps} open in {self.processes} processes, "
            f"{self.refused} refused, {self.errors} errors, {self.refreshes:,} live refreshes",
            f"server connections: peak {self.peak_connections} of max_connections "
            f"{self.max_connections} ({held or 'none seen'})",
        ]


class AppsHolder:
    """Opens ``count`` apps acting as ``logins`` (in turn), holds them open, closes them.

    ``with AppsHolder(...) as apps: run the analysts``; then ``apps.report``.
    """

    def __init__(
        self, url: str, logins: Sequence[str], count: int, *, report: Report | None = None
    ) -> None:
        if not logins:
            raise ValueError("apps need analysts to act as")
        self.url = url
        self.count = count
        self.say = report or (lambda _message: None)
        jobs = [(n, logins[n % len(logins)]) for n in range(count)]
        chunks = max(1, math.ceil(count / PER_PROCESS))
        self._jobs = [jobs[i::chunks] for i in range(chunks)]
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._out: multiprocessing.Queue[tuple[str, Any]] = self._context.Queue()
        self._processes: list[Any] = []
        self._sampler: _Sampler | None = None
        self.report: AppsReport | None = None

    def __enter__(self) -> AppsHolder:
        try:
            self.start()
        except BaseException:
            self._shut()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        if exc_type is None:
            self.stop()
            return
        # The run's own failure is the news: the apps are only closed.
        with suppress(Exception):
            self.stop()

    def start(self) -> None:
        """Start counting, open every app, and return once each has opened or failed to."""
        from deskterm.domain.errors import DeskError

        self._sampler = _Sampler(self.url)
        self.say(f"opening {self.count} apps in {len(self._jobs)} processes")
        for n, jobs in enumerate(self._jobs):
            process = self._context.Process(
                target=_process,
                args=(self.url, jobs, self._stop, self._out),
                name=f"deskterm-apps-{n}",
                daemon=True,
            )
            process.start()
            self._processes.append(process)
        opened = 0
        deadline = time.monotonic() + OPEN_TIMEOUT
        for _ in self._processes:
            kind, value = self._next(deadline)
            if kind != "warm":
                raise DeskError(f"an apps process stopped while opening: {value}")
            opened += int(value)
        self.say(f"{opened} of {self.count} apps open")

    def _next(self, deadline: float) -> tuple[str, Any]:
        from deskterm.domain.errors import DeskError

        try:
            kind, value = self._out.get(timeout=max(1.0, deadline - time.monotonic()))
        except queue.Empty:
            raise DeskError("the apps did not answer in time") from None
        return str(kind), value

    def stop(self) -> AppsReport:
        """Close every app and count what they met."""
        if self.report is not None:
            return self.report
        from deskterm.domain.errors import DeskError

        self._stop.set()
        tally = _Tally()
        failed: list[str] = []
        deadline = time.monotonic() + 60
        try:
            for _ in self._processes:
                kind, value = self._next(deadline)
                if kind == "done":
                    tally.add(value)
                else:
                    failed.append(str(value))
        finally:
            sampler = self._shut()
        if failed:
            raise DeskError(f"an apps process stopped: {failed[0]}")
        assert sampler is not None
        if sampler.error and not sampler.samples:
            raise DeskError(f"could not count the server's connections: {sampler.error}")
        self.report = AppsReport(
            apps=self.count,
            processes=len(self._processes),
            opened=tally.opened,
            refused=tally.refused,
            errors=tally.errors,
            refreshes=tally.refreshes,
            notices=tally.notices,
            relistens=tally.relistens,
            peak_connections=sampler.peak,
            max_connections=sampler.max_connections,
            at_peak=sampler.at_peak,
            samples=sampler.samples,
            lines=tuple(tally.lines),
        )
        return self.report

    def _shut(self) -> _Sampler | None:
        self._stop.set()
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            sampler.close()
        return sampler


def merged(result: Any, apps: AppsReport) -> Any:
    """The load result with the apps' check added (a frozen dataclass: a copy)."""
    from dataclasses import replace

    return replace(result, checks=(*result.checks, apps.check()))
