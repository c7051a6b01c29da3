"""Opening the desk, the queue views, pull next, live refresh, literal text."""

from __future__ import annotations

from helpers import opened, settle, until
from rich.text import Text
from textual.widgets import Static, Tabs

from deskterm.desk.tickets import assign, get_ticket
from deskterm.tui.screens.loading import LoadingScreen
from deskterm.tui.screens.queue import QueueScreen
from deskterm.tui.screens.ticket import TicketScreen
from deskterm.tui.widgets.queuetable import QueueTable
from factories import AGENT, AGENT2


def table_refs(app) -> list[str]:
    table = app.screen.query_one(QueueTable)
    return [table.row_text(i)[0] for i in range(table.row_count)]


async def test_mine_in_queue_order(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        # P2 first, then the two P3s by resolution due time.
        assert table_refs(app) == ["DT-000001", "DT-000006", "DT-000002"]
        await pilot.press("2")
        await until(pilot, lambda: app.screen.view == "groups" and app.screen.page.view == "groups")
        assert table_refs(app)[:2] == ["DT-000004", "DT-000003"]
        assert app.screen.query_one(Tabs).active == "tab-groups"


async def test_caller_text_is_shown_literally(make_app) -> None:
    app = make_app("sam")
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("6")
        await until(pilot, lambda: app.screen.page.view == "all")
        table = app.screen.query_one(QueueTable)
        row = table.row_cells(table.row_ids.index(5))
        subject, contact = row[4], row[5]
        assert isinstance(subject, Text) and "jams [bold]again[" in subject.plain
        assert not subject.spans
        assert contact.plain.startswith("Eve [bold]Mallory[")
        assert "\x1b" not in contact.plain


async def test_filter_as_you_type_and_escape(make_app) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("slash", "o", "u", "t")
        await until(pilot, lambda: app.screen.text == "out" and app.screen.page is not None)
        await until(pilot, lambda: table_refs(app) == ["DT-000002"])
        await pilot.press("escape", "escape")
        await until(pilot, lambda: len(table_refs(app)) == 3)


async def test_pull_next_claims_the_most_urgent_and_opens_it(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        payroll = seeded.refs["payroll"]
        assert app.screen.ticket_id == payroll
        stored = seeded.known.as_(AGENT).read(get_ticket, ref=payroll)
        assert stored.assignee == AGENT and stored.status == "assigned"
        assert stored.events[-1].data.get("via") == "queue next"
        await pilot.press("escape")
        await until(pilot, lambda: "DT-000004" in table_refs(app))


async def test_queue_follows_changes_made_elsewhere(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("3")
        await until(pilot, lambda: app.screen.page.view == "unassigned")
        assert table_refs(app) == ["DT-000004", "DT-000003"]
        app.poll_changes()
        await settle(pilot)
        seeded.known.as_(AGENT2).write(assign, ref=seeded.refs["vpn"], to="me")
        app.poll_changes()
        await until(pilot, lambda: table_refs(app) == ["DT-000004"], "queue refreshed")


async def test_unknown_login_is_a_message_and_q_quits(make_app) -> None:
    app = make_app("mallory")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LoadingScreen)
        failure = app.screen.query_one("#failure", Static)
        assert "'mallory' is not an analyst of this desk" in str(failure.render())
        await pilot.press("q")
    assert app.exit_code != 0


async def test_unreachable_database_is_a_message(make_app, tmp_path) -> None:
    app = make_app(AGENT, url=f"sqlite:///{tmp_path / 'missing' / 'desk.db'}")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = str(app.screen.query_one("#failure", Static).render())
        assert "does not exist" in text
        await pilot.press("ctrl+q")
    assert app.exit_code == 4


async def test_palette_jumps_to_a_ticket_by_reference(make_app) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"dt-3")
        await until(pilot, lambda: app.screen.query("CommandList Option") or True)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        assert app.screen.ticket.ref == "DT-000003"
        assert isinstance(app.screen_stack[-2], QueueScreen)
