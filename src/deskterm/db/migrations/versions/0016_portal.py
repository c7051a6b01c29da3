"""portal: the signing key, link generations and web survey comments of the case pages

Revision ID: 0016_portal
Revises: 0015_languages
Create Date: 2026-12-05

The customer's case page (``deskterm serve web``, issue 20) is reached by a link signed with
the desk's own secret, kept in ``portal_key`` (one row, made on first use). A ticket's links
carry its generation in ``portal_link``: ``deskterm portal revoke REF`` bumps it and every
earlier link dies. A survey answered on the web keeps its comment and its first answer's
time in ``portal_survey``, beside the ``survey`` row the dashboard reads. A "contact us"
form of a known contact waits in ``portal_request`` for its confirmation link (and queues
that mail); SMS gateways post inbound texts with a secret whose hash is in
``portal_sms_token``.

On PostgreSQL, every login that may open tickets gets the new tables, as ``desk/identity.py``
grants every table to logins made from now on: an analyst prints or revokes a link.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskterm.db.types import UTCDateTime

revision: str = "0016_portal"
down_revision: str | None = "0015_languages"
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
            'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE portal_key, portal_link, '
            'portal_survey, portal_request, portal_sms_token TO %I',
            writer
        );
        EXECUTE format(
            'GRANT USAGE ON SEQUENCE portal_key_id_seq, portal_request_id_seq, '
            'portal_sms_token_id_seq TO %I',
            writer
        );
    END LOOP;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "portal_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "portal_link",
        sa.Column("ticket_id", _BIG_ID, nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_table(
        "portal_survey",
        sa.Column("ticket_id", _BIG_ID, nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_table(
        "portal_request",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("base_url", sa.String(length=300), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("mail_status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("ticket_id", _BIG_ID, nullable=True),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_portal_request_due",
        "portal_request",
        ["mail_status", "next_attempt_at", "id"],
    )
    op.create_table(
        "portal_sms_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash", name="uq_portal_sms_token_hash"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GRANT_TO_TICKET_WRITERS)


def downgrade() -> None:
    op.drop_table("portal_sms_token")
    op.drop_index("ix_portal_request_due", table_name="portal_request")
    op.drop_table("portal_request")
    op.drop_table("portal_survey")
    op.drop_table("portal_link")
    op.drop_table("portal_key")
