"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


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


#: JSON everywhere, stored as JSONB on PostgreSQL.
JSONData = JSON().with_variant(JSONB(), "postgresql")


def sqlite_timestamp(value: datetime) -> str:
    """The text SQLAlchemy stores for ``value`` on SQLite, for bulk loads that bypass it."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
