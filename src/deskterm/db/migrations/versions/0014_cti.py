"""cti: the phone system's calls, the tokens it posts with, and analysts' extensions

Revision ID: 0014_cti
Revises: 0013_saved_calls
Create Date: 2026-12-05

A phone system announces each call (``newCall``, ``answer``, ``hangup``) to ``deskterm serve
cti`` (issue 18). Each call is one ``phone_call`` row by the PBX's call id, with each analyst
it rings in ``phone_call_ring``; the URL's secret is kept only as its SHA-256 in
``cti_token``; ``analyst_extension`` is the number the PBX rings an analyst on (a table of
its own, not a column of ``analyst``: code that reads analysts works the same on a desk
before this revision, as the upgrade tests need).

On PostgreSQL, every login that may open tickets (``analyst add --create-role``) gets the
new tables as ``desk/identity.py`` grants every table to logins made from now on: an
analyst's app marks a call called back or saved to a ticket, and a supervisor signed in as
themselves (``identity = "database"``) manages the tokens (the desk checks who may).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskterm.db.types import UTCDateTime

revision: str = "0014_cti"
down_revision: str | None = "0013_saved_calls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

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
            'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE phone_call, phone_call_ring, '
            'cti_token, analyst_extension TO %I',
            writer
        );
        EXECUTE format(
            'GRANT USAGE ON SEQUENCE phone_call_id_seq, cti_token_id_seq TO %I', writer
        );
    END LOOP;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "analyst_extension",
        sa.Column("analyst_id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["analyst_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("analyst_id"),
        sa.UniqueConstraint("extension", name="uq_analyst_extension"),
    )
    op.create_table(
        "phone_call",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("call_id", sa.String(length=250), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("from_number", sa.String(length=64), nullable=False),
        sa.Column("to_number", sa.String(length=64), nullable=False),
        sa.Column("from_e164", sa.String(length=32), nullable=True),
        sa.Column("to_e164", sa.String(length=32), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("analyst_id", sa.Integer(), nullable=True),
        sa.Column("users", sa.String(length=300), server_default=sa.text("''"), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("cause", sa.String(length=32), nullable=True),
        sa.Column("missed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("called_back_at", UTCDateTime(), nullable=True),
        sa.Column("called_back_by_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", _BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.ForeignKeyConstraint(["analyst_id"], ["analyst.id"]),
        sa.ForeignKeyConstraint(["called_back_by_id"], ["analyst.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id", name="uq_phone_call_call_id"),
    )
    op.create_index("ix_phone_call_contact_id", "phone_call", ["contact_id"])
    op.create_index("ix_phone_call_missed", "phone_call", ["missed", "started_at", "id"])
    op.create_index("ix_phone_call_started", "phone_call", ["started_at", "id"])
    op.create_table(
        "phone_call_ring",
        sa.Column("call_pk", _BIG_ID, nullable=False),
        sa.Column("analyst_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["call_pk"], ["phone_call.id"]),
        sa.ForeignKeyConstraint(["analyst_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("call_pk", "analyst_id"),
    )
    op.create_index("ix_phone_call_ring_analyst", "phone_call_ring", ["analyst_id", "call_pk"])
    op.create_table(
        "cti_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash", name="uq_cti_token_hash"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GRANT_TO_TICKET_WRITERS)


def downgrade() -> None:
    op.drop_table("cti_token")
    op.drop_index("ix_phone_call_ring_analyst", table_name="phone_call_ring")
    op.drop_table("phone_call_ring")
    op.drop_index("ix_phone_call_started", table_name="phone_call")
    op.drop_index("ix_phone_call_missed", table_name="phone_call")
    op.drop_index("ix_phone_call_contact_id", table_name="phone_call")
    op.drop_table("phone_call")
    op.drop_table("analyst_extension")
