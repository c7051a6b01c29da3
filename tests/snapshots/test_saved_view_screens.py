"""The queue with saved views' tabs after the built-in ones (issue 21), at 80 and 120
columns: a supervisor's seven tabs and two saved ones must not push the bar off the screen."""

from __future__ import annotations

import pytest
from helpers import opened, settle, steady, until

from deskterm.desk.context import Desk
from deskterm.desk.saved_views import create_view, make_filter
from factories import SERVICE_DESK, SUPERVISOR

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


@pytest.mark.parametrize("size", SIZES)
def test_queue_with_a_saved_view(snap_compare, make_app, seeded, size) -> None:
    from deskterm.desk.setup import open_database

    db = open_database(seeded.url)
    boss = Desk(db, SUPERVISOR)
    boss.write(
        create_view,
        name="Unassigned P1-P2 of my groups",
        view_filter=make_filter(group="mine", assignee="nobody", priority="P1-P2"),
    )
    boss.write(
        create_view, name="VPN", view_filter=make_filter(text="vpn"), share_with=SERVICE_DESK
    )
    db.dispose()

    async def run_before(pilot) -> None:
        await opened(pilot)
        await until(pilot, lambda: len(pilot.app.screen.saved) == 2)
        await pilot.press("8")
        await until(pilot, lambda: pilot.app.screen.page.view.startswith("saved-"))
        await settle(pilot)
        steady(pilot)
        await pilot.pause()

    assert snap_compare(make_app(SUPERVISOR), terminal_size=size, run_before=run_before)
