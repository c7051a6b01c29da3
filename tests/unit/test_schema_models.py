"""The models say what the migrations build, on both databases.

An empty database is migrated to head and compared with ``db/models.py`` by Alembic's own
autogenerate comparison, types and server defaults included: a difference is a model that
lies about the database (an index the code believes missing, a default it does not know).
What the migrations build on purpose outside the models is named below, each with why; the
test also fails when one of those is not there, so the list cannot outlive what it excuses.
Check constraints and triggers are not compared (Alembic does not read them); the migration
tests cover the triggers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

import deskterm.db.models  # noqa: F401  (registers the tables)
from deskterm.db import migrate
from deskterm.db.engine import Database

_FTS_PARTS = ("", "_data", "_idx", "_docsize", "_config")

#: In the database, not in the models, on both: (kind, table, name) and why.
_BOTH = {
    ("column", "ticket_event", "db_user"): "filled by the database only (migration 0010)",
    ("index", "ticket_event", "ix_ticket_event_worked"): (
        "partial (0021): a WHERE in the model needs each dialect's keyword, loading both"
    ),
    ("table", "name_word", "name_word"): (
        "the distinct words of contact_word, kept by a trigger (0011): derived, so an "
        "export does not carry it"
    ),
}
#: SQLite's full-text indexes: FTS5 tables and the tables FTS5 keeps beside each.
_SQLITE = {
    ("table", f"{base}{part}", f"{base}{part}"): "FTS5 index kept by triggers"
    for base in ("kb_article_fts", "ticket_fts", "name_word_fts", "contact_fts")
    for part in _FTS_PARTS
}
#: PostgreSQL's own search structures, each made with raw SQL in its migration.
_POSTGRES = {
    ("column", "ticket", "search_vector"): "generated tsvector (0008)",
    ("index", "ticket", "ix_ticket_search"): "GIN over search_vector (0008)",
    ("column", "kb_article", "search_vector"): "generated tsvector (0005)",
    ("index", "kb_article", "ix_kb_article_search"): "GIN over search_vector (0005)",
    ("index", "contact", "ix_contact_name_lower_c"): '"C" collation prefix index (0006)',
    ("index", "contact", "ix_contact_email_c"): '"C" collation prefix index (0006)',
}
#: pg_trgm's GIN indexes (0011), made only where the extension could be had (the one on
#: name_word goes with its table).
_TRIGRAM = {
    ("index", "contact", "ix_contact_dial_trgm"): "pg_trgm GIN",
    ("index", "contact", "ix_contact_email_trgm"): "pg_trgm GIN",
}


@pytest.fixture
def migrated(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    migrate.upgrade(database)
    yield database
    database.dispose()


def _outside_models(db: Database) -> dict[tuple[str, str, str], str]:
    if db.is_sqlite:
        return _BOTH | _SQLITE
    with db.engine.connect() as conn:
        trigram = conn.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
    return _BOTH | _POSTGRES | (_TRIGRAM if trigram else {})


def test_the_models_match_the_migrated_schema(migrated: Database) -> None:
    excused = _outside_models(migrated)
    skipped: set[tuple[str, str, str]] = set()

    def include_object(
        obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any
    ) -> bool:
        # Only what is in the database and nowhere in the models may be excused.
        if not reflected or compare_to is not None:
            return True
        table = obj.name if kind == "table" else obj.table.name
        key = (kind, table, name or "")
        if key in excused:
            skipped.add(key)
            return False
        return True

    with migrated.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": include_object,
            },
        )
        differences = compare_metadata(context, SQLModel.metadata)

    assert differences == []
    assert skipped == set(excused), "excused but not in the database"
