"""Screens opened warm: the new call built before its first ctrl+n, a saved call's ticket
painted from what the save handed back, the dashboard's frame before its figures."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from helpers import opened, settle, type_text, until
from textual.widgets import DataTable, OptionList, Static

from deskterm.desk import dashboard as figures
from deskterm.desk import story as desk_story
from deskterm.tui import benchmark
from deskterm.tui.screens.dashboard import PANELS, PENDING, DashboardScreen
from deskterm.tui.screens.intake import IntakeScreen
from deskterm.tui.screens.queue import QueueScreen
from deskterm.tui.screens.ticket import TicketScreen
from factories import AGENT, SUPERVISOR


@pytest.fixture
def marks(monkeypatch, tmp_path) -> Path:
    """The app's marks for `deskterm bench`, written to a file of the test's."""
    path = tmp_path / "marks"
    monkeypatch.setattr(benchmark, "_path", str(path))
    return path


def marked(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split()[1:] for line in path.read_text().splitlines()]


async def soon(pilot, condition: Any, what: str) -> None:
    """Until ``condition``, without waiting for the workers (one of them is held)."""
    for _ in range(500):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never happened: {what}")


def held(monkeypatch, module: Any, name: str) -> threading.Event:
    """``module.name`` waits for the returned event before it reads."""
    gate = threading.Event()
    read = getattr(module, name)

    def waiting(*args: Any, **kwargs: Any) -> Any:
        assert gate.wait(10), f"{name} never released"
        return read(*args, **kwargs)

    monkeypatch.setattr(module, name, waiting)
    return gate


async def test_the_new_call_is_built_before_the_first_ctrl_n(make_app, seeded, marks) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        await settle(pilot)
        # Built once the queue was painted: there is nothing left to build.
        assert app.build_mode("intake") is None
        for _second in (False, True):
            await pilot.press("ctrl+n")
            # One turn of the event loop: shown, not composed.
            await pilot.pause()
            assert isinstance(app.screen, IntakeScreen)
            assert app.focused is not None and app.focused.id == "lookup"
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, QueueScreen), "back to the queue")
        assert [m for m in marked(marks) if m[0] == "intake"] == [["intake"], ["intake"]]


async def test_without_warming_the_first_ctrl_n_builds_it(make_app, seeded) -> None:
    app = make_app(AGENT)
    app.warm_screens = False
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        await settle(pilot)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "new call shown")
        await settle(pilot)
        assert app.focused is not None and app.focused.id == "lookup"


async def test_a_saved_call_paints_its_ticket_head_before_the_story(
    make_app, seeded, marks, monkeypatch
) -> None:
    story = held(monkeypatch, desk_story, "ticket_story")
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "new call shown")
        intake = app.screen
        await type_text(pilot, "carol")
        await until(pilot, lambda: intake.query_one("#matches", OptionList).option_count)
        await pilot.press("enter")
        await until(pilot, lambda: intake.contact is not None, "caller picked")
        await type_text(pilot, "Badge reader refuses my card")
        await pilot.press("ctrl+s")
        await soon(pilot, lambda: isinstance(app.screen, TicketScreen), "ticket shown")
        screen = app.screen
        assert isinstance(screen, TicketScreen) and screen.row is not None
        await pilot.pause()
        # The story is still being read: the head comes from what the save handed back.
        assert screen.loaded is None
        head = str(screen.query_one("#ticket-head", Static).render())
        assert screen.row.ref in head and "Badge reader refuses my card" in head
        assert "Response" in head and "Resolve" in head
        await soon(pilot, lambda: ["saved", screen.row.ref] in marked(marks), "saved marked")
        assert not [m for m in marked(marks) if m[0] == "ticket"]
        story.set()
        await until(pilot, lambda: screen.loaded is not None, "story read")
        assert screen.ticket is not None and screen.ticket.id == screen.row.id
        assert str(screen.query_one("#ticket-head", Static).render()) == head
        await settle(pilot)
        assert ["ticket", str(screen.row.id)] in marked(marks)


def note(screen: DashboardScreen, panel: str) -> str:
    from deskterm.tui.screens.dashboard import NOTES

    widget = screen.query_one(NOTES[panel], Static)
    return str(widget.render()) if widget.display else ""


async def test_the_dashboard_frame_comes_before_its_figures(
    make_app, seeded, marks, monkeypatch
) -> None:
    gates = {name: held(monkeypatch, figures, f"{name}_panel") for name in PANELS}
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        await pilot.press("f2")
        await soon(pilot, lambda: isinstance(app.screen, DashboardScreen), "dashboard shown")
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await pilot.pause()
        # Every panel with its title, each figure still "…".
        titles = [str(t.render()) for t in screen.query(".dash-title")]
        assert titles[:3] == ["SLA compliance", "Escalation", "Customer satisfaction"]
        assert all(note(screen, name) == PENDING for name in PANELS)
        assert ["dashboard"] in marked(marks)
        # Each panel fills as its read comes in; the others wait.
        gates["backlog"].set()
        await soon(pilot, lambda: "backlog" in screen.panels, "backlog read")
        await pilot.pause()
        assert note(screen, "backlog") == ""
        assert screen.query_one("#dash-backlog", DataTable).row_count > 0
        assert note(screen, "sla") == PENDING and note(screen, "analysts") == PENDING
        assert screen.board is None
        for gate in gates.values():
            gate.set()
        await until(pilot, lambda: screen.board is not None, "every panel read")
        # Every "…" gone; satisfaction says its figures where it said "…".
        assert [name for name in PANELS if note(screen, name) == PENDING] == []
        assert [name for name in PANELS if name != "satisfaction" and note(screen, name)] == []


async def test_a_panel_that_cannot_be_read_says_so_in_its_place(
    make_app, seeded, monkeypatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the analysts report broke")

    monkeypatch.setattr(figures, "analysts_panel", broken)
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "dashboard shown")
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await until(pilot, lambda: set(screen.panels) == set(PANELS) - {"analysts"}, "read")
        await settle(pilot)
        said = note(screen, "analysts")
        assert said.startswith("Not read:") and "the analysts report broke" in said
        others = [name for name in PANELS if name not in ("analysts", "satisfaction")]
        assert [name for name in others if note(screen, name)] == []
        assert screen.query_one("#dash-sla", DataTable).row_count == 2
        # In its place only: no toast.
        assert not app._notifications
        assert screen.query_one("#dash-analysts-note").has_class("-failed")


async def test_a_call_kept_from_before_but_not_opened_does_not_hold_the_quit(
    make_app, seeded
) -> None:
    """The new-call screen is built ahead and holds the kept call: ctrl+q asks only about a
    call this session has opened."""
    from deskterm.tui.drafts import CallDraft, DraftStore, ProblemDraft

    app = make_app(AGENT)
    kept = CallDraft(started_at="2026-12-01T09:00:00+00:00")
    kept.problems = [ProblemDraft(subject="Half a problem from yesterday")]
    DraftStore(app.data_dir, AGENT).save(kept)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await settle(pilot)
        assert app.build_mode("intake") is None
        await pilot.press("ctrl+q")
        await until(pilot, lambda: app._exit, "quit")
    assert DraftStore(app.data_dir, AGENT).load() is not None
