"""kb: knowledge-base articles with full-text search, their links to tickets, articles the
team still has to write, and customer surveys recorded at resolution

Revision ID: 0005_kb
Revises: 0004_sla
Create Date: 2026-11-28

Search: on SQLite an FTS5 external-content table (``kb_article_fts``) kept in sync by
triggers; on PostgreSQL a generated ``tsvector`` column with a GIN index. Either way the
article row stays the one copy of the text.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskterm.db.types import UTCDateTime

revision: str = "0005_kb"
down_revision: str | None = "0004_sla"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Title weighs most, then tags, then the body (PostgreSQL's setweight; SQLite's bm25 weights
# are given at query time in desk/kb.py).
_PG_VECTOR = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(tags, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(body, '')), 'C')"
)

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE kb_article_fts USING fts5("
    "title, tags, body, content='kb_article', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER kb_article_fts_ai AFTER INSERT ON kb_article BEGIN "
    "INSERT INTO kb_article_fts(rowid, title, tags, body) "
    "VALUES (new.id, new.title, new.tags, new.body); END",
    "CREATE TRIGGER kb_article_fts_ad AFTER DELETE ON kb_article BEGIN "
    "INSERT INTO kb_article_fts(kb_article_fts, rowid, title, tags, body) "
    "VALUES ('delete', old.id, old.title, old.tags, old.body); END",
    "CREATE TRIGGER kb_article_fts_au AFTER UPDATE ON kb_article BEGIN "
    "INSERT INTO kb_article_fts(kb_article_fts, rowid, title, tags, body) "
    "VALUES ('delete', old.id, old.title, old.tags, old.body); "
    "INSERT INTO kb_article_fts(rowid, title, tags, body) "
    "VALUES (new.id, new.title, new.tags, new.body); END",
)


def upgrade() -> None:
    op.create_table(
        "kb_article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("tags", sa.String(length=400), nullable=False, server_default=""),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["analyst.id"]),
        sa.ForeignKeyConstraint(["updated_by_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kb_article", schema=None) as batch_op:
        batch_op.create_index("ix_kb_article_status", ["status", "updated_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE kb_article ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({_PG_VECTOR}) STORED"
        )
        op.execute("CREATE INDEX ix_kb_article_search ON kb_article USING GIN (search_vector)")
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)

    op.create_table(
        "kb_ticket",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", _BIG_ID, nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
        sa.Column("linked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["article_id"], ["kb_article.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.ForeignKeyConstraint(["linked_by_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("article_id", "ticket_id"),
    )
    with op.batch_alter_table("kb_ticket", schema=None) as batch_op:
        batch_op.create_index("ix_kb_ticket_ticket_id", ["ticket_id"], unique=False)

    op.create_table(
        "kb_need",
        sa.Column("ticket_id", _BIG_ID, nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("topic_key", sa.String(length=200), nullable=False),
        sa.Column("flagged_at", UTCDateTime(), nullable=False),
        sa.Column("flagged_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"]),
        sa.ForeignKeyConstraint(["flagged_by_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    with op.batch_alter_table("kb_need", schema=None) as batch_op:
        batch_op.create_index("ix_kb_need_gap", ["category_id", "topic_key"], unique=False)

    op.create_table(
        "survey",
        sa.Column("ticket_id", _BIG_ID, nullable=False),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("csat BETWEEN 1 AND 5", name="ck_survey_csat"),
        sa.CheckConstraint("nps BETWEEN 0 AND 10", name="ck_survey_nps"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["analyst.id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    with op.batch_alter_table("survey", schema=None) as batch_op:
        batch_op.create_index("ix_survey_recorded_at", ["recorded_at"], unique=False)

    # Reports count resolutions by day and analyst; the queue indexes start with other columns.
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_resolved", ["resolved_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_resolved")
    with op.batch_alter_table("survey", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_recorded_at")
    op.drop_table("survey")
    with op.batch_alter_table("kb_need", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_need_gap")
    op.drop_table("kb_need")
    with op.batch_alter_table("kb_ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_ticket_ticket_id")
    op.drop_table("kb_ticket")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_kb_article_search")
    else:
        for trigger in ("kb_article_fts_ai", "kb_article_fts_ad", "kb_article_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS kb_article_fts")
    with op.batch_alter_table("kb_article", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_article_status")
    op.drop_table("kb_article")
