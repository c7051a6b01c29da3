"""time_worked: minutes worked on a note, a call or a status change (``ticket_event.minutes``)

Revision ID: 0021_time_worked
Revises: 0020_text_modules
Create Date: 2026-12-06

Analysts who bill their time record the minutes each note, call or status change took
(issue 21); ``deskterm report time`` sums them by analyst, contact or organization.

- The minutes live on the event, given at insert like the rest of it: the log stays
  append-only and the 0001 triggers (which refuse UPDATE and DELETE, not INSERT) need no
  change. NULL means "not recorded", which is not the same as 0.
- The column is added with a plain ``ALTER TABLE`` on both databases: a batch rebuild on
  SQLite would drop the append-only triggers. Its CHECK is a column constraint, which SQLite
  accepts on ``ADD COLUMN`` (and which lets a later plain ``DROP COLUMN`` go through). One
  event holds at most a day (1440 minutes), as the longest call a ticket logs.
- ``ix_ticket_event_worked`` serves the report: only the events with minutes, by time, so a
  month's report reads that month's worked events and no others. The per-ticket total is a
  SUM over ``ix_ticket_event_ticket``.
- The index is not in the SQLModel table: a partial index there needs each dialect's keyword,
  which would load both dialects with the tables (tests/unit/test_schema_models.py excuses it).
- No grant: a login that may insert events inserts every column of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_time_worked"
down_revision: str | None = "0020_text_modules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE ticket_event ADD COLUMN minutes INTEGER "
        "CONSTRAINT ck_ticket_event_minutes CHECK (minutes BETWEEN 0 AND 1440)"
    )
    op.create_index(
        "ix_ticket_event_worked",
        "ticket_event",
        ["at", "ticket_id"],
        unique=False,
        sqlite_where=sa.text("minutes IS NOT NULL"),
        postgresql_where=sa.text("minutes IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_event_worked", table_name="ticket_event")
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the append-only triggers.
    op.execute("ALTER TABLE ticket_event DROP COLUMN minutes")
