"""Saved views by keys (issue 21): a filter saved with ctrl+s becomes a numbered tab with its
count, is there after a restart, and `deskterm ticket list --view` lists the same rows."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
from helpers import opened, type_text, until
from textual.widgets import Tab, Tabs

from deskterm.desk.saved_views import create_view, make_filter
from deskterm.tui.modals.views import DeleteViewModal, RenameViewModal, SaveViewModal
from deskterm.tui.widgets.queuetable import QueueTable
from factories import AGENT, SERVICE_DESK, SUPERVISOR

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clirun import run_deskterm  # noqa: E402


def table_refs(app) -> list[str]:
    table = app.screen.query_one(QueueTable)
    return [table.row_text(i)[0] for i in range(table.row_count)]


def tab_label(app, key: str) -> str | None:
    found = list(app.screen.query(f"#tab-{key}").results(Tab))
    return found[0].label_text if found else None


async def test_a_filter_saved_is_a_tab_kept_after_restart_and_listed_by_the_cli(
    make_app, seeded, monkeypatch, capsys
) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("2")
        await until(pilot, lambda: app.screen.page.view == "groups")
        await pilot.press("slash")
        await type_text(pilot, "o")
        await until(pilot, lambda: app.screen.text == "o" and app.screen.page.view == "groups")
        filtered = table_refs(app)
        assert 1 < len(filtered) < len(seeded.refs)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SaveViewModal))
        await type_text(pilot, "With o")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen.view.startswith("saved-"), "the new tab shown")
        key = app.screen.view
        await until(pilot, lambda: tab_label(app, key) == f"8 With o {len(filtered)}")
        assert app.screen.query_one(Tabs).active == f"tab-{key}"
        # The filter is in the view now: the field is empty, the rows the same.
        assert app.screen.text == ""
        await until(pilot, lambda: table_refs(app) == filtered)

    again = make_app(AGENT)
    async with again.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await until(pilot, lambda: tab_label(again, key) == f"8 With o {len(filtered)}")
        await pilot.press("8")
        await until(pilot, lambda: again.screen.page.view == key)
        assert table_refs(again) == filtered

    code, out, _err = run_deskterm(
        monkeypatch,
        capsys,
        "--db",
        seeded.url,
        "--as",
        AGENT,
        "ticket",
        "list",
        "--view",
        "with O",
        "--csv",
    )
    assert code == 0
    assert [row["ref"] for row in csv.DictReader(io.StringIO(out))] == filtered


async def test_rename_and_delete_the_active_view_by_keys(make_app, seeded) -> None:
    from deskterm.desk.context import Desk
    from deskterm.desk.setup import open_database

    db = open_database(seeded.url)
    Desk(db, AGENT).write(create_view, name="Mine P2", view_filter=make_filter(priority="P2"))
    db.dispose()
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await until(pilot, lambda: bool(app.screen.saved))
        key = app.screen.saved[0].key
        await pilot.press("8")
        await until(pilot, lambda: app.screen.page.view == key)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RenameViewModal))
        await pilot.press("ctrl+u")
        await type_text(pilot, "Urgent [b]two[/b]")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: (tab_label(app, key) or "").startswith("8 Urgent [b]two"))
        await pilot.press("X")
        await until(pilot, lambda: isinstance(app.screen, DeleteViewModal))
        await pilot.press("enter")
        await until(pilot, lambda: tab_label(app, key) is None and app.screen.view == "mine")
        assert app.screen.saved == []


@pytest.mark.parametrize("login", [AGENT, SUPERVISOR])
async def test_only_a_supervisor_is_offered_to_share(make_app, login: str) -> None:
    from textual.widgets import Select

    app = make_app(login)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SaveViewModal))
        shares = list(app.screen.query("#share").results(Select))
        if login == SUPERVISOR:
            assert shares and SERVICE_DESK in str(shares[0]._options)
            shares[0].value = SERVICE_DESK
            await type_text(pilot, "Team")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: app.screen.view.startswith("saved-"))
            assert app.screen.saved[0].group == SERVICE_DESK
        else:
            assert shares == []
