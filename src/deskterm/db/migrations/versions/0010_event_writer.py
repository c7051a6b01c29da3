"""event writer: each log event records the database login that wrote it

Revision ID: 0010_event_writer
Revises: 0009_mail_trust
Create Date: 2026-12-05

``ticket_event.db_user``: on PostgreSQL the connection's ``session_user`` at insert, set by
the database and never by the application, so that on a desk where each analyst connects
with their own login (``identity = "database"``) an event whose actor is not its writer
shows in ``deskterm db check``. NULL on SQLite (which has no users) and for the events
written before this revision.

- The value is the column's default, and a ``BEFORE INSERT`` trigger overwrites any other
  value an INSERT names: a client cannot forge it. The trigger's ``WHEN`` clause keeps it
  from running at all for the usual insert, which names no value (a bulk load of millions of
  events pays for no PL/pgSQL call).
- The column is added without a default first, then given it: PostgreSQL's fast default
  would otherwise stamp every existing event with the login running the upgrade.
- The append-only triggers (0001) cover the new column as they cover the others; adding a
  column on SQLite is an ``ALTER TABLE``, which keeps them (a batch rebuild would drop them).
- The column is not in the SQLModel table on purpose: no application insert names it, and
  ``deskterm export`` does not carry a value the next database would overwrite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_event_writer"
down_revision: str | None = "0009_mail_trust"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_STAMP = (
    "ALTER TABLE ticket_event ALTER COLUMN db_user SET DEFAULT session_user",
    """
    CREATE FUNCTION ticket_event_stamp_writer() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.db_user := session_user;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER ticket_event_writer BEFORE INSERT ON ticket_event
    FOR EACH ROW WHEN (NEW.db_user IS DISTINCT FROM session_user)
    EXECUTE FUNCTION ticket_event_stamp_writer()
    """,
)


def upgrade() -> None:
    # 63: PostgreSQL's longest role name.
    op.add_column("ticket_event", sa.Column("db_user", sa.String(length=63), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_STAMP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ticket_event_writer ON ticket_event")
        op.execute("DROP FUNCTION IF EXISTS ticket_event_stamp_writer()")
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the append-only triggers.
    op.execute("ALTER TABLE ticket_event DROP COLUMN db_user")
