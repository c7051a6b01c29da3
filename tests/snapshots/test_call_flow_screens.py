"""The call flow at 80x24, on the fixed desk at a fixed time: a new call with the caller
picked and urgency set by key, the question a nameless call asks, and the ticket screen a
save opens (offering another problem from the same call)."""

from __future__ import annotations

from helpers import settle, type_text, until
from test_screens import shoot
from textual.widgets import OptionList

from factories import AGENT


async def _call(pilot) -> None:
    await pilot.press("ctrl+n")
    await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "IntakeScreen")
    screen = pilot.app.screen
    await type_text(pilot, "dan")
    await until(pilot, lambda: screen.query_one("#matches", OptionList).option_count)
    await pilot.press("enter")
    await until(pilot, lambda: screen.contact is not None)
    await type_text(pilot, "VPN drops again")
    await pilot.press("f5")
    await until(pilot, lambda: screen.categories)


def test_new_call(snap_compare, make_app) -> None:
    assert shoot(snap_compare, make_app(AGENT), (80, 24), _call)


def test_new_call_without_a_caller_asks(snap_compare, make_app) -> None:
    async def steps(pilot) -> None:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "IntakeScreen")
        pilot.app.screen.query_one("#subject").focus()
        await type_text(pilot, "Printer jams")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "AskModal")

    assert shoot(snap_compare, make_app(AGENT), (80, 24), steps)


def test_ticket_a_call_opened(snap_compare, make_app) -> None:
    async def steps(pilot) -> None:
        await _call(pilot)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: getattr(pilot.app.screen, "loaded", None) is not None)
        await settle(pilot)

    assert shoot(snap_compare, make_app(AGENT), (80, 24), steps)
