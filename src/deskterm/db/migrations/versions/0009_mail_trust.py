"""mail trust: a content digest beside each imported mail's Message-ID

Revision ID: 0009_mail_trust
Revises: 0008_ticket_search
Create Date: 2026-12-05

A Message-ID is not unique across senders: anyone can write any ID. Until now a second mail
with a known Message-ID was skipped as "imported before", so a stranger's mail, or a
different mail of the same sender, could be lost. ``desk/mail.py`` now recognises a message
as imported before only when its Message-ID, its sender and the digest of its content are
the same (``content_digest``: SHA-256 of the body as sent, line endings normalised, so the
same mail fetched over IMAP and read from an mbox file still matches).

Mail imported before this revision has no digest (``NULL``); such a row still counts as the
same message when the Message-ID and the sender match, which is never worse than before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_mail_trust"
down_revision: str | None = "0008_ticket_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column is added in place on both databases: no table copy, so the
    # triggers and indexes of mail_message stay as they are.
    op.add_column("mail_message", sa.Column("content_digest", sa.String(64), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN on both (SQLite has it since 3.35): a batch copy of mail_message
    # would drop the table its attachments point at, which foreign keys refuse.
    op.execute("ALTER TABLE mail_message DROP COLUMN content_digest")
