"""Backing up and restoring a desk kept in SQLite.

A backup uses SQLite's online backup, so analysts keep working while it runs and the copy is
one consistent moment of the desk; it is written beside its destination under a temporary
name, checked, and only then renamed into place, so a half-written backup never carries the
name of a good one. A restore copies a checked backup into the desk's database the same way,
page by page under SQLite's own lock.

PostgreSQL has its own tools, which know its roles, sequences and triggers better than any
copy of ours: ``pg_dump`` and ``pg_restore`` (see ``POSTGRES_ADVICE``). ``deskterm export``
works on both.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from deskterm.db.engine import Database, translate_errors
from deskterm.db.migrate import HEAD, KNOWN
from deskterm.domain.enums import Role
from deskterm.domain.errors import DatabaseUnavailable, DeskError, InvalidInput, PermissionDenied
from deskterm.i18n import N_, _

POSTGRES_ADVICE = N_(
    "this desk is on PostgreSQL: back it up with its own tools, e.g. "
    "`pg_dump --format=custom --file=desk.dump DATABASE_URL`, and restore into an empty "
    "database with `pg_restore --no-owner --dbname=DATABASE_URL desk.dump` "
    "(or use `deskterm export` / `deskterm import`, which work on either database)"
)

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Tables every deskterm database has had since its first revision.
_CORE_TABLES = frozenset({"alembic_version", "analyst", "ticket", "ticket_event"})


@dataclass(frozen=True)
class BackupInfo:
    """A checked deskterm database file: where, at which revision, how much is in it."""

    path: Path
    revision: str
    tickets: int
    events: int
    analysts: int
    size: int

    @property
    def current(self) -> bool:
        return self.revision == HEAD


def _sqlite_path(db: Database) -> Path:
    if not db.is_sqlite:
        raise InvalidInput(_(POSTGRES_ADVICE), field="database")
    name = db.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise InvalidInput(
            _("{database} is not a database file").format(database=db.describe()), field="database"
        )
    return Path(name)


def _raw(db: Database) -> Any:
    """The sqlite3 connection under SQLAlchemy's, which has the backup API."""
    return db.engine.raw_connection()


def require_admin(db: Database, login: str) -> None:
    """Backups hold every customer's data: only an admin of the desk takes or restores them.

    Read with plain SQL, so that a desk at an older revision (one about to be upgraded, the
    best moment for a backup) can still say who its admins are. A desk with no analysts yet
    (a new file, or one with no analyst table) has nobody to ask; a desk that cannot be read
    (locked past the busy timeout, read-only, damaged) is a refusal, never a pass.
    """
    wanted = login.strip().lower()
    try:
        with translate_errors(db), _unavailable(db), db.engine.connect() as conn:
            if not inspect(conn).has_table("analyst"):
                # An empty or foreign file: the callers refuse what is no deskterm desk.
                return
            roles = conn.execute(text("SELECT login, role, active FROM analyst")).all()
    except DeskError:
        raise
    except Exception as exc:
        raise PermissionDenied(
            _(
                "cannot tell whether {wanted} is an admin of this desk ({error}): nothing was "
                "backed up or restored"
            ).format(wanted=wanted, error=exc.__class__.__name__)
        ) from None
    if not roles:
        return
    role = next((r for name, r, active in roles if name == wanted and active), None)
    if role != Role.ADMIN:
        raise PermissionDenied(
            _("only an admin of this desk may back it up or restore it ({wanted} is not)").format(
                wanted=wanted
            )
        )


def backup(db: Database, target: Path, *, force: bool = False) -> BackupInfo:
    """Copy the live desk into ``target`` (a new file, or any file with ``force``)."""
    source = _sqlite_path(db)
    target = target.expanduser()
    if target.exists() and not force:
        raise InvalidInput(
            _("{target} exists: choose a new file or add --force").format(target=target),
            field="path",
        )
    if target.resolve() == source.resolve():
        raise InvalidInput(_("a backup cannot overwrite the desk it copies"), field="path")
    if not target.parent.is_dir():
        raise InvalidInput(
            _("folder {parent} does not exist").format(parent=target.parent), field="path"
        )
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        with _unavailable(db):
            # Opening runs the desk's pragmas, which a read-only desk refuses.
            raw = _raw(db)
        try:
            copy = sqlite3.connect(temporary)
            try:
                with _unavailable(db):
                    raw.driver_connection.backup(copy)
                # A backup is one self-contained file: no -wal beside it to forget.
                copy.execute("PRAGMA journal_mode = DELETE")
            finally:
                copy.close()
        finally:
            raw.close()
        info = inspect_backup(Path(temporary))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return BackupInfo(**{**info.__dict__, "path": target})


def inspect_backup(path: Path) -> BackupInfo:
    """Check ``path`` is an intact deskterm database at a revision this code knows."""
    path = path.expanduser()
    if not path.is_file():
        raise InvalidInput(_("no backup file {path}").format(path=path), field="path")
    with path.open("rb") as handle:
        if handle.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
            raise InvalidInput(_("{path} is not a SQLite database").format(path=path), field="path")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InvalidInput(
            _("{path} cannot be read: {exc}").format(path=path, exc=exc), field="path"
        ) from None
    try:
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise InvalidInput(
                _("{path} is damaged: {verdict}").format(path=path, verdict=verdict), field="path"
            )
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if not _CORE_TABLES <= names:
            raise InvalidInput(
                _("{path} is not a deskterm database").format(path=path), field="path"
            )
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision is None or revision[0] not in KNOWN:
            said = revision[0] if revision else "none"
            raise InvalidInput(
                _(
                    "{path} is at revision {said}, which this deskterm ({head}) does not know: "
                    "restore it with the deskterm that made it"
                ).format(path=path, said=said, head=HEAD),
                field="path",
            )
        tickets, events, analysts = (
            # Table names are these constants, never input: nothing to inject.
            int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # nosec B608
            for table in ("ticket", "ticket_event", "analyst")
        )
        return BackupInfo(
            path=path,
            revision=revision[0],
            tickets=tickets,
            events=events,
            analysts=analysts,
            size=path.stat().st_size,
        )
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(
            _("{path} cannot be read: {exc}").format(path=path, exc=exc), field="path"
        ) from None
    finally:
        conn.close()


def desk_has_data(db: Database) -> bool:
    """Anything a restore would throw away: analysts, tickets or contacts."""
    try:
        with db.engine.connect() as conn:
            names = set(
                conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars()
            )
            return any(
                # Table names are these constants, never input: nothing to inject.
                conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first()  # nosec B608
                for table in ("analyst", "ticket", "contact")
                if table in names
            )
    except Exception as exc:
        raise DatabaseUnavailable(
            _(
                "{database} cannot be read ({error}); move it aside and restore into a new file"
            ).format(database=db.describe(), error=exc.__class__.__name__)
        ) from None


def restore(db: Database, source: Path, *, force: bool = False) -> BackupInfo:
    """Replace the desk's database with the backup at ``source``.

    A desk that holds anything (analysts, tickets, contacts) is only overwritten with
    ``force``. Everyone working on it sees the restored desk from their next action.
    """
    target = _sqlite_path(db)
    info = inspect_backup(source)
    if source.expanduser().resolve() == target.resolve():
        raise InvalidInput(_("that backup is the desk's own database"), field="path")
    if not force and target.exists() and desk_has_data(db):
        raise InvalidInput(
            _("{database} holds a desk already: add --force to replace it with the backup").format(
                database=db.describe()
            ),
            field="force",
        )
    backup_conn = sqlite3.connect(f"{info.path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        with _unavailable(db):
            raw = _raw(db)
        try:
            with _unavailable(db):
                backup_conn.backup(raw.driver_connection)
        finally:
            raw.close()
    finally:
        backup_conn.close()
    # Pooled connections hold page caches of the old file; start afresh.
    db.engine.dispose()
    return info


@contextlib.contextmanager
def _unavailable(db: Database) -> Any:
    try:
        yield
    except sqlite3.DatabaseError as exc:
        # Locked, read-only, full, or no database at all: SQLite's errors as they come from
        # its own driver (the backup API, or a pragma on connect), not wrapped by SQLAlchemy.
        raise DatabaseUnavailable(
            _("database {database} is not available: {exc}").format(database=db.describe(), exc=exc)
        ) from None
