"""The handover screen follows the desk as the queue does: a ticket resolved by someone else
meanwhile leaves the list without a key pressed, and the supervisor's ticks stay."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from helpers import opened, settle, until
from seed import Seeded
from textual.pilot import Pilot
from textual.widgets import SelectionList

from deskterm.desk.analysts import set_away
from deskterm.desk.tickets import get_ticket, resolve
from deskterm.tui.app import DeskApp
from deskterm.tui.screens.handover import HandoverScreen
from factories import AGENT, SUPERVISOR

LIVE_WITHIN = 5.0


async def within(pilot: Pilot, condition: Callable[[], object], what: str) -> None:
    """With no key pressed meanwhile."""
    start = time.monotonic()
    while time.monotonic() - start < LIVE_WITHIN:
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"not within {LIVE_WITHIN} s: {what}")


async def test_a_ticket_resolved_meanwhile_leaves_the_handover(
    desk: Seeded, tmp_path: Path
) -> None:
    url: str = desk.url  # type: ignore[attr-defined]
    desk.known.as_(SUPERVISOR).write(set_away, login=AGENT, reason="off sick")
    # PostgreSQL hears the change (LISTEN/NOTIFY, no polling); SQLite polls, as it does for real.
    polls = None if url.startswith("postgresql") else 0.1
    app = DeskApp(url, SUPERVISOR, data_dir=tmp_path / "data", poll_seconds=polls)
    laptop, outlook, starter = (desk.refs[n] for n in ("laptop", "outlook", "starter"))
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        if polls is None:
            await within(pilot, lambda: app.listening, "listening")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HandoverScreen) and app.screen.analysts)
        screen = app.screen
        assert isinstance(screen, HandoverScreen)
        await until(pilot, lambda: screen.source == AGENT and len(screen.versions) == 3)
        listing: SelectionList[int] = screen.query_one("#tickets", SelectionList)
        # The supervisor unticks the starter: it stays with alice.
        listing.deselect(starter)
        await settle(pilot)

        # Meanwhile alice (at home, on her laptop) resolves the Outlook ticket.
        await asyncio.to_thread(
            desk.known.as_(AGENT).write,
            resolve,
            ref=outlook,
            code="fixed",
            text="Rebuilt the profile",
        )
        await within(pilot, lambda: outlook not in screen.versions, "resolved ticket gone")
        assert set(screen.versions) == {laptop, starter}
        assert set(listing.selected) == {laptop}
        assert "2" in str(screen.query_one("#tickets-title").render())
        # The versions follow too: handing over now moves the laptop alone, not refused.
        before = desk.known.as_(SUPERVISOR).read(get_ticket, ref=laptop).version
        assert screen.versions[laptop] == before
