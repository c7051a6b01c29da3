"""Hearing the desk change on PostgreSQL: ``LISTEN`` on one connection per process.

Every statement that adds to the ticket log notifies ``deskterm_events`` with the newest
event id (a trigger, migration 0007); a presence change notifies ``deskterm_presence`` with
the ticket's id (desk/presence.py). Channels are database-wide, while a desk may be one
schema among several in the database (the test suite does that): a notice is a hint to look,
never the news itself.

Every ``Listener`` of a process subscribes to one hub per database, which holds the one
``LISTEN`` connection (``deskterm-listen`` in ``pg_stat_activity``), reads it on a thread of
its own and hands each subscriber the notices of its channels: a process with several desks
or screens listening counts once against the server's ``max_connections`` (issue 17). The hub
connects on the first subscription and closes on the last. When the connection breaks, every
subscriber's next ``wait`` raises ``DatabaseUnavailable`` and the hub is gone: whoever listens
again (the app does, after a pause) opens a new connection.

The connection is autocommit (a notification is delivered between transactions only), out of
the engine's pool, and read with ``select`` on its socket and a wake-up pipe, so closing the
last subscriber stops the reader at once.
"""

from __future__ import annotations

import os
import queue
import select
import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from deskterm.db.engine import LISTEN_APPLICATION_NAME, Database
from deskterm.domain.errors import DatabaseUnavailable

EVENTS_CHANNEL = "deskterm_events"
PRESENCE_CHANNEL = "deskterm_presence"

#: A connection that stops answering without closing (a cable pulled, a VPN dropped) is
#: noticed by TCP keepalives within about idle + interval x count seconds.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


@dataclass(frozen=True)
class Notice:
    channel: str
    payload: str
    pid: int
    """The server process of the connection that sent it."""


class Listener:
    """``LISTEN`` on the desk's channels; ``wait`` returns what arrived.

    One thread opens, waits on and closes a listener; the connection under it is shared with
    every other listener of the process on the same database (see the module's note).
    """

    def __init__(
        self,
        db: Database,
        channels: Sequence[str] = (EVENTS_CHANNEL, PRESENCE_CHANNEL),
        *,
        connect_timeout: float = 5,
    ) -> None:
        if db.is_sqlite:
            raise ValueError("SQLite has no LISTEN: poll latest_event_id instead")
        self.db = db
        self.channels = tuple(channels)
        self.connect_timeout = connect_timeout
        self._hub: _Hub | None = None
        self._inbox: queue.SimpleQueue[Notice | DatabaseUnavailable] = queue.SimpleQueue()

    def open(self) -> None:
        if self._hub is None:
            self._hub = _subscribe(self)

    @property
    def backend_pid(self) -> int | None:
        """The server process listening (what ``pg_stat_activity`` calls it)."""
        return None if self._hub is None else self._hub.backend_pid

    def wait(self, timeout: float) -> list[Notice]:
        """The notices that arrive within ``timeout`` seconds: as soon as the first does, it
        and whatever came with it; an empty list when nothing did."""
        if self._hub is None:
            raise RuntimeError("the listener is not open")
        try:
            heard = [self._inbox.get(timeout=max(0.0, timeout))]
        except queue.Empty:
            return []
        # A burst (a bulk change, several analysts at once) is answered once.
        with suppress(queue.Empty):
            while True:
                heard.append(self._inbox.get_nowait())
        for item in heard:
            if isinstance(item, DatabaseUnavailable):
                raise item
        return [n for n in heard if isinstance(n, Notice)]

    def close(self) -> None:
        hub, self._hub = self._hub, None
        if hub is not None:
            hub.unsubscribe(self)

    def __enter__(self) -> Listener:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _hear(self, item: Notice | DatabaseUnavailable) -> None:
        """Called on the hub's thread: a notice of one of our channels, or the break."""
        self._inbox.put(item)


#: The hubs of this process, by the database they listen to.
_HUBS: dict[tuple[Any, ...], _Hub] = {}
_HUBS_LOCK = threading.Lock()


def _forget_hubs() -> None:
    # A forked child (a session of the SSH server) shares its parent's sockets and has none
    # of its threads: it listens on a connection of its own.
    global _HUBS_LOCK
    _HUBS.clear()
    _HUBS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_hubs)


def _subscribe(listener: Listener) -> _Hub:
    """The hub for the listener's database, connected on first use, with the listener in."""
    db = listener.db
    # The engine's own translation of its URL: host, port, database, user, password and
    # options such as a search_path, exactly as the pool connects.
    _args, params = db.engine.dialect.create_connect_args(db.url)
    # The engine's adapters ("context") are its own, and a LISTEN reads no rows.
    params.pop("context", None)
    params = {
        **params,
        **_KEEPALIVES,
        "connect_timeout": max(1, round(listener.connect_timeout)),
        "application_name": LISTEN_APPLICATION_NAME,
    }
    # Channels belong to the database, not to a schema: desks in several schemas of one
    # database (a search_path in ``options``) share the connection.
    key = tuple(sorted((k, str(v)) for k, v in params.items() if k not in ("options",)))
    with _HUBS_LOCK:
        hub = _HUBS.get(key)
        if hub is None or hub.broken:
            hub = _Hub(params, db.describe())
            _HUBS[key] = hub
            try:
                hub.start()
            except BaseException:
                del _HUBS[key]
                raise
        # Under the lock: a hub is never closed by its last subscriber while another joins.
        try:
            hub.subscribe(listener)
        except DatabaseUnavailable as exc:
            failed, error = hub, exc
        else:
            return hub
    # A hub nobody joined is let go, outside the lock its reader may be waiting for.
    failed.unsubscribe(listener)
    raise error


def _drop(hub: _Hub) -> None:
    with _HUBS_LOCK:
        for key, known in list(_HUBS.items()):
            if known is hub:
                del _HUBS[key]


class _Hub:
    """One ``LISTEN`` connection and the thread that reads it for every subscriber."""

    def __init__(self, params: dict[str, Any], described: str) -> None:
        self.params = params
        self.described = described
        self.broken = False
        self._conn: Any = None
        self._listening: set[str] = set()
        self._subscribers: list[Listener] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def backend_pid(self) -> int | None:
        conn = self._conn
        return None if conn is None else int(conn.info.backend_pid)

    def start(self) -> None:
        import psycopg

        try:
            self._conn = psycopg.connect(autocommit=True, **self.params)
        except psycopg.Error as exc:
            self._close_pipe()
            raise self._unavailable(exc) from exc
        self._thread = threading.Thread(target=self._read, name="deskterm-listen", daemon=True)
        self._thread.start()

    def subscribe(self, listener: Listener) -> None:
        import psycopg
        from psycopg import sql

        with self._lock:
            if self.broken:
                # The connection broke between looking the hub up and joining it.
                raise DatabaseUnavailable(f"database {self.described} stopped sending changes")
            missing = [c for c in listener.channels if c not in self._listening]
            try:
                for channel in missing:
                    # psycopg's own lock keeps this apart from the reader's turns.
                    self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._listening.add(channel)
            except psycopg.Error as exc:
                raise self._unavailable(exc) from exc
            self._subscribers.append(listener)
        if missing:
            # What the LISTEN's round trip read off the socket waits in psycopg's backlog,
            # which select cannot see: the reader looks now.
            self._wake()

    def unsubscribe(self, listener: Listener) -> None:
        with _HUBS_LOCK, self._lock:
            if listener in self._subscribers:
                self._subscribers.remove(listener)
            last = not self._subscribers
            if last:
                self.broken = True  # never handed out again
        if last:
            _drop(self)
            self._shut()

    def _read(self) -> None:
        import psycopg

        conn = self._conn
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([conn.fileno(), self._wake_r], [], [])
                if self._wake_r in ready:
                    os.read(self._wake_r, 512)
                if self._stop.is_set():
                    break
                notices = [Notice(n.channel, n.payload, n.pid) for n in conn.notifies(timeout=0)]
                with self._lock:
                    subscribers = list(self._subscribers)
                for notice in notices:
                    for listener in subscribers:
                        if notice.channel in listener.channels:
                            listener._hear(notice)
        except (psycopg.Error, OSError, ValueError) as exc:
            # ValueError: select on a socket psycopg has already closed (fileno -1).
            if self._stop.is_set():
                return
            self._fail(self._unavailable(exc))

    def _fail(self, error: DatabaseUnavailable) -> None:
        with self._lock:
            self.broken = True
            subscribers, self._subscribers = self._subscribers, []
        _drop(self)
        for listener in subscribers:
            listener._hear(error)
        self._close_conn()
        self._close_pipe()

    def _shut(self) -> None:
        self._stop.set()
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._close_conn()
        self._close_pipe()

    def _wake(self) -> None:
        # Under the lock: a closed pipe's number may already be another file's. A closed
        # pipe means the reader is gone.
        with self._lock, suppress(OSError):
            if self._wake_w >= 0:
                os.write(self._wake_w, b"x")

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # A broken connection is being let go anyway: closing it may fail too.
            with suppress(Exception):
                conn.close()

    def _close_pipe(self) -> None:
        with self._lock:
            fds, (self._wake_r, self._wake_w) = (self._wake_r, self._wake_w), (-1, -1)
        for fd in fds:
            if fd >= 0:
                with suppress(OSError):
                    os.close(fd)

    def _unavailable(self, exc: Exception) -> DatabaseUnavailable:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DatabaseUnavailable(f"database {self.described} stopped sending changes: {reason}")
