"""The demo loader under attack (issue 13, item 2): a build killed at any moment leaves a
desk whose search keeps up, and ``demo --if-empty`` takes a half-built desk for neither an
empty nor a finished one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import func, select, text

from clirun import run_deskterm
from deskterm.db.engine import Database
from deskterm.db.models import Analyst, Ticket
from deskterm.desk.context import Desk
from deskterm.desk.demo import build_demo
from deskterm.desk.search import SQLITE_TRIGGERS, search_tickets, sqlite_search_triggers
from deskterm.desk.setup import open_database
from deskterm.desk.tickets import create_ticket

ME = "kim.tester"

# ``deskterm demo`` as a shell runs it, saying each progress step on stdout so the test can
# kill it (SIGKILL: no cleanup of any kind) in the middle of the load.
DEMO = textwrap.dedent(
    """
    import sys
    import deskterm.desk.demo as demo
    from deskterm.cli import main

    real = demo.build_demo

    def build(db, *, progress=None, **options):
        def said(stage, done, total):
            if progress is not None:
                progress(stage, done, total)
            print(f"{stage} {done} {total}", flush=True)
        return real(db, progress=said, **options)

    demo.build_demo = build
    sys.argv = ["deskterm", *sys.argv[1:]]
    main()
    """
)


def _count(db: Database, model: object) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[arg-type]


def _kill_demo_at(url: str, stage: str, share: float) -> list[str]:
    env = {**os.environ, "DESKTERM_DATABASE_URL": url, "DESKTERM_USER": ME}
    env.pop("DESKTERM_DEBUG", None)
    process = subprocess.Popen(
        [sys.executable, "-c", DEMO, "demo", "--tickets", "3000"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line.strip())
        said, done, total = ([*line.split(), "0", "0"])[:3]
        if said == stage and int(done) >= int(total) * share:
            break
    else:
        raise AssertionError(f"the demo ended early: {process.stderr.read()}")  # type: ignore[union-attr]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return seen


def _search_keeps_up(db: Database) -> None:
    me = Desk(db, ME)
    made = me.write(create_ticket, subject="Zebracorn badge reader rejects every card")
    assert [hit.id for hit in me.read(search_tickets, query="zebracorn")] == [made.id]


@pytest.mark.slow
@pytest.mark.parametrize(("stage", "share"), [("tickets", 0.5), ("finishing", 0)])
def test_a_demo_killed_mid_load_leaves_a_desk_search_keeps_up_with(
    db: Database, db_url: str, monkeypatch, capsys, stage: str, share: float
) -> None:
    """Killed half way through its tickets, the demo leaves the desk empty (one
    transaction), and ``--if-empty`` builds a desk whose search finds what is written next.
    Killed as it finishes, the desk is empty or whole: never one without its index."""
    _kill_demo_at(db_url, stage, share)
    tickets = _count(db, Ticket)
    if stage == "tickets":
        assert tickets == _count(db, Analyst) == 0
    else:
        assert tickets in (0, 3000)
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", db_url, "--as", ME, "demo", "--if-empty", "--tickets", "200"
    )
    assert code == 0, err
    assert ("Demo desk ready" in out) == (tickets == 0)
    _search_keeps_up(db)
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", db_url, "db", "check")
    assert code == 0, out + err


def test_a_desk_whose_search_triggers_were_lost_gets_them_back_from_the_demo(
    tmp_path,
) -> None:
    """An older loader dropped the triggers outside its transactions, and a killed load
    left none: the next load copied none back, and search never found a new ticket."""
    db = open_database(f"sqlite:///{tmp_path / 'desk.db'}")
    try:
        with db.write() as session:
            for name in SQLITE_TRIGGERS:
                session.execute(text(f"DROP TRIGGER {name}"))
        build_demo(db, tickets=50, me=ME)
        with db.read() as session:
            assert sqlite_search_triggers(session) == SQLITE_TRIGGERS
        _search_keeps_up(db)
    finally:
        db.dispose()


def test_the_search_triggers_are_the_migrations_word_for_word(db: Database) -> None:
    """``db reindex`` and the demo make the triggers from desk/search.py: they must be the
    ones migration 0008 makes, or ``db check`` would call a fresh desk broken."""
    if not db.is_sqlite:
        pytest.skip("SQLite keeps its search index by triggers")
    with db.read() as session:
        assert sqlite_search_triggers(session) == SQLITE_TRIGGERS


def _half_built(db: Database) -> None:
    """What an older loader left when killed: tickets written before their logs, and (on
    SQLite) the search triggers gone."""
    build_demo(db, tickets=40, me=ME)
    columns = [c.name for c in Ticket.__table__.columns]  # type: ignore[attr-defined]
    copied = ", ".join("id + 1000" if c == "id" else c for c in columns)
    with db.write() as session:
        if db.is_sqlite:
            for name in SQLITE_TRIGGERS:
                session.execute(text(f"DROP TRIGGER {name}"))
        session.execute(
            text(
                f"INSERT INTO ticket ({', '.join(columns)}) "  # nosec B608
                f"SELECT {copied} FROM ticket WHERE id <= 25"
            )
        )


def test_if_empty_refuses_a_half_built_desk_and_says_how_to_start_over(
    db: Database, db_url: str, monkeypatch, capsys
) -> None:
    _half_built(db)
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", db_url, "--as", ME, "demo", "--if-empty"
    )
    assert code == 6 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "not whole" in err and "give it a new database file" in err
    assert "25 of its 65 newest tickets differ from their log" in err
    if db.is_sqlite:
        assert "ticket_fts_ai" in err
    assert _count(db, Ticket) == 65  # nothing built on top


def test_if_empty_leaves_a_whole_demo_desk_as_it_is(
    db: Database, db_url: str, monkeypatch, capsys
) -> None:
    build_demo(db, tickets=30, me=ME)
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", db_url, "--as", ME, "demo", "--if-empty"
    )
    assert code == 0, err
    assert "already has a desk; left as it is" in out
    assert _count(db, Ticket) == 30


def test_the_demo_adds_whoever_desktermuser_names(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The analyst the demo adds is the one every later command acts as: DESKTERM_USER counts
    # here as it does everywhere else (the demo used to take the OS login instead).
    monkeypatch.setenv("DESKTERM_USER", "Kim.Demo")
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", db_url, "demo", "--tickets", "20")
    assert code == 0, err
    assert "You are kim.demo" in out.replace("\n", " ")
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", db_url, "ticket", "list", "--json")
    assert code == 0, err
