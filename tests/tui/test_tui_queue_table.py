"""The queue's table: a page holds the rows that fit, keys past either end turn the page,
rows change in place, and a row already drawn is not drawn again."""

from __future__ import annotations

import pytest
from helpers import opened, settle, until
from textual.widgets import Static

from deskterm.desk.tickets import assign, create_ticket
from deskterm.tui.screens.queue import QueueScreen
from deskterm.tui.widgets.queuetable import QueueTable
from factories import AGENT, AGENT2

#: Tickets of Alice's besides the seeded three: enough for three pages at 80x24.
MORE = 40


@pytest.fixture
def busy_desk(seeded):
    alice = seeded.known.as_(AGENT)
    for number in range(MORE):
        alice.write(create_ticket, subject=f"Printer {number:02d} out of toner")
    return seeded


def table(app) -> QueueTable:
    return app.screen.query_one(QueueTable)


def status(app) -> str:
    return str(app.screen.query_one("#queue-status", Static).render())


async def page_shown(pilot, first: int) -> None:
    """Until the page starting at row ``first`` of the view is on screen."""
    screen = pilot.app.screen
    await until(
        pilot,
        lambda: (
            isinstance(screen, QueueScreen)
            and sum(screen.sizes) + 1 == first
            and screen.page is not None
            and screen._shown == (screen.view, screen.text, screen.starts[-1])
        ),
        f"the page from row {first}",
    )


@pytest.mark.parametrize(("size", "rows"), [((80, 24), 18), ((120, 36), 30)])
async def test_a_page_holds_the_rows_that_fit(make_app, busy_desk, size, rows) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=size) as pilot:
        await opened(pilot)
        # Everything but the bar, the tabs, the header, the status line and the footer.
        assert table(app).visible_rows == rows
        assert table(app).row_count == rows
        assert f"1–{rows} · ] next page" in status(app)


async def test_down_past_the_last_row_is_the_next_page_and_up_comes_back(
    make_app, busy_desk
) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        first_page = table(app).row_ids
        await pilot.press("end")
        assert table(app).cursor_row == 17
        await pilot.press("down")
        await page_shown(pilot, 19)
        # The cursor on the next page's first row; no row of the first page again.
        assert table(app).cursor_row == 0
        assert not set(table(app).row_ids) & set(first_page)
        assert "19–36 · ] next page · [ previous" in status(app)
        await pilot.press("up")
        await page_shown(pilot, 1)
        assert table(app).row_ids == first_page
        assert table(app).cursor_row == 17
        # Home and end stay on the page; up on the first row of the first page goes nowhere.
        await pilot.press("home", "up")
        await settle(pilot)
        assert table(app).cursor_row == 0 and table(app).row_ids == first_page


async def test_page_keys_and_the_last_page(make_app, busy_desk) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("down", "down")
        await pilot.press("pagedown")
        await page_shown(pilot, 19)
        assert table(app).cursor_row == 2  # the same place on the next page
        await pilot.press("right_square_bracket")
        await page_shown(pilot, 37)
        # 43 tickets: the last page holds the last 7, and says there is no next one.
        assert table(app).row_count == 7
        assert "37–43 · [ previous" in status(app)
        await pilot.press("end", "down", "pagedown")
        await settle(pilot)
        assert sum(app.screen.sizes) + 1 == 37 and table(app).cursor_row == 6
        await pilot.press("pageup")
        await page_shown(pilot, 19)


async def test_a_bigger_window_shows_a_bigger_page_from_the_same_row(make_app, busy_desk) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("right_square_bracket")
        await page_shown(pilot, 19)
        starts = table(app).row_ids[0]
        await pilot.resize_terminal(120, 36)
        await until(pilot, lambda: table(app).row_count == 25, "a page of what is left")
        assert table(app).row_ids[0] == starts
        assert "19–43 · [ previous" in status(app)


async def test_a_change_elsewhere_shows_in_place_and_the_cursor_stays(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("2")  # my groups: the VPN ticket is there, nobody's yet
        await until(pilot, lambda: app.screen.page.view == "groups")
        vpn = seeded.refs["vpn"]
        shown = table(app)
        row = shown.row_ids.index(vpn)
        assert shown.row_text(row)[2] == "new"
        await pilot.press("end")
        await settle(pilot)
        cursor, on = shown.cursor_row, shown.highlighted_id
        assert on != vpn
        drawn = shown.renders
        app.poll_changes()
        await settle(pilot)
        seeded.known.as_(AGENT2).write(assign, ref=vpn, to="me")
        app.poll_changes()
        await until(pilot, lambda: shown.row_text(row)[2] == "assigned", "new status shown")
        assert shown.row_text(row)[6] == AGENT2
        assert (shown.cursor_row, shown.highlighted_id) == (cursor, on)
        # Only the row that changed was drawn again.
        assert shown.renders == drawn + 1


async def test_a_view_seen_before_is_not_drawn_again(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("2")
        await until(pilot, lambda: app.screen.page.view == "groups")
        await pilot.press("1")
        await until(pilot, lambda: app.screen.page.view == "mine")
        drawn = table(app).renders
        await pilot.press("2")
        await until(pilot, lambda: app.screen.page.view == "groups")
        await pilot.press("1")
        await until(pilot, lambda: app.screen.page.view == "mine")
        assert table(app).renders == drawn


async def test_a_click_highlights_and_a_second_click_opens(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        shown = table(app)
        second = shown.row_ids[1]
        # The table's second row, under the bar, the tabs and the header.
        await pilot.click(QueueTable, offset=(3, 2))
        assert shown.cursor_row == 1
        assert status(app).startswith(shown.row_text(1)[0])
        await pilot.click(QueueTable, offset=(3, 2))
        await until(pilot, lambda: getattr(app.screen, "ticket_id", None) == second, "opened")


async def test_the_footer_is_kept_across_views_and_follows_the_cursor(make_app, seeded) -> None:
    from textual.widgets._footer import FooterKey

    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        keys = list(app.screen.query(FooterKey))
        await pilot.press("2")
        await until(pilot, lambda: app.screen.page.view == "groups")
        # The same keys, not rebuilt: a view switch changes none of them.
        assert list(app.screen.query(FooterKey)) == keys
        await pilot.press("slash")
        # In the filter `?` is typed: the footer offers f1 for the key help instead.
        await until(
            pilot,
            lambda: "f1" in [key.key_display for key in app.screen.query(FooterKey)],
            "f1 on the footer",
        )
