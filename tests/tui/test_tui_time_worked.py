"""Time worked in the app (issue 21): the dialogs' "Minutes" field, the head's total and
the story's minutes, by keys, checked in the database afterwards."""

from __future__ import annotations

from helpers import opened, settle, type_text, until
from textual.widgets import Input, Static

from deskterm.desk.tickets import get_ticket
from deskterm.tui.modals.base import FormModal
from deskterm.tui.screens.ticket import TicketScreen
from factories import AGENT


async def _open(pilot, ticket_id: int) -> TicketScreen:
    await opened(pilot)
    pilot.app.open_ticket(ticket_id)
    await until(
        pilot,
        lambda: isinstance(pilot.app.screen, TicketScreen) and pilot.app.screen.ticket,
        "ticket shown",
    )
    return pilot.app.screen


async def _dialog(pilot) -> FormModal:
    await until(pilot, lambda: isinstance(pilot.app.screen, FormModal), "dialog open")
    return pilot.app.screen


async def _closed(pilot, screen: TicketScreen) -> None:
    await until(pilot, lambda: pilot.app.screen is screen, "dialog closed")
    await settle(pilot)


def _head(screen: TicketScreen) -> str:
    return str(screen.query_one("#ticket-head", Static).render())


async def test_a_note_with_minutes_adds_to_the_heads_total(make_app, seeded, test_clock) -> None:
    before = seeded.known.as_(AGENT).read(get_ticket, ref=seeded.refs["laptop"])
    # The seeded intake call counted its length already.
    assert before.minutes_worked == 4
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(pilot, seeded.refs["laptop"])
        assert "Worked 4 min" in _head(screen)
        await pilot.press("n")
        dialog = await _dialog(pilot)
        await type_text(pilot, "Reseated the RAM")
        await pilot.press("tab", "tab")
        assert dialog.focused is dialog.query_one("#minutes", Input)
        await type_text(pilot, "2x5")  # digits only: the x never lands
        assert dialog.query_one("#minutes", Input).value == "25"
        await pilot.press("ctrl+s")
        await _closed(pilot, screen)
        await until(pilot, lambda: "Worked 29 min" in _head(screen), "total in the head")

        await pilot.press("c")
        dialog = await _dialog(pilot)
        test_clock.advance(seconds=75)
        dialog.tick()
        await type_text(pilot, "walked through it")
        await pilot.press("ctrl+s")
        await _closed(pilot, screen)
        # The call's 75 seconds count as two minutes begun.
        await until(pilot, lambda: "Worked 31 min" in _head(screen), "call counted")
    ticket = seeded.known.as_(AGENT).read(get_ticket, ref=seeded.refs["laptop"])
    assert [e.minutes for e in ticket.events if e.minutes is not None] == [4, 25, 2]
    assert ticket.minutes_worked == 31


async def test_minutes_over_a_day_are_refused_beside_the_field(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(pilot, seeded.refs["laptop"])
        await pilot.press("n")
        dialog = await _dialog(pilot)
        await type_text(pilot, "long day")
        await pilot.press("tab", "tab")
        await type_text(pilot, "2000")
        await pilot.press("ctrl+s")
        error = dialog.query_one("#error-minutes", Static)
        await until(pilot, lambda: error.display, "error shown")
        assert "between 0 and 1440" in str(error.render())
        assert pilot.app.screen is dialog
