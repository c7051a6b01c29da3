"""The app speaks the language in force: the footer's keys, the key help, the queue's tabs
and column headers all go through the catalog, and the analyst's own language is put in
force when the desk opens.

No catalog is needed to prove it: a stand-in catalog marks every message it translates
(``«Queue»``), so a text that never went through the catalog shows unmarked.
"""

from __future__ import annotations

import gettext

import pytest
from helpers import opened, until
from sqlalchemy import create_engine, text
from textual.widgets._footer import FooterKey

from deskterm import i18n
from deskterm.tui.modals.keys import CURSOR, EVERYWHERE, SCREEN, KeysScreen
from deskterm.tui.screens.queue import QueueScreen, ViewTab
from deskterm.tui.widgets.queuetable import QueueTable
from factories import AGENT


class Marked(gettext.NullTranslations):
    """Every message in guillemets; one already translated stays as it is, as a real
    catalog leaves a text alone that is not one of its English messages."""

    def gettext(self, message: str) -> str:
        return message if message.startswith("«") else f"«{message}»"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)

    def pgettext(self, context: str, message: str) -> str:
        return self.gettext(message)


@pytest.fixture
def marked(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Every language's catalog is the marking one; returns the tags asked for."""
    asked: list[str | None] = []

    def translation(tag: str | None) -> gettext.NullTranslations:
        asked.append(tag)
        return Marked()

    monkeypatch.setattr(i18n, "translation", translation)
    i18n.use("de")
    return asked


async def test_the_queue_and_its_keys_are_in_the_language_in_force(make_app, marked) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)

        # The footer: every key's description went through the catalog (the screen's, the
        # app's, Textual's palette key).
        await until(pilot, lambda: bool(queue.query(FooterKey)), "footer keys")
        described = [key.description for key in queue.query(FooterKey)]
        assert "«Open»" in described and "«Pull next»" in described
        assert "«New call»" in described and "«Keys»" in described
        assert all(text.startswith("«") for text in described), described

        # The tabs and the table's headers.
        tabs = [str(tab.label_text) for tab in queue.query(ViewTab)]
        assert tabs[0].startswith("1 «Mine»"), tabs
        assert any(tab.startswith("2 «My groups»") for tab in tabs), tabs
        headers = [column.label for column in queue.query_one(QueueTable).columns]
        assert "«Subject»" in headers and "«Ref»" in headers, headers
        # A header is never cut: each column is at least as wide as its header.
        assert all(c.width >= len(c.label) for c in queue.query_one(QueueTable).columns)
        assert str(queue.query_one("#bar").place) == "«Queue»"

        # The key help: deskterm's keys, the app's and Textual's own (the list's cursor).
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, KeysScreen), "key help open")
        help_ = app.screen
        assert isinstance(help_, KeysScreen)
        here = {row.description: row for row in help_.rows if row.group == SCREEN}
        assert "«Pull next»" in here
        assert here["«Pull next»"].tooltip.startswith("«Take the most urgent")
        everywhere = {row.description for row in help_.rows if row.group == EVERYWHERE}
        assert {"«New call»", "«Keys»", "«Quit»"} <= everywhere
        assert "«Cursor down»" in {row.description for row in help_.rows if row.group == CURSOR}
        # Its own footer too.
        closing = [key.description for key in help_.query(FooterKey)]
        assert "«Close»" in closing


async def test_the_app_keys_follow_a_change_of_language(make_app, marked) -> None:
    """The app is built before the analyst is known; the desk opening translates its keys
    again from the English it kept (never a translation of a translation)."""
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        texts = {binding.action: binding.description for _key, binding in app._bindings}
        assert texts["new_call"] == "«New call»"
        assert texts["command_palette"] == "«palette»"


async def test_the_desk_opening_puts_the_analysts_language_in_force(
    make_app, seeded, marked
) -> None:
    engine = create_engine(seeded.url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE analyst SET language = 'de' WHERE login = :login"), {"login": AGENT}
        )
    engine.dispose()
    i18n.use("en")
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        assert i18n.current() == "de"
        assert "de" in marked
        # Everything the analyst reads from then on is in it.
        assert str(app.screen.query_one("#bar").place) == "«Queue»"


class Longer(Marked):
    """Every message 40% longer, as German often is (Warteschlange for Queue)."""

    def gettext(self, message: str) -> str:
        return message + "ä" * -(-len(message) * 2 // 5)


async def test_long_words_are_never_cut(make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixed widths made for English grow for a longer language: the queue's headers, the
    labels beside the new call's fields and the handover's."""
    from rich.cells import cell_len

    from deskterm.tui.screens.handover import HandoverScreen
    from deskterm.tui.screens.intake import IntakeScreen
    from factories import SUPERVISOR

    monkeypatch.setattr(i18n, "translation", lambda tag: Longer())
    i18n.use("de")
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        for column in app.screen.query_one(QueueTable).columns:
            assert column.width >= cell_len(column.label), column

        def whole(screen, selector: str) -> None:
            for label in screen.query(selector):
                text = str(label.render())
                assert label.size.width > cell_len(text), (text, label.size.width)

        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "new call shown")
        await pilot.pause()
        whole(app.screen, ".row-label")

        await pilot.press("escape")
        await opened(pilot)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HandoverScreen), "handover shown")
        await pilot.pause()
        whole(app.screen, ".row-label")
