"""An SLA clock reads the same in `deskterm ticket show` and on the app's ticket screen:
"met", "missed by X", "paused", "due in X", "breached by X" (domain/due.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from clirun import run_deskterm
from deskterm.db.engine import Database
from deskterm.desk import clock
from deskterm.desk.analysts import add_analyst
from deskterm.desk.context import Desk
from deskterm.desk.schemas import TicketDetail
from deskterm.desk.tickets import change_status, create_ticket, get_ticket, resolve
from deskterm.domain.due import DueState, clock_words
from deskterm.tui.screens.ticket import TicketScreen

#: A Monday morning: the default calendars are open.
OPENED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

_APP = re.compile(r"Response (?P<response>.+?)  Resolve (?P<resolve>.+?)(?: \(|$)")
_CLI = re.compile(r"Due\s+response (?P<response>.+?), resolution (?P<resolve>.+?)(?: \(|$)")


# --------------------------------------------------------------------------- the words


def test_clock_words_say_how_a_clock_stands() -> None:
    now = OPENED
    due = now + timedelta(hours=3, minutes=5)
    assert clock_words(None, now).state == DueState.NONE
    assert clock_words(due, now).text == "due in 3h05m"
    assert clock_words(due, now).short == "3h05m"
    warned = clock_words(due, now, warn_at=now - timedelta(minutes=1))
    assert (warned.state, warned.text) == (DueState.WARNING, "due in 3h05m")
    late = clock_words(now - timedelta(hours=2), now)
    assert (late.state, late.text, late.short) == (DueState.BREACHED, "breached by 2h00m", "-2h00m")
    assert clock_words(due, now, paused=True).text == "paused"
    # Finished: a past due time is no breach when the clock stopped in time.
    met = clock_words(now - timedelta(days=1), now, done=True, finished=now - timedelta(days=2))
    assert (met.state, met.text) == (DueState.MET, "met")
    missed = clock_words(now - timedelta(days=2), now, done=True, finished=now - timedelta(days=1))
    assert (missed.state, missed.text, missed.short) == (DueState.MISSED, "missed by 1d0h", "late")


# --------------------------------------------------------------------------- both faces


@pytest.fixture
def desk(db: Database) -> Database:
    Desk(db, "ada").bootstrap(
        add_analyst, login="ada", name="Ada Admin", role="admin", groups=["Service Desk"]
    )
    return db


def _open(db: Database, channel: str) -> str:
    with clock.use_clock(lambda: OPENED):
        return Desk(db, "ada").write(create_ticket, subject="Printer offline", channel=channel).ref


def _detail(db: Database, ref: str, at: datetime) -> TicketDetail:
    with clock.use_clock(lambda: at):
        return Desk(db, "ada").read(get_ticket, ref=ref)


def _app(db: Database, ref: str, at: datetime) -> dict[str, str]:
    """The clocks line of the ticket screen's head, as the screen writes it."""
    ticket = _detail(db, ref, at)
    with clock.use_clock(lambda: at):
        head = TicketScreen.head_of(ticket, [])
    line = head.plain.splitlines()[2]
    found = _APP.search(line)
    assert found is not None, line
    return found.groupdict()


def _cli(monkeypatch, capsys, db_url: str, ref: str, at: datetime) -> dict[str, str]:
    monkeypatch.setenv("DESKTERM_DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "200")
    with clock.use_clock(lambda: at):
        code, out, err = run_deskterm(monkeypatch, capsys, "--as", "ada", "ticket", "show", ref)
    assert code == 0, err
    line = " ".join(next(x for x in out.splitlines() if " Due " in x).strip("│ ").split())
    found = _CLI.search(line)
    assert found is not None, line
    return found.groupdict()


def test_a_met_response_reads_met_in_both_long_after_its_due_time(
    desk: Database, db_url: str, monkeypatch, capsys
) -> None:
    # A call is answered as it is logged: the response is met, however late it is now
    # (the CLI used to print "response -1d").
    ref = _open(desk, "phone")
    later = OPENED + timedelta(days=2)
    app = _app(desk, ref, later)
    assert app["response"] == "met"
    assert _cli(monkeypatch, capsys, db_url, ref, later) == app
    assert re.fullmatch(r"(due in|breached by) \S+", app["resolve"])


def test_an_unanswered_ticket_reads_breached_by_in_both(
    desk: Database, db_url: str, monkeypatch, capsys
) -> None:
    ref = _open(desk, "email")
    later = OPENED + timedelta(days=10)
    app = _app(desk, ref, later)
    assert app["response"].startswith("breached by ")
    assert app["resolve"].startswith("breached by ")
    assert _cli(monkeypatch, capsys, db_url, ref, later) == app


def test_a_fresh_ticket_reads_due_in_in_both(
    desk: Database, db_url: str, monkeypatch, capsys
) -> None:
    ref = _open(desk, "email")
    soon = OPENED + timedelta(minutes=10)
    app = _app(desk, ref, soon)
    assert app["response"].startswith("due in ")
    assert _cli(monkeypatch, capsys, db_url, ref, soon) == app


def test_a_ticket_waiting_on_the_customer_reads_paused_in_both(
    desk: Database, db_url: str, monkeypatch, capsys
) -> None:
    ref = _open(desk, "phone")
    with clock.use_clock(lambda: OPENED + timedelta(minutes=5)):
        Desk(desk, "ada").write(change_status, ref=ref, status="waiting_customer")
    later = OPENED + timedelta(days=3)
    app = _app(desk, ref, later)
    assert app == {"response": "met", "resolve": "paused"}
    assert _cli(monkeypatch, capsys, db_url, ref, later) == app


def test_a_resolved_ticket_reads_met_in_both(
    desk: Database, db_url: str, monkeypatch, capsys
) -> None:
    ref = _open(desk, "phone")
    with clock.use_clock(lambda: OPENED + timedelta(minutes=20)):
        Desk(desk, "ada").write(resolve, ref=ref, code="fixed", text="Restarted the spooler.")
    later = OPENED + timedelta(days=30)
    app = _app(desk, ref, later)
    assert app == {"response": "met", "resolve": "met"}
    assert _cli(monkeypatch, capsys, db_url, ref, later) == app
