"""Every screen at 80x24 and 120x36, on the fixed desk at a fixed time.

Look at a changed snapshot before accepting it (``--snapshot-update``): the report shows both.
"""

from __future__ import annotations

import pytest
from helpers import opened, settle, steady, type_text, until
from textual.widgets import OptionList

from deskterm.desk.analysts import set_away
from factories import AGENT, SUPERVISOR

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


def shoot(snap_compare, app, size, steps=None) -> bool:
    async def run_before(pilot) -> None:
        await opened(pilot)
        if steps is not None:
            await steps(pilot)
        await settle(pilot)
        steady(pilot)
        await pilot.pause()

    return snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_queue_mine(snap_compare, make_app, size) -> None:
    assert shoot(snap_compare, make_app(AGENT), size)


@pytest.mark.parametrize("size", SIZES)
def test_queue_all_for_a_supervisor(snap_compare, make_app, size) -> None:
    async def steps(pilot) -> None:
        await pilot.press("6")
        await until(pilot, lambda: pilot.app.screen.page.view == "all")

    assert shoot(snap_compare, make_app(SUPERVISOR), size, steps)


@pytest.mark.parametrize("size", SIZES)
def test_queue_callbacks_due(snap_compare, make_app, size) -> None:
    async def steps(pilot) -> None:
        await pilot.press("5")
        await until(pilot, lambda: pilot.app.screen.page.view == "callbacks")

    assert shoot(snap_compare, make_app(AGENT), size, steps)


async def _ticket(pilot) -> None:
    await pilot.press("enter")
    await until(pilot, lambda: getattr(pilot.app.screen, "loaded", None) is not None)


@pytest.mark.parametrize("size", SIZES)
def test_ticket(snap_compare, make_app, size) -> None:
    assert shoot(snap_compare, make_app(AGENT), size, _ticket)


@pytest.mark.parametrize("size", SIZES)
def test_escalate_dialog(snap_compare, make_app, size) -> None:
    async def steps(pilot) -> None:
        await _ticket(pilot)
        await pilot.press("e")
        await until(pilot, lambda: getattr(pilot.app.screen, "targets", None))

    assert shoot(snap_compare, make_app(AGENT), size, steps)


@pytest.mark.parametrize("size", SIZES)
def test_note_dialog(snap_compare, make_app, size) -> None:
    # The note, its visibility and the minutes worked all above the fold at 80x24.
    async def steps(pilot) -> None:
        await _ticket(pilot)
        await pilot.press("n")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "NoteModal")
        await type_text(pilot, "Rebooted the dock, the screen is back")
        await pilot.press("tab", "tab", "2", "5")

    assert shoot(snap_compare, make_app(AGENT), size, steps)


@pytest.mark.parametrize("size", SIZES)
def test_reassign_dialog(snap_compare, make_app, size) -> None:
    async def steps(pilot) -> None:
        await _ticket(pilot)
        await pilot.press("a")
        await until(pilot, lambda: getattr(pilot.app.screen, "analysts", None))

    assert shoot(snap_compare, make_app(AGENT), size, steps)


@pytest.mark.parametrize("size", SIZES)
def test_intake(snap_compare, make_app, size) -> None:
    async def steps(pilot) -> None:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "IntakeScreen")
        screen = pilot.app.screen
        await type_text(pilot, "carol")
        await until(pilot, lambda: screen.query_one("#matches", OptionList).option_count)
        await pilot.press("enter", "enter")
        await until(pilot, lambda: screen.contact is not None)
        await type_text(pilot, "Webcam not detected")
        await until(pilot, lambda: screen.categories)

    assert shoot(snap_compare, make_app(AGENT), size, steps)


@pytest.mark.parametrize("size", SIZES)
def test_handover(snap_compare, make_app, seeded, size) -> None:
    seeded.known.as_(SUPERVISOR).write(set_away, login=AGENT, reason="off sick")

    async def steps(pilot) -> None:
        await pilot.press("h")
        await until(pilot, lambda: getattr(pilot.app.screen, "analysts", None))
        # The cursor starts on alice, away with open tickets; bob is proposed to take them.
        await until(pilot, lambda: pilot.app.screen.versions)

    assert shoot(snap_compare, make_app(SUPERVISOR), size, steps)


@pytest.mark.parametrize("size", SIZES)
def test_unknown_analyst(snap_compare, make_app, size) -> None:
    async def run_before(pilot) -> None:
        await settle(pilot)
        steady(pilot)

    assert snap_compare(make_app("mallory"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_search_with_hits(snap_compare, make_app, size) -> None:
    async def steps(pilot) -> None:
        await pilot.press("ctrl+f")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "SearchScreen")
        await type_text(pilot, "screen")
        await until(pilot, lambda: pilot.app.screen.shown == "screen")
        # Into the hits, onto the second: its description's words show under the table.
        await pilot.press("down", "down")

    assert shoot(snap_compare, make_app(AGENT), size, steps)
