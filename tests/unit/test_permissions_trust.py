"""Permission checks that failed open or were missing: backups of a busy desk, another
analyst's survey scores, another analyst's knowledge-base draft.

Every check fails closed: an error while checking is a refusal, and a refusal leaves the
desk (and the folder a backup would have gone to) exactly as it was.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from clirun import run_deskterm
from deskterm.db.models import KbArticle, Survey
from deskterm.desk import backup, kb
from deskterm.desk.reports import record_survey
from deskterm.desk.setup import open_database
from deskterm.desk.tickets import resolve
from deskterm.domain.errors import DatabaseUnavailable, PermissionDenied
from factories import (
    ADMIN,
    AGENT,
    AGENT2,
    SERVICE_DESK,
    SUPERVISOR,
    TECH,
    KnownDesk,
    build_known_desk,
)

# --------------------------------------------------------------------------- busy desk


@contextlib.contextmanager
def _held(known: KnownDesk) -> Iterator[None]:
    """Another process's write lock on the desk, held for the whole block: in exclusive
    locking mode even readers of a WAL desk wait for it, then give up."""
    known.db.dispose()  # the test's own pooled connections would hold the lock off
    assert known.db.url.database
    conn = sqlite3.connect(known.db.url.database, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("UPDATE analyst SET name = name")
        yield
    finally:
        conn.close()  # rolls the write back


@pytest.fixture
def sqlite_desk(tmp_path: Path) -> Iterator[KnownDesk]:
    db = open_database(f"sqlite:///{tmp_path / 'desk.db'}")
    yield build_known_desk(db)
    db.dispose()


@pytest.fixture
def busy(sqlite_desk: KnownDesk, monkeypatch: pytest.MonkeyPatch) -> str:
    # Give up on a lock after 0.2 s instead of 5: the same path, sooner.
    monkeypatch.setattr("deskterm.db.engine.BUSY_TIMEOUT_MS", 200)
    return sqlite_desk.db.url.render_as_string(hide_password=False)


def test_an_agent_never_backs_up_a_busy_desk(
    sqlite_desk: KnownDesk, busy: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    with _held(sqlite_desk):
        code, out, err = run_deskterm(
            monkeypatch, capsys, "--db", busy, "--as", AGENT, "db", "backup", str(folder / "b.db")
        )
    assert code in (3, 4) and out == "" and err.count("\n") == 1, err
    assert list(folder.iterdir()) == []


def test_an_agent_never_restores_over_a_busy_desk(
    sqlite_desk: KnownDesk, busy: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    saved = tmp_path / "saved.db"
    backup.backup(sqlite_desk.db, saved)
    sqlite_desk.ticket(AGENT)
    with _held(sqlite_desk):
        code, _out, err = run_deskterm(
            monkeypatch, capsys, "--db", busy, "--as", AGENT, "db", "restore", str(saved), "--force"
        )
    assert code in (3, 4) and err.count("\n") == 1, err
    # The ticket opened after the backup is still there: nothing was restored.
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", busy, "--as", ADMIN, "ticket", "list", "--json"
    )
    assert code == 0 and "DT-000001" in out, err


def test_an_admin_on_a_busy_desk_gets_a_backup_or_one_line(
    sqlite_desk: KnownDesk, busy: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    target = folder / "b.db"
    with _held(sqlite_desk):
        code, _out, err = run_deskterm(
            monkeypatch, capsys, "--db", busy, "--as", ADMIN, "db", "backup", str(target)
        )
    if code == 0:
        assert backup.inspect_backup(target).analysts > 0
    else:
        assert code == 4 and err.count("\n") == 1 and "not available" in err, err
        assert list(folder.iterdir()) == []


def test_any_error_while_asking_who_is_admin_is_a_refusal(
    sqlite_desk: KnownDesk, monkeypatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("anything at all")

    monkeypatch.setattr(sqlite_desk.db.engine, "connect", broken)
    with pytest.raises(PermissionDenied, match="cannot tell whether alice is an admin"):
        backup.require_admin(sqlite_desk.db, AGENT)


def test_a_locked_desk_is_unavailable_to_the_admin_check(sqlite_desk: KnownDesk, busy: str) -> None:
    from deskterm.db.engine import Database

    db = Database(busy)  # a fresh engine, with the short timeout
    try:
        with _held(sqlite_desk), pytest.raises(DatabaseUnavailable, match="locked"):
            backup.require_admin(db, ADMIN)
    finally:
        db.dispose()


@pytest.fixture
def read_only_desk(sqlite_desk: KnownDesk, tmp_path: Path) -> Iterator[str]:
    """A copy of the desk in a folder nobody may write, root included (``chattr +i``)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    copy = folder / "desk.db"
    backup.backup(sqlite_desk.db, copy)  # a rollback-journal file: no -wal, no -shm
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("no chattr to make a folder read-only for root")
    made = subprocess.run([chattr, "+i", str(copy), str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i refused here: {made.stderr.decode().strip()}")
    try:
        yield f"sqlite:///{copy}"
    finally:
        subprocess.run([chattr, "-i", str(copy), str(folder)], check=True)


@pytest.mark.parametrize("login", [AGENT, ADMIN])
def test_a_read_only_desk_backs_up_nothing_in_one_line(
    read_only_desk: str, tmp_path: Path, login: str, monkeypatch, capsys
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", read_only_desk, "--as", login, "db", "backup",
        str(folder / "b.db"),
    )  # fmt: skip
    assert code in (3, 4) and out == "" and err.count("\n") == 1, err
    assert list(folder.iterdir()) == []


# --------------------------------------------------------------------------- surveys


def _resolved(known: KnownDesk) -> int:
    ticket = known.ticket(AGENT, group=SERVICE_DESK)
    known.as_(AGENT).write(resolve, ref=ticket.id, code="fixed", text="Reseated the cable")
    return ticket.id


def _survey(known: KnownDesk, ticket_id: int) -> tuple[int | None, int | None, int | None]:
    with known.db.read() as session:
        row = session.get(Survey, ticket_id)
        return (row.csat, row.nps, row.recorded_by_id) if row else (None, None, None)


def test_another_agent_cannot_overwrite_a_survey(known: KnownDesk) -> None:
    ticket_id = _resolved(known)
    known.as_(AGENT).write(record_survey, ref=ticket_id, csat=5, nps=10)
    before = (_survey(known, ticket_id), known.snapshot(ticket_id))
    for login in (AGENT2, TECH):
        with pytest.raises(PermissionDenied, match=r"held by someone else \(alice\)"):
            known.as_(login).write(record_survey, ref=ticket_id, csat=1, nps=0)
        assert (_survey(known, ticket_id), known.snapshot(ticket_id)) == before


def test_the_holder_and_supervisors_record_surveys(known: KnownDesk) -> None:
    ticket_id = _resolved(known)
    known.as_(AGENT).write(record_survey, ref=ticket_id, csat=4)
    known.as_(SUPERVISOR).write(record_survey, ref=ticket_id, csat=5, nps=9)
    known.as_(ADMIN).write(record_survey, ref=ticket_id, csat=3, nps=7, via="email")
    assert _survey(known, ticket_id)[:2] == (3, 7)


def test_the_survey_command_refuses_with_exit_3(known: KnownDesk, monkeypatch, capsys) -> None:
    ticket_id = _resolved(known)
    url = known.db.url.render_as_string(hide_password=False)
    code, _out, err = run_deskterm(
        monkeypatch, capsys, "--db", url, "--as", AGENT2, "survey", str(ticket_id), "--csat", "1"
    )
    assert code == 3 and err.count("\n") == 1 and "record its survey" in err
    assert _survey(known, ticket_id) == (None, None, None)


# --------------------------------------------------------------------------- knowledge base


def test_a_draft_is_its_authors(known: KnownDesk) -> None:
    draft = known.as_(AGENT).write(kb.add_article, title="Reset a token", body="Step one")
    for login in (AGENT2, TECH):
        with pytest.raises(PermissionDenied, match=f"{draft.key} is a draft of alice"):
            known.as_(login).write(kb.edit_article, key=draft.key, body="Call 0900-SCAM")
    with known.db.read() as session:
        body = session.scalar(select(KbArticle.body).where(KbArticle.id == draft.id))
    assert body == "Step one"
    assert known.as_(AGENT).write(kb.edit_article, key=draft.key, body="Step two").body == (
        "Step two"
    )
    edited = known.as_(SUPERVISOR).write(kb.edit_article, key=draft.key, title="Reset an MFA token")
    assert edited.title == "Reset an MFA token"
