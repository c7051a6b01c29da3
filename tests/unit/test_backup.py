"""Backups, restores, exports and imports: a desk kept or moved loses nothing.

The round trip goes SQLite → PostgreSQL → SQLite and compares every ticket with its whole log
as analysts read it, and the exports byte for byte; refusals leave both sides as they were.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, func, select, text

from deskterm.cli import main
from deskterm.db.engine import Database
from deskterm.db.migrate import HEAD
from deskterm.db.models import SupportGroup, Ticket, TicketEvent
from deskterm.desk import backup, transfer
from deskterm.desk.context import Desk
from deskterm.desk.demo import build_demo
from deskterm.desk.mail import import_message
from deskterm.desk.setup import open_database
from deskterm.desk.tickets import add_note, create_ticket, get_ticket, list_tickets
from deskterm.domain.errors import InvalidInput, PermissionDenied
from factories import ADMIN, AGENT, KnownDesk, build_known_desk

MAIL = Path(__file__).parent.parent / "data" / "mail"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A second, empty PostgreSQL schema, beside whichever database the test has."""
    base = os.environ.get("DESKTERM_TEST_POSTGRES_URL")
    if base is None:
        pytest.skip("PostgreSQL half skipped: set DESKTERM_TEST_POSTGRES_URL to run it")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _rich_desk(db: Database) -> str:
    """A demo desk plus what the demo lacks: mail with attachments, awkward text. Returns
    the login of an admin."""
    build_demo(db, tickets=40, seed=3)
    with db.read() as session:
        admin = session.execute(text("SELECT login FROM analyst WHERE role = 'admin'")).scalar()
    desk = Desk(db, admin)
    for name in ("04-outlook-inline-image.eml", "05-rfc2231-filenames.eml", "11-not-an-email.eml"):
        import_message(db, (MAIL / name).read_bytes(), source=name)
    desk.write(
        add_note,
        ref=1,
        text="Ünïcødé, 'quotes'; DROP TABLE ticket;-- [bold]markup[/bold] 🙂\n\tindented",
    )
    return admin


def _export(db: Database, admin: str) -> list[str]:
    out = io.StringIO()
    transfer.export_desk(db, Desk(db, admin).whoami(), out)
    return out.getvalue().splitlines()


def _every_ticket(db: Database, admin: str) -> list[dict]:
    """Every ticket as an analyst reads it: header, links and the whole log."""
    desk = Desk(db, admin)
    refs = [t.ref for t in desk.read(list_tickets, statuses=["all"], sort="newest", limit=1000)]
    return [desk.read(get_ticket, ref=ref).model_dump() for ref in sorted(refs)]


def test_a_desk_moves_to_postgresql_and_back_with_nothing_lost(tmp_path: Path, pg_url: str):
    source = open_database(f"sqlite:///{tmp_path / 'source.db'}")
    admin = _rich_desk(source)
    lines = _export(source, admin)
    tickets = _every_ticket(source, admin)
    assert len(tickets) >= 40 and any(len(t["events"]) > 3 for t in tickets)

    middle = open_database(pg_url)
    summary = transfer.import_desk(middle, lines)
    assert summary.counts["ticket"] == len(tickets)
    assert _every_ticket(middle, admin) == tickets
    again = _export(middle, admin)
    # Same rows, same values, same order: only the header (when, from where) differs.
    assert again[1:] == lines[1:]

    back = open_database(f"sqlite:///{tmp_path / 'back.db'}")
    transfer.import_desk(back, again)
    assert _every_ticket(back, admin) == tickets
    assert _export(back, admin)[1:] == lines[1:]

    # The moved desk goes on where the old one stopped: the next reference, a working log.
    highest = max(t["id"] for t in tickets)
    for db in (middle, back):
        made = Desk(db, admin).write(add_note, ref=highest, text="after the move")
        assert made.version == tickets[-1]["version"] + 1
        fresh = Desk(db, admin).write(create_ticket, subject="First ticket after the move")
        assert fresh.id == highest + 1
    for db in (source, middle, back):
        db.dispose()


def test_an_export_of_the_desk_under_test_imports_into_a_fresh_sqlite(
    known: KnownDesk, tmp_path: Path
) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(add_note, ref=ticket.id, text="kept")
    lines = _export(known.db, ADMIN)
    copy = open_database(f"sqlite:///{tmp_path / 'copy.db'}")
    transfer.import_desk(copy, lines)
    assert _every_ticket(copy, ADMIN) == _every_ticket(known.db, ADMIN)
    copy.dispose()


def _counts(db: Database) -> tuple[int, int, int]:
    with db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(Ticket)) or 0,
            session.scalar(select(func.count()).select_from(TicketEvent)) or 0,
            session.scalar(select(func.count()).select_from(SupportGroup)) or 0,
        )


def test_only_an_admin_exports(known: KnownDesk) -> None:
    with pytest.raises(PermissionDenied, match="only an admin"):
        transfer.export_desk(known.db, known.as_(AGENT).whoami(), io.StringIO())


def test_an_import_refuses_a_desk_that_is_in_use(known: KnownDesk) -> None:
    lines = _export(known.db, ADMIN)
    before = _counts(known.db)
    with pytest.raises(InvalidInput, match="import only into an empty desk"):
        transfer.import_desk(known.db, lines)
    assert _counts(known.db) == before


def _event_line(lines: list[str]) -> int:
    """Where the last event of the log is, in an export."""
    return max(n for n, line in enumerate(lines) if '"table":"ticket_event"' in line)


def _replace(lines: list[str], old: str, new: str) -> list[str]:
    n = _event_line(lines)
    assert old in lines[n]
    return [*lines[:n], lines[n].replace(old, new), *lines[n + 1 :]]


@pytest.mark.parametrize(
    ("spoil", "words"),
    [
        (lambda lines: lines[:-1], "cut short"),
        (lambda lines: [*lines[:-5], lines[-1]], "do not add up"),
        (lambda lines: ["{}", *lines[1:]], "not a deskterm export"),
        (lambda lines: [lines[0].replace(HEAD, "9999_future"), *lines[1:]], "unknown to this"),
        (lambda lines: [*lines[:-2], "{not json", *lines[-1:]], "is not JSON"),
        (lambda lines: _replace(lines, '"kind"', '"colour"'), "has no column 'colour'"),
        (lambda lines: _replace(lines, '"ticket_id":1,', '"ticket_id":999,'), "cannot be stored"),
        (lambda lines: _replace(lines, '"at":"', '"at":"yesterday'), "ticket_event.at"),
    ],
    ids=[
        "truncated",
        "rows-missing",
        "foreign",
        "newer",
        "garbled",
        "unknown-column",
        "orphan",
        "bad-time",
    ],
)
def test_a_bad_export_imports_nothing(
    db: Database, small_export: list[str], spoil, words: str
) -> None:
    before = _counts(db)
    with pytest.raises(InvalidInput, match=words):
        transfer.import_desk(db, spoil(list(small_export)))
    # Nothing half-done: not even the seeded groups the import would have replaced.
    assert _counts(db) == before


@pytest.fixture(scope="module")
def small_export(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The export of a known desk with one ticket and a note, made once for the module."""
    path = tmp_path_factory.mktemp("export") / "src.db"
    source = build_known_desk(open_database(f"sqlite:///{path}"))
    ticket = source.ticket(AGENT)
    source.as_(AGENT).write(add_note, ref=ticket.id, text="one")
    lines = _export(source.db, ADMIN)
    source.db.dispose()
    return lines


# --------------------------------------------------------------------------- SQLite backups


@pytest.fixture
def sqlite_desk(tmp_path: Path) -> Iterator[KnownDesk]:
    db = open_database(f"sqlite:///{tmp_path / 'desk.db'}")
    yield build_known_desk(db)
    db.dispose()


def test_a_backup_taken_while_in_use_restores_that_moment(
    sqlite_desk: KnownDesk, tmp_path: Path
) -> None:
    kept = sqlite_desk.ticket(AGENT, subject="Before the backup")
    target = tmp_path / "backup.db"
    # A reader holds a transaction open meanwhile: the online backup does not wait for it.
    with sqlite_desk.db.read() as session:
        session.execute(select(Ticket.id)).all()
        info = backup.backup(sqlite_desk.db, target)
    assert (info.tickets, info.revision) == (1, HEAD)
    assert not Path(f"{target}-wal").exists()

    later = sqlite_desk.ticket(AGENT, subject="After the backup")
    with pytest.raises(InvalidInput, match="holds a desk already: add --force"):
        backup.restore(sqlite_desk.db, target)
    assert sqlite_desk.row(later.id).subject == "After the backup"

    backup.restore(sqlite_desk.db, target, force=True)
    refs = [t.ref for t in sqlite_desk.as_(ADMIN).read(list_tickets, statuses=["all"])]
    assert refs == [kept.ref]
    # The restored desk works on: the next ticket takes the next free reference again.
    assert sqlite_desk.ticket(AGENT).id == later.id


def test_a_backup_never_overwrites_by_accident(sqlite_desk: KnownDesk, tmp_path: Path) -> None:
    target = tmp_path / "backup.db"
    target.write_text("precious")
    with pytest.raises(InvalidInput, match="exists: choose a new file or add --force"):
        backup.backup(sqlite_desk.db, target)
    assert target.read_text() == "precious"
    with pytest.raises(InvalidInput, match="cannot overwrite the desk it copies"):
        backup.backup(sqlite_desk.db, Path(sqlite_desk.db.url.database or ""), force=True)
    assert backup.backup(sqlite_desk.db, target, force=True).tickets == 0


def test_restore_checks_it_is_a_deskterm_backup_it_knows(
    sqlite_desk: KnownDesk, tmp_path: Path
) -> None:
    ticket = sqlite_desk.ticket(AGENT)
    good = backup.backup(sqlite_desk.db, tmp_path / "good.db").path

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (x)")
    newer = tmp_path / "newer.db"
    shutil.copy(good, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    damaged = tmp_path / "damaged.db"
    data = bytearray(good.read_bytes())
    data[4096 * 2 : 4096 * 6] = b"\xff" * (4096 * 4)
    damaged.write_bytes(bytes(data))
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")

    for path, words in (
        (foreign, "is not a deskterm database"),
        (newer, "revision 9999_future, which this deskterm"),
        (damaged, "damaged|cannot be read|malformed"),
        (text_file, "is not a SQLite database"),
        (tmp_path / "missing.db", "no backup file"),
    ):
        with pytest.raises(InvalidInput, match=words):
            backup.restore(sqlite_desk.db, path, force=True)
        assert sqlite_desk.row(ticket.id).subject == ticket.subject


def test_postgresql_desks_are_pointed_at_pg_dump(known: KnownDesk, tmp_path: Path) -> None:
    if known.db.is_sqlite:
        pytest.skip("SQLite desks are backed up by deskterm itself")
    with pytest.raises(InvalidInput, match="pg_dump"):
        backup.backup(known.db, tmp_path / "x.db")
    with pytest.raises(InvalidInput, match="pg_dump"):
        backup.restore(known.db, tmp_path / "x.db")


# --------------------------------------------------------------------------- the commands


@pytest.fixture
def run(monkeypatch, capsys):
    """``deskterm ARGS`` in-process on the database at ``url``: exit code, stdout, stderr."""

    def run(url: str, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("DESKTERM_DATABASE_URL", url)
        monkeypatch.setattr(sys, "argv", ["deskterm", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_the_commands_back_up_restore_export_and_import(
    sqlite_desk: KnownDesk, tmp_path: Path, run
) -> None:
    url = str(sqlite_desk.db.url)
    ticket = sqlite_desk.ticket(AGENT)
    saved = tmp_path / "saved.db"

    code, _out, err = run(url, "--as", AGENT, "db", "backup", str(saved))
    assert code == 3 and err.count("\n") == 1
    assert f"only an admin of this desk may back it up or restore it ({AGENT} is not)" in err
    assert not saved.exists()

    code, out, err = run(url, "--as", ADMIN, "db", "backup", str(saved), "--json")
    assert code == 0, err
    assert json.loads(out)["tickets"] == 1

    code, _out, err = run(url, "--as", ADMIN, "db", "restore", str(saved))
    assert code == 1 and err.count("\n") == 1 and "--force" in err

    dump = tmp_path / "desk.jsonl"
    code, _out, err = run(url, "--as", ADMIN, "export", str(dump))
    assert code == 0 and "Exported 1 tickets" in err
    code, _out, err = run(url, "--as", ADMIN, "export", str(dump))
    assert code == 1 and "exists" in err

    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    code, _out, err = run(fresh, "--as", ADMIN, "import", str(dump))
    assert code == 0 and "Imported 1 tickets" in err, err
    code, out, _err = run(fresh, "--as", ADMIN, "ticket", "show", ticket.ref, "--json")
    assert json.loads(out)["subject"] == ticket.subject
    code, _out, err = run(fresh, "--as", ADMIN, "import", str(dump))
    assert code == 1 and "empty desk" in err
