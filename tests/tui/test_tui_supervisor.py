"""A supervisor covering for an absent analyst, by keys: mark them away with a backup from
the queue or the handover screen, hand their tickets over in a few keys, type to jump in
every analyst list, and nothing the supervisor writes for colleagues reaches a customer."""

from __future__ import annotations

import json

from helpers import opened, settle, type_text, until
from sqlalchemy import select
from textual.widgets import SelectionList

from deskterm.db.models import Notification
from deskterm.desk.analysts import get_analyst, set_away
from deskterm.desk.outbox import list_outbox
from deskterm.desk.tickets import list_tickets
from deskterm.tui.modals.away import AwayModal
from deskterm.tui.modals.base import FormModal
from deskterm.tui.modals.ticket_actions import AssignModal
from deskterm.tui.screens.handover import HandoverScreen
from deskterm.tui.screens.ticket import TicketScreen
from factories import AGENT, AGENT2, SUPERVISOR

NOTE = "Alice is off sick, migraine, back Thursday"
TOLD = "We are sorry for the wait"


def _outbox_text(seeded) -> str:
    """Everything queued for customers, as stored (the context the templates render)."""
    with seeded.known.db.read() as session:
        rows = session.scalars(select(Notification)).all()
        return json.dumps([row.context for row in rows])


async def modal(pilot) -> FormModal:
    await until(pilot, lambda: isinstance(pilot.app.screen, FormModal), "dialog open")
    return pilot.app.screen


async def open_ticket(pilot, ticket_id: int) -> TicketScreen:
    await opened(pilot)
    pilot.app.open_ticket(ticket_id)
    await until(
        pilot,
        lambda: isinstance(pilot.app.screen, TicketScreen) and pilot.app.screen.ticket,
        "ticket shown",
    )
    return pilot.app.screen


async def _press(pilot, counted: list[str], *keys: str) -> None:
    counted.extend(keys)
    await pilot.press(*keys)


async def test_an_absent_agents_tickets_are_handed_over_in_five_keys(make_app, seeded) -> None:
    seeded.known.as_(SUPERVISOR).write(set_away, login=AGENT, reason="off sick")
    app = make_app(SUPERVISOR)
    keys: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await _press(pilot, keys, "h")
        await until(pilot, lambda: isinstance(app.screen, HandoverScreen) and app.screen.analysts)
        screen = app.screen
        await _press(pilot, keys, "a", "l")  # type to jump: alice (ada is "a" alone)
        await until(pilot, lambda: screen.source == AGENT and screen.versions, "alice's tickets")
        listing = screen.query_one("#tickets", SelectionList)
        assert len(listing.selected) == 3  # every open ticket ticked
        assert screen.query_one("#to").value == f"analyst:{AGENT2}"  # her backup proposed
        await _press(pilot, keys, "enter")  # straight to the note
        await type_text(pilot, NOTE)
        await _press(pilot, keys, "ctrl+s")
        await until(pilot, lambda: not screen.saving and not screen.versions, "handed over")
    assert keys == ["h", "a", "l", "enter", "ctrl+s"] and len(keys) <= 6
    boss = seeded.known.as_(SUPERVISOR)
    assert not boss.read(list_tickets, assignee=AGENT)
    assert {seeded.refs[n] for n in ("laptop", "outlook", "starter")} <= {
        t.id for t in boss.read(list_tickets, assignee=AGENT2)
    }
    # Carol is told who has her case and that Alice is away; never the supervisor's note.
    notes = boss.read(list_outbox, statuses=["all"])
    assert notes and "migraine" not in _outbox_text(seeded)
    for name in ("laptop", "outlook", "starter"):
        log = seeded.known.events(seeded.refs[name])
        said = [e for e in log if NOTE in json.dumps(e.data)]
        assert [(e.kind, e.visibility) for e in said] == [("note", "internal")]


async def test_telling_the_customer_is_a_choice_with_a_preview(make_app, seeded) -> None:
    seeded.known.as_(SUPERVISOR).write(set_away, login=AGENT, reason="off sick")
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HandoverScreen) and app.screen.versions)
        screen = app.screen
        preview = screen.query_one("#tell-preview")
        assert not preview.display  # nothing extra is told until ticked
        await pilot.press("enter")
        await type_text(pilot, NOTE)
        await pilot.press("tab", "space")  # tick "tell the customer": its field opens
        await settle(pilot)
        assert app.focused is screen.query_one("#public_reason")
        await type_text(pilot, TOLD)
        await settle(pilot)
        shown = str(preview.render())
        assert "Alice Agent is away at the moment" in shown and TOLD in shown
        assert "migraine" not in shown
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not screen.saving and not screen.versions, "handed over")
    stored = _outbox_text(seeded)
    assert TOLD in stored and "migraine" not in stored


async def test_a_supervisor_marks_an_analyst_away_from_the_queue(make_app, seeded) -> None:
    app = make_app(SUPERVISOR)
    keys: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await _press(pilot, keys, "W")
        dialog = await modal(pilot)
        assert isinstance(dialog, AwayModal)
        await until(pilot, lambda: dialog.people, "analysts loaded")
        await _press(pilot, keys, "a", "l")  # type to jump in the closed list: alice
        await settle(pilot)
        assert dialog.query_one("#login").value == AGENT
        assert dialog.query_one("#backup").value == AGENT2  # proposed: least loaded mate
        await _press(pilot, keys, "tab", "tab")  # to the reason
        await type_text(pilot, "migraine")
        await _press(pilot, keys, "ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, AwayModal), "saved")
    assert len(keys) <= 6
    alice = seeded.known.as_(SUPERVISOR).read(get_analyst, login=AGENT)
    assert (alice.availability, alice.backup, alice.away_reason) == ("away", AGENT2, "migraine")
    assert not seeded.known.as_(SUPERVISOR).read(list_tickets, assignee=AGENT)
    assert "migraine" not in _outbox_text(seeded)


async def test_mark_the_highlighted_analyst_away_from_the_handover_screen(make_app, seeded) -> None:
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HandoverScreen) and app.screen.analysts)
        screen = app.screen
        await pilot.press("b", "o")
        await until(pilot, lambda: screen.source == AGENT2, "bob highlighted")
        await pilot.press("ctrl+w")
        dialog = await modal(pilot)
        await until(pilot, lambda: dialog.people, "analysts loaded")
        # Type to jump in the backup list: alice rather than the proposal.
        await pilot.press("a", "l")
        await settle(pilot)
        assert dialog.query_one("#backup").value == AGENT
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is screen, "back on the handover screen")
        await until(pilot, lambda: not screen.versions, "bob's tickets gone")
    bob = seeded.known.as_(SUPERVISOR).read(get_analyst, login=AGENT2)
    assert (bob.availability, bob.backup) == ("away", AGENT)


async def test_an_agent_marks_only_themselves_away(make_app, seeded) -> None:
    app = make_app(AGENT2)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("W")
        dialog = await modal(pilot)
        await until(pilot, lambda: dialog.people, "analysts loaded")
        await pilot.press("a", "l", "ctrl+s")
        await until(pilot, lambda: dialog.query_one("#form-error").display, "refused")
        assert "only a supervisor may mark alice away" in str(
            dialog.query_one("#form-error").render()
        )
    assert seeded.known.as_(AGENT).read(get_analyst, login=AGENT).availability == "available"


async def test_type_to_jump_in_the_reassign_dialog(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_ticket(pilot, seeded.refs["laptop"])
        await pilot.press("a")
        dialog = await modal(pilot)
        assert isinstance(dialog, AssignModal)
        await until(pilot, lambda: dialog.analysts, "analysts loaded")
        await pilot.press("t", "o")  # tom, by login or name
        await settle(pilot)
        assert dialog.chosen_login() == "tom"
        await pilot.press("s", "a", "m")
        await settle(pilot)
        assert dialog.chosen_login() == SUPERVISOR
