"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python; ``timestamptz`` on PostgreSQL, ISO text on SQLite.

    SQLite keeps no offset, so values are stored as naive UTC and given their zone back on
    the way out. A naive datetime on the way in is a bug, and refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: deskterm stores UTC-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any]:
        # One call per value instead of the driver type's parser followed by
        # process_result_value: a queue page reads some 700 timestamps, and the two-step way
        # (parse, then datetime.replace) was a third of the page's Python time. The general
        # path stays as the fallback for anything the fast one does not expect.
        general = super().result_processor(dialect, coltype)
        assert general is not None
        if dialect.name == "sqlite":
            return _sqlite_result(general)
        return _aware_result(general)


def _sqlite_result(general: Callable[[Any], Any]) -> Callable[[Any], Any]:
    parse = datetime.fromisoformat

    def process(value: Any) -> Any:
        # Stored as naive UTC text ("2026-01-31 09:00:00.000000"): parsed with its zone in
        # one step, about eight times faster than parsing and then replacing the zone.
        if value is None:
            return None
        if value.__class__ is str:
            try:
                return parse(value + "+00:00")
            except ValueError:
                pass
        return general(value)

    return process


def _aware_result(general: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def process(value: Any) -> Any:
        # psycopg hands out datetime.UTC itself when the session's TimeZone is UTC (the
        # engine sets it), so the usual value needs no conversion at all.
        if value is not None and value.tzinfo is UTC:
            return value
        return general(value)

    return process


class _JSONData(TypeDecorator[Any]):
    """JSON everywhere, stored as JSONB on PostgreSQL.

    Chosen per dialect when a statement is compiled rather than with ``with_variant``, which
    needs the PostgreSQL dialect's JSONB at import: that import cost every SQLite start 25 ms.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


JSONData = _JSONData()


def sqlite_timestamp(value: datetime) -> str:
    """The text SQLAlchemy stores for ``value`` on SQLite, for bulk loads that bypass it."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# --------------------------------------------------------------------------- accents


# Accented Latin letters and their base letters, one for one: what PostgreSQL's ticket search
# folds away (migration 0015) with the built-in ``translate()``, so that "Dvorak" finds
# "Dvořák" as it does on SQLite (FTS5's ``remove_diacritics 2``). Every letter of Latin-1,
# Latin Extended-A/B and Latin Extended Additional that is a base letter and accents (its
# canonical decomposition), which covers German, Portuguese and Czech and most languages
# written in Latin letters; letters that are not a base letter with accents (ß, æ, ø, ł)
# stay as they are, as in SQLite. Unicode never changes a letter's decomposition, so the
# table is the same on any Python; the migration's generated column is built from it:
# changing it takes a migration that recomputes the column.
def _accent_table() -> tuple[str, str]:
    import unicodedata

    accented, plain = [], []
    for point in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
        letter = chr(point)
        decomposed = unicodedata.normalize("NFD", letter)
        base, marks = decomposed[0], decomposed[1:]
        if marks and base.isascii() and base.isalpha() and all(map(unicodedata.combining, marks)):
            accented.append(letter)
            plain.append(base)
    return "".join(accented), "".join(plain)


ACCENTED, PLAIN = _accent_table()
_FOLD = str.maketrans(ACCENTED, PLAIN)


def fold_accents(text: str) -> str:
    """``text`` with the accents of ``ACCENTED`` taken off, letter for letter (the same
    length, so a position found in the folded text is one in the text)."""
    return text.translate(_FOLD)


def pg_fold_accents(expression: str) -> str:
    """SQL that folds ``expression``'s accents on PostgreSQL as ``fold_accents`` does, with
    the built-in ``translate()``: IMMUTABLE, so fit for a generated column or an index, and
    no extension (``unaccent`` needs one a desk's owner may not create, and is not
    IMMUTABLE)."""
    return f"translate({expression}, '{ACCENTED}', '{PLAIN}')"
