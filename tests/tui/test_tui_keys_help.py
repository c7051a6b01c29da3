"""Every key in reach: ``?`` and ``f1`` list a screen's keys, the footer shows whole keys
only (most needed first), the palette lists deskterm's commands before Textual's, each
title once, and typing in the articles screen searches instead of firing list keys."""

from __future__ import annotations

import pytest
from helpers import opened, settle, type_text, until
from test_tui_literal_names import drawn
from test_tui_ticket import modal, open_ticket
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Input
from textual.widgets._footer import FooterKey

from deskterm.desk.kb import add_article
from deskterm.tui.modals.keys import CURSOR, EVERYWHERE, SCREEN, KeysScreen
from deskterm.tui.screens.article import ArticleForm, ArticleScreen, KnowledgeScreen
from deskterm.tui.screens.queue import QueueScreen
from factories import AGENT, SUPERVISOR


def listed(screen: KeysScreen, group: str | None = None) -> dict[str, tuple[str, ...]]:
    return {row.description: row.keys for row in screen.rows if group in (None, row.group)}


async def keys_open(pilot) -> KeysScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, KeysScreen), "key help open")
    return pilot.app.screen


async def test_question_mark_on_the_queue_lists_all_its_keys_even_those_off_the_footer(
    make_app,
) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        queue = app.screen
        await pilot.press("question_mark")
        help_ = await keys_open(pilot)
        here = listed(help_, SCREEN)
        # Shown on the footer and hidden from it alike, with their keys as the footer writes
        # them; the views by their number.
        assert here["Open"] == ("⏎",)
        assert here["Pull next"] == ("p",)
        assert here["Away"] == ("w",)
        assert here["Next page"] == ("]",)
        assert here["Prev page"] == ("[",)
        assert here["Clear filter"] == ("esc",)
        assert here["Mine"] == ("1",) and here["Callbacks"] == ("5",)
        everywhere = listed(help_, EVERYWHERE)
        assert everywhere["New call"] == ("^n",)
        assert everywhere["Search tickets"] == ("^f",)
        assert everywhere["Articles"] == ("f4",)
        assert everywhere["Keys"] == ("?", "f1")
        assert everywhere["Quit"] == ("^q",)
        assert "Cursor down" in listed(help_, CURSOR)
        # The screen's first, then everywhere, then the list's.
        groups = [row.group for row in help_.rows]
        assert groups == sorted(groups, key=[SCREEN, EVERYWHERE, CURSOR].index)
        text = drawn(app)
        assert "Mark yourself away with a backup" in text
        # What needs a supervisor or another page is there, marked as not doing anything now.
        dashboard = next(row for row in help_.rows if row.description == "Dashboard")
        assert not dashboard.enabled and "not now" in text

        for close in ("escape", "question_mark", "q", "f1"):
            await pilot.press(close)
            await until(pilot, lambda: app.screen is queue, f"closed by {close}")
            await pilot.press("f1" if close == "escape" else "question_mark")
            await keys_open(pilot)


async def test_in_a_text_field_question_mark_types_and_f1_opens_the_key_help(make_app) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        queue = app.screen
        await pilot.press("slash")
        field = queue.query_one("#filter", Input)
        assert app.focused is field
        await type_text(pilot, "why?")
        assert field.value == "why?"
        assert app.screen is queue
        await pilot.press("f1")
        help_ = await keys_open(pilot)
        # The letters of the queue are typed into the filter while it has the cursor.
        pull = next(row for row in help_.rows if row.description == "Pull next")
        assert pull.typed
        assert "outside text fields" in drawn(app)
        assert "Delete character left" in listed(help_, CURSOR)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is queue)
        assert app.focused is field
        await type_text(pilot, "!")
        assert field.value == "why?!"


async def test_f1_and_question_mark_open_the_key_help_over_a_dialog_and_a_new_call(
    make_app, seeded
) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        ticket = await open_ticket(pilot, seeded.refs["laptop"])
        await pilot.press("n")
        dialog = await modal(pilot)
        await pilot.press("f1")
        help_ = await keys_open(pilot)
        assert listed(help_, SCREEN) == {"Save": ("^s",), "Cancel": ("esc",)}
        everywhere = listed(help_, EVERYWHERE)
        # Over a dialog only the app's priority keys reach; f2 and f4 do not.
        assert "New call" in everywhere and "Dashboard" not in everywhere
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is dialog)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is ticket)
        await pilot.press("question_mark")
        help_ = await keys_open(pilot)
        assert "Escalate" in listed(help_, SCREEN)
        await pilot.press("escape")

        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.screen.__class__.__name__ == "IntakeScreen")
        intake = app.screen
        assert isinstance(app.focused, Input)
        typed = app.focused
        await pilot.press("question_mark")
        await settle(pilot)
        assert app.screen is intake and typed.value.endswith("?")
        await pilot.press("f1")
        help_ = await keys_open(pilot)
        assert listed(help_, SCREEN)  # the new call's own keys


def footer_keys(screen) -> tuple[list[FooterKey], FooterKey | None]:
    keys = [k for k in screen.query(FooterKey) if not k.has_class("-command-palette")]
    palette = [k for k in screen.query(FooterKey) if k.has_class("-command-palette")]
    return keys, palette[0] if palette else None


def assert_whole(screen, width: int = 80) -> list[str]:
    """Every key on the footer is drawn whole: inside the screen, clear of the palette key,
    and as wide as its text."""
    keys, palette = footer_keys(screen)
    assert keys, "no keys on the footer"
    right = palette.region.x if palette is not None else width
    for key in keys:
        region = key.region
        label = f"{key.key_display} {key.description}"
        assert region.width >= len(label), f"{label!r} cut to {region.width} cells"
        assert region.right <= width, f"{label!r} runs off the screen"
        assert region.right <= right, f"{label!r} runs under the palette key"
    return [key.action for key in keys]


async def test_the_footer_shows_whole_keys_most_needed_first_and_the_key_help_last(
    make_app, seeded
) -> None:
    desk = seeded.known.as_(SUPERVISOR)
    desk.write(add_article, title="Printer offline", body="Power-cycle it.", status="published")
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await settle(pilot)
        actions = assert_whole(app.screen)
        assert actions[:2] == ["open", "pull_next"]
        assert "handover" in actions and actions[-2:] == ["new_call", "keys"]
        # Typing in the filter: "?" is a letter there, so the footer offers f1.
        await pilot.press("slash")
        await settle(pilot)
        assert_whole(app.screen)
        assert footer_keys(app.screen)[0][-1].key == "f1"
        await pilot.press("escape")

        await pilot.press("ctrl+f")
        await until(pilot, lambda: app.screen.__class__.__name__ == "SearchScreen")
        await settle(pilot)
        # Where the tickets found are is the first thing to know (the field's own "down"
        # must not hide it).
        assert assert_whole(app.screen) == ["to_hits", "back", "new_call", "keys"]

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen))
        await pilot.press("f2")
        await until(pilot, lambda: app.screen.__class__.__name__ == "DashboardScreen")
        await settle(pilot)
        assert assert_whole(app.screen)[-1] == "keys"

        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, KnowledgeScreen))
        await settle(pilot)
        assert assert_whole(app.screen)[:3] == ["read", "new", "edit"]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ArticleScreen) and app.screen.article)
        await settle(pilot)
        # A dialog's own keys, and the key help, which works over it too.
        assert assert_whole(app.screen)[-1] == "keys"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, KnowledgeScreen))
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, ArticleForm))
        await settle(pilot)
        assert assert_whole(app.screen) == ["save", "cancel", "keys"]
        assert footer_keys(app.screen)[0][-1].key == "f1"  # the title field has the cursor
        await pilot.press("escape")

        app.switch_mode("queue")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen))
        await pilot.press("h")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HandoverScreen")
        await settle(pilot)
        assert assert_whole(app.screen)[-1] == "keys"


@pytest.mark.parametrize("width", [60, 80, 120])
async def test_a_narrow_footer_leaves_out_whole_keys_from_the_end(make_app, width) -> None:
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(width, 24)) as pilot:
        await opened(pilot)
        await settle(pilot)
        actions = assert_whole(app.screen, width)
        assert actions[0] == "open" and actions[-1] == "keys"
        if width == 60:
            assert "handover" not in actions
        if width == 120:
            assert "handover" in actions


def palette_titles(app) -> list[str]:
    options = app.screen.query_one(CommandList)
    return [
        str(options.get_option_at_index(i).prompt).split("\n")[0]
        for i in range(options.option_count)
    ]


async def test_the_palette_lists_deskterms_commands_first_each_title_once(make_app) -> None:
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        queue = app.screen
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await until(pilot, lambda: app.screen.query_one(CommandList).option_count > 5)
        titles = palette_titles(app)
        assert len(titles) == len(set(titles)), titles
        assert titles[:3] == ["Open", "Pull next", "Filter"]
        assert titles.count("Quit") == 1 and titles.count("Keys") == 1
        assert titles.index("Theme") > titles.index("Articles")
        ours = [command.title for command, mine in app.palette_commands(queue) if mine]
        theirs = [command.title for command, mine in app.palette_commands(queue) if not mine]
        assert titles == ours + theirs
        assert "Theme" in theirs and "Quit" in ours and "Keys" in ours
        # Nothing that only moves a cursor, and nothing of Textual's before deskterm's.
        assert "Cursor down" not in titles and "Focus Next" not in titles

        # Typed words: every deskterm match ranks above Textual's ("sc": Screenshot, Theme's
        # neighbours; Search tickets is deskterm's).
        await type_text(pilot, "sc")
        await until(pilot, lambda: "Screenshot" in palette_titles(app), "searched")
        found = palette_titles(app)
        assert found.index("Search tickets") < found.index("Screenshot")
        assert found == [t for t in found if t in ours] + [t for t in found if t in theirs]

        # A command found there runs on the screen it was opened from.
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen))
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await type_text(pilot, "keys")
        await until(pilot, lambda: "Keys" in palette_titles(app))
        await pilot.press("enter")
        help_ = await keys_open(pilot)
        assert "Pull next" in listed(help_, SCREEN)


async def test_typing_in_the_articles_list_searches_and_never_fires_a_command(
    make_app, seeded
) -> None:
    desk = seeded.known.as_(SUPERVISOR)
    for title in ("Map a network drive", "Printer offline", "New starter checklist"):
        desk.write(add_article, title=title, body=f"{title}.", status="published")
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, KnowledgeScreen), "articles shown")
        browser = app.screen
        table = browser.query_one(DataTable)
        search = browser.query_one("#kb-search", Input)
        await until(pilot, lambda: table.row_count == 3, "all listed")
        # The cursor goes down into the list, and the analyst types a word there.
        await pilot.press("down")
        assert app.focused is table
        await pilot.press(*"network")
        await settle(pilot)
        assert app.screen is browser, "a letter fired a command"
        assert search.value == "network" and app.focused is search
        await until(pilot, lambda: table.row_count == 1, "found")
        # Words that start like commands ("new", "edit") are searched for, too.
        await pilot.press("ctrl+u")
        await pilot.press(*"new e")
        await settle(pilot)
        assert app.screen is browser and search.value == "new e"
        # The commands are on keys nobody types into a search.
        await pilot.press("ctrl+u")
        await until(pilot, lambda: table.row_count == 3, "all listed again")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, ArticleForm), "new article")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is browser)
        await pilot.press(*"printer")
        await until(pilot, lambda: table.row_count == 1, "printer found")
        await pilot.press("enter")  # the best match, straight from the search
        await until(pilot, lambda: isinstance(app.screen, ArticleScreen) and app.screen.article)
        assert app.screen.article.title == "Printer offline"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is browser)
        await pilot.press("ctrl+e")
        await until(pilot, lambda: isinstance(app.screen, ArticleForm), "edit form")
        assert app.screen.article.title == "Printer offline"
