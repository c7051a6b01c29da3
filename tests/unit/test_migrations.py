"""Migrations on both databases: the revision check, first use, and the append-only log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from deskterm.db import migrate
from deskterm.db.engine import Database
from deskterm.desk.setup import open_database
from deskterm.domain.errors import SchemaMismatch
from factories import KnownDesk

TABLES = {
    "analyst",
    "analyst_group",
    "asset",
    "category",
    "contact",
    "organization",
    "resolution_code",
    "support_group",
    "ticket",
    "ticket_event",
    "ticket_link",
}


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_head_is_the_newest_migration_file() -> None:
    scripts = _scripts()
    assert scripts.get_heads() == [migrate.HEAD]


def test_known_lists_every_revision_oldest_first() -> None:
    newest_first = [rev.revision for rev in _scripts().walk_revisions()]
    assert migrate.KNOWN == tuple(reversed(newest_first))
    assert migrate.KNOWN[-1] == migrate.HEAD


@pytest.fixture
def empty(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def test_an_empty_database_is_migrated_on_first_use(empty: Database) -> None:
    before = migrate.schema_state(empty)
    assert before.empty and before.revision is None and not before.current

    state = migrate.ensure_schema(empty)

    assert state.current and state.revision == migrate.HEAD and not state.empty
    with empty.engine.connect() as conn:
        assert TABLES <= set(inspect(conn).get_table_names())
    # A second run finds nothing to do.
    assert migrate.upgrade(empty).revision == migrate.HEAD
    assert migrate.ensure_schema(empty).current


def test_opening_a_new_desk_seeds_its_groups(db_url: str) -> None:
    db = open_database(db_url)
    try:
        with db.read() as session:
            groups = session.execute(text("SELECT name FROM support_group")).scalars().all()
            codes = session.execute(text("SELECT count(*) FROM resolution_code")).scalar()
        assert {"Service Desk", "Desktop Support", "Infrastructure"} <= set(groups)
        assert codes
    finally:
        db.dispose()
    # Opening again neither fails nor seeds twice.
    db = open_database(db_url)
    try:
        with db.read() as session:
            again = session.execute(text("SELECT count(*) FROM support_group")).scalar()
        assert again == len(groups)
    finally:
        db.dispose()


def _set_revision(db: Database, revision: str | None) -> None:
    with db.engine.begin() as conn:
        if revision is None:
            conn.execute(text("DELETE FROM alembic_version"))
        else:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_a_database_newer_than_the_code_is_refused(db: Database) -> None:
    _set_revision(db, "0099_from_the_future")

    with pytest.raises(SchemaMismatch) as err:
        migrate.ensure_schema(db)
    assert "0099_from_the_future" in str(err.value)
    assert "newer than this deskterm" in str(err.value)
    # Migrating would not help: upgrading refuses too, and says to upgrade deskterm.
    with pytest.raises(SchemaMismatch, match="upgrade deskterm"):
        migrate.upgrade(db)
    with pytest.raises(SchemaMismatch, match="newer than this deskterm"):
        open_database(db.url.render_as_string(hide_password=False))


def test_a_database_with_tables_but_no_revision_is_refused(db: Database) -> None:
    _set_revision(db, None)

    with pytest.raises(SchemaMismatch) as err:
        migrate.ensure_schema(db)
    message = str(err.value)
    assert "at revision none" in message and migrate.HEAD in message
    assert "`deskterm db upgrade`" in message


def test_a_database_of_someone_elses_tables_is_refused(db_url: str) -> None:
    other = Database(db_url)
    try:
        with other.engine.begin() as conn:
            conn.execute(text("CREATE TABLE payroll (id INTEGER PRIMARY KEY)"))
        with pytest.raises(SchemaMismatch, match="run `deskterm db upgrade`"):
            migrate.ensure_schema(other)
        with other.engine.connect() as conn:
            # Refused means untouched: nothing of ours was created beside their table.
            assert set(inspect(conn).get_table_names()) == {"payroll"}
    finally:
        other.dispose()


def test_a_database_at_an_older_revision_is_refused_until_upgraded(empty: Database) -> None:
    if len(migrate.KNOWN) < 2:
        pytest.skip("only one revision exists: nothing is older")
    older = migrate.KNOWN[-2]
    migrate.upgrade(empty, older)

    with pytest.raises(SchemaMismatch) as err:
        migrate.ensure_schema(empty)
    assert f"at revision {older}" in str(err.value)
    assert "`deskterm db upgrade`" in str(err.value)

    # What `deskterm db upgrade` does: then the desk opens.
    assert migrate.upgrade(empty).revision == migrate.HEAD
    assert migrate.ensure_schema(empty).current


# --------------------------------------------------------------------------- the ticket log


def _log_rows(known: KnownDesk) -> list[tuple[object, ...]]:
    with known.db.engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text("SELECT id, ticket_id, kind, actor_id FROM ticket_event ORDER BY id")
            )
        ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ticket_event SET kind = 'note' WHERE id = :id",
        "UPDATE ticket_event SET actor_id = NULL",
        "DELETE FROM ticket_event WHERE id = :id",
        "DELETE FROM ticket_event",
    ],
)
def test_the_database_refuses_to_rewrite_the_log(known: KnownDesk, statement: str) -> None:
    ticket = known.ticket()
    before = _log_rows(known)
    assert before

    with pytest.raises(DBAPIError, match="append-only"):
        with known.db.engine.begin() as conn:
            conn.execute(text(statement), {"id": ticket.events[0].id})

    assert _log_rows(known) == before


def test_postgresql_refuses_to_truncate_the_log(known: KnownDesk) -> None:
    if known.db.is_sqlite:
        pytest.skip("SQLite has no TRUNCATE")
    known.ticket()
    before = _log_rows(known)

    with pytest.raises(DBAPIError, match="append-only"):
        with known.db.engine.begin() as conn:
            conn.execute(text("TRUNCATE ticket_event CASCADE"))

    assert _log_rows(known) == before


def test_the_log_still_takes_new_events(known: KnownDesk) -> None:
    ticket = known.ticket()
    with known.db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ticket_event (ticket_id, ticket_version, at, kind, visibility, data)"
                " VALUES (:t, 1, :at, 'note', 'internal', '{}')"
            ),
            {"t": ticket.id, "at": "2026-01-01 00:00:00"},
        )
    assert len(_log_rows(known)) == len(ticket.events) + 1
