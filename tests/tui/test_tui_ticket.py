"""The ticket screen's actions, by keys, checked in the database afterwards."""

from __future__ import annotations

from datetime import timedelta

from helpers import opened, settle, type_text, until
from textual.widgets import Static

from deskterm.desk.callbacks import pending_callbacks
from deskterm.desk.tickets import add_note, get_ticket
from deskterm.tui.modals.base import FormModal
from deskterm.tui.screens.ticket import TicketScreen
from factories import AGENT, AGENT2, DESKTOP


async def open_ticket(pilot, ticket_id: int) -> TicketScreen:
    await opened(pilot)
    pilot.app.open_ticket(ticket_id)
    await until(
        pilot,
        lambda: isinstance(pilot.app.screen, TicketScreen) and pilot.app.screen.ticket,
        "ticket shown",
    )
    return pilot.app.screen


async def modal(pilot) -> FormModal:
    await until(pilot, lambda: isinstance(pilot.app.screen, FormModal), "dialog open")
    return pilot.app.screen


async def saved(pilot, screen: TicketScreen) -> None:
    await until(pilot, lambda: pilot.app.screen is screen, "dialog closed")
    await settle(pilot)


def error_text(dialog: FormModal, box: str) -> str:
    widget = dialog.query_one(f"#{box}", Static)
    return str(widget.render()) if widget.display else ""


def stored(seeded, name: str, login: str = AGENT):
    return seeded.known.as_(login).read(get_ticket, ref=seeded.refs[name])


async def test_note_internal_and_public(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_ticket(pilot, seeded.refs["laptop"])
        await pilot.press("n")
        await modal(pilot)
        await type_text(pilot, "SSD arrived [red]today[/red]")
        await pilot.press("tab", "space", "ctrl+s")
        await saved(pilot, screen)
    note = stored(seeded, "laptop").events[-1]
    assert note.kind == "note" and note.visibility == "public"
    assert note.data["text"] == "SSD arrived [red]today[/red]"


async def test_escalate_with_a_reason(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_ticket(pilot, seeded.refs["laptop"])
        await pilot.press("e")
        dialog = await modal(pilot)
        await until(pilot, lambda: dialog.targets, "targets loaded")
        await pilot.press("enter")  # first choice: the next level along the path
        await type_text(pilot, "needs a new SSD fitted")
        await pilot.press("ctrl+s")
        await saved(pilot, screen)
        assert screen.ticket.group == DESKTOP
    ticket = stored(seeded, "laptop")
    assert (ticket.group, ticket.level, ticket.assignee) == (DESKTOP, 2, None)
    (escalated,) = [e for e in ticket.events if e.kind == "escalated"]
    # The reason is for colleagues: an internal line of the same change, not the escalation.
    assert "reason" not in escalated.data
    why = [e for e in ticket.events if e.ticket_version == escalated.ticket_version]
    notes = [(e.visibility, e.data.get("text")) for e in why if e.kind == "note"]
    assert ("internal", "needs a new SSD fitted") in notes


async def test_escalation_without_a_reason_is_refused_beside_the_field(make_app, seeded) -> None:
    app = make_app(AGENT)
    before = stored(seeded, "laptop")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_ticket(pilot, seeded.refs["laptop"])
        await pilot.press("e")
        dialog = await modal(pilot)
        await until(pilot, lambda: dialog.targets, "targets loaded")
        await pilot.press("enter", "ctrl+s")
        await until(pilot, lambda: error_text(dialog, "error-reason"), "refusal shown")
        assert "reason must not be empty" in error_text(dialog, "error-reason")
        assert app.screen is dialog and app.focused.id == "reason"
    assert stored(seeded, "laptop").version == before.version


async def test_resolve_with_a_code(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_ticket(pilot, seeded.refs["outlook"])
        await pilot.press("r")
        await modal(pilot)
        # Open the code list, pick "configuration", then write what was done.
        await pilot.press("enter", "down", "down", "enter", "tab")
        await type_text(pilot, "Reset the mail profile")
        await pilot.press("ctrl+s")
        await saved(pilot, screen)
        assert not screen.check_action("resolve", ())
        assert screen.check_action("reopen", ())
    ticket = stored(seeded, "outlook")
    assert ticket.status == "resolved"
    assert ticket.resolution_code == "configuration"
    assert ticket.resolution_text == "Reset the mail profile"


async def test_an_agent_cannot_reassign_someone_elses_ticket(make_app, seeded) -> None:
    app = make_app(AGENT)
    before = stored(seeded, "printer")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_ticket(pilot, seeded.refs["printer"])
        await pilot.press("a")
        dialog = await modal(pilot)
        await until(pilot, lambda: dialog.analysts, "analysts loaded")
        # Analysts by login: ada, alice, bob, ines, sam, tom; give it to tom.
        await pilot.press("end")
        await pilot.press("enter")
        await type_text(pilot, "he knows printers")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: error_text(dialog, "form-error"), "refusal shown")
        assert "held by bob" in error_text(dialog, "form-error")
        assert dialog.query_one("#reason").value == "he knows printers"
    after = stored(seeded, "printer")
    assert (after.assignee, after.version) == (AGENT2, before.version)


async def test_reassign_shows_availability_and_workload(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_ticket(pilot, seeded.refs["laptop"])
        await pilot.press("a")
        dialog = await modal(pilot)
        await until(pilot, lambda: dialog.analysts, "analysts loaded")
        table = dialog.query_one("#to")
        alice_row = table.get_row("alice")
        assert str(alice_row[3]) == "3"
        await pilot.press("down", "down", "enter")  # bob
        await type_text(pilot, "going home early")
        await pilot.press("ctrl+s")
        await saved(pilot, screen)
    ticket = stored(seeded, "laptop")
    assert ticket.assignee == AGENT2
    notes = [e for e in ticket.events if e.kind == "note" and e.visibility == "internal"]
    assert notes[-1].data["text"] == "going home early"


async def test_a_stale_write_says_who_changed_what_and_keeps_the_text(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_ticket(pilot, seeded.refs["laptop"])
        await pilot.press("n")
        dialog = await modal(pilot)
        await type_text(pilot, "my long careful note")
        seeded.known.as_(AGENT2).write(add_note, ref=seeded.refs["laptop"], text="bob was here")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: error_text(dialog, "form-error"), "conflict shown")
        message = error_text(dialog, "form-error")
        assert "changed meanwhile: bob noted: bob was here" in message
        # The dialog's own advice, not the command line's "reload and retry".
        assert "ctrl+s saves it on top" in message and "reload" not in message
        assert dialog.query_one("#note").text == "my long careful note"
        # Now the analyst has seen it: saving again lands on top.
        await pilot.press("ctrl+s")
        await saved(pilot, screen)
    texts = [e.data.get("text") for e in stored(seeded, "laptop").events if e.kind == "note"]
    assert texts[-2:] == ["bob was here", "my long careful note"]


async def test_status_callback_and_outbound_call(make_app, seeded, test_clock) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_ticket(pilot, seeded.refs["outlook"])
        await pilot.press("s")
        await modal(pilot)
        await pilot.press("down", "down", "enter")  # in progress → waiting customer
        await pilot.press("ctrl+s")
        await saved(pilot, screen)
        assert screen.ticket.status == "waiting_customer"

        await pilot.press("b")
        await modal(pilot)
        await type_text(pilot, "in 2h")
        await pilot.press("tab")
        await type_text(pilot, "after the password reset")
        await pilot.press("ctrl+s")
        await saved(pilot, screen)
        assert screen.loaded.callbacks[0].due_at == test_clock.now + timedelta(hours=2)

        await pilot.press("c")
        dialog = await modal(pilot)
        assert dialog.query_one("#outbound").value  # a callback is due: we call them
        test_clock.advance(seconds=75)
        dialog.tick()
        await type_text(pilot, "works again")
        await pilot.press("ctrl+s")
        await saved(pilot, screen)
    ticket = stored(seeded, "outlook")
    call = ticket.events[-1]
    assert call.kind == "call_logged"
    assert call.data == {
        "direction": "outbound",
        "duration_seconds": 75,
        "outcome": "works again",
        "kept_callbacks": 1,
    }
    assert seeded.known.as_(AGENT).read(pending_callbacks, ref=ticket.id) == []


async def test_the_palette_offers_the_screens_actions(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_ticket(pilot, seeded.refs["laptop"])
        await pilot.press("ctrl+p")
        await type_text(pilot, "escalate")
        await settle(pilot)
        await pilot.press("enter")
        await modal(pilot)
        assert app.screen.__class__.__name__ == "EscalateModal"


async def test_the_ticket_follows_changes_made_elsewhere(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_ticket(pilot, seeded.refs["laptop"])
        app.poll_changes()
        await settle(pilot)
        seeded.known.as_(AGENT2).write(add_note, ref=seeded.refs["laptop"], text="seen by bob")
        app.poll_changes()
        await until(pilot, lambda: screen.ticket.events[-1].data.get("text") == "seen by bob")


async def test_raise_impact_then_close_after_resolving(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_ticket(pilot, seeded.refs["outlook"])
        assert not screen.check_action("close_ticket", ())
        await pilot.press("i")
        dialog = await modal(pilot)
        # Impact is focused: open it, one up from medium is "high"; the priority shows at once.
        await pilot.press("enter", "up", "enter")
        await until(pilot, lambda: "P2" in str(dialog.query_one("#derived").render()))
        await pilot.press("ctrl+s")
        await saved(pilot, screen)
        assert stored(seeded, "outlook").priority == "P2"
        await pilot.press("r")
        await modal(pilot)
        await pilot.press("enter", "down", "down", "enter", "tab")
        await type_text(pilot, "Reset the mail profile")
        await pilot.press("ctrl+s")
        await saved(pilot, screen)
        assert screen.check_action("close_ticket", ())
        await pilot.press("x")
        await until(pilot, lambda: screen.ticket.status == "closed", "closed")
    ticket = stored(seeded, "outlook")
    assert (ticket.status, ticket.impact) == ("closed", "high")
    kinds = [e.kind for e in ticket.events]
    assert kinds[-1] == "closed" and "field_changed" in kinds
