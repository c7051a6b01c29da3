"""The key help (``?`` / ``f1``) over the queue and over a dialog, on the fixed desk."""

from __future__ import annotations

import pytest
from helpers import until
from test_screens import SIZES, shoot

from factories import AGENT


async def _keys(pilot, key: str = "question_mark") -> None:
    await pilot.press(key)
    await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "KeysScreen")


@pytest.mark.parametrize("size", SIZES)
def test_keys_help_on_the_queue(snap_compare, make_app, size) -> None:
    assert shoot(snap_compare, make_app(AGENT), size, _keys)


def test_keys_help_over_a_dialog(snap_compare, make_app) -> None:
    async def steps(pilot) -> None:
        await pilot.press("enter")
        await until(pilot, lambda: getattr(pilot.app.screen, "loaded", None) is not None)
        await pilot.press("n")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "NoteModal")
        # The note field has the cursor: "?" would be typed there, f1 opens the help.
        await _keys(pilot, "f1")

    assert shoot(snap_compare, make_app(AGENT), (80, 24), steps)
