"""SLA clocks on screen, the app's background SLA check and callback reminders, the proposed
callback, and going away with a backup: by keys, checked in the database afterwards.

The seeded desk (tests/tui/seed.py) is seen at Wednesday 25 November 2026, 14:00 UTC.
"""

from __future__ import annotations

from helpers import opened, settle, type_text, until
from rich.text import Text
from textual.widgets import Input, Select, Static

from deskterm.desk.tickets import get_ticket
from deskterm.tui.modals.away import AwayModal
from deskterm.tui.modals.base import FormModal
from deskterm.tui.screens.queue import QueueScreen
from deskterm.tui.screens.ticket import TicketScreen
from deskterm.tui.widgets.queuetable import QueueTable
from factories import AGENT, AGENT2


def sla_cell(screen: QueueScreen, ticket_id: int) -> Text:
    table = screen.query_one(QueueTable)
    cell = table.cell(ticket_id, "sla")
    assert isinstance(cell, Text)
    return cell


async def show_view(pilot, key: str) -> QueueScreen:
    await opened(pilot)
    await pilot.press(key)
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, QueueScreen)
    return screen


async def test_the_queue_colours_from_the_warning_time_and_shows_a_paused_clock(
    make_app, seeded
) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        # The VPN ticket (P2) began counting at 08:00: 6 of its 8 office hours are used now.
        unassigned = await show_view(pilot, "3")
        vpn = sla_cell(unassigned, seeded.refs["vpn"])
        assert (vpn.plain, vpn.style) == ("2h00m", "bold yellow")
        mine = await show_view(pilot, "1")
        # Waiting on the customer: the clock stands still.
        assert sla_cell(mine, seeded.refs["starter"]).plain == "paused"
        # The laptop (P2) opened at 09:00: due at 17:00, a warning only from 15:00.
        laptop = sla_cell(mine, seeded.refs["laptop"])
        assert (laptop.plain, laptop.style) == ("3h00m", "")


async def test_the_ticket_header_says_a_waiting_clock_is_paused_and_what_is_left(
    make_app, seeded
) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        app.open_ticket(seeded.refs["starter"])
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        head = str(app.screen.query_one("#ticket-head", Static).render())
    # A P3 opened Monday 14:00 and put on hold at 22:00, after 4 of its 24 office hours.
    assert "Resolve paused (since Mon 22:00, 20h left)" in head


async def test_the_callback_dialog_proposes_the_next_call_by_the_cadence(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        app.open_ticket(seeded.refs["laptop"])
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, FormModal), "dialog open")
        dialog = app.screen
        await until(pilot, lambda: dialog.query_one("#when", Input).value, "proposal shown")
        # P2: every 4 office hours; from 14:00 that is 18:00, closing time.
        assert dialog.query_one("#when", Input).value == "2026-11-25 18:00"
        cadence = str(dialog.query_one("#cadence", Static).render())
        assert "P2: call back every 4 working hours" in cadence
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, FormModal), "dialog closed")
        await settle(pilot)
    ticket = seeded.known.as_(AGENT).read(get_ticket, ref=seeded.refs["laptop"])
    promised = ticket.events[-1]
    assert promised.kind == "callback_scheduled"
    assert promised.data["due_at"] == "2026-11-25 18:00 UTC"


async def test_the_app_runs_the_sla_check_and_reminds_of_a_due_callback_once(
    make_app, seeded, test_clock
) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        test_clock.advance(hours=1)  # the laptop's callback was due at 14:45
        app.check_sla()
        await settle(pilot)
        reminders = [n for n in app._notifications if n.title == "Callback due"]
        assert len(reminders) == 1
        assert "confirm the SSD arrived" in reminders[0].message
        app.clear_notifications()
        app.check_sla()
        await settle(pilot)
        assert not [n for n in app._notifications if n.title == "Callback due"]
    vpn = seeded.known.as_(AGENT).read(get_ticket, ref=seeded.refs["vpn"])
    warned = [e for e in vpn.events if e.kind == "sla_warning"]
    assert len(warned) == 1 and warned[0].actor == "system"


async def test_going_away_hands_my_tickets_to_my_backup_in_one_step(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, AwayModal), "away dialog")
        dialog = app.screen
        await until(pilot, lambda: dialog.me is not None, "people loaded")
        backups = dialog.query_one("#backup", Select)
        assert app.focused is backups
        # Proposed: the least loaded available colleague of her group.
        assert backups.value == AGENT2
        await pilot.press("tab")
        await type_text(pilot, "dentist")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen), "dialog closed")
        await settle(pilot)
        said = [n.message for n in app._notifications if n.title == "Away"]
        assert said and "bob covers for you" in said[0]
    laptop = seeded.known.as_(AGENT).read(get_ticket, ref=seeded.refs["laptop"])
    assert laptop.assignee == AGENT2
    assert laptop.events[-1].data["reason"] == "away"


async def test_a_backup_is_needed_and_the_dialog_says_so_beside_it(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, AwayModal), "away dialog")
        dialog = app.screen
        await until(pilot, lambda: dialog.me is not None, "people loaded")
        dialog.query_one("#backup", Select).clear()  # no proposal taken
        await pilot.press("ctrl+s")
        await settle(pilot)
        box = dialog.query_one("#error-backup", Static)
        assert box.display and "choose who covers for you" in str(box.render())
    laptop = seeded.known.as_(AGENT).read(get_ticket, ref=seeded.refs["laptop"])
    assert laptop.assignee == AGENT
