"""ticket search: full text over every ticket's subject and description, open or closed

Revision ID: 0008_ticket_search
Revises: 0007_shared_desk
Create Date: 2026-12-03

Like the knowledge base's search (0005), and read by ``desk/search.py``:

- SQLite: an FTS5 external-content table (``ticket_fts``) kept by triggers, so the ticket
  row stays the one copy of the text. The update trigger fires only when the subject or the
  description changes: status, assignee and SLA updates, by far the most frequent writes,
  never touch the index. Filled from the existing tickets at upgrade ('rebuild'). Prefix
  indexes of 3 and 4 characters, because the last word is searched as a prefix while it is
  typed: at a million demo tickets "the"* took 43 ms without them (merging the postings of
  every word that starts so) and 0.1 ms with them; "prin"* 6.8 ms and 0.1 ms; a longer
  prefix ("print"*, 6.9 ms) matches few enough words. They make the index 255 MB instead
  of 105 MB at a million tickets (the whole desk: 2.5 GB).
- PostgreSQL: a generated ``search_vector`` column with a GIN index, chosen over a GIN
  index on the same ``to_tsvector(...)`` expression (which would not rewrite the table) by
  measuring both at 100,000 demo tickets. A common word, newest first, is answered by
  walking the primary key backwards and testing each row until the page is full: testing
  a stored vector costs under 1 µs a row, recomputing the expression about 30 µs ("vpn":
  0.7 ms against 21 ms; "printer": 0.7 ms against 38 ms; a rarer word walks more rows).
  The upgrade costs about the same either way, since computing the vectors dominates
  (5.7 s to add the column, 0.7 s for its index, against 5.2 s for the expression index),
  but adding the column rewrites the table under an exclusive lock. Ticket UPDATEs cost
  61 ms per 1,000 with the column, 76 ms with the expression index, 35 ms with neither.

Both are language-neutral ('simple'; unicode61 without stemming): callers write in any
language, and product codes ("809", "E-1234") must be found as typed. On PostgreSQL ASCII
punctuation is made into spaces first, so its parser cuts words where SQLite's tokenizer
and the query side (``search_words``) do: "dan@globex.example" is three words, not an email
token that "globex" would not find.

A later migration that recreates ``ticket`` on SQLite (batch mode copies, drops and renames
the table) drops these triggers with it and must create them again.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_ticket_search"
down_revision: str | None = "0007_shared_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
#: The SQL text of the vector; ``desk/search.py`` matches against the stored column only.
PG_VECTOR = (
    "to_tsvector('simple', translate(subject || ' ' || description, "
    f"'{_PUNCTUATION.replace(chr(39), chr(39) * 2)}', '{' ' * len(_PUNCTUATION)}'))"
)

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE ticket_fts USING fts5("
    "subject, description, content='ticket', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='3 4')",
    "CREATE TRIGGER ticket_fts_ai AFTER INSERT ON ticket BEGIN "
    "INSERT INTO ticket_fts(rowid, subject, description) "
    "VALUES (new.id, new.subject, new.description); END",
    "CREATE TRIGGER ticket_fts_ad AFTER DELETE ON ticket BEGIN "
    "INSERT INTO ticket_fts(ticket_fts, rowid, subject, description) "
    "VALUES ('delete', old.id, old.subject, old.description); END",
    "CREATE TRIGGER ticket_fts_au AFTER UPDATE OF subject, description ON ticket BEGIN "
    "INSERT INTO ticket_fts(ticket_fts, rowid, subject, description) "
    "VALUES ('delete', old.id, old.subject, old.description); "
    "INSERT INTO ticket_fts(rowid, subject, description) "
    "VALUES (new.id, new.subject, new.description); END",
    "INSERT INTO ticket_fts(ticket_fts) VALUES ('rebuild')",
)

_SQLITE_TRIGGERS = ("ticket_fts_ai", "ticket_fts_ad", "ticket_fts_au")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE ticket ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({PG_VECTOR}) STORED"
        )
        op.execute("CREATE INDEX ix_ticket_search ON ticket USING GIN (search_vector)")
        # The planner's choice between the GIN index and the newest-first walk rests on how
        # common each word is: give it the vector's statistics now, not at the next autovacuum.
        op.execute("ANALYZE ticket")
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_ticket_search")
        op.execute("ALTER TABLE ticket DROP COLUMN IF EXISTS search_vector")
    else:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS ticket_fts")
