"""analyst_keys: the keys each analyst moved, over the desk's ``[keys]`` and the defaults

Revision ID: 0018_analyst_keys
Revises: 0017_contact_notify
Create Date: 2026-12-06

Every binding of the app has an id (``pull_next``); ``deskterm keys set pull_next n`` keeps
the analyst's own keys for it in ``analyst_keymap``, one row per binding moved, read when
their app opens (desk/keymaps.py). A row per binding rather than one JSON column: ``keys
reset ID`` deletes one row, and a binding id the app no longer has is one row to drop.

On PostgreSQL, every login that may open tickets gets the new table, as ``desk/identity.py``
grants every table to logins made from now on: an analyst sets their own keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_analyst_keys"
down_revision: str | None = "0017_contact_notify"
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
            'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE analyst_keymap TO %I', writer
        );
    END LOOP;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "analyst_keymap",
        sa.Column("analyst_id", sa.Integer(), nullable=False),
        sa.Column("binding_id", sa.String(length=64), nullable=False),
        sa.Column("keys", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["analyst_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("analyst_id", "binding_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GRANT_TO_TICKET_WRITERS)


def downgrade() -> None:
    op.drop_table("analyst_keymap")
