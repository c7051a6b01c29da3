"""Moving a whole desk between databases: every table as JSON Lines, and back.

The export is one header line, then one line per row, table by table in the order their
foreign keys need, each table's rows by primary key, then one closing line with the count of
every table. Nothing is derived on the way: ids stay ids (``DT-000123`` stays ``DT-000123``),
versions stay versions, and the ticket log is copied event by event (its triggers refuse
UPDATE and DELETE, never INSERT). So a desk moves between SQLite and PostgreSQL with nothing
lost, and exporting the copy gives the same lines again.

Tables and columns come from the models, so a table a later migration adds travels too. Values
are JSON as they are, except times (ISO 8601, UTC) and bytes (base64). Text coming in is
cleaned as everything from outside is (an export file can be written by anyone): escape
sequences, control characters and bidi overrides are taken out, which changes nothing the desk
itself stored. One value is made again on the way in: a contact's sort key (``name_key``) comes
from its name as this deskterm folds it, so an export made before the key existed (0015) comes
in sorted, and a key in the file never disagrees with the name beside it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import Column, Integer, LargeBinary, Table, delete, func, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from deskterm import __version__
from deskterm.db import models  # noqa: F401  (registers every table on SQLModel.metadata)
from deskterm.db.engine import Database
from deskterm.db.migrate import HEAD, KNOWN
from deskterm.db.types import UTCDateTime
from deskterm.desk.contacts import name_key
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.domain.permissions import Actor, may_manage_desk
from deskterm.domain.text import stored
from deskterm.i18n import _

FORMAT = "deskterm-export"
FORMAT_VERSION = 1
_BATCH = 1000

#: What makes a desk "not empty": an import never mixes two desks. Everything else in an
#: empty desk (the groups, categories and codes seeded on first use) is replaced.
_OCCUPIED_BY = ("analyst", "ticket", "contact")

Progress = Callable[[str, int], None]


@dataclass
class TransferSummary:
    """What was exported or imported: rows per table, in the order they were written."""

    counts: dict[str, int] = field(default_factory=dict)
    revision: str = HEAD
    #: Imported text values that held control characters, escapes or bidi overrides.
    cleaned: int = 0

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def tables() -> list[Table]:
    """Every table of the desk, parents before children."""
    return [t for t in SQLModel.metadata.sorted_tables if t.name != "alembic_version"]


def _columns(table: Table) -> list[Column[Any]]:
    # A generated column is the database's to fill; it is not part of the data.
    return [c for c in table.columns if c.computed is None]


# --------------------------------------------------------------------------- export


def export_desk(
    db: Database, actor: Actor, out: IO[str], *, progress: Progress | None = None
) -> TransferSummary:
    """Write the whole desk to ``out`` as JSON Lines, in one read transaction."""
    if not may_manage_desk(actor):
        raise PermissionDenied(_("only an admin may export the desk"))
    summary = TransferSummary()
    with db.read() as session:
        # One snapshot for the whole export, even while analysts keep working: SQLite's
        # read transaction sees the database as of its first read; PostgreSQL needs asking.
        if not db.is_sqlite:
            session.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
        out.write(
            _line(
                {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "deskterm": __version__,
                    "revision": HEAD,
                    "source": db.dialect,
                    "exported_at": datetime.now(UTC).isoformat(),
                }
            )
        )
        for table in tables():
            count = 0
            for row in _rows(session, table):
                out.write(_line({"table": table.name, "row": row}))
                count += 1
                if progress is not None and count % 10_000 == 0:
                    progress(table.name, count)
            summary.counts[table.name] = count
            if progress is not None:
                progress(table.name, count)
        out.write(_line({"end": True, "counts": summary.counts}))
    return summary


def _rows(session: Session, table: Table) -> Iterator[dict[str, Any]]:
    columns = _columns(table)
    query = select(*columns).order_by(*table.primary_key.columns)
    result = session.execute(query.execution_options(yield_per=_BATCH))
    for values in result:
        yield {c.name: _dump(c, v) for c, v in zip(columns, values, strict=True)}


def _dump(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _line(data: dict[str, Any]) -> str:
    # ensure_ascii keeps every line plain ASCII: no stray byte can break a terminal or a pipe.
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"), sort_keys=True) + "\n"


# --------------------------------------------------------------------------- import


def desk_is_empty(session: Session) -> bool:
    known = {t.name: t for t in tables()}
    return not any(
        session.execute(select(known[name].c[_pk(known[name])]).limit(1)).first()
        for name in _OCCUPIED_BY
    )


def _pk(table: Table) -> str:
    return next(iter(table.primary_key.columns)).name


def import_desk(
    db: Database, lines: Iterable[str], *, progress: Progress | None = None
) -> TransferSummary:
    """Load an export into an empty desk, all of it or nothing.

    Refuses a desk that already has analysts, tickets or contacts; a file that is not a
    deskterm export, comes from a newer deskterm, or was cut short.
    """
    known = {t.name: t for t in tables()}
    numbered = enumerate(lines, start=1)
    header = _header(next(numbered, (1, "")))
    summary = TransferSummary(revision=header["revision"])
    with db.write() as session:
        if not desk_is_empty(session):
            raise InvalidInput(
                _(
                    "{database} already has analysts, tickets or contacts: import only into an "
                    "empty desk (a new SQLite file, or a new PostgreSQL database)"
                ).format(database=db.describe()),
                field="database",
            )
        for table in reversed(tables()):
            session.execute(delete(table))
        loader = _Loader(session, known)
        ended: dict[str, Any] | None = None
        for number, raw in numbered:
            if not raw.strip():
                continue
            record = _record(number, raw)
            if ended is not None:
                raise InvalidInput(
                    _("line {number}: data after the end of the export").format(number=number)
                )
            if record.get("end") is True:
                ended = record
                continue
            loader.add(number, record)
        loader.finish()
        if ended is None:
            raise InvalidInput(
                _("the export ends early (no closing line): it was cut short; nothing imported")
            )
        expected = ended.get("counts")
        if not isinstance(expected, dict) or any(
            loader.counts.get(name, 0) != n for name, n in expected.items()
        ):
            raise InvalidInput(
                _(
                    "the export's rows do not add up to the counts on its closing line; "
                    "nothing imported"
                )
            )
        _fix_sequences(session, known.values())
        summary.counts = {t.name: loader.counts.get(t.name, 0) for t in tables()}
        summary.cleaned = loader.cleaned
        if progress is not None:
            for name, count in summary.counts.items():
                progress(name, count)
    return summary


def _header(first: tuple[int, str]) -> dict[str, Any]:
    number, raw = first
    try:
        header = json.loads(raw)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidInput(_("not a deskterm export (its first line is no deskterm header)"))
    if header.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(
            _("export format {version!r} is not one this deskterm reads").format(
                version=header.get("format_version")
            )
        )
    revision = header.get("revision")
    if revision not in KNOWN:
        raise InvalidInput(
            _(
                "the export is at revision {revision!r}, unknown to this deskterm ({head}): "
                "import it with the deskterm that made it, or a newer one"
            ).format(revision=revision, head=HEAD)
        )
    return header


def _record(number: int, raw: str) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            _("line {number} is not JSON: {msg}").format(number=number, msg=exc.msg)
        ) from None
    except ValueError as exc:  # numbers too long to read, and the like
        raise InvalidInput(
            _("line {number} is not JSON: {exc}").format(number=number, exc=exc)
        ) from None
    if not isinstance(record, dict):
        raise InvalidInput(_("line {number} is not a JSON object").format(number=number))
    return record


class _Loader:
    """Inserts rows in batches, table by table, checking they come in an order it can keep."""

    def __init__(self, session: Session, known: dict[str, Table]) -> None:
        self.session = session
        self.known = known
        self.order = {name: n for n, name in enumerate(known)}
        self.counts: dict[str, int] = {}
        self.cleaned = 0
        self.table: Table | None = None
        self.batch: list[dict[str, Any]] = []
        self.first_line = 0
        # Self-references (a group's escalation group, an analyst's backup) may point at a row
        # further on: they are set once the whole table is in.
        self.later: list[tuple[Any, dict[str, Any]]] = []

    def add(self, number: int, record: dict[str, Any]) -> None:
        name, row = record.get("table"), record.get("row")
        if not isinstance(name, str) or not isinstance(row, dict):
            raise InvalidInput(
                _("line {number}: expected a table name and a row").format(number=number)
            )
        table = self.known.get(name)
        if table is None:
            raise InvalidInput(
                _("line {number}: table {name!r} is unknown to this deskterm").format(
                    number=number, name=name
                )
            )
        if table is not self.table:
            self.finish()
            if self.table is not None and self.order[name] < self.order[self.table.name]:
                raise InvalidInput(
                    _("line {number}: table {name!r} comes out of order").format(
                        number=number, name=name
                    )
                )
            if name in self.counts:
                raise InvalidInput(
                    _("line {number}: table {name!r} appears twice").format(
                        number=number, name=name
                    )
                )
            self.table = table
            self.counts[name] = 0
        if not self.batch:
            self.first_line = number
        self.batch.append(self._values(number, table, row))
        self.counts[name] += 1
        if len(self.batch) >= _BATCH:
            self.flush()

    def _values(self, number: int, table: Table, row: dict[str, Any]) -> dict[str, Any]:
        columns = {c.name: c for c in _columns(table)}
        unknown = sorted(set(row) - set(columns))
        if unknown:
            raise InvalidInput(
                _("line {number}: {table} has no column {columns}").format(
                    number=number, table=table.name, columns=", ".join(map(repr, unknown))
                )
            )
        # Every row of a batch carries every column, so executemany sees one shape.
        values = {
            name: self._clean(_load(number, column, row.get(name)))
            for name, column in columns.items()
        }
        if table.name == "contact" and isinstance(values.get("name"), str):
            values["name_key"] = name_key(values["name"])
        own = [
            c.name
            for c in columns.values()
            if any(fk.column.table is table for fk in c.foreign_keys)
        ]
        pending = {name: values[name] for name in own if values[name] is not None}
        if pending:
            keys = {c.name: values[c.name] for c in table.primary_key.columns}
            self.later.append((keys, pending))
            values.update(dict.fromkeys(pending))
        return values

    def _clean(self, value: Any) -> Any:
        """``value`` with its text cleaned, inside JSON documents too (a log event's data)."""
        if isinstance(value, str):
            kept = stored(value)
            self.cleaned += kept != value
            return kept
        if isinstance(value, list):
            return [self._clean(v) for v in value]
        if isinstance(value, dict):
            return {self._clean(k): self._clean(v) for k, v in value.items()}
        return value

    def flush(self) -> None:
        if self.table is None or not self.batch:
            return
        last = self.first_line + len(self.batch) - 1
        with self._said(
            _("lines {first}-{last} ({table})").format(
                first=self.first_line, last=last, table=self.table.name
            )
        ):
            self.session.execute(insert(self.table), self.batch)
        self.batch = []

    def finish(self) -> None:
        """The current table is complete: store its last rows, then its self-references."""
        self.flush()
        if self.table is None:
            return
        with self._said(_("the links between rows of {table}").format(table=self.table.name)):
            for keys, pending in self.later:
                where = [self.table.c[k] == v for k, v in keys.items()]
                self.session.execute(sql_update(self.table).where(*where).values(**pending))
        self.later = []

    @contextmanager
    def _said(self, where: str) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise InvalidInput(
                _("{where} cannot be stored: {reason}; nothing imported").format(
                    where=where, reason=reason
                )
            ) from None


def _load(number: int, column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    kind = column.type
    try:
        if isinstance(kind, UTCDateTime):
            stamp = datetime.fromisoformat(value)
            if stamp.tzinfo is None:
                raise ValueError(_("a time without its zone"))
            return stamp
        if isinstance(kind, LargeBinary):
            return base64.b64decode(value, validate=True)
        if isinstance(kind, Integer) and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(_("not a whole number"))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput(
            _("line {number}: {table}.{column} {value!r:.60}: {exc}").format(
                number=number, table=column.table.name, column=column.name, value=value, exc=exc
            )
        ) from None
    return value


def _fix_sequences(session: Session, known: Iterable[Table]) -> None:
    """Rows came in with their ids: move PostgreSQL's id sequences past them, so the next
    ticket is DT-(highest + 1) and not a clash. SQLite needs nothing: a new rowid is one more
    than the highest."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in known:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        sequence = session.execute(
            select(func.pg_get_serial_sequence(table.name, keys[0].name))
        ).scalar()
        if sequence is None:
            continue
        highest = session.execute(select(func.max(keys[0]))).scalar()
        # setval(seq, n, false): the next value handed out is n itself.
        session.execute(
            select(func.setval(sequence, (highest or 0) + 1, False)),
        )
