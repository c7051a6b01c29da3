"""initial schema: desk, tickets and the append-only ticket log

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from deskterm.db.types import UTCDateTime

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analyst",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("availability", sa.String(length=16), nullable=False),
        sa.Column("away_reason", sa.String(length=300), nullable=True),
        sa.Column("away_until", UTCDateTime(), nullable=True),
        sa.Column("backup_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name="ck_analyst_level"),
        sa.ForeignKeyConstraint(
            ["backup_id"],
            ["analyst.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login"),
    )
    op.create_table(
        "organization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("email_domain", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "resolution_code",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "support_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("escalation_group_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name="ck_group_level"),
        sa.ForeignKeyConstraint(
            ["escalation_group_id"],
            ["support_group.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "analyst_group",
        sa.Column("analyst_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["analyst_id"],
            ["analyst.id"],
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["support_group.id"],
        ),
        sa.PrimaryKeyConstraint("analyst_id", "group_id"),
    )
    with op.batch_alter_table("analyst_group", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analyst_group_group_id"), ["group_id"], unique=False)

    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("default_group_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["default_group_id"],
            ["support_group.id"],
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["category.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
    )
    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_lower", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("phone_digits", sa.String(length=32), nullable=True),
        sa.Column("mobile", sa.String(length=64), nullable=True),
        sa.Column("mobile_digits", sa.String(length=32), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("preferred_channel", sa.String(length=16), nullable=True),
        sa.Column("vip", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index("ix_contact_email", ["email"], unique=False)
        batch_op.create_index("ix_contact_mobile_digits", ["mobile_digits"], unique=False)
        batch_op.create_index("ix_contact_name_lower", ["name_lower"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_contact_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index("ix_contact_phone_digits", ["phone_digits"], unique=False)

    op.create_table(
        "asset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("model_number", sa.String(length=100), nullable=True),
        sa.Column("serial_number", sa.String(length=100), nullable=True),
        sa.Column("account_number", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_asset_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_asset_serial_number"), ["serial_number"], unique=False)

    op.create_table(
        "ticket",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("impact", sa.String(length=8), nullable=False),
        sa.Column("urgency", sa.String(length=8), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("priority_reason", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("resolution_code", sa.String(length=40), nullable=True),
        sa.Column("resolution_text", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("first_response_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("response_due_at", UTCDateTime(), nullable=True),
        sa.Column("resolve_due_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name="ck_ticket_level"),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name="ck_ticket_priority"),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["analyst.id"],
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["analyst.id"],
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["support_group.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resolution_code"],
            ["resolution_code.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticket_assignee_queue",
            ["assignee_id", "status", "priority", "resolve_due_at", "id"],
            unique=False,
        )
        batch_op.create_index("ix_ticket_contact", ["contact_id", "created_at"], unique=False)
        batch_op.create_index("ix_ticket_created", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_ticket_group_queue",
            ["group_id", "status", "priority", "resolve_due_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_ticket_queue", ["status", "priority", "resolve_due_at", "id"], unique=False
        )

    op.create_table(
        "ticket_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("ticket_version", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("visibility", sa.String(length=8), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["analyst.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_event_ticket", ["ticket_id", "id"], unique=False)

    op.create_table(
        "ticket_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("other_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["analyst.id"],
        ),
        sa.ForeignKeyConstraint(
            ["other_id"],
            ["ticket.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "other_id", "kind", name="uq_ticket_link"),
    )
    with op.batch_alter_table("ticket_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_link_ticket_id"), ["ticket_id"], unique=False)

    _protect_ticket_log()


def downgrade() -> None:
    _unprotect_ticket_log()
    with op.batch_alter_table("ticket_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_link_ticket_id"))

    op.drop_table("ticket_link")
    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_event_ticket")

    op.drop_table("ticket_event")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_queue")
        batch_op.drop_index("ix_ticket_group_queue")
        batch_op.drop_index("ix_ticket_created")
        batch_op.drop_index("ix_ticket_contact")
        batch_op.drop_index("ix_ticket_assignee_queue")

    op.drop_table("ticket")
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_serial_number"))
        batch_op.drop_index(batch_op.f("ix_asset_contact_id"))

    op.drop_table("asset")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_phone_digits")
        batch_op.drop_index(batch_op.f("ix_contact_organization_id"))
        batch_op.drop_index("ix_contact_name_lower")
        batch_op.drop_index("ix_contact_mobile_digits")
        batch_op.drop_index("ix_contact_email")

    op.drop_table("contact")
    op.drop_table("category")
    with op.batch_alter_table("analyst_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analyst_group_group_id"))

    op.drop_table("analyst_group")
    op.drop_table("support_group")
    op.drop_table("resolution_code")
    op.drop_table("organization")
    op.drop_table("analyst")


# The log is append-only in the database itself, so no code path (ours, a script, a hurried
# psql session) can rewrite history.
_REFUSAL = "ticket_event is append-only: history cannot be changed"


def _protect_ticket_log() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ticket_event_no_{action.lower()} BEFORE {action} ON ticket_event "
                f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
            )
        return
    op.execute(
        f"""
        CREATE FUNCTION ticket_event_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{_REFUSAL}' USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER ticket_event_no_change BEFORE UPDATE OR DELETE ON ticket_event "
        "FOR EACH ROW EXECUTE FUNCTION ticket_event_refuse()"
    )
    op.execute(
        "CREATE TRIGGER ticket_event_no_truncate BEFORE TRUNCATE ON ticket_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION ticket_event_refuse()"
    )


def _unprotect_ticket_log() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ticket_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS ticket_event_no_delete")
        return
    op.execute("DROP TRIGGER IF EXISTS ticket_event_no_change ON ticket_event")
    op.execute("DROP TRIGGER IF EXISTS ticket_event_no_truncate ON ticket_event")
    op.execute("DROP FUNCTION IF EXISTS ticket_event_refuse()")
