"""Searching every ticket: ctrl+f from anywhere, words as they are typed, enter opens the
hit, escape goes back; no hits say so; typed and stored text are shown literally."""

from __future__ import annotations

from helpers import opened, settle, type_text, until
from rich.text import Text
from textual.widgets import DataTable, Static

from deskterm.tui.screens.queue import QueueScreen
from deskterm.tui.screens.search import SearchScreen
from deskterm.tui.screens.ticket import TicketScreen
from factories import AGENT


def hit_ids(app) -> list[int]:
    table = app.screen.query_one("#search-hits", DataTable)
    return [int(table.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(table.row_count)]


def status(app) -> str:
    return str(app.screen.query_one("#search-status", Static).render())


async def search_for(pilot, words: str) -> SearchScreen:
    app = pilot.app
    if not isinstance(app.screen, SearchScreen):
        await pilot.press("ctrl+f")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen), "search screen")
    await type_text(pilot, words)
    await until(pilot, lambda: app.screen.shown == words, f"hits for {words!r}")
    return app.screen


async def test_typed_words_find_the_ticket_and_enter_opens_it(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await search_for(pilot, "vpn drop")
        assert hit_ids(app) == [seeded.refs["vpn"]]
        assert status(app).startswith("1 ticket, newest first")
        await pilot.press("enter", "enter")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        assert app.screen.ticket_id == seeded.refs["vpn"]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await settle(pilot)
        assert hit_ids(app) == [seeded.refs["vpn"]]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen))


async def test_closed_tickets_and_description_words_are_found(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        # "Keyboard missing keys" was resolved days ago: still found, and by the newest first.
        await search_for(pilot, "keyboard")
        assert hit_ids(app) == [seeded.refs["old"]]
        await pilot.press("ctrl+a", "ctrl+k")
        await search_for(pilot, "bios logo")
        assert hit_ids(app) == [seeded.refs["laptop"]]
        excerpt = str(app.screen.query_one("#search-excerpt", Static).render())
        assert excerpt.startswith("Black screen after the BIOS logo.")


async def test_no_hits_say_so_and_typed_text_is_literal(make_app) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await search_for(pilot, "[b]zebra[/b]")
        assert hit_ids(app) == []
        assert status(app) == "No ticket holds all of “[b]zebra[/b]”. Fewer words find more."
        await pilot.press("ctrl+a", "ctrl+k")
        await search_for(pilot, '"*" NEAR( zq:')
        assert hit_ids(app) == []
        assert '“"*" NEAR( zq:”' in status(app)


async def test_a_stored_subject_with_markup_is_shown_literally(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        # "[bold]" in the subject is two words for the index, and plain text on the screen.
        await search_for(pilot, "jams [bold]")
        assert hit_ids(app) == [seeded.refs["printer"]]
        table = app.screen.query_one("#search-hits", DataTable)
        subject = table.get_row(str(seeded.refs["printer"]))[3]
        assert isinstance(subject, Text) and "jams [bold]again[/bold]" in subject.plain
        assert not subject.spans
        contact = table.get_row(str(seeded.refs["printer"]))[4]
        assert contact.plain.startswith("Eve [bold]Mallory[") and "\x1b" not in contact.plain


async def test_ctrl_f_from_a_ticket_and_from_the_palette(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        await pilot.press("ctrl+f")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen))
        await pilot.press("ctrl+p")
        await pilot.press(*"search tickets")
        await until(pilot, lambda: app.screen.query("CommandList Option") or True)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen), "opened from palette")
