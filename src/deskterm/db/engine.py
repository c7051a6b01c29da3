"""Engines and sessions for SQLite and PostgreSQL.

SQLite needs care to be safe for several writers (see TECH-NOTES): pysqlite opens its
transaction lazily, at the first write, so "read, decide, write" can interleave between
processes without any error. We take transactions into our own hands (``isolation_level =
None`` on the DBAPI connection) and start every write session with ``BEGIN IMMEDIATE``, which
takes the write lock up front and waits ``busy_timeout`` for it. Read sessions use a plain
deferred ``BEGIN`` and never block writers under WAL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlmodel import create_engine

from deskterm.domain.errors import DatabaseUnavailable, InvalidInput

_WRITE = "deskterm_write"
_QUIET = logging.NullHandler()
#: How long a SQLite writer waits for another's lock before "database is locked".
BUSY_TIMEOUT_MS = 5000
#: What the desk's own connections are called in ``pg_stat_activity`` (the listener's is
#: ``deskterm-listen``, db/notify.py), so ``db status`` and an admin can tell them apart.
APPLICATION_NAME = "deskterm"


# A colon before the first slash is a URL gone wrong ("sqlite:desk.db", "::::"), not a
# file name: taken as a path it silently made a new empty desk. A drive letter
# ("C:\\desk.db") is a path; so is "/srv/a:b/desk.db".
_NOT_A_PATH = re.compile(r"^(?![A-Za-z]:[\\/])[^/\\]*:")


def normalise_url(raw: str) -> URL:
    """Parse a database URL; bare paths mean SQLite files, ``postgresql://`` means psycopg 3."""
    text = raw.strip()
    if not text:
        raise InvalidInput("the database URL is empty", field="database")
    if "://" not in text:
        if _NOT_A_PATH.match(text):
            raise InvalidInput(
                f"{raw!r} is neither a database URL (sqlite:///FILE, postgresql+psycopg://...) "
                "nor a file path (a file name with a colon: sqlite:///PATH)",
                field="database",
            )
        text = f"sqlite:///{Path(text).expanduser().resolve()}"
    try:
        url = make_url(text)
    except ArgumentError:
        raise InvalidInput(f"{raw!r} is not a database URL", field="database") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInput(
            f"unsupported database {url.get_backend_name()!r}: use sqlite:/// or postgresql+psycopg://",
            field="database",
        )
    return url


def describe_url(url: URL) -> str:
    """The URL without its password, for messages and ``db status``."""
    return url.render_as_string(hide_password=True)


def make_engine(
    url: str | URL,
    *,
    echo: bool = False,
    pool_size: int | None = None,
    pool_overflow: int | None = None,
) -> Engine:
    """An engine for ``url``. On PostgreSQL ``pool_size`` connections are kept open at rest
    (0: none, each unit of work connects afresh, as behind PgBouncer) and ``pool_overflow``
    more are opened for a burst and closed as soon as they are given back; unset, both come
    from the settings (``pool_size``, ``pool_overflow``)."""
    url = normalise_url(url) if isinstance(url, str) else url
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    if pool_size is None or pool_overflow is None:
        from deskterm.config import load_settings

        settings = load_settings()
        pool_size = settings.pool_size if pool_size is None else pool_size
        pool_overflow = settings.pool_overflow if pool_overflow is None else pool_overflow
    # psycopg logs "error ignored terminating <Pipeline ...>: pipeline aborted" after a failed
    # batch; the error itself is raised and said. Unhandled, the log line lands on the
    # terminal under the one-line refusal (or across the app's screen). One handler, however
    # many engines: adding the same one twice is a no-op.
    logging.getLogger("psycopg").addHandler(_QUIET)
    # QueuePool closes a connection given back while pool_size are already waiting, so at
    # rest an engine holds pool_size at most: an open app counts once against the server's
    # max_connections, not five times (issue 17). QueuePool reads 0 as "no limit", hence
    # NullPool for "keep none".
    pooling: dict[str, Any] = (
        {"poolclass": NullPool}
        if pool_size == 0
        else {"pool_size": pool_size, "max_overflow": pool_overflow}
    )
    engine = create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5, "application_name": APPLICATION_NAME},
        **pooling,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Timestamps then arrive as datetime.UTC, which UTCDateTime passes through as they
        # are; in the server's own zone (often "Etc/UTC", a different object) each one was
        # converted, some 700 per queue page. Set per connection rather than as a startup
        # option, which poolers such as PgBouncer refuse. Only a speed-up: any zone still
        # reads correctly.
        dbapi_connection.execute("SET TimeZone TO 'UTC'")
        dbapi_connection.commit()

    return engine


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        parent = Path(database).expanduser().parent
        if not parent.is_dir():
            raise DatabaseUnavailable(f"cannot open database: folder {parent} does not exist")
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_MS)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
            if database not in ("", ":memory:"):
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """One database: its engine and the two kinds of session the desk uses."""

    def __init__(
        self,
        url: str | URL,
        *,
        echo: bool = False,
        pool_size: int | None = None,
        pool_overflow: int | None = None,
    ) -> None:
        self.url = normalise_url(url) if isinstance(url, str) else url
        self.engine = make_engine(
            self.url, echo=echo, pool_size=pool_size, pool_overflow=pool_overflow
        )
        write_bind = self.engine.execution_options(**{_WRITE: True})
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(write_bind, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def describe(self) -> str:
        return describe_url(self.url)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work; rolled back at the end."""
        with translate_errors(self), self._reads() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed if the block finishes, rolled back if it raises."""
        with translate_errors(self), self._writes() as session, session.begin():
            yield session

    def connections(self) -> Connections | None:
        """Who is connected to this desk's database now (``pg_stat_activity``); ``None`` on
        SQLite, which has no server to ask."""
        if self.is_sqlite:
            return None
        with translate_errors(self), self.engine.connect() as conn:
            limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
            rows = conn.execute(_ACTIVITY).all()
        server = sum(int(n) for _here, _app, _state, n in rows)
        counts = {
            (str(app or ""), str(state or "")): int(n) for here, app, state, n in rows if here
        }

        def total(*, app: str | None = None, state: str | None = None) -> int:
            return sum(
                n
                for (a, s), n in counts.items()
                if (app is None or a == app) and (state is None or s == state)
            )

        return Connections(
            in_use=total(),
            active=total(state="active"),
            idle=total(state="idle"),
            desk=total(app=APPLICATION_NAME),
            listeners=total(app=LISTEN_APPLICATION_NAME),
            server_in_use=server,
            max_connections=limit,
        )

    def dispose(self) -> None:
        self.engine.dispose()


#: What the desk's shared ``LISTEN`` connection is called in ``pg_stat_activity``.
LISTEN_APPLICATION_NAME = "deskterm-listen"

# Client connections only (not the server's own workers), whoever the user: another login's
# rows are counted too, though without pg_read_all_stats their state reads NULL (neither
# active nor idle). Other databases' count only towards the server's total.
_ACTIVITY = text(
    "SELECT datname IS NOT DISTINCT FROM current_database(), application_name, state, "
    "count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1, 2, 3"
)


@dataclass(frozen=True)
class Connections:
    """The connections to a PostgreSQL desk's database, as ``db status`` shows them."""

    in_use: int
    """Every client connection to the database, this one included."""
    active: int
    """Running a statement now."""
    idle: int
    """Open and waiting (a pooled connection at rest, a listener between notices)."""
    desk: int
    """Opened by deskterm's engines (``application_name`` deskterm)."""
    listeners: int
    """deskterm's ``LISTEN`` connections: one per process with a live view open."""
    server_in_use: int
    """Every client connection to the server, whichever database."""
    max_connections: int
    """The server's limit, for every database together."""


@contextmanager
def translate_errors(db: Database) -> Iterator[None]:
    """Turn "cannot connect" and "locked" into one readable line."""
    try:
        yield
    except DBAPIError as exc:
        if db.is_sqlite and _is_damaged(exc):
            raise DatabaseUnavailable(
                f"the desk file {db.url.database} is damaged ({exc.orig}): restore it from a "
                "backup (`deskterm db restore FILE`)"
            ) from exc
        # DatabaseError itself (not its kin, integrity or data errors) is what SQLite says of
        # a file that is no database at all.
        if exc.connection_invalidated or (
            (isinstance(exc, OperationalError) or type(exc) is DatabaseError)
            and _is_unavailable(exc)
        ):
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseUnavailable(
                f"database {db.describe()} is not available: {reason}"
            ) from exc
        raise


def _is_damaged(exc: DBAPIError) -> bool:
    # What SQLite says of a file cut short or overwritten in the middle; a file that is no
    # database at all ("file is not a database") is said as unavailable, below.
    return "database disk image is malformed" in str(exc.orig).lower()


def _is_unavailable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(
        marker in text
        for marker in (
            "unable to open database",
            "database is locked",
            "connection refused",
            "could not connect",
            "connection failed",
            "server closed the connection",
            "timeout expired",
            "no such host",
            "does not exist",
            "disk i/o error",
            "readonly database",
            "database or disk is full",
            "file is not a database",
        )
    )
