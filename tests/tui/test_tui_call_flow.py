"""The analyst's call flow at full speed: the cursor is always where a call starts, no
nameless ticket slips through, a saved call takes another problem, urgency in one key."""

from __future__ import annotations

from helpers import opened, settle, type_text, until
from textual.color import Color
from textual.widgets import Input, OptionList, Select, Static

from deskterm.desk.contacts import add_contact
from deskterm.desk.tickets import get_ticket, list_tickets
from deskterm.tui.modals.intake_actions import AskModal
from deskterm.tui.screens.intake import IntakeScreen
from deskterm.tui.screens.ticket import TicketScreen
from deskterm.tui.widgets.footer import KeyFooter
from factories import AGENT


async def new_call(pilot) -> IntakeScreen:
    await pilot.press("ctrl+n")
    await until(pilot, lambda: isinstance(pilot.app.screen, IntakeScreen), "new call shown")
    return pilot.app.screen


async def pick(pilot, screen: IntakeScreen, name: str) -> None:
    """Type a caller's name into Caller and take the only match with enter."""
    await type_text(pilot, name)
    await until(pilot, lambda: screen.query_one("#matches", OptionList).option_count, "matches")
    await pilot.press("enter")
    await until(pilot, lambda: screen.contact is not None, "caller picked")


async def saved(pilot) -> TicketScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket, "saved")
    return app.screen


def said(app) -> list[str]:
    return [n.message for n in app._notifications]


def value(screen, selector: str) -> str:
    return screen.query_one(selector, Input).value


async def test_three_calls_in_a_row_each_start_in_caller(make_app, seeded) -> None:
    """The second call of a session put the cursor in Subject (Textual gives a resumed
    screen its last focus): digits typed at once after ctrl+n landed there."""
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        for number in range(3):
            # ctrl+n and the caller's digits in one burst, as a fast analyst types them.
            await pilot.press("ctrl+n", "0", "9", "5", "8")
            await until(pilot, lambda: isinstance(app.screen, IntakeScreen))
            screen = app.screen
            await settle(pilot)
            assert app.focused is not None and app.focused.id == "lookup", number
            assert value(screen, "#lookup") == "0958", number
            assert value(screen, "#subject") == "", number
            await pilot.press("ctrl+u")
            await pick(pilot, screen, "carol")
            assert app.focused.id == "subject", number
            await type_text(pilot, f"Problem number {number + 1}")
            if number == 1:
                # End this call with the cursor on Urgency: the next one must not start
                # there (enter would open its list).
                screen.query_one("#urgency").focus()
                await settle(pilot)
            await pilot.press("ctrl+s")
            await saved(pilot)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, TicketScreen))
    tickets = seeded.known.as_(AGENT).read(list_tickets, statuses=["all"], limit=100)
    subjects = {t.subject for t in tickets}
    assert {"Problem number 1", "Problem number 2", "Problem number 3"} <= subjects


async def test_a_kept_call_with_a_caller_resumes_in_subject(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        await pick(pilot, screen, "dan")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, IntakeScreen))
        await new_call(pilot)
        await settle(pilot)
        assert app.focused.id == "subject"
        assert screen.contact is not None and screen.contact.name == "Dan Okafor"


async def test_saving_without_a_caller_asks_once(make_app, seeded) -> None:
    app = make_app(AGENT)
    before = len(seeded.known.as_(AGENT).read(list_tickets, statuses=["all"], limit=100))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        screen.query_one("#subject").focus()
        await type_text(pilot, "Printer jams on tray 2")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, AskModal), "asked")
        # "Pick a caller": back to Caller, nothing saved, nothing typed lost.
        await pilot.press("p")
        await until(pilot, lambda: app.screen is screen)
        assert app.focused.id == "lookup"
        assert value(screen, "#subject") == "Printer jams on tray 2"
        assert len(seeded.known.as_(AGENT).read(list_tickets, statuses=["all"], limit=100)) == (
            before
        )
        # Still nobody: asked again, and this time saved for an anonymous caller.
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, AskModal), "asked again")
        await pilot.press("a")
        made = (await saved(pilot)).ticket
    assert made.subject == "Printer jams on tray 2"
    assert made.contact_id is None


async def test_anonymous_is_asked_once_per_call(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, AskModal))
        await pilot.press("a")
        # The subject is missing: refused beside it, and the next save does not ask again.
        await until(pilot, lambda: screen.query_one("#error-subject").display, "refused")
        await type_text(pilot, "Caller would not say who")
        await pilot.press("ctrl+s")
        made = (await saved(pilot)).ticket
    assert made.subject == "Caller would not say who" and made.contact_id is None


async def test_another_problem_from_this_call(make_app, seeded, test_clock) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        await pick(pilot, screen, "carol")
        await type_text(pilot, "Webcam not detected")
        test_clock.advance(seconds=30)
        await pilot.press("ctrl+s")
        first_screen = await saved(pilot)
        first = first_screen.ticket
        assert first_screen.query_one(KeyFooter).shown_actions[:2] == ["back", "another_problem"]
        titles = [c.title for c, _ours in app.palette_commands(first_screen)]
        assert "Another problem" in titles
        test_clock.advance(seconds=40)
        await pilot.press("p")
        await until(pilot, lambda: app.screen is screen, "the call again")
        await until(pilot, lambda: screen.contact is not None)
        await settle(pilot)
        assert app.focused.id == "subject"
        assert screen.contact.name == "Carol Jones"
        # The call's clock runs on from the first ctrl+n.
        assert screen.seconds() == 70
        await type_text(pilot, "Headset crackles")
        test_clock.advance(seconds=15)
        await pilot.press("ctrl+s")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, TicketScreen)
                and app.screen is not first_screen
                and app.screen.ticket
            ),
        )
        second = app.screen.ticket
        # Once per save: the first ticket screen no longer offers it, the new one does.
        assert first_screen.check_action("another_problem", ()) is False
        assert app.screen.check_action("another_problem", ()) is True
    assert second.subject == "Headset crackles"
    assert second.contact_id == first.contact_id
    assert [(link.ref, link.kind) for link in second.links] == [(first.ref, "split_from")]
    desk = seeded.known.as_(AGENT)
    first = desk.read(get_ticket, ref=first.id)
    assert (second.ref, "split_from") in [(link.ref, link.kind) for link in first.links]
    # The durations on the call's tickets add up to the whole call: 30 s, then 55 s more.
    logged = [
        e.data["duration_seconds"]
        for t in (first, second)
        for e in t.events
        if e.kind == "call_logged"
    ]
    assert logged == [30, 55]


async def test_another_problem_is_only_for_a_call_just_saved(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("enter")
        ticket = await saved(pilot)
        assert ticket.check_action("another_problem", ()) is False
        assert "another_problem" not in ticket.query_one(KeyFooter).shown_actions
        titles = [c.title for c, _ours in app.palette_commands(ticket)]
        assert "Another problem" not in titles


async def test_urgency_and_impact_in_one_key_each(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        await pick(pilot, screen, "carol")
        await type_text(pilot, "Payroll export fails")
        await pilot.press("f5")
        await settle(pilot)
        assert screen.query_one("#urgency", Select).value == "high"
        assert "P2" in str(screen.query_one("#priority", Static).render())
        await pilot.press("shift+f5")
        await settle(pilot)
        assert "P1" in str(screen.query_one("#priority", Static).render())
        await pilot.press("shift+f7", "f6")
        await settle(pilot)
        assert (
            screen.query_one("#impact", Select).value,
            screen.query_one("#urgency", Select).value,
        ) == ("low", "medium")
        # The keys work wherever the cursor is, even in the description.
        screen.query_one("#description").focus()
        await pilot.press("f7")
        await settle(pilot)
        assert screen.query_one("#urgency", Select).value == "low"
        assert screen.draft.problems[0].urgency == "low"


async def test_a_repeat_callers_problem_in_four_keys(make_app, seeded) -> None:
    """ctrl+n, the caller's name, enter, the subject, f5, ctrl+s: four keys beside the text."""
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        keys = 0
        await pilot.press("ctrl+n")
        keys += 1
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen))
        screen = app.screen
        await type_text(pilot, "carol")
        await until(pilot, lambda: screen.query_one("#matches", OptionList).option_count)
        await pilot.press("enter")
        keys += 1
        await until(pilot, lambda: screen.contact is not None)
        await type_text(pilot, "VPN token expired")
        await pilot.press("f5")
        keys += 1
        await pilot.press("ctrl+s")
        keys += 1
        made = (await saved(pilot)).ticket
    assert keys == 4
    assert made.subject == "VPN token expired"
    assert made.contact_id == seeded.known.contact_id
    assert (made.impact, made.urgency, made.priority) == ("medium", "high", "P2")


async def test_quitting_a_half_written_call_asks(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        await pick(pilot, screen, "carol")
        await type_text(pilot, "Half a problem")
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, AskModal), "asked")
        assert app.is_running
        # Kept already, whatever the answer.
        assert app.drafts.load().problems[0].subject == "Half a problem"
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen)
        assert app.focused.id == "subject" and app.is_running
        # Asked again, and a second ctrl+q while asking quits.
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, AskModal))
        await pilot.press("ctrl+q")
        await until(pilot, lambda: app._exit, "quit")
    assert app.drafts.load().problems[0].subject == "Half a problem"


async def test_quitting_with_no_call_under_way_does_not_ask(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await new_call(pilot)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: app._exit, "quit")
        assert not isinstance(app.screen, AskModal)


async def test_keys_that_cannot_work_yet_say_why(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert any("Pick a caller first" in m for m in said(app))
        assert not any("no open ticket" in m for m in said(app))
        assert app.focused.id == "lookup"
        await pilot.press("f3")
        await settle(pilot)
        assert any("No article matches this problem" in m for m in said(app))
        assert app.screen is screen


async def test_add_this_call_logs_it_until_saved(make_app, seeded, test_clock) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        await pick(pilot, screen, "carol")
        test_clock.advance(seconds=40)
        await pilot.press("ctrl+g", "enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "AddCallModal")
        # The caller talks on while the analyst writes.
        test_clock.advance(seconds=25)
        await type_text(pilot, "Asked again about the SSD")
        await pilot.press("ctrl+s")
        await saved(pilot)
    call = seeded.known.as_(AGENT).read(get_ticket, ref=seeded.refs["laptop"]).events[-1]
    assert call.kind == "call_logged"
    assert call.data["duration_seconds"] == 65


async def test_the_new_call_footer_leads_with_what_a_newcomer_needs(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        await settle(pilot)
        shown = screen.query_one(KeyFooter).shown_actions
        assert shown[:3] == ["save", "set_level('urgency', 'high')", "add_problem"]
        # ctrl+n is this screen: its room goes to the call's own keys.
        assert "new_call" not in shown and "app.new_call" not in shown


async def test_the_focused_field_takes_the_accent(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        await settle(pilot)
        accent = Color.parse(app.get_css_variables()["accent"])
        lookup, subject = screen.query_one("#lookup"), screen.query_one("#subject")
        assert lookup.has_focus
        assert lookup.styles.background.rgb == accent.rgb
        assert subject.styles.background.rgb != accent.rgb
        screen.query_one("#urgency").focus()
        await settle(pilot)
        current = screen.query_one("#urgency SelectCurrent")
        assert current.styles.background.rgb == accent.rgb


async def test_the_callers_card_has_room_at_120_columns(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("enter")
        screen = await saved(pilot)
        await settle(pilot)
        # An address like klaus.schmitt@bergmann-maschinenbau.example (43) on one line.
        assert screen.query_one("#card").content_size.width >= 43


async def test_enter_takes_the_best_of_several_callers_and_down_another(make_app, seeded) -> None:
    """A surname several callers share: enter takes the best match (marked), one key; down
    then enter takes the next."""
    seeded.known.as_("ada").write(add_contact, name="Caroline Jonas", phone="+44 161 496 0999")
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        for step, keys in enumerate((["enter"], ["down", "enter"])):
            screen = await new_call(pilot)
            await type_text(pilot, "carol")
            matches = screen.query_one("#matches", OptionList)
            await until(pilot, lambda m=matches: m.option_count == 2, "both found")
            assert matches.highlighted == 0
            wanted = matches.get_option_at_index(step).id
            await pilot.press(*keys)
            await until(pilot, lambda s=screen: s.contact is not None, "caller picked")
            assert str(screen.contact.id) == wanted
            assert app.focused.id == "subject"
            # Binned: the cursor is back in Caller for the next call.
            await pilot.press("ctrl+b", "ctrl+b")
            await until(pilot, lambda s=screen: s.contact is None and app.focused.id == "lookup")
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, IntakeScreen))


async def test_tab_from_caller_goes_to_the_problem_until_there_are_tickets(
    make_app, seeded
) -> None:
    """With nobody picked, tab from Caller went into the empty open-tickets list, where the
    subject typed next was lost; the list takes the cursor only when it holds a ticket."""
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        await pilot.press("tab")
        await type_text(pilot, "Printer offline")
        assert app.focused is not None and app.focused.id == "subject"
        assert value(screen, "#subject") == "Printer offline"
        # A caller with open tickets: the list is on the way again (ctrl+g goes there too).
        screen.query_one("#lookup").focus()
        await pick(pilot, screen, "carol")
        await until(pilot, lambda: screen.open_tickets, "carol's open tickets")
        assert screen.query_one("#open-tickets", OptionList).can_focus


async def test_each_caller_found_reads_as_two_lines_never_cut_in_mid_word(make_app, seeded) -> None:
    """Who (open tickets, organization), then phone and email: at 80 columns an email that
    wrapped read as two words; each line is cut with an ellipsis instead."""
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        await type_text(pilot, "carol")
        matches = screen.query_one("#matches", OptionList)
        await until(pilot, lambda: matches.option_count, "matches")
        who, details = str(matches.get_option_at_index(0).prompt).split("\n")
        assert who.startswith("Carol Jones") and "Acme" in who
        assert details.strip().endswith("carol.jones@acme.example")
        assert matches.styles.text_wrap == "nowrap"
        assert matches.styles.text_overflow == "ellipsis"
