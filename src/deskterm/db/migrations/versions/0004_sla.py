"""sla: clocks that pause and resume, warning times, alarms for the SLA check

Revision ID: 0004_sla
Revises: 0003_outbox
Create Date: 2026-11-27

Existing tickets keep their due times (they were counted around the clock); the clock state
is filled in so that they pause and resume like new ones, and every open ticket is due for
the next ``deskterm sla check``, which records what was already breached.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from deskterm.db.types import UTCDateTime

revision: str = "0004_sla"
down_revision: str | None = "0003_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = ("new", "assigned", "in_progress", "waiting_customer", "waiting_third_party")
_WARNING_SHARE = 0.75
_BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_running_since", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("sla_paused_at", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("sla_used_seconds", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("response_warn_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("resolve_warn_at", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("sla_alerts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("sla_next_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("unassigned_since", UTCDateTime(), nullable=True))
        batch_op.create_index("ix_ticket_sla_next", ["sla_next_at"], unique=False)
    _fill_clocks()


def _fill_clocks() -> None:
    """Clock state for the tickets already there, in batches (a desk may hold millions)."""
    ticket = sa.table(
        "ticket",
        sa.column("id", sa.BigInteger()),
        sa.column("status", sa.String()),
        sa.column("assignee_id", sa.Integer()),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
        sa.column("first_response_at", UTCDateTime()),
        sa.column("resolved_at", UTCDateTime()),
        sa.column("closed_at", UTCDateTime()),
        sa.column("response_due_at", UTCDateTime()),
        sa.column("resolve_due_at", UTCDateTime()),
        sa.column("sla_running_since", UTCDateTime()),
        sa.column("sla_paused_at", UTCDateTime()),
        sa.column("sla_used_seconds", sa.Integer()),
        sa.column("response_warn_at", UTCDateTime()),
        sa.column("resolve_warn_at", UTCDateTime()),
        sa.column("sla_next_at", UTCDateTime()),
        sa.column("unassigned_since", UTCDateTime()),
    )
    conn = op.get_bind()
    # Finished tickets: the clock stopped when they were resolved (or closed, or cancelled).
    conn.execute(
        ticket.update()
        .where(ticket.c.status.not_in(_OPEN))
        .values(
            sla_paused_at=sa.func.coalesce(
                ticket.c.resolved_at, ticket.c.closed_at, ticket.c.updated_at
            )
        )
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(
                ticket.c.id,
                ticket.c.status,
                ticket.c.assignee_id,
                ticket.c.created_at,
                ticket.c.updated_at,
                ticket.c.first_response_at,
                ticket.c.response_due_at,
                ticket.c.resolve_due_at,
            )
            .where(ticket.c.status.in_(_OPEN), ticket.c.id > last)
            .order_by(ticket.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        changes = [_clock_for(row) for row in rows]
        conn.execute(
            ticket.update()
            .where(ticket.c.id == sa.bindparam("b_id"))
            .values(
                sla_running_since=sa.bindparam("b_running"),
                sla_paused_at=sa.bindparam("b_paused"),
                sla_used_seconds=sa.bindparam("b_used"),
                response_warn_at=sa.bindparam("b_response_warn"),
                resolve_warn_at=sa.bindparam("b_resolve_warn"),
                sla_next_at=sa.bindparam("b_next"),
                unassigned_since=sa.bindparam("b_unassigned"),
            ),
            changes,
        )


def _warn(start: datetime, due: datetime | None) -> datetime | None:
    return None if due is None else start + (due - start) * _WARNING_SHARE


def _clock_for(row: sa.Row[*tuple[Any, ...]]) -> dict[str, object]:
    created: datetime = row.created_at
    waiting = row.status == "waiting_customer"
    used = int((row.updated_at - created).total_seconds()) if waiting else 0
    response_warn = None if row.first_response_at else _warn(created, row.response_due_at)
    return {
        "b_id": row.id,
        "b_running": None if waiting else created,
        "b_paused": row.updated_at if waiting else None,
        "b_used": max(used, 0),
        "b_response_warn": response_warn,
        "b_resolve_warn": _warn(created, row.resolve_due_at),
        # Due for the next check at once: it records whatever is already late, once.
        "b_next": None if waiting else created,
        "b_unassigned": (row.updated_at or created)
        if row.assignee_id is None and row.status == "new"
        else None,
    }


def downgrade() -> None:
    # Plain ALTERs, not batch mode: on SQLite a batch copy of ``ticket`` must drop the table,
    # which its many foreign keys forbid; SQLite drops an unindexed column in place.
    op.drop_index("ix_ticket_sla_next", table_name="ticket")
    for name in (
        "unassigned_since",
        "sla_next_at",
        "sla_alerts",
        "resolve_warn_at",
        "response_warn_at",
        "sla_used_seconds",
        "sla_paused_at",
        "sla_running_since",
    ):
        op.drop_column("ticket", name)
