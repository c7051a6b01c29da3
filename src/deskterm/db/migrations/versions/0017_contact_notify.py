"""contact_notify: how each contact wants to hear from us; the outbox's callback tasks

Revision ID: 0017_contact_notify
Revises: 0016_portal
Create Date: 2026-12-06

``contact.notify`` (issue 20): the channels every message about the contact's cases goes
out on, a comma list among ``email`` and ``sms`` (``contact add/edit --notify email,sms``);
empty means "as preferred": one message on ``preferred_channel``, and for a contact who
prefers the phone, no message but a task to call them.

``callback.notice`` marks that task: a callback the outbox opened to tell such a contact
what changed (``desk/outbox.py``). A ticket has at most one open: a later notice adds its
words to it instead of stacking calls. False for every callback promised by an analyst.

No new table, so no grants: the logins that may write contacts and callbacks already may
write these columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_contact_notify"
down_revision: str | None = "0016_portal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both: a batch rebuild of ``contact`` or ``callback`` would drop
    # tables that the tickets' foreign keys and 0011's triggers point at.
    op.add_column("contact", sa.Column("notify", sa.String(length=32), nullable=True))
    op.add_column(
        "callback",
        sa.Column("notice", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), for the same reason.
    op.execute("ALTER TABLE callback DROP COLUMN notice")
    op.execute("ALTER TABLE contact DROP COLUMN notify")
