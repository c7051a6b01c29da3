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
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DBAPIError,
    DisconnectionError,
    OperationalError,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, QueuePool
from sqlalchemy.util import queue as pool_queue
from sqlmodel import create_engine

from deskterm.domain.errors import DatabaseUnavailable, InvalidInput

_WRITE = "deskterm_write"
_QUIET = logging.NullHandler()
#: How long a SQLite writer waits for another's lock before "database is locked".
BUSY_TIMEOUT_MS = 5000
#: What the desk's own connections are called in ``pg_stat_activity`` (the listener's is
#: ``deskterm-listen``, db/notify.py), so ``db status`` and an admin can tell them apart.
APPLICATION_NAME = "deskterm"
#: A pooled connection that sat unused this long is pinged before it is handed out (the
#: database may have restarted meanwhile); a younger one is used as it is, so a burst of
#: work pays no round trip per unit of work.
PING_AFTER_SECONDS = 2.0
#: A server that is full ("too many clients", SQLSTATE 53300) is asked again for this long,
#: in short jittered steps, before the unit of work fails: a busy centre's connections come
#: and go within a second (``pool_idle_seconds``).
FULL_SERVER_PATIENCE = 5.0
#: When a pooled connection was last given back (in its record's ``info``).
_CHECKED_IN = "deskterm_checked_in"

_T = TypeVar("_T")


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
    pool_idle_seconds: float | None = None,
    pooler: str | None = None,
) -> Engine:
    """An engine for ``url``. On PostgreSQL ``pool_size`` connections are kept open while in
    use (0: none, each unit of work connects afresh) and ``pool_overflow`` more are opened
    for a burst and closed as soon as they are given back; the kept ones are closed too once
    nobody has used them for ``pool_idle_seconds`` (0: never). Behind a transaction-mode
    pooler (``pooler="transaction"``) no statement is prepared on the server, where the next
    transaction may find another session. Unset, each comes from the settings."""
    url = normalise_url(url) if isinstance(url, str) else url
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    if pool_size is None or pool_overflow is None or pool_idle_seconds is None or pooler is None:
        from deskterm.config import load_settings

        settings = load_settings()
        pool_size = settings.pool_size if pool_size is None else pool_size
        pool_overflow = settings.pool_overflow if pool_overflow is None else pool_overflow
        if pool_idle_seconds is None:
            pool_idle_seconds = settings.pool_idle_seconds
        pooler = settings.pooler if pooler is None else pooler
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
        else {
            "poolclass": _ReleasingPool,
            "pool_size": pool_size,
            "max_overflow": pool_overflow,
        }
    )
    connect_args: dict[str, Any] = {"connect_timeout": 5, "application_name": APPLICATION_NAME}
    if pooler == "transaction":
        # A prepared statement lives in one server session; behind a transaction pool the
        # next transaction may run in another, which has never heard of it.
        connect_args["prepare_threshold"] = None
    engine = create_engine(url, echo=echo, connect_args=connect_args, **pooling)
    if isinstance(engine.pool, _ReleasingPool):
        engine.pool.idle_seconds = pool_idle_seconds

    @event.listens_for(engine, "do_connect")
    def _connect_patiently(
        dialect: Any, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        return connect_patiently(lambda: dialect.connect(*cargs, **cparams))

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        # SQLAlchemy's "pessimistic disconnect handling" recipe, for the connections that
        # rested only: pool_pre_ping's round trip on every checkout cost 11% of the CPU of
        # `bench load`. A connection broken by a restart within the last seconds is noticed
        # by its first statement instead, said once, and replaced at the next unit of work.
        rested = record.info.get(_CHECKED_IN)
        if rested is None or time.monotonic() - rested < PING_AFTER_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool throws this one away and connects afresh (up to three times).
            raise DisconnectionError(f"a pooled connection went stale: {exc}") from exc

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


def connect_patiently(connect: Callable[[], _T], *, patience: float = FULL_SERVER_PATIENCE) -> _T:
    """``connect()``, asked again for up to ``patience`` seconds while the server says it is
    full: another process lets its connection go within a second or so (``pool_idle_seconds``),
    and an analyst's action had better wait a moment than fail. Jittered, so that many
    waiting processes do not knock again all at once. Any other failure is raised at once."""
    deadline = time.monotonic() + patience
    pause = 0.05
    while True:
        try:
            return connect()
        except Exception as exc:
            if not _server_full(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(random.uniform(pause / 2, pause))
        pause = min(pause * 2, 0.5)


def _server_full(exc: BaseException) -> bool:
    # psycopg gives no SQLSTATE for a refused connection: its message is all there is.
    if getattr(exc, "sqlstate", None) == "53300":
        return True
    said = str(exc).lower()
    return any(
        marker in said
        for marker in (
            "too many clients",
            "too many connections",
            "remaining connection slots are reserved",
        )
    )


class _ReleasingPool(QueuePool):
    """A ``QueuePool`` that also closes the connections nobody has used for
    ``idle_seconds``: an app left open all day holds nothing on the server at rest.

    Only a connection waiting in the pool is ever closed (one checked out is not in the
    queue). Its place in the pool stays, so the pool's count of connections is unchanged
    and the next checkout simply connects again. A timer thread runs only while some
    connection waits to be let go, and is started again after a fork (threads do not
    survive one).
    """

    idle_seconds: float = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._timer_pid = 0

    def recreate(self) -> QueuePool:
        pool = super().recreate()
        if isinstance(pool, _ReleasingPool):
            pool.idle_seconds = self.idle_seconds
        return pool

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN] = time.monotonic()
        super()._do_return_conn(record)
        if self.idle_seconds > 0:
            self._release_later(self.idle_seconds)

    def _release_later(self, delay: float) -> None:
        with self._timer_lock:
            if self._timer is not None and self._timer_pid == os.getpid():
                return
            timer = threading.Timer(delay, self.release_idle)
            timer.daemon = True
            self._timer, self._timer_pid = timer, os.getpid()
        timer.start()

    def release_idle(self) -> int:
        """Close the pooled connections unused for ``idle_seconds``; how many were."""
        with self._timer_lock:
            self._timer = None
        taken: list[ConnectionPoolEntry] = []
        # Out of the queue, a record is ours alone: no checkout can hand it out meanwhile.
        with suppress(pool_queue.Empty):
            while True:
                taken.append(self._pool.get(False))
        now = time.monotonic()
        closed, sooner = 0, None
        for record in taken:
            if record.dbapi_connection is not None and self.idle_seconds > 0:
                rested = now - record.info.get(_CHECKED_IN, now)
                if rested >= self.idle_seconds:
                    with suppress(Exception):
                        record.close()
                    closed += 1
                else:
                    left = self.idle_seconds - rested
                    sooner = left if sooner is None else min(sooner, left)
            # Back in the queue without a new time: it was not used.
            QueuePool._do_return_conn(self, record)
        if sooner is not None:
            self._release_later(sooner)
        return closed


def _fold(value: Any) -> str | None:
    from deskterm.domain.names import fold

    return None if value is None else fold(str(value))


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
        # A name folded as the caller lookup folds what is typed (desk/lookups.py); only
        # queries use it, never the schema, so the file stays readable by any sqlite3.
        dbapi_connection.create_function("deskterm_fold", 1, _fold, deterministic=True)
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
        pool_idle_seconds: float | None = None,
        listen_url: str | URL | None = None,
    ) -> None:
        self.url = normalise_url(url) if isinstance(url, str) else url
        self.engine = make_engine(
            self.url,
            echo=echo,
            pool_size=pool_size,
            pool_overflow=pool_overflow,
            pool_idle_seconds=pool_idle_seconds,
        )
        if listen_url is None and not self.is_sqlite:
            from deskterm.config import load_settings

            listen_url = load_settings().listen_url
        #: Where ``LISTEN`` goes (db/notify.py), when not to ``url``: past a transaction
        #: pooler, to the database itself or a session-mode pool.
        self.listen_url: URL | None = (
            normalise_url(listen_url) if isinstance(listen_url, str) else listen_url
        )
        write_bind = self.engine.execution_options(**{_WRITE: True})
        # PostgreSQL: a read is a READ ONLY transaction (a write in it is refused, not just
        # rolled back) that ends with COMMIT: psycopg forgets the statements it prepared on
        # every ROLLBACK, so reads ending in one had every statement parsed and planned
        # again, half of PostgreSQL's CPU in `bench load` (1.9 -> 1.05 ms an operation).
        read_bind = (
            self.engine
            if self.is_sqlite
            else self.engine.execution_options(postgresql_readonly=True)
        )
        self._reads = sessionmaker(read_bind, expire_on_commit=False)
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
        """A read-only unit of work: on PostgreSQL a READ ONLY transaction, committed at the
        end (see above); on SQLite rolled back."""
        with translate_errors(self), self._reads() as session:
            try:
                yield session
                if not self.is_sqlite:
                    session.commit()
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
    """Open and waiting (a pooled connection not yet let go, a listener between notices)."""
    desk: int
    """Opened by deskterm's engines (``application_name`` deskterm)."""
    listeners: int
    """deskterm's ``LISTEN`` connections: one per host and user with a live view open (the
    processes of one user on one host share it through a relay, db/notify.py), one per
    process off Linux."""
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
