"""The database goes away mid-session: the terminal says so on every screen, keeps what the
analyst typed, tries again, and saves it once the database is back."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers import opened, settle, type_text, until
from textual.widgets import TextArea

from deskterm.desk.tickets import get_ticket, list_tickets
from deskterm.tui.modals.base import FormModal
from deskterm.tui.screens.intake import IntakeScreen
from deskterm.tui.screens.ticket import TicketScreen
from deskterm.tui.widgets.bar import DeskBar
from factories import AGENT


@contextmanager
def database_away(app, seeded) -> Iterator[None]:
    """The SQLite file vanishes (a folder stands where it was, so it is not silently made
    anew) and every open connection is dropped, as when a disk or share goes away."""
    path = Path(seeded.url.removeprefix("sqlite:///"))
    aside = path.parent / "aside"
    aside.mkdir()
    app.desk.db.engine.dispose()
    seeded.known.db.engine.dispose()
    files = [p for p in path.parent.glob(f"{path.name}*") if p.is_file()]
    for file in files:
        shutil.move(file, aside / file.name)
    path.mkdir()
    try:
        yield
    finally:
        path.rmdir()
        for file in files:
            shutil.move(aside / file.name, file)
        aside.rmdir()


def banner(app) -> str:
    return str(app.screen_stack[-1].query_one(DeskBar).render()) if app.screen_stack else ""


async def test_a_note_typed_while_the_database_is_away_is_kept_and_saved_later(
    make_app, seeded
) -> None:
    app = make_app(AGENT)
    app.retry_seconds = None  # the test says when to try again
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        app.open_ticket(seeded.refs["laptop"])
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        ticket_screen = app.screen
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, FormModal), "note dialog")
        dialog = app.screen
        await type_text(pilot, "Customer rebooted the dock")

        with database_away(app, seeded):
            await pilot.press("ctrl+s")
            await until(pilot, lambda: app.offline, "outage noticed")
            assert app.screen is dialog, "the dialog stays open"
            assert dialog.query_one(TextArea).text == "Customer rebooted the dock"
            assert "not available" in str(dialog.query_one("#form-error").render())
            assert "database unreachable" in str(ticket_screen.query_one(DeskBar).render())
            assert ticket_screen.query_one(DeskBar).has_class("-offline")
            # Trying while it is still away changes nothing and says nothing new.
            app.try_again()
            await settle(pilot)
            assert app.offline

        app.try_again()
        await until(pilot, lambda: not app.offline, "back online")
        assert not ticket_screen.query_one(DeskBar).has_class("-offline")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is ticket_screen, "dialog closed")
        await settle(pilot)
    note = seeded.known.as_(AGENT).read(get_ticket, ref=seeded.refs["laptop"]).events[-1]
    assert (note.kind, note.data["text"]) == ("note", "Customer rebooted the dock")


async def test_a_call_taken_while_the_database_is_away_keeps_its_draft(
    make_app, seeded, tmp_path
) -> None:
    app = make_app(AGENT)
    app.retry_seconds = None
    before = len(seeded.known.as_(AGENT).read(list_tickets, statuses=["all"], limit=1000))
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "intake shown")
        intake = app.screen
        with database_away(app, seeded):
            intake.query_one("#subject").focus()
            await type_text(pilot, "Scanner offline")
            await pilot.press("ctrl+s")
            # No caller: asked once, and saved for an anonymous one.
            await until(pilot, lambda: app.screen.__class__.__name__ == "AskModal", "asked")
            await pilot.press("a")
            await until(pilot, lambda: app.offline, "outage noticed")
            assert app.screen is intake
            assert intake.query_one("#subject").value == "Scanner offline"
            # On disk too (written as typed, a moment later): a crash would not lose the call.
            await until(
                pilot,
                lambda: (
                    (kept := app.drafts.load()) is not None
                    and kept.problems[0].subject == "Scanner offline"
                ),
                "draft on disk",
            )
        app.try_again()
        await until(pilot, lambda: not app.offline, "back online")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        assert app.screen.ticket.subject == "Scanner offline"
    after = seeded.known.as_(AGENT).read(list_tickets, statuses=["all"], limit=1000)
    assert len(after) == before + 1
