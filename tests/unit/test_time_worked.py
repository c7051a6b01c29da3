"""Time worked (issue 21): minutes on notes, calls and status changes, the ticket's total,
and ``report time``, whose sums are the events' minutes exactly; on both databases."""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from deskterm.cli import main
from deskterm.db.models import TicketEvent
from deskterm.desk.clock import use_clock
from deskterm.desk.intake import Problem, record_call
from deskterm.desk.reports import hours_of, time_report
from deskterm.desk.tickets import (
    add_note,
    change_status,
    get_ticket,
    log_call,
    minutes_worked,
    reopen,
    resolve,
)
from deskterm.domain.errors import InvalidInput
from deskterm.domain.worked import call_minutes, check_minutes, format_minutes, parse_minutes
from factories import AGENT, AGENT2, SUPERVISOR, KnownDesk

# --------------------------------------------------------------------------- the rule


def test_minutes_are_whole_and_within_a_day() -> None:
    assert check_minutes(None) is None
    assert check_minutes(0) == 0
    assert check_minutes(1440) == 1440
    for bad in (-1, 1441, True, 2.5):
        with pytest.raises(InvalidInput) as refused:
            check_minutes(bad)  # type: ignore[arg-type]
        assert refused.value.field == "minutes"
    assert parse_minutes("  ") is None
    assert parse_minutes(" 25 ") == 25
    for typed in ("1.5", "-3", "ten", "٣"):
        with pytest.raises(InvalidInput):
            parse_minutes(typed)


def test_a_call_counts_its_length_rounded_up() -> None:
    assert call_minutes(0) is None
    assert call_minutes(1) == 1
    assert call_minutes(60) == 1
    assert call_minutes(61) == 2
    assert call_minutes(24 * 3600) == 1440


def test_minutes_read_as_hours_and_minutes() -> None:
    assert format_minutes(85) == "1 hr 25 min"
    assert format_minutes(120) == "2 hr"
    assert format_minutes(5) == "5 min"
    assert str(hours_of(85)) == "1.42"
    assert str(hours_of(90)) == "1.50"
    assert str(hours_of(1)) == "0.02"


# --------------------------------------------------------------------------- the desk


def _minutes(known: KnownDesk, ticket_id: int) -> list[tuple[str, int | None]]:
    return [(e.kind, e.minutes) for e in known.events(ticket_id)]


def test_each_kind_carries_its_minutes_and_the_ticket_sums_them(known: KnownDesk) -> None:
    t = known.ticket()
    me = known.as_(AGENT)
    me.write(add_note, ref=t.id, text="Checked the BIOS", minutes=20)
    me.write(log_call, ref=t.id, direction="outbound", duration_seconds=125)
    me.write(log_call, ref=t.id, duration_seconds=600, minutes=3)
    me.write(log_call, ref=t.id)
    me.write(change_status, ref=t.id, status="waiting_customer", minutes=0)
    me.write(change_status, ref=t.id, status="in_progress")
    me.write(resolve, ref=t.id, code="fixed", text="New SSD", minutes=45)
    me.write(reopen, ref=t.id, reason="Still slow", minutes=2)
    kinds = [(k, m) for k, m in _minutes(known, t.id) if m is not None]
    assert kinds == [
        ("note", 20),
        ("call_logged", 3),  # 125 seconds: three minutes begun
        ("call_logged", 3),  # given: the analyst's figure wins over the length
        ("status_changed", 0),
        ("resolved", 45),
        ("reopened", 2),
    ]
    detail = me.read(get_ticket, ref=t.id)
    assert detail.minutes_worked == 73
    assert [e.minutes for e in detail.events if e.kind == "note"] == [20]
    with known.db.read() as session:
        assert minutes_worked(session, t.id) == 73


def test_bad_minutes_are_refused_and_write_nothing(known: KnownDesk) -> None:
    t = known.ticket()
    before = known.snapshot(t.id)
    for call in (
        lambda: known.as_(AGENT).write(add_note, ref=t.id, text="x", minutes=-5),
        lambda: known.as_(AGENT).write(log_call, ref=t.id, minutes=1441),
        lambda: known.as_(AGENT).write(change_status, ref=t.id, status="in_progress", minutes=-1),
    ):
        with pytest.raises(InvalidInput, match="minutes worked must be between 0 and 1440"):
            call()
    assert known.snapshot(t.id) == before


def test_the_database_refuses_minutes_out_of_range(known: KnownDesk) -> None:
    t = known.ticket()
    with pytest.raises(Exception, match="(?i)check"), known.db.write() as session:
        session.add(
            TicketEvent(
                ticket_id=t.id,
                ticket_version=t.version,
                at=datetime.now(UTC),
                kind="note",
                data={"text": "x"},
                minutes=-1,
            )
        )
        session.flush()


def test_the_intake_call_counts_its_timer_or_the_minutes_given(known: KnownDesk) -> None:
    me = known.as_(AGENT)
    first, second = me.write(
        record_call,
        problems=[Problem(subject="No VPN"), Problem(subject="Printer jams")],
        contact_id=known.contact_id,
        call_seconds=250,
    )
    assert me.read(get_ticket, ref=first.id).minutes_worked == 5
    assert me.read(get_ticket, ref=second.id).minutes_worked == 0
    (given_,) = me.write(
        record_call,
        problems=[Problem(subject="Mail bounces")],
        contact_id=known.contact_id,
        call_seconds=250,
        minutes=12,
    )
    assert me.read(get_ticket, ref=given_.id).minutes_worked == 12


# --------------------------------------------------------------------------- the report


def _worked_desk(known: KnownDesk) -> tuple[int, int]:
    """Two tickets: one of the known caller (Acme Corp), one with nobody; two analysts."""
    a = known.ticket()
    b = known.ticket(login=AGENT2, contact_id=None, subject="Shared drive gone")
    known.as_(AGENT).write(add_note, ref=a.id, text="one", minutes=30)
    known.as_(AGENT2).write(add_note, ref=a.id, text="two", minutes=15)
    known.as_(AGENT2).write(log_call, ref=b.id, duration_seconds=61)
    known.as_(AGENT2).write(add_note, ref=b.id, text="no time")
    return a.id, b.id


def test_report_time_by_each_key(known: KnownDesk) -> None:
    _worked_desk(known)
    boss = known.as_(SUPERVISOR)
    by_analyst = boss.read(time_report, by="analyst")
    assert by_analyst.columns == ["analyst", "name", "tickets", "events", "minutes", "hours"]
    assert by_analyst.rows == [
        ["alice", "Alice Agent", 1, 1, 30, hours_of(30)],
        ["bob", "Bob Agent", 2, 2, 17, hours_of(17)],
    ]
    assert by_analyst.total == ["TOTAL", None, 2, 3, 47, hours_of(47)]
    by_contact = boss.read(time_report, by="contact")
    assert [r[1:] for r in by_contact.rows] == [
        ["Carol Jones", "Acme Corp", 1, 2, 45, hours_of(45)],
        ["(none)", None, 1, 1, 2, hours_of(2)],
    ]
    by_org = boss.read(time_report, by="organization")
    assert by_org.rows == [
        ["Acme Corp", 1, 2, 45, hours_of(45)],
        ["(none)", 1, 1, 2, hours_of(2)],
    ]


def test_report_time_period_and_permission(known: KnownDesk) -> None:
    _worked_desk(known)
    boss = known.as_(SUPERVISOR)
    later = datetime.now(UTC) + timedelta(days=2)
    assert boss.read(time_report, since=later, by="analyst").rows == []
    with pytest.raises(InvalidInput, match="--by"):
        boss.read(time_report, by="group")
    # Anyone else reads their own timesheet: their minutes only, never a colleague's.
    mine = known.as_(AGENT2).read(time_report, by="contact")
    assert mine.title.startswith("Your time worked")
    assert [r[1:] for r in mine.rows] == [
        ["Carol Jones", "Acme Corp", 1, 1, 15, hours_of(15)],
        ["(none)", None, 1, 1, 2, hours_of(2)],
    ]
    assert known.as_(AGENT).read(time_report, by="analyst").rows == [
        ["alice", "Alice Agent", 1, 1, 30, hours_of(30)]
    ]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.integers(min_value=0, max_value=1440), min_size=1, max_size=6))
def test_report_sums_equal_the_events_minutes_exactly(known: KnownDesk, worked: list[int]) -> None:
    # Each example adds its own ticket; the report must equal the log's own sum to the minute.
    t = known.ticket()
    for minutes in worked:
        known.as_(AGENT).write(add_note, ref=t.id, text="work", minutes=minutes)
    with known.db.read() as session:
        in_log = session.scalar(select(func.sum(TicketEvent.minutes)))
    report = known.as_(SUPERVISOR).read(time_report, by="organization")
    assert sum(row[3] for row in report.rows) == in_log
    assert report.total is not None and report.total[-2] == in_log


def test_report_days_are_the_desk_days(known: KnownDesk) -> None:
    from zoneinfo import ZoneInfo

    from deskterm.desk.reports import day_range

    berlin = ZoneInfo("Europe/Berlin")
    since, until = day_range("2026-12-01", "2026-12-31", zone=berlin)
    assert since == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert until == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    with use_clock(lambda: datetime(2026, 12, 6, 23, 30, tzinfo=UTC)):
        _since, until = day_range(None, None, zone=berlin)
    # Half past midnight in Berlin is already the 7th: "today" ends at Berlin's midnight.
    assert until == datetime(2026, 12, 7, 23, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- the CLI


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(known: KnownDesk, db_url, monkeypatch, capsys):
    monkeypatch.setenv("DESKTERM_DATABASE_URL", db_url)
    monkeypatch.delenv("DESKTERM_USER", raising=False)
    monkeypatch.setenv("COLUMNS", "160")

    def run(*args: str) -> Run:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["deskterm", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def test_cli_minutes_on_note_call_status_and_show(cli, known: KnownDesk) -> None:
    ref = known.ticket().ref
    as_ = ("--as", AGENT)
    assert cli(*as_, "ticket", "note", ref, "-t", "Reseated RAM", "--minutes", "40").code == 0
    assert cli(*as_, "ticket", "call", ref, "--seconds", "90").code == 0
    assert cli(*as_, "ticket", "call", ref, "--seconds", "90", "--minutes", "0").code == 0
    assert cli(*as_, "ticket", "status", ref, "in_progress", "--minutes", "43").code == 0
    shown = cli(*as_, "ticket", "show", ref)
    assert shown.code == 0, shown.err
    assert "Time worked" in shown.out and "1 hr 25 min" in shown.out
    assert "Reseated RAM (40 min)" in shown.out
    data = json.loads(cli(*as_, "ticket", "show", ref, "--json").out)
    assert data["minutes_worked"] == 85
    assert [e["minutes"] for e in data["events"] if e["kind"] != "created"] == [40, 2, 0, 43]


def test_cli_bad_minutes_is_one_line(cli, known: KnownDesk) -> None:
    ref = known.ticket().ref
    res = cli("--as", AGENT, "ticket", "note", ref, "-t", "x", "--minutes", "-4")
    assert res.code != 0
    assert "minutes worked must be between 0 and 1440" in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert "Traceback" not in res.err


def test_cli_report_time_csv_sums_the_events_exactly(cli, known: KnownDesk) -> None:
    a, b = _worked_desk(known)
    res = cli("--as", SUPERVISOR, "report", "time", "--by", "analyst", "--format", "csv")
    assert res.code == 0, res.err
    rows = list(csv.DictReader(io.StringIO(res.out)))
    assert list(rows[0]) == ["analyst", "name", "tickets", "events", "minutes", "hours"]
    assert [(r["analyst"], r["minutes"], r["hours"]) for r in rows] == [
        ("alice", "30", "0.50"),
        ("bob", "17", "0.28"),
    ]
    assert "TOTAL" not in res.out  # one row per key: the spreadsheet sums
    with known.db.read() as session:
        logged = session.scalar(select(func.sum(TicketEvent.minutes)))
    assert sum(int(r["minutes"]) for r in rows) == logged == 47
    for by, header in (("contact", "contact_id"), ("organization", "organization")):
        res = cli("--as", SUPERVISOR, "report", "time", "--by", by, "--format", "csv")
        assert res.code == 0, res.err
        assert res.out.splitlines()[0].startswith(header)
    today = datetime.now(UTC).date()
    period = ("--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=1)))
    res = cli("--as", SUPERVISOR, "report", "time", *period, "--format", "json")
    assert json.loads(res.out)["rows"][0]["minutes"] == 30
    table = cli("--as", SUPERVISOR, "report", "time", "--format", "table")
    assert table.code == 0 and "TOTAL" in table.out and "47" in table.out
    bad = cli("--as", SUPERVISOR, "report", "time", "--by", "planet")
    assert bad.code != 0 and "--by" in bad.err
