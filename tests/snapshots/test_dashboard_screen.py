"""The supervisor's dashboard on the fixed desk at a fixed time, narrow and wide."""

from __future__ import annotations

import pytest
from helpers import until
from test_screens import SIZES, shoot

from deskterm.tui.screens.dashboard import DashboardScreen
from factories import SUPERVISOR


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare, make_app, size) -> None:
    async def steps(pilot) -> None:
        await pilot.press("f2")
        await until(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, DashboardScreen) and pilot.app.screen.board is not None
            ),
            "dashboard shown",
        )

    assert shoot(snap_compare, make_app(SUPERVISOR), size, steps)
