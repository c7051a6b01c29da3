"""languages: each analyst's own language; ticket search blind to accents on PostgreSQL too

Revision ID: 0015_languages
Revises: 0014_cti
Create Date: 2026-12-05

``analyst.language`` holds a tag deskterm ships (``en``, ``de``, ``pt``, ``pt-BR``, ``cs``);
empty means the language the analyst's locale names, else English.

Ticket search (0008) found "Dvořák" by "Dvorak" on SQLite only, where FTS5's
``remove_diacritics 2`` folds both the text and the query. PostgreSQL's ``search_vector``
is now computed from the text with its accents taken off (``db/types.py``:
``pg_fold_accents``, the built-in ``translate()`` with a fixed table of accented Latin
letters), and the desk folds the query's words with the same table. Not the ``unaccent``
extension: creating it takes a right the desk's owner may not have, it is not IMMUTABLE (a
generated column needs a wrapper function with the dictionary schema-qualified, which a
restore into another schema breaks), and a desk without it would search differently. A
generated expression cannot be altered (before PostgreSQL 17): the column is dropped and
added again, which computes it for every ticket, then indexed again as 0008 did.

``contact.name_key``: the name as the contact list sorts it, folded as callers are found
(``domain/names.py``: lower case, accents off, ``ß`` as ``ss``), so "Čech" sorts beside
"Cech", not after "Zeman", and "élodie" beside "Elodie". Compared by code point on both
databases: PostgreSQL's column is in the "C" collation, so a database made in another
locale sorts as SQLite does. Filled here from Python for the contacts already there, a
batch at a time, with the same fold the desk writes it with; indexed ``(name_key, id)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskterm.db.types import pg_fold_accents
from deskterm.domain.names import fold

revision: str = "0015_languages"
down_revision: str | None = "0014_cti"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
#: 0008's words of a ticket: punctuation made into spaces.
_WORDS = (
    f"translate(subject || ' ' || description, "
    f"'{_PUNCTUATION.replace(chr(39), chr(39) * 2)}', '{' ' * len(_PUNCTUATION)}')"
)
#: The vector as 0008 made it, and as it is from here on: the same words, accents off.
PG_VECTOR_0008 = f"to_tsvector('simple', {_WORDS})"
PG_VECTOR = f"to_tsvector('simple', {pg_fold_accents(_WORDS)})"

_BATCH = 2000
#: ``contact.name_key``'s length, as ``desk/contacts.py`` cuts it (a fold can be longer
#: than the name: "ß" is "ss").
_KEY_MAX = 200


def _pg_search_vector(expression: str) -> None:
    op.execute("DROP INDEX IF EXISTS ix_ticket_search")
    op.execute("ALTER TABLE ticket DROP COLUMN IF EXISTS search_vector")
    op.execute(
        f"ALTER TABLE ticket ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS ({expression}) STORED"
    )
    op.execute("CREATE INDEX ix_ticket_search ON ticket USING GIN (search_vector)")
    op.execute("ANALYZE ticket")


def _fill_name_keys(bind: sa.engine.Connection) -> None:
    """The sort key of every contact already there, a batch at a time."""
    after = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT id, name FROM contact WHERE id > :after ORDER BY id LIMIT :n"),
            {"after": after, "n": _BATCH},
        ).all()
        if not rows:
            return
        bind.execute(
            sa.text("UPDATE contact SET name_key = :k WHERE id = :id"),
            [{"id": cid, "k": fold(name)[:_KEY_MAX]} for cid, name in rows],
        )
        after = rows[-1][0]


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.add_column("analyst", sa.Column("language", sa.String(length=16), nullable=True))
    # NOT NULL with a default: a plain ADD COLUMN on both (no rebuild of ``contact``, which
    # the tickets' foreign keys and 0011's triggers point at), filled right after.
    op.add_column(
        "contact",
        sa.Column(
            "name_key",
            sa.String(length=200, collation="C") if postgres else sa.String(length=200),
            server_default=sa.text("''"),
            nullable=False,
        ),
    )
    _fill_name_keys(bind)
    op.create_index("ix_contact_name_key", "contact", ["name_key", "id"])
    if postgres:
        op.execute("ANALYZE contact")
        _pg_search_vector(PG_VECTOR)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_search_vector(PG_VECTOR_0008)
    op.drop_index("ix_contact_name_key", table_name="contact")
    op.execute("ALTER TABLE contact DROP COLUMN name_key")
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild of ``analyst`` would drop a table
    # the tickets' and the log's foreign keys point at.
    op.execute("ALTER TABLE analyst DROP COLUMN language")
