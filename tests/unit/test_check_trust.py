"""``db check`` under attack (issue 13, items 2 and 11): a ticket that is not there is not
found, a damaged file is damaged, and a broken search index is reported and rebuilt."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import text

from clirun import run_deskterm
from deskterm.desk.context import Desk
from deskterm.desk.demo import build_demo
from deskterm.desk.search import search_tickets
from deskterm.desk.setup import open_database
from deskterm.desk.tickets import create_ticket
from factories import ADMIN, AGENT, KnownDesk

EXIT_NOT_FOUND = 1
EXIT_DENIED = 3
EXIT_INCONSISTENT = 6


@pytest.mark.parametrize("ref", ["DT-999999999999", "#2147483648", "DT-000042"])
def test_checking_a_ticket_that_is_not_there_is_not_found(
    known: KnownDesk, db_url: str, monkeypatch, capsys, ref: str
) -> None:
    """Not "1 of 0 tickets differ" (exit 6), and no crash past PostgreSQL's integer range."""
    known.ticket(AGENT)
    number = int(ref.lstrip("DT-#"))
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", db_url, "db", "check", "--ticket", ref
    )
    assert (code, out) == (EXIT_NOT_FOUND, "")
    assert err == f"deskterm: no ticket DT-{number:06d}\n"
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", db_url, "db", "check", "--ticket", ref, "--ticket", "1"
    )
    assert code == EXIT_NOT_FOUND and err == f"deskterm: no ticket DT-{number:06d}\n"


# --------------------------------------------------------------------------- a damaged file


@pytest.fixture
def demo_file(tmp_path: Path) -> Path:
    path = tmp_path / "desk.db"
    db = open_database(f"sqlite:///{path}")
    build_demo(db, tickets=300, me=AGENT)
    db.dispose()
    return path


def _damage(path: Path, btree: str) -> int:
    """Overwrite a leaf page of ``btree`` in the middle of the file (its page header and
    cell pointers), as a failing disk or a stray write would."""
    with closing(sqlite3.connect(path)) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            n
            for (n,) in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
                (btree,),
            )
        ]
    assert pages, btree
    page = pages[len(pages) // 2]
    assert page > 1  # never the file's header
    with path.open("r+b") as file:
        file.seek((page - 1) * page_size)
        file.write(bytes([0x0D, 0xFF, 0xFF, 0x7F, 0xFF, 0x00, 0x01, 0x00] + [0xA5] * 200))
    return page


# The ticket table itself, and a queue index the replay never reads (it passed as clean).
@pytest.mark.parametrize("btree", ["ticket", "ix_ticket_queue"])
def test_a_damaged_file_is_reported_damaged_with_a_hint_to_restore(
    demo_file: Path, monkeypatch, capsys, btree: str
) -> None:
    _damage(demo_file, btree)
    url = f"sqlite:///{demo_file}"
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", url, "db", "check")
    assert code == EXIT_INCONSISTENT, out + err
    assert out.startswith("file: ") and "every ticket is what its log says" not in out
    assert err.count("\n") == 1 and "is damaged" in err and "`deskterm db restore" in err
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", url, "db", "check", "--json")
    report = json.loads(out)
    assert code == EXIT_INCONSISTENT and report["ok"] is False and report["damage"]


def test_a_sound_file_checks_clean(demo_file: Path, monkeypatch, capsys) -> None:
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", f"sqlite:///{demo_file}", "db", "check"
    )
    assert code == 0, err
    assert "Checked 300 tickets" in out and "file:" not in out


# --------------------------------------------------------------------------- the search index


def _break_search_index(known: KnownDesk, how: str) -> None:
    with known.db.write() as session:
        if not known.db.is_sqlite:
            session.execute(text("DROP INDEX ix_ticket_search"))
        elif how == "trigger":
            session.execute(text("DROP TRIGGER ticket_fts_ai"))
        else:
            session.execute(text("INSERT INTO ticket_fts(ticket_fts) VALUES ('delete-all')"))


@pytest.mark.parametrize("how", ["trigger", "emptied"])
def test_a_broken_search_index_is_reported_and_db_reindex_mends_it(
    known: KnownDesk, db_url: str, monkeypatch, capsys, how: str
) -> None:
    if how == "emptied" and not known.db.is_sqlite:
        pytest.skip("PostgreSQL's index is a GIN index, not a table of its own")
    known.ticket(AGENT)
    _break_search_index(known, how)
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", db_url, "db", "check")
    assert code == EXIT_INCONSISTENT
    assert any(line.startswith("search index: ") for line in out.splitlines()), out
    assert "every ticket is what its log says" in out  # the tickets themselves are sound
    assert err == "deskterm: the ticket search index is broken: `deskterm db reindex` rebuilds it\n"
    code, out, _err = run_deskterm(monkeypatch, capsys, "--db", db_url, "db", "check", "--json")
    assert code == EXIT_INCONSISTENT and json.loads(out)["search_index"]

    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", db_url, "--as", AGENT, "db", "reindex"
    )
    assert code == EXIT_DENIED and "only an admin" in err
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", db_url, "--as", ADMIN, "db", "reindex"
    )
    assert code == 0, err
    assert out.startswith("was: ") and "Search index rebuilt: 1 ticket." in out

    code, out, err = run_deskterm(monkeypatch, capsys, "--db", db_url, "db", "check")
    assert code == 0, out + err
    agent = Desk(known.db, AGENT)
    made = agent.write(create_ticket, subject="Zebracorn badge reader", contact_id=1)
    assert [hit.id for hit in agent.read(search_tickets, query="zebracorn")] == [made.id]
    assert agent.read(search_tickets, query="laptop")  # the older ticket is found again
