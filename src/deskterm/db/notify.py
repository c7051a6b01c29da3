"""Hearing the desk change on PostgreSQL: ``LISTEN`` on a connection of its own.

Every statement that adds to the ticket log notifies ``deskterm_events`` with the newest
event id (a trigger, migration 0007); a presence change notifies ``deskterm_presence`` with
the ticket's id (desk/presence.py). Channels are database-wide, while a desk may be one
schema among several in the database (the test suite does that): a notice is a hint to look,
never the news itself.

The connection is autocommit (a notification is delivered between transactions only), out of
the engine's pool, and waited on with a timeout, so whoever runs the loop can stop it within
one wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from deskterm.db.engine import Database
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

    Not thread-safe: one thread opens, waits and closes it.
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
        self._conn: Any = None

    def open(self) -> None:
        import psycopg
        from psycopg import sql

        # The engine's own translation of its URL: host, port, database, user, password and
        # options such as a search_path, exactly as the pool connects.
        _args, params = self.db.engine.dialect.create_connect_args(self.db.url)
        params = {
            **params,
            **_KEEPALIVES,
            "connect_timeout": max(1, round(self.connect_timeout)),
            "application_name": "deskterm listener",
        }
        try:
            conn = psycopg.connect(autocommit=True, **params)
        except psycopg.Error as exc:
            raise self._unavailable(exc) from exc
        try:
            for channel in self.channels:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except psycopg.Error as exc:
            conn.close()
            raise self._unavailable(exc) from exc
        self._conn = conn

    @property
    def backend_pid(self) -> int | None:
        """The server process listening (what ``pg_stat_activity`` calls it)."""
        return None if self._conn is None else int(self._conn.info.backend_pid)

    def wait(self, timeout: float) -> list[Notice]:
        """The notices that arrive within ``timeout`` seconds: as soon as the first does, it
        and whatever came with it; an empty list when nothing did."""
        import psycopg

        if self._conn is None:
            raise RuntimeError("the listener is not open")
        try:
            heard = [
                Notice(n.channel, n.payload, n.pid)
                for n in self._conn.notifies(timeout=timeout, stop_after=1)
            ]
            if heard:
                # A burst (a bulk change, several analysts at once) is answered once.
                heard += [
                    Notice(n.channel, n.payload, n.pid) for n in self._conn.notifies(timeout=0)
                ]
        except psycopg.Error as exc:
            raise self._unavailable(exc) from exc
        return heard

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # A broken connection is being let go anyway: closing it may fail too.
            with suppress(Exception):
                conn.close()

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

    def _unavailable(self, exc: Exception) -> DatabaseUnavailable:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DatabaseUnavailable(
            f"database {self.db.describe()} stopped sending changes: {reason}"
        )
