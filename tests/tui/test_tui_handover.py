"""Bulk handover of an absent analyst's tickets, by a supervisor, by keys."""

from __future__ import annotations

from helpers import opened, settle, type_text, until
from textual.widgets import SelectionList

from deskterm.desk.analysts import set_away
from deskterm.desk.tickets import list_tickets
from deskterm.tui.screens.handover import HandoverScreen
from factories import AGENT, AGENT2, SUPERVISOR


async def test_supervisor_hands_an_away_analysts_tickets_to_another(make_app, seeded) -> None:
    boss = seeded.known.as_(SUPERVISOR)
    boss.write(set_away, login=AGENT, reason="off sick")
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HandoverScreen) and app.screen.analysts)
        screen = app.screen
        # The cursor starts on the first analyst away with open tickets: alice.
        await until(pilot, lambda: screen.source == AGENT and screen.versions, "tickets listed")
        listing = screen.query_one("#tickets", SelectionList)
        assert len(listing.selected) == 3
        # "Give to" proposes the colleague of her group with least work: bob.
        assert screen.query_one("#to").value == f"analyst:{AGENT2}"
        await pilot.press("enter")  # on to the note
        await type_text(pilot, "Alice is off sick today")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not screen.saving and screen.source == AGENT)
        await settle(pilot)
        await until(pilot, lambda: not screen.versions, "alice has nothing left")
    bobs = seeded.known.as_(SUPERVISOR).read(list_tickets, assignee=AGENT2)
    moved = {t.id for t in bobs}
    assert {seeded.refs[n] for n in ("laptop", "outlook", "starter")} <= moved
    assert not seeded.known.as_(SUPERVISOR).read(list_tickets, assignee=AGENT)
    for name in ("laptop", "outlook", "starter"):
        note, last = seeded.known.events(seeded.refs[name])[-2:]
        assert last.kind == "reassigned" and last.data["because"] == "away"
        # The note is internal: in the log for colleagues, never in the customer's message.
        assert (note.kind, note.visibility) == ("note", "internal")
        assert note.data["text"] == "Alice is off sick today"


async def test_an_agent_has_no_handover(make_app) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("h")
        await settle(pilot)
        assert not isinstance(app.screen, HandoverScreen)
