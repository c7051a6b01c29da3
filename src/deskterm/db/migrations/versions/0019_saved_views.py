"""saved views: a named queue filter, an analyst's own or shared with a group

Revision ID: 0019_saved_views
Revises: 0018_analyst_keys
Create Date: 2026-12-06

Analysts who live in the queue want the filters they build again and again as tabs of their
own (issue 21): a named filter (status, group, holder, priority, category, SLA state, text,
callbacks due, sort), kept per analyst, or shared with a group by a supervisor. Exactly one
of ``owner_id`` and ``group_id`` is set; a name is unique per owner and per group (NULLs do
not collide, so the two unique constraints do not get in each other's way).

A view by category walks the new ``ix_ticket_category_queue`` (category, then the queue's
order), as the built-in tabs walk the group and holder indexes: without it, a category and a
word read every open ticket of the desk to find the few that match.

On PostgreSQL, every login that may open tickets may keep its own views; logins made from
now on get the table with the others (``analyst add --create-role``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from deskterm.db.types import UTCDateTime

revision: str = "0019_saved_views"
down_revision: str | None = "0018_analyst_keys"
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
        EXECUTE format(
            'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE saved_view TO %I', writer
        );
        EXECUTE format('GRANT USAGE ON SEQUENCE saved_view_id_seq TO %I', writer);
    END LOOP;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "saved_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("filter", _JSON, nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(owner_id IS NULL) <> (group_id IS NULL)", name="ck_saved_view_one_home"
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["analyst.id"]),
        sa.ForeignKeyConstraint(["group_id"], ["support_group.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_id", "name", name="uq_saved_view_owner_name"),
        sa.UniqueConstraint("group_id", "name", name="uq_saved_view_group_name"),
    )
    op.create_index(
        "ix_ticket_category_queue",
        "ticket",
        ["category_id", "status", "priority", "resolve_due_at", "id"],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GRANT_TO_TICKET_WRITERS)


def downgrade() -> None:
    op.drop_index("ix_ticket_category_queue", table_name="ticket")
    op.drop_table("saved_view")
