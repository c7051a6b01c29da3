"""caller lookup: any word of the name, misspellings, any spoken phone format, index-backed

Revision ID: 0011_caller_lookup
Revises: 0010_event_writer
Create Date: 2026-12-06

Read by ``desk/contacts.py`` (``find_contacts``):

- ``contact.phone_e164`` / ``mobile_e164``: each number in E.164, B-tree indexed, for an
  exact match however the caller says it; ``contact.dial_digits``: the digit strings of every
  spoken form (E.164, national with trunk prefix, as typed), for a match on any run of 4+
  digits. Both are computed by ``domain/phone.py`` with the ``phone_region`` setting (a
  number stored without a country code is read there) and filled here for existing contacts.
- ``contact_word``: each word of each name (``domain/names.py``: folded, cut at
  punctuation), with the name, indexed ``(word, name_lower, contact_id)``: one word's callers
  in name order straight from the index, a word prefix as a range of it.
- ``name_word``: the distinct words, kept by a trigger on ``contact_word`` (never shrunk: a
  word no contact has any more finds nobody), with a trigram index: a misspelt word's
  neighbours are looked up there, among the words, not among the callers (a surname shared
  by a thousand callers is one word to rank).
- The trigram indexes. SQLite: FTS5 ``trigram`` tables (``name_word_fts`` over the words,
  ``contact_fts`` over ``email`` and ``dial_digits``), external content kept by triggers.
  PostgreSQL: ``pg_trgm``'s GIN operator class on the same columns; the desk only ever asks
  ``LIKE '%...%'``, a built-in operator these indexes serve, so no query names the
  extension's schema. The extension is created in ``public`` when missing (it is "trusted"
  since PostgreSQL 13: the database's owner may create it). Where it cannot be created the
  trigram indexes are left out and said so on stderr: lookups then read the table, correct
  but slower.
- ``ix_contact_org_name``: an organization's callers in name order.

On PostgreSQL the word index is in the "C" collation, as 0006's prefix indexes: a prefix
is a range in code point order.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from deskterm.domain.names import name_words
from deskterm.domain.phone import region_code, stored_numbers

revision: str = "0011_caller_lookup"
down_revision: str | None = "0010_event_writer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 2000

#: Made again by the demo loader and kept by name: see ``desk/contacts.py``.
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE name_word_fts USING fts5("
    "word, content='name_word', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER name_word_fts_ai AFTER INSERT ON name_word BEGIN "
    "INSERT INTO name_word_fts(rowid, word) VALUES (new.rowid, new.word); END",
    "CREATE TRIGGER name_word_fts_ad AFTER DELETE ON name_word BEGIN "
    "INSERT INTO name_word_fts(name_word_fts, rowid, word) "
    "VALUES ('delete', old.rowid, old.word); END",
    "CREATE TRIGGER contact_word_vocab AFTER INSERT ON contact_word BEGIN "
    "INSERT OR IGNORE INTO name_word(word) VALUES (new.word); END",
    "CREATE VIRTUAL TABLE contact_fts USING fts5("
    "email, dial_digits, content='contact', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER contact_fts_ai AFTER INSERT ON contact BEGIN "
    "INSERT INTO contact_fts(rowid, email, dial_digits) "
    "VALUES (new.id, new.email, new.dial_digits); END",
    "CREATE TRIGGER contact_fts_ad AFTER DELETE ON contact BEGIN "
    "INSERT INTO contact_fts(contact_fts, rowid, email, dial_digits) "
    "VALUES ('delete', old.id, old.email, old.dial_digits); END",
    "CREATE TRIGGER contact_fts_au AFTER UPDATE OF email, dial_digits ON contact BEGIN "
    "INSERT INTO contact_fts(contact_fts, rowid, email, dial_digits) "
    "VALUES ('delete', old.id, old.email, old.dial_digits); "
    "INSERT INTO contact_fts(rowid, email, dial_digits) "
    "VALUES (new.id, new.email, new.dial_digits); END",
)
_SQLITE_TRIGGERS = (
    "name_word_fts_ai",
    "name_word_fts_ad",
    "contact_word_vocab",
    "contact_fts_ai",
    "contact_fts_ad",
    "contact_fts_au",
)

_PG_VOCABULARY = (
    """
    CREATE FUNCTION contact_word_vocab() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO name_word (word) SELECT DISTINCT word FROM added
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$
    """,
    # Per statement, from the rows it added: a COPY of the demo's words is one call.
    "CREATE TRIGGER contact_word_vocab AFTER INSERT ON contact_word "
    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION contact_word_vocab()",
)

_PG_TRIGRAM = (
    ("ix_name_word_trgm", "name_word", "word"),
    ("ix_contact_dial_trgm", "contact", "dial_digits"),
    ("ix_contact_email_trgm", "contact", "email"),
)


def _region() -> str:
    # The setting in force for whoever upgrades: the same one the desk writes numbers with.
    from deskterm.config import load_settings

    return region_code(load_settings().phone_region)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for column in ("phone_e164", "mobile_e164"):
        op.add_column("contact", sa.Column(column, sa.String(length=32), nullable=True))
    op.add_column("contact", sa.Column("dial_digits", sa.String(length=200), nullable=True))
    op.create_table(
        "contact_word",
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contact.id"), nullable=False),
        sa.Column("word", sa.String(length=60), nullable=False),
        sa.Column("name_lower", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("contact_id", "word"),
    )
    op.create_table("name_word", sa.Column("word", sa.String(length=60), primary_key=True))
    _fill(bind, _region())
    op.create_index("ix_contact_phone_e164", "contact", ["phone_e164"])
    op.create_index("ix_contact_mobile_e164", "contact", ["mobile_e164"])
    op.create_index("ix_contact_org_name", "contact", ["organization_id", "name_lower", "id"])
    op.execute("INSERT INTO name_word (word) SELECT DISTINCT word FROM contact_word")
    if postgres:
        op.execute(
            "CREATE INDEX ix_contact_word_word ON contact_word "
            '(word COLLATE "C", name_lower, contact_id)'
        )
        for statement in _PG_VOCABULARY:
            op.execute(statement)
        schema = _trigram_schema(bind)
        if schema is None:
            print(  # noqa: T201  (an upgrade has no other way to say it)
                "deskterm: pg_trgm could not be created (ask the database owner for "
                "`CREATE EXTENSION pg_trgm`); caller lookup works without its indexes, slower",
                file=sys.stderr,
            )
        else:
            for name, table, column in _PG_TRIGRAM:
                op.execute(
                    f'CREATE INDEX {name} ON {table} USING gin ({column} "{schema}".gin_trgm_ops)'
                )
        op.execute("ANALYZE contact")
        op.execute("ANALYZE contact_word")
        op.execute("ANALYZE name_word")
    else:
        op.create_index(
            "ix_contact_word_word", "contact_word", ["word", "name_lower", "contact_id"]
        )
        for statement in SQLITE_FTS:
            op.execute(statement)
        op.execute("INSERT INTO name_word_fts(name_word_fts) VALUES ('rebuild')")
        op.execute("INSERT INTO contact_fts(contact_fts) VALUES ('rebuild')")


def _fill(bind: Any, region: str) -> None:
    """Numbers and words of the contacts already there, a batch at a time."""
    after = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, name, phone, mobile FROM contact WHERE id > :after ORDER BY id LIMIT :n"
            ),
            {"after": after, "n": _BATCH},
        ).all()
        if not rows:
            return
        numbers = []
        for cid, _name, phone, mobile in rows:
            p, m, d = stored_numbers(phone, mobile, region=region)
            numbers.append({"id": cid, "p": p, "m": m, "d": d})
        bind.execute(
            sa.text(
                "UPDATE contact SET phone_e164 = :p, mobile_e164 = :m, dial_digits = :d "
                "WHERE id = :id"
            ),
            numbers,
        )
        words = [
            {"c": cid, "w": word, "n": name.lower()}
            for cid, name, _phone, _mobile in rows
            for word in name_words(name)
        ]
        if words:
            bind.execute(
                sa.text(
                    "INSERT INTO contact_word (contact_id, word, name_lower) VALUES (:c, :w, :n)"
                ),
                words,
            )
        after = rows[-1][0]


def _trigram_schema(bind: Any) -> str | None:
    """The schema pg_trgm is in, created in ``public`` if it is nowhere; ``None`` if it
    cannot be had."""
    found = "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    schema = bind.execute(sa.text(found)).scalar()
    if schema is None:
        for statement in (
            "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public",
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        ):
            try:
                with bind.begin_nested():
                    bind.execute(sa.text(statement))
            except sa.exc.DBAPIError:
                continue
            break
        schema = bind.execute(sa.text(found)).scalar()
    return str(schema).strip('"') if schema is not None else None


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, _table, _column in _PG_TRIGRAM:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute("DROP TRIGGER IF EXISTS contact_word_vocab ON contact_word")
        op.execute("DROP FUNCTION IF EXISTS contact_word_vocab()")
    else:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS contact_fts")
        op.execute("DROP TABLE IF EXISTS name_word_fts")
    op.drop_table("name_word")
    op.drop_index("ix_contact_word_word", table_name="contact_word")
    op.drop_table("contact_word")
    for index in ("ix_contact_org_name", "ix_contact_mobile_e164", "ix_contact_phone_e164"):
        op.drop_index(index, table_name="contact")
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild of ``contact`` would drop a table
    # the tickets' foreign keys point at, and the ticket triggers of 0008 with it.
    for column in ("dial_digits", "mobile_e164", "phone_e164"):
        op.execute(f"ALTER TABLE contact DROP COLUMN {column}")
