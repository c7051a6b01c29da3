"""When the database fails: at start, one readable line and a non-zero exit; killed in the
middle of a save, the whole change or none of it; a database newer than the code, refused.

Start-up faults run the real ``deskterm`` in a process of its own, so the exit code and the
single stderr line are what a shell sees. A lock and a full disk are made in-process, where
the busy timeout can be shortened and the disk made to fill.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from deskterm.cli import main
from deskterm.db import engine as engine_module
from deskterm.db.engine import Database
from deskterm.db.migrate import HEAD
from deskterm.db.models import Ticket, TicketEvent, TicketLink
from deskterm.desk.setup import open_database
from deskterm.desk.tickets import add_note, create_ticket
from factories import ADMIN, AGENT, KnownDesk, build_known_desk

EXIT_UNAVAILABLE = 4


def deskterm(url: str, *args: str, login: str = AGENT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DESKTERM_DATABASE_URL": url, "DESKTERM_USER": login}
    env.pop("DESKTERM_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "deskterm", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The refusal: exactly one line on stderr, no traceback, nothing on stdout."""
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("deskterm: ")
    return result.stderr


@pytest.fixture
def desk_file(tmp_path: Path) -> Iterator[Path]:
    """A known desk in a SQLite file, closed so another process has it to itself."""
    path = tmp_path / "desk.db"
    db = open_database(f"sqlite:///{path}")
    build_known_desk(db)
    db.dispose()
    yield path


# --------------------------------------------------------------------------- at start


def test_a_missing_folder_is_one_line_and_exit_4(tmp_path: Path) -> None:
    result = deskterm(f"sqlite:///{tmp_path}/gone/desk.db", "ticket", "list")
    assert result.returncode == EXIT_UNAVAILABLE
    assert "does not exist" in one_line(result)


def test_a_file_that_is_no_database_is_one_line_and_exit_4(tmp_path: Path) -> None:
    path = tmp_path / "desk.db"
    path.write_bytes(b"these are my holiday photos, not a desk\n" * 200)
    result = deskterm(f"sqlite:///{path}", "ticket", "list")
    assert result.returncode == EXIT_UNAVAILABLE
    assert "file is not a database" in one_line(result)
    assert path.read_bytes().startswith(b"these are my holiday photos")


def test_a_read_only_database_reads_and_refuses_to_write_in_one_line(desk_file: Path) -> None:
    # Opened as SQLite opens a file it may not write (file mode, read-only mount); the test
    # cannot rely on file permissions, which do not stop root.
    url = f"sqlite:///file:{desk_file}?mode=ro&uri=true"
    result = deskterm(url, "ticket", "new", "--anonymous", "-s", "Printer jams")
    assert result.returncode == EXIT_UNAVAILABLE
    said = one_line(result)
    assert "not available" in said and ("readonly" in said or "unable to open" in said)
    with sqlite3.connect(desk_file) as conn:
        assert conn.execute("SELECT count(*) FROM ticket").fetchone() == (0,)


def test_an_unreachable_server_is_one_line_and_exit_4() -> None:
    # Port 1 on loopback: nothing listens, the refusal is immediate.
    result = deskterm("postgresql+psycopg://desk@127.0.0.1:1/desk", "ticket", "list")
    assert result.returncode == EXIT_UNAVAILABLE
    assert "is not available" in one_line(result)
    assert "127.0.0.1:1" in result.stderr


def test_a_missing_postgresql_database_is_one_line_and_exit_4() -> None:
    base = os.environ.get("DESKTERM_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PostgreSQL half skipped: set DESKTERM_TEST_POSTGRES_URL to run it")
    url = base.rsplit("/", 1)[0] + "/deskterm_no_such_database"
    result = deskterm(url, "ticket", "list")
    assert result.returncode == EXIT_UNAVAILABLE
    assert "does not exist" in one_line(result)


def test_a_database_newer_than_the_code_is_refused_and_left_alone(desk_file: Path) -> None:
    with closing(sqlite3.connect(desk_file)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    before = desk_file.read_bytes()
    for args in (("ticket", "list"), ("db", "upgrade")):
        result = deskterm(f"sqlite:///{desk_file}", *args)
        assert result.returncode == EXIT_UNAVAILABLE, args
        assert "9999_from_the_future, newer than this deskterm" in one_line(result)
    with sqlite3.connect(desk_file) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            "9999_from_the_future",
        )
    assert HEAD in result.stderr
    assert desk_file.read_bytes() == before


@pytest.fixture
def run_cli(monkeypatch, capsys):
    def run(url: str, *args: str) -> tuple[int, str]:
        monkeypatch.setenv("DESKTERM_DATABASE_URL", url)
        monkeypatch.setattr(sys, "argv", ["deskterm", "--as", AGENT, *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return code, capsys.readouterr().err

    return run


def test_a_locked_database_still_reads_and_a_write_says_locked(
    desk_file: Path, run_cli, monkeypatch
) -> None:
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_MS", 150)
    holder = sqlite3.connect(desk_file, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        code, err = run_cli(f"sqlite:///{desk_file}", "ticket", "list")
        assert code == 0, err
        code, err = run_cli(
            f"sqlite:///{desk_file}", "ticket", "new", "--anonymous", "-s", "Printer jams"
        )
        assert code == EXIT_UNAVAILABLE
        assert err.count("\n") == 1 and "database is locked" in err
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    code, err = run_cli(
        f"sqlite:///{desk_file}", "ticket", "new", "--anonymous", "-s", "Printer jams"
    )
    assert code == 0, err


def test_a_full_disk_refuses_the_change_in_one_line_and_keeps_the_desk(
    desk_file: Path, run_cli, monkeypatch
) -> None:
    make = engine_module._sqlite_engine

    def no_room_to_grow(url, *, echo):  # type: ignore[no-untyped-def]
        made = make(url, echo=echo)

        @event.listens_for(made, "connect")
        def cap(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        return made

    monkeypatch.setattr(engine_module, "_sqlite_engine", no_room_to_grow)
    long_story = " ".join(f"line {n} of what the caller said." for n in range(1500))
    code, err = run_cli(
        f"sqlite:///{desk_file}",
        "ticket",
        "new",
        "--anonymous",
        "-s",
        "Printer jams",
        "-d",
        long_story,
    )
    assert code == EXIT_UNAVAILABLE
    assert err.count("\n") == 1 and "database or disk is full" in err
    with sqlite3.connect(desk_file) as conn:
        assert conn.execute("SELECT count(*) FROM ticket").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM ticket_event").fetchone() == (0,)


# --------------------------------------------------------------------------- killed mid-save

# The writer: opens tickets, each split from the one before (a change to two tickets, their
# links and logs, and the customer's message, in one transaction), then notes it, and says
# "committed N" after each commit. With "hold", the third ticket's save stops inside its
# transaction, after everything is written and before COMMIT, and waits there to be killed.
WRITER = textwrap.dedent(
    """
    import sys
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    from deskterm.db.engine import Database
    from deskterm.desk.context import Desk
    from deskterm.desk.tickets import add_note, create_ticket

    url, login, mode = sys.argv[1:4]
    desk = Desk(Database(url), login)
    holding = False

    @event.listens_for(Session, "before_commit")
    def _hold(session):
        if holding:
            print("holding", flush=True)
            sys.stdin.readline()

    previous = None
    for n in range(10_000):
        holding = mode == "hold" and n == 2
        made = desk.write(
            create_ticket, subject=f"Kill test {n}", description="x" * 3000,
            contact_id=1, call_seconds=60, split_from=previous,
        )
        desk.write(add_note, ref=made.id, text=f"note on {n}")
        print(f"committed {n}", flush=True)
        previous = made.ref
    """
)


def _writer(url: str, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, AGENT, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after(process: subprocess.Popen[str], line: str) -> list[str]:
    """Read the writer's lines until ``line``, then kill it at once (SIGKILL: no cleanup)."""
    seen: list[str] = []
    assert process.stdout is not None
    for said in process.stdout:
        seen.append(said.strip())
        if said.strip() == line:
            break
    else:
        raise AssertionError(
            f"the writer ended early: {process.stderr.read() if process.stderr else ''}"
        )
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return seen


def whole_or_nothing(db: Database) -> list[str]:
    """Every ticket and its log agree: each version has its events, the row's version is the
    log's last, every link has its other half and a log entry on both tickets."""
    wrong: list[str] = []
    with db.read() as session:
        versions = dict(session.execute(select(Ticket.id, Ticket.version)).all())
        logged: dict[int, set[int]] = {}
        for ticket_id, version, kind in session.execute(
            select(TicketEvent.ticket_id, TicketEvent.ticket_version, TicketEvent.kind)
        ):
            logged.setdefault(ticket_id, set()).add(version)
            if version == 1 and kind != "created" and ticket_id not in versions:
                wrong.append(f"event of missing ticket {ticket_id}")
        for ticket_id, version in versions.items():
            if logged.get(ticket_id) != set(range(1, version + 1)):
                wrong.append(f"ticket {ticket_id} at v{version} has events {logged.get(ticket_id)}")
        links = set(session.execute(select(TicketLink.ticket_id, TicketLink.other_id)).all())
        wrong += [f"link {a}->{b} without its other half" for a, b in links if (b, a) not in links]
    return wrong


@pytest.mark.slow
def test_a_writer_killed_inside_its_transaction_leaves_none_of_the_change(
    known: KnownDesk,
) -> None:
    url = str(known.db.url.render_as_string(hide_password=False))
    writer = _writer(url, "hold")
    _kill_after(writer, "holding")
    with known.db.read() as session:
        subjects = list(session.scalars(select(Ticket.subject).order_by(Ticket.id)))
        second = session.scalar(select(Ticket.version).where(Ticket.subject == "Kill test 1"))
    # The first two calls were saved whole; the third, killed before COMMIT, left nothing:
    # no ticket, and no link or event on the ticket it was split from.
    assert subjects == ["Kill test 0", "Kill test 1"]
    assert second == 2  # created, noted: the split that died never bumped it
    assert not whole_or_nothing(known.db)
    # The desk carries on.
    assert known.ticket(AGENT).subject == "Laptop will not boot"


@pytest.mark.slow
@pytest.mark.parametrize("after", [2, 5])
def test_a_writer_killed_at_any_moment_leaves_every_change_whole(
    known: KnownDesk, after: int
) -> None:
    url = str(known.db.url.render_as_string(hide_password=False))
    writer = _writer(url, "run")
    seen = _kill_after(writer, f"committed {after}")
    assert not whole_or_nothing(known.db)
    with known.db.read() as session:
        stored = set(session.scalars(select(Ticket.subject)))
        events = session.scalar(select(func.count()).select_from(TicketEvent))
    # Whatever the writer was told was saved, is saved.
    assert {f"Kill test {n}" for n in range(after + 1)} <= stored
    assert events and seen[-1] == f"committed {after}"
    known.as_(ADMIN).write(add_note, ref=1, text="still working")
    if known.db.is_sqlite:
        with known.db.read() as session:
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    assert known.as_(AGENT).write(create_ticket, subject="After the crash").id > 0
