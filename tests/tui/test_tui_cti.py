"""The phone rings and the app knows who is calling (issue 18): the screen-pop in the header,
f9 to take the call, the new call opened on answer (or waiting while the analyst types), the
PBX's duration in the ticket's call event, and missed calls as work. On both databases:
PostgreSQL hears the call by LISTEN, SQLite by polling, as they do for real."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import opened, settle, type_text, until
from seed import Seeded, seed
from textual.pilot import Pilot
from textual.widgets import Input

from deskterm.desk.cti import add_token, get_call, list_calls, receive, set_extension
from deskterm.domain.refs import format_ref
from deskterm.tui.app import DeskApp
from deskterm.tui.screens.intake import IntakeScreen
from deskterm.tui.screens.queue import QueueScreen
from deskterm.tui.widgets.bar import DeskBar
from factories import AGENT, CONTACT_NAME, SUPERVISOR

#: Carol Jones's number as the PBX sends it: not as the desk stores it (+44 (20) 7946-0958).
CAROL = "02079460958"


@pytest.fixture
def desk(db_url: str, test_clock) -> Iterator[Seeded]:
    """The terminal tests' fixed desk on each database, alice on extension 201."""
    from deskterm.desk.setup import open_database

    db = open_database(db_url)
    made = seed(db)
    made.url = db_url  # type: ignore[attr-defined]
    made.known.as_(SUPERVISOR).write(set_extension, login=AGENT, extension="201")
    made.secret = made.known.as_(SUPERVISOR).write(add_token).secret  # type: ignore[attr-defined]
    yield made
    db.dispose()


def make(desk: Seeded, tmp_path: Path, login: str = AGENT) -> DeskApp:
    url: str = desk.url  # type: ignore[attr-defined]
    # PostgreSQL hears the call (LISTEN); SQLite polls for it, as it does for real.
    polls = None if url.startswith("postgresql") else 0.1
    return DeskApp(url, login, data_dir=tmp_path / "data", poll_seconds=polls, sla_seconds=None)


async def post(desk: Seeded, **fields: Any) -> None:
    """One event from the PBX, as the server hands it to the desk (another thread)."""
    secret: str = desk.secret  # type: ignore[attr-defined]

    def write(session: Any, actor: Any) -> object:
        return receive(session, actor, secret=secret, fields=fields, region="GB")

    await asyncio.to_thread(desk.known.as_(None).write, write)


async def ring(desk: Seeded, call_id: str, number: str = CAROL) -> None:
    await post(desk, event="newCall", callId=call_id, direction="in", to="201", **{"from": number})


def header(app: DeskApp) -> str:
    return "\n".join(str(bar.render()) for bar in app.screen.query(DeskBar))


async def live(pilot: Pilot, app: DeskApp) -> None:
    await opened(pilot)
    if app.poll_seconds is None:
        await until(pilot, lambda: app.listening, "listening")


async def test_the_caller_pops_up_in_the_header_and_f9_takes_the_call(
    desk: Seeded, tmp_path: Path
) -> None:
    app = make(desk, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot, app)
        await ring(desk, "pop-1")
        await until(pilot, lambda: CONTACT_NAME in header(app), "the caller in the header")
        said = header(app)
        assert "ringing" in said
        assert "f9 take" in said
        # Carol's open tickets, with their references.
        assert format_ref(desk.refs["laptop"]) in said
        # The cursor stayed in the queue.
        assert isinstance(app.screen, QueueScreen)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "the new call")
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        await until(pilot, lambda: screen.contact is not None, "the caller loaded")
        assert screen.contact is not None and screen.contact.name == CONTACT_NAME
        assert screen.draft.phone_call is not None
        # Taken: it leaves the header.
        await until(pilot, lambda: "ringing" not in header(app), "the pop gone")


async def test_an_unknown_number_pops_up_as_such_and_opens_with_it_in_caller(
    desk: Seeded, tmp_path: Path
) -> None:
    app = make(desk, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot, app)
        await ring(desk, "pop-2", number="+49 30 901820 [b]")
        await until(pilot, lambda: "unknown number" in header(app), "the unknown number")
        # The PBX's text is data: the markup is shown, not run.
        assert "[b]" in header(app)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "the new call")
        assert app.screen.query_one("#lookup", Input).value == "+49 30 901820 [b]"


async def test_f10_dismisses_the_call(desk: Seeded, tmp_path: Path) -> None:
    app = make(desk, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot, app)
        await ring(desk, "pop-3")
        await until(pilot, lambda: "ringing" in header(app), "the pop")
        await pilot.press("f10")
        await until(pilot, lambda: "ringing" not in header(app), "dismissed")
        assert isinstance(app.screen, QueueScreen)


async def test_answer_opens_the_call_when_idle_and_hangup_after_save_logs_the_pbx_length(
    desk: Seeded, tmp_path: Path, test_clock
) -> None:
    app = make(desk, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot, app)
        await ring(desk, "ans-1")
        await until(pilot, lambda: "ringing" in header(app), "the pop")
        await post(desk, event="answer", callId="ans-1", answeringNumber="201")
        # Idle on the queue: the new call opens by itself, timed from the answer.
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "opened on answer")
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        await until(pilot, lambda: screen.contact is not None, "the caller loaded")
        app.set_focus(screen.query_one("#subject"))
        await type_text(pilot, "Printer offline")
        test_clock.advance(seconds=40)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, IntakeScreen), "saved")
        await settle(pilot)
        # Saved while the call runs: no call time yet; the hangup brings the PBX's length.
        call = next(c for c in desk.known.as_(AGENT).read(list_calls) if c.call_id == "ans-1")
        assert call.ticket_id is not None
        test_clock.advance(seconds=55)
        await post(desk, event="hangup", callId="ans-1", cause="normalClearing")
        call = desk.known.as_(AGENT).read(get_call, call=call.id)
        assert call.duration_seconds == 95
        logged = [
            e.data.get("duration_seconds")
            for e in desk.known.events(call.ticket_id)
            if e.kind == "call_logged"
        ]
        assert logged == [95]


async def test_a_call_answered_while_typing_waits_in_the_header(
    desk: Seeded, tmp_path: Path
) -> None:
    app = make(desk, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot, app)
        await pilot.press("slash")
        await type_text(pilot, "lapt")
        await ring(desk, "wait-1")
        await post(desk, event="answer", callId="wait-1", answeringNumber="201")
        await until(pilot, lambda: "answered" in header(app), "waiting in the header")
        await settle(pilot)
        # Still where the analyst was typing.
        assert isinstance(app.screen, QueueScreen)
        assert isinstance(app.focused, Input) and app.focused.value == "lapt"
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "taken by f9")


async def test_saving_after_the_hangup_logs_the_pbx_length(
    desk: Seeded, tmp_path: Path, test_clock
) -> None:
    app = make(desk, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot, app)
        await ring(desk, "late-1")
        await post(desk, event="answer", callId="late-1", answeringNumber="201")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "opened on answer")
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        await until(pilot, lambda: screen.contact is not None, "the caller loaded")
        test_clock.advance(seconds=61)
        await post(desk, event="hangup", callId="late-1")
        # The analyst types on after the caller hung up, for longer than the call.
        test_clock.advance(seconds=300)
        app.set_focus(screen.query_one("#subject"))
        await type_text(pilot, "Password reset")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, IntakeScreen), "saved")
        await settle(pilot)
        call = next(c for c in desk.known.as_(AGENT).read(list_calls) if c.call_id == "late-1")
        assert call.ticket_id is not None
        logged = [
            e.data.get("duration_seconds")
            for e in desk.known.events(call.ticket_id)
            if e.kind == "call_logged"
        ]
        assert logged == [61]


async def test_a_missed_call_shows_in_missed_calls_and_c_logs_the_call_back(
    desk: Seeded, tmp_path: Path
) -> None:
    app = make(desk, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot, app)
        for attempt in (1, 2):
            await ring(desk, f"miss-{attempt}")
            await post(desk, event="hangup", callId=f"miss-{attempt}", cause="noAnswer")
        await pilot.press("7")
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await until(pilot, lambda: screen.view == "missed" and len(screen.calls) == 2, "missed")
        # Newest first; Carol rang twice unanswered.
        newest = next(iter(screen.calls.values()))
        assert newest.call_id == "miss-2"
        assert screen.rang[newest.id] == 2
        assert "7 Missed 2" in str(screen.query_one("#tab-missed").label)
        await pilot.press("c")
        await until(pilot, lambda: len(screen.calls) == 1, "the called-back call gone")
        call = desk.known.as_(AGENT).read(get_call, call=newest.id)
        assert call.called_back_by == AGENT
        assert call.ticket_id is not None
        outbound = [
            e.data
            for e in desk.known.events(call.ticket_id)
            if e.kind == "call_logged" and e.data.get("direction") == "outbound"
        ]
        assert len(outbound) == 1


async def test_an_unknown_missed_caller_called_back_opens_a_new_call(
    desk: Seeded, tmp_path: Path
) -> None:
    app = make(desk, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot, app)
        await ring(desk, "miss-x", number="+49 30 901820")
        await post(desk, event="hangup", callId="miss-x")
        await pilot.press("7")
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await until(pilot, lambda: len(screen.calls) == 1, "the missed call")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "a new call")
        assert app.screen.query_one("#lookup", Input).value == "+49 30 901820"
        assert app.screen.draft.phone_call is None  # a call of its own, timed by the screen


async def test_a_missed_call_not_called_back_in_time_is_brought_up_once(
    desk: Seeded, tmp_path: Path, test_clock
) -> None:
    app = make(desk, tmp_path)
    app.missed_alert_minutes = 15
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot, app)
        await ring(desk, "late-miss")
        await post(desk, event="hangup", callId="late-miss")

        def alerts() -> list[Any]:
            return [n for n in app._notifications if n.title == "Missed call"]

        app.check_sla()
        await settle(pilot)
        assert alerts() == []  # not yet: 15 minutes to call back
        test_clock.advance(minutes=16)
        app.check_sla()
        await until(pilot, lambda: alerts(), "the alert")
        assert CONTACT_NAME in alerts()[0].message
        app.check_sla()
        await settle(pilot)
        assert len(alerts()) == 1  # once


async def test_a_running_call_added_to_an_open_ticket_gets_the_pbx_length_at_hangup(
    desk: Seeded, tmp_path: Path, test_clock
) -> None:
    app = make(desk, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot, app)
        await ring(desk, "add-1")
        await post(desk, event="answer", callId="add-1", answeringNumber="201")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "opened on answer")
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        await until(pilot, lambda: screen.open_tickets, "carol's open tickets")
        test_clock.advance(seconds=30)
        await pilot.press("ctrl+g", "enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "AddCallModal")
        await type_text(pilot, "Still no boot")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen.__class__.__name__ != "AddCallModal", "added")
        await settle(pilot)
        call = next(c for c in desk.known.as_(AGENT).read(list_calls) if c.call_id == "add-1")
        assert call.ticket_id is not None
        ticket_id = call.ticket_id
        before = [e for e in desk.known.events(ticket_id) if e.kind == "call_logged"]
        test_clock.advance(seconds=40)
        await post(desk, event="hangup", callId="add-1")
        events = desk.known.events(ticket_id)
        logged = [e.data["duration_seconds"] for e in events if e.kind == "call_logged"]
        assert logged[len(before) :] == [70]
        assert any(e.kind == "note" and e.data.get("text") == "Still no boot" for e in events)


async def test_a_call_that_stops_ringing_leaves_the_header(desk: Seeded, tmp_path: Path) -> None:
    app = make(desk, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot, app)
        await ring(desk, "gone-1")
        await until(pilot, lambda: "ringing" in header(app), "the pop")
        await post(desk, event="hangup", callId="gone-1", cause="cancel")
        await until(pilot, lambda: "ringing" not in header(app), "the pop gone")
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        # It is a missed call now: its tab counts it without a key pressed.
        await until(
            pilot, lambda: str(screen.query_one("#tab-missed").label) == "7 Missed 1", "counted"
        )
