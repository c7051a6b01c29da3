"""Raw SQL on the driver's own connection (sqlite3 or psycopg): the bench's lower bound.

No SQLAlchemy on the way, no ORM objects, no models: the statement text, its parameters,
and the rows as tuples. Statements are written once with ``:name`` parameters and turned into
psycopg's ``%(name)s`` style for PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from deskterm.db.engine import Database
from deskterm.db.types import sqlite_timestamp

_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")

Params = Mapping[str, Any]


class Raw:
    """One driver connection from the engine's pool, used bare for the bench's whole run.

    sqlite3 runs in autocommit mode here (the engine's connect hook), so transactions are
    begun and ended by statement, as the app's sessions do; psycopg opens one implicitly
    at the first statement and ends it with ``commit``/``rollback``.
    """

    def __init__(self, db: Database) -> None:
        self._fairy = db.engine.raw_connection()
        conn = self._fairy.driver_connection
        assert conn is not None
        self.conn: Any = conn
        self.sqlite = db.is_sqlite
        self._texts: dict[str, str] = {}

    def close(self) -> None:
        if not self.sqlite:
            self.conn.rollback()
        self._fairy.close()

    # ------------------------------------------------------------------ statements

    def text(self, sql: str) -> str:
        found = self._texts.get(sql)
        if found is None:
            found = sql if self.sqlite else _PARAM.sub(r"%(\1)s", sql)
            self._texts[sql] = found
        return found

    def rows(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(self.text(sql), params or {}).fetchall())

    def one(self, sql: str, params: Params | None = None) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(self.text(sql), params or {}).fetchone()
        return row

    def run(self, sql: str, params: Params | None = None) -> None:
        self.conn.execute(self.text(sql), params or {})

    # ------------------------------------------------------------------ transactions

    def begin_read(self) -> None:
        # psycopg opens its transaction at the first statement by itself.
        if self.sqlite:
            self.conn.execute("BEGIN")

    def end_read(self) -> None:
        self.rollback()

    def begin_write(self) -> None:
        # The app's write sessions take SQLite's write lock up front; so does the bound.
        if self.sqlite:
            self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.sqlite:
            self.conn.execute("COMMIT")
        else:
            self.conn.commit()

    def rollback(self) -> None:
        if self.sqlite:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        else:
            self.conn.rollback()

    # ------------------------------------------------------------------ values

    def stamp(self, value: datetime | None) -> Any:
        """A timestamp as the column stores it: naive ISO text on SQLite, aware on PostgreSQL."""
        if value is None:
            return None
        return sqlite_timestamp(value) if self.sqlite else value

    def json(self, param: str) -> str:
        """Where a JSON parameter goes in a statement."""
        return param if self.sqlite else f"CAST({param} AS jsonb)"

    @staticmethod
    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    @property
    def true(self) -> str:
        return "1" if self.sqlite else "true"

    def for_update(self, *, skip_locked: bool = False) -> str:
        if self.sqlite:
            return ""
        return " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"


def like_escape(text: str) -> str:
    """What SQLAlchemy's ``autoescape=True`` does: ``/`` escapes ``%``, ``_`` and itself."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def in_list(values: Iterable[int | str]) -> str:
    """A literal IN list of ids or fixed status names (never text from outside)."""
    items = [
        str(int(v)) if isinstance(v, int) else "'" + v.replace("'", "''") + "'" for v in values
    ]
    return "(" + ", ".join(items) + ")" if items else "(NULL)"


def ids(rows: Sequence[tuple[Any, ...]], column: int = 0) -> list[int]:
    return [int(row[column]) for row in rows]
