"""callbacks: promises to call a customer back, listed in the "callbacks due" queue

Revision ID: 0002_callbacks
Revises: 0001_initial
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskterm.db.types import UTCDateTime

revision: str = "0002_callbacks"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("scheduled_by_id", sa.Integer(), nullable=True),
        sa.Column("scheduled_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.ForeignKeyConstraint(["scheduled_by_id"], ["analyst.id"]),
        sa.ForeignKeyConstraint(["done_by_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.create_index("ix_callback_pending", ["done_at", "due_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_callback_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_ticket_id"))
        batch_op.drop_index("ix_callback_pending")
    op.drop_table("callback")
