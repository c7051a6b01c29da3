"""saved calls: the key of each call the intake form saved, so that no call is saved twice

Revision ID: 0013_saved_calls
Revises: 0012_lookup_grants
Create Date: 2026-12-05

A draft of a call carries a key from its first keystroke. The save writes the key beside
the tickets in the same transaction; saving the same draft again (the app stopped between
the desk's commit and forgetting the draft, or the answer to the save was lost with the
network) finds the tickets instead of opening them a second time (issue 17).

On PostgreSQL, every login that may open tickets (``analyst add --create-role``) may now
record a call's key; logins made from now on get it with the other tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from deskterm.db.types import UTCDateTime

revision: str = "0013_saved_calls"
down_revision: str | None = "0012_lookup_grants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

_GRANT_TO_TICKET_WRITERS = """
DO $$
DECLARE
    writer text;
BEGIN
    FOR writer IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = current_schema() AND table_name = 'ticket'
          AND privilege_type = 'INSERT' AND grantee <> current_user
    LOOP
        EXECUTE format('GRANT SELECT, INSERT ON TABLE saved_call TO %I', writer);
    END LOOP;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "saved_call",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("ticket_ids", _JSON, nullable=False),
        sa.Column("analyst_id", sa.Integer(), nullable=True),
        sa.Column("saved_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["analyst_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("key"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GRANT_TO_TICKET_WRITERS)


def downgrade() -> None:
    op.drop_table("saved_call")
