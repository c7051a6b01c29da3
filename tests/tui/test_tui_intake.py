"""A new call by keys: find the caller, one ticket per problem, or add to a ticket they have."""

from __future__ import annotations

from helpers import opened, settle, type_text, until
from textual.widgets import OptionList

from deskterm.desk.tickets import get_ticket, list_tickets
from deskterm.tui.screens.intake import IntakeScreen
from deskterm.tui.screens.ticket import TicketScreen
from factories import AGENT


async def start_call(pilot, caller: str) -> IntakeScreen:
    await opened(pilot)
    await pilot.press("ctrl+n")
    await until(pilot, lambda: isinstance(pilot.app.screen, IntakeScreen), "intake shown")
    screen = pilot.app.screen
    await type_text(pilot, caller)
    await until(pilot, lambda: screen.query_one("#matches", OptionList).option_count, "matches")
    # One caller matches: a single enter takes them.
    await pilot.press("enter")
    await until(pilot, lambda: screen.contact is not None, "caller chosen")
    return screen


async def test_log_a_call_for_a_known_caller(make_app, seeded, test_clock) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_call(pilot, "carol")
        assert [t.ref for t in screen.open_tickets] == ["DT-000001", "DT-000006", "DT-000002"]
        assert app.focused.id == "subject"
        await type_text(pilot, "Webcam not detected")
        await pilot.press("tab", "tab", "tab", "enter", "up", "enter")  # impact: high
        await pilot.press("tab", "tab")  # urgency stays medium; on to the description
        await type_text(pilot, "Since this morning.")
        test_clock.advance(seconds=95)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        made = app.screen.ticket
    assert made.subject == "Webcam not detected"
    assert made.contact_id == seeded.known.contact_id
    assert (made.impact, made.urgency, made.priority) == ("high", "medium", "P2")
    assert made.description == "Since this morning."
    call = [e for e in made.events if e.kind == "call_logged"][0]
    assert call.data["duration_seconds"] == 95
    assert app.drafts.load() is None


async def test_split_a_call_into_two_tickets(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_call(pilot, "dan")
        await type_text(pilot, "VPN drops again")
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert app.focused.id == "subject" and app.focused.value == ""
        await type_text(pilot, "Needs a second monitor")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        first = app.screen.ticket
    assert first.subject == "VPN drops again"
    assert len(first.links) == 1 and first.links[0].kind == "split_from"
    second = seeded.known.as_(AGENT).read(get_ticket, ref=first.links[0].ref)
    assert second.subject == "Needs a second monitor"
    assert [(link.ref, link.kind) for link in second.links] == [(first.ref, "split_from")]
    assert second.contact == "Dan Okafor"


async def test_a_bad_problem_is_shown_on_its_own_tab(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_call(pilot, "dan")
        await type_text(pilot, "VPN drops again")
        await pilot.press("ctrl+t", "ctrl+s")
        await until(pilot, lambda: screen.query_one("#error-subject").display, "refusal shown")
        assert screen.current == 1
        assert "problem 2: subject must not be empty" in str(
            screen.query_one("#error-subject").render()
        )
    every = seeded.known.as_(AGENT).read(list_tickets, statuses=["all"], limit=100)
    assert len(every) == len(seeded.refs)


async def test_add_the_call_to_an_existing_ticket(make_app, seeded, test_clock) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_call(pilot, "carol")
        test_clock.advance(seconds=40)
        await pilot.press("ctrl+g", "enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "AddCallModal")
        await type_text(pilot, "SSD fitted, laptop boots")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        assert app.screen.ticket.ref == "DT-000001"
    call = seeded.known.as_(AGENT).read(get_ticket, ref=seeded.refs["laptop"]).events[-1]
    assert call.kind == "call_logged"
    assert call.data == {
        "direction": "inbound",
        "duration_seconds": 40,
        "outcome": "SSD fitted, laptop boots",
    }


async def test_a_new_caller_inline(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen))
        screen = app.screen
        await type_text(pilot, "Zoe Quinn")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ContactModal")
        assert app.screen.query_one("#name").value == "Zoe Quinn"
        await pilot.press("tab")
        await type_text(pilot, "0161 555 0199")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.contact is not None and app.screen is screen)
        assert screen.contact.name == "Zoe Quinn" and screen.contact.phone == "0161 555 0199"
        assert screen.open_tickets == []


async def test_the_draft_survives_a_quit(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_call(pilot, "carol")
        await type_text(pilot, "Half-typed problem")
        # Asked whether to quit mid-call; the draft is kept either way.
        await pilot.press("ctrl+q", "y")
    again = make_app(AGENT)
    async with again.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        assert any("unsaved call" in n.message for n in again._notifications)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(again.screen, IntakeScreen))
        screen = again.screen
        await until(pilot, lambda: screen.contact is not None, "caller restored")
        assert screen.query_one("#subject").value == "Half-typed problem"
        assert screen.contact.name == "Carol Jones"


async def test_a_new_callers_number_is_read_in_the_desks_phone_region(make_app, seeded) -> None:
    # The app passes the `phone_region` setting on: a German desk's national number is
    # stored as a German one (under the default GB it would be +44 711...).
    from sqlalchemy import create_engine, select

    from deskterm.db.models import Contact

    app = make_app(AGENT)
    app.phone_region = "DE"
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen))
        screen = app.screen
        await type_text(pilot, "Jonas Weber")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ContactModal")
        await pilot.press("tab")
        await type_text(pilot, "0711 5550 1234")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.contact is not None and app.screen is screen)
    engine = create_engine(seeded.url)
    try:
        with engine.connect() as conn:
            stored = conn.scalar(
                select(Contact.phone_e164).where(Contact.id == screen.contact.id)  # type: ignore[arg-type]
            )
    finally:
        engine.dispose()
    assert stored == "+4971155501234"
