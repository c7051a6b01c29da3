"""The supervisor's dashboard in the terminal: one key opens it, a number opens its tickets,
a ticket opens from there; analysts do not get it."""

from __future__ import annotations

from helpers import opened, settle, until
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from deskterm.desk.tickets import list_tickets
from deskterm.tui.screens.dashboard import DashboardScreen, DrillScreen
from deskterm.tui.screens.queue import QueueScreen
from deskterm.tui.screens.ticket import TicketScreen
from factories import AGENT, SUPERVISOR


async def test_a_number_opens_the_tickets_it_counts(make_app, seeded) -> None:
    open_now = seeded.known.as_(SUPERVISOR).read(list_tickets, statuses=["open"], limit=1000)
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        await pilot.press("f2")
        await until(
            pilot,
            lambda: isinstance(app.screen, DashboardScreen) and app.screen.board is not None,
            "dashboard shown",
        )
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        backlog = screen.query_one("#dash-backlog", DataTable)
        total_row = backlog.row_count - 1
        total_column = backlog.get_column_index("total")
        assert str(backlog.get_cell_at(Coordinate(total_row, 0))) == "TOTAL"
        assert str(backlog.get_cell_at(Coordinate(total_row, total_column))) == str(len(open_now))

        backlog.focus()
        backlog.cursor_coordinate = Coordinate(total_row, total_column)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DrillScreen), "drill-down shown")
        await settle(pilot)
        listed = app.screen.query_one("#drill", DataTable)
        assert listed.row_count == len(open_now)
        assert {int(str(k.value)) for k in listed.rows} == {t.id for t in open_now}

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen), "ticket opened")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DrillScreen), "back to the list")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "back to the board")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen), "back to the queue")


async def test_an_agent_has_no_dashboard(make_app) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
