"""App-wide changes reach the screens as messages (tui/messages.py): a desk change and a
presence change go to each screen of the current mode, which handles them or lets them pass;
``offline`` is a reactive the bars follow."""

from __future__ import annotations

from helpers import opened, settle, until
from textual.message import Message

from deskterm.desk.tickets import add_note, assign
from deskterm.tui.messages import (
    DeskLost,
    DeskReached,
    DeskUpdated,
    PresenceChanged,
    PresenceNoticed,
)
from deskterm.tui.screens.dashboard import DashboardScreen
from deskterm.tui.screens.queue import QueueScreen
from deskterm.tui.screens.search import SearchScreen
from deskterm.tui.screens.ticket import TicketScreen
from deskterm.tui.widgets.bar import DeskBar
from deskterm.tui.widgets.queuetable import QueueTable
from factories import AGENT, AGENT2, SUPERVISOR


def table_refs(screen: QueueScreen) -> list[str]:
    table = screen.query_one(QueueTable)
    return [table.row_text(i)[0] for i in range(table.row_count)]


async def test_a_desk_change_reaches_the_queue_as_a_message(make_app, seeded) -> None:
    heard: list[Message] = []
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24), message_hook=heard.append) as pilot:
        await opened(pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        await pilot.press("3")
        await until(pilot, lambda: queue.page is not None and queue.page.view == "unassigned")
        assert table_refs(queue) == ["DT-000004", "DT-000003"]
        app.poll_changes()  # the first look only learns where the log stands
        await settle(pilot)
        assert not [m for m in heard if isinstance(m, DeskUpdated)]

        seeded.known.as_(AGENT2).write(assign, ref=seeded.refs["vpn"], to="me")
        app.poll_changes()
        await until(pilot, lambda: table_refs(queue) == ["DT-000004"], "queue refreshed")
        assert len([m for m in heard if isinstance(m, DeskUpdated)]) == 1

        # Nothing new: nobody is told.
        app.poll_changes()
        await settle(pilot)
        assert len([m for m in heard if isinstance(m, DeskUpdated)]) == 1


async def test_under_a_ticket_both_read_again(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        app.poll_changes()
        await settle(pilot)
        app.open_ticket(seeded.refs["laptop"])
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        screen = app.screen
        assert isinstance(screen, TicketScreen) and screen.ticket is not None
        version, page = screen.ticket.version, queue.page

        seeded.known.as_(AGENT2).write(add_note, ref=seeded.refs["laptop"], text="Seen it.")
        app.poll_changes()
        await until(
            pilot,
            lambda: screen.ticket is not None and screen.ticket.version > version,
            "ticket read again",
        )
        # The queue is drawn behind the ticket (Textual's background screens): it is current,
        # so it reads again now rather than when shown.
        await until(pilot, lambda: queue.page is not page, "queue read again")


async def test_a_screen_without_a_handler_lets_the_message_pass(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        app.poll_changes()
        await settle(pilot)
        await pilot.press("ctrl+f")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen), "search shown")
        search, page = app.screen, queue.page
        seeded.known.as_(AGENT2).write(add_note, ref=seeded.refs["laptop"], text="Seen it.")
        app.poll_changes()
        await until(pilot, lambda: queue.stale or queue.page is not page, "the queue heard it")
        assert app.screen is search
        assert app.is_running


async def test_presence_reaches_the_ticket_it_names_only(make_app, seeded) -> None:
    heard: list[Message] = []
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30), message_hook=heard.append) as pilot:
        await opened(pilot)
        app.open_ticket(seeded.refs["laptop"])
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        await settle(pilot)

        def seen() -> int:
            return len([m for m in heard if isinstance(m, TicketScreen.ViewersSeen)])

        before = seen()
        app.post_message(PresenceNoticed(frozenset({seeded.refs["vpn"]})))
        await settle(pilot)
        assert [m.ticket_ids for m in heard if isinstance(m, PresenceChanged)] == [
            frozenset({seeded.refs["vpn"]})
        ]
        assert seen() == before  # another ticket's: not looked at

        app.post_message(PresenceNoticed(frozenset({seeded.refs["laptop"]})))
        await until(pilot, lambda: seen() == before + 1, "looked who is here")
        app.post_message(PresenceNoticed(None))
        await until(pilot, lambda: seen() == before + 2, "looked after a reconnection")


async def test_the_dashboard_reloads_once_for_a_busy_minute(make_app, seeded) -> None:
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        app.poll_changes()
        await settle(pilot)
        await pilot.press("f2")
        await until(
            pilot,
            lambda: isinstance(app.screen, DashboardScreen) and app.screen.board is not None,
            "dashboard shown",
        )
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen._reload is None
        seeded.known.as_(AGENT2).write(add_note, ref=seeded.refs["laptop"], text="One.")
        app.poll_changes()
        await until(pilot, lambda: screen._reload is not None, "reload planned")
        planned = screen._reload
        seeded.known.as_(AGENT2).write(add_note, ref=seeded.refs["laptop"], text="Two.")
        app.poll_changes()
        await settle(pilot)
        assert screen._reload is planned


async def test_offline_turns_every_bar_and_back(make_app, seeded) -> None:
    app = make_app(AGENT)
    app.retry_seconds = None
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        bar = queue.query_one(DeskBar)
        assert not app.offline and not bar.has_class("-offline")
        app.poll_changes()
        await settle(pilot)

        app.post_message(DeskLost("The disk went away"))
        await until(pilot, lambda: app.offline, "offline")
        assert bar.has_class("-offline")
        assert "OFFLINE" in str(bar.render())
        # Said once: a second loss changes nothing.
        app.post_message(DeskLost("Still away"))
        await settle(pilot)
        assert len([n for n in app._notifications if n.title == "Database unreachable"]) == 1

        app.post_message(DeskReached())
        await until(pilot, lambda: not app.offline, "online")
        assert not bar.has_class("-offline")
        assert "live" in str(bar.render())


async def test_the_queue_view_and_filter_are_reactives(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)

        queue.view = "unassigned"
        await until(pilot, lambda: queue.page is not None and queue.page.view == "unassigned")
        assert table_refs(queue) == ["DT-000004", "DT-000003"]
        page = queue.page
        queue.view = "unassigned"  # the same view: nothing to read
        await settle(pilot)
        assert queue.page is page

        queue.starts.append(None)  # as if on a second page
        queue.text = ""  # a key in the filter that left its words alone: from the top again
        assert queue.starts == [None]
        await until(pilot, lambda: queue.page is not page, "read again")
