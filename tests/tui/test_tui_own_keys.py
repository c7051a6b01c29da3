"""Your own keys (issue 21): the desk's ``[keys]`` and the analyst's own move a binding, the
key press then does it, and the key help and the footer show the key in force."""

from __future__ import annotations

from helpers import opened, until
from textual.widgets._footer import FooterKey

from deskterm.desk.keymaps import set_analyst_key
from deskterm.desk.tickets import get_ticket
from deskterm.tui.app import DeskApp
from deskterm.tui.modals.keys import SCREEN, KeysScreen
from deskterm.tui.screens.queue import QueueScreen
from deskterm.tui.screens.ticket import TicketScreen
from deskterm.tui.widgets.footer import KeyFooter
from factories import AGENT


def _app(seeded, tmp_path, keymap: dict[str, str]) -> DeskApp:
    return DeskApp(
        seeded.url,
        AGENT,
        data_dir=tmp_path / "data",
        poll_seconds=None,
        presence_seconds=None,
        keymap=keymap,
    )


def _footer_keys(app: DeskApp) -> dict[str, str]:
    footer = app.screen.query_one(KeyFooter)
    return {key.description: key.key_display for key in footer.query(FooterKey)}


async def test_the_desks_n_pulls_the_next_ticket_and_p_no_longer_does(seeded, tmp_path) -> None:
    app = _app(seeded, tmp_path, {"pull_next": "n"})
    async with app.run_test(size=(100, 24)) as pilot:
        await opened(pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        await until(pilot, lambda: _footer_keys(app).get("Pull next") == "n", "footer says n")
        await pilot.press("p")
        await pilot.pause()
        assert app.screen is queue
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, KeysScreen), "key help")
        rows = {row.description: row.keys for row in app.screen.rows if row.group == SCREEN}
        assert rows["Pull next"] == ("n",)
        # In its place in the list (second, as declared), not moved to the end by the keymap.
        assert list(rows)[:2] == ["Open", "Pull next"]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is queue, "key help closed")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        payroll = seeded.refs["payroll"]
        assert app.screen.ticket_id == payroll
        stored = seeded.known.as_(AGENT).read(get_ticket, ref=payroll)
        assert stored.assignee == AGENT


async def test_the_analysts_own_keys_win_over_the_desks(seeded, tmp_path) -> None:
    seeded.known.as_(AGENT).write(set_analyst_key, binding_id="pull_next", keys="j")
    app = _app(seeded, tmp_path, {"pull_next": "n", "keys": "f1"})
    async with app.run_test(size=(100, 24)) as pilot:
        await opened(pilot)
        queue = app.screen
        await until(pilot, lambda: _footer_keys(app).get("Pull next") == "j", "footer says j")
        # The desk's move of the key help stands (the analyst left it): ? does nothing now.
        assert _footer_keys(app).get("Keys") == "f1"
        await pilot.press("n", "question_mark")
        await pilot.pause()
        assert app.screen is queue
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, KeysScreen), "key help on f1")
        rows = {row.description: row.keys for row in app.screen.rows}
        assert rows["Pull next"] == ("j",) and rows["Keys"] == ("f1",)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is queue, "key help closed")
        await pilot.press("j")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
