"""shared desk: analysts' SSH keys, who is viewing which ticket, and change notifications

Revision ID: 0007_shared_desk
Revises: 0006_lookup_indexes
Create Date: 2026-11-25

- ``analyst_key``: the public keys ``deskterm serve ssh`` accepts, each mapped to one analyst.
  The fingerprint (OpenSSH's ``SHA256:...``) is unique: one key is one analyst.
- ``presence``: one row per app session and open ticket, refreshed by a heartbeat; a row
  older than a few heartbeats is someone whose terminal went away, and is ignored.
- On PostgreSQL, every statement that adds to the ticket log notifies the channel
  ``deskterm_events`` with the newest event id, so every app refreshes as soon as the writer
  commits (``LISTEN``), instead of polling. One notification per statement, not per row: a
  bulk load of a million tickets does not queue a million notifications.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskterm.db.types import UTCDateTime

revision: str = "0007_shared_desk"
down_revision: str | None = "0006_lookup_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_PG_NOTIFY = (
    """
    CREATE FUNCTION deskterm_notify_events() RETURNS trigger AS $$
    BEGIN
        PERFORM pg_notify('deskterm_events', (SELECT max(id) FROM new_events)::text);
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER ticket_event_notify AFTER INSERT ON ticket_event
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION deskterm_notify_events()
    """,
)


def upgrade() -> None:
    op.create_table(
        "analyst_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analyst_id", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=100), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("comment", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["analyst_id"], ["analyst.id"]),
        sa.ForeignKeyConstraint(["added_by_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint", name="uq_analyst_key_fingerprint"),
    )
    with op.batch_alter_table("analyst_key", schema=None) as batch_op:
        batch_op.create_index("ix_analyst_key_analyst_id", ["analyst_id"], unique=False)

    op.create_table(
        "presence",
        sa.Column("session", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", _BIG_ID, nullable=False),
        sa.Column("analyst_id", sa.Integer(), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.Column("editing", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.ForeignKeyConstraint(["analyst_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("session", "ticket_id"),
    )
    with op.batch_alter_table("presence", schema=None) as batch_op:
        batch_op.create_index("ix_presence_ticket", ["ticket_id", "seen_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_NOTIFY:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ticket_event_notify ON ticket_event")
        op.execute("DROP FUNCTION IF EXISTS deskterm_notify_events()")
    with op.batch_alter_table("presence", schema=None) as batch_op:
        batch_op.drop_index("ix_presence_ticket")
    op.drop_table("presence")
    with op.batch_alter_table("analyst_key", schema=None) as batch_op:
        batch_op.drop_index("ix_analyst_key_analyst_id")
    op.drop_table("analyst_key")
