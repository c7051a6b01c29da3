"""text_modules: canned answers analysts insert in notes and replies (``::name``)

Revision ID: 0020_text_modules
Revises: 0019_saved_views
Create Date: 2026-12-06

A text module (Zammad's name) is a short text with variables (``{{ contact.first_name }}``)
that an analyst inserts by typing ``::`` and a few letters (issue 21). It is one analyst's
own (``owner_id``), a support group's (``group_id``) or everyone's (both NULL). A name is
unique within its scope: one ``greeting`` for everyone, one per group and one per analyst
may live side by side. SQL's UNIQUE lets NULLs repeat, so ``scope`` (the group's id, minus
the owner's id, 0 for everyone) carries the uniqueness, and a CHECK keeps it in step.

On PostgreSQL every login that may open tickets may read the modules, and every analyst
keeps their own through the same logins, so the new table is granted as ``0016_portal`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskterm.db.types import UTCDateTime

revision: str = "0020_text_modules"
down_revision: str | None = "0019_saved_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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
            'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE text_module TO %I', writer
        );
        EXECUTE format('GRANT USAGE ON SEQUENCE text_module_id_seq TO %I', writer);
    END LOOP;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "text_module",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["support_group.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["analyst.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "name", name="uq_text_module_scope_name"),
        sa.CheckConstraint("owner_id IS NULL OR group_id IS NULL", name="ck_text_module_one_home"),
        sa.CheckConstraint("scope = COALESCE(group_id, -owner_id, 0)", name="ck_text_module_scope"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GRANT_TO_TICKET_WRITERS)


def downgrade() -> None:
    op.drop_table("text_module")
