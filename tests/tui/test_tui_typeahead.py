"""Keys typed ahead of the screen land where the analyst meant them: a burst of keys (a fast
typist over SSH, a paste, a busy screen) is read before any of them is acted on, and enter on
Caller or tab still moves on before the next key."""

from __future__ import annotations

from pathlib import Path

from helpers import opened, settle, type_text, until
from seed import Seeded
from textual import events
from textual.widgets import Input, OptionList, TextArea

from deskterm.tui.app import DeskApp
from deskterm.tui.screens.intake import IntakeScreen
from factories import AGENT


def burst(app: DeskApp, *keys: str) -> None:
    """Keys as a terminal delivers them when they come faster than the app reads: all
    queued before the first is handled. A key is a name ("enter", "tab") or plain text."""
    for key in keys:
        if key in ("enter", "tab", "shift+tab"):
            app.post_message(events.Key(key, "\r" if key == "enter" else "\t"))
        else:
            for char in key:
                app.post_message(events.Key("space" if char == " " else char, char))


async def new_call(pilot, app: DeskApp) -> IntakeScreen:
    await pilot.press("ctrl+n")
    await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "intake")
    return app.screen  # type: ignore[return-value]


async def test_enter_on_the_caller_then_the_subject_in_one_burst(
    desk: Seeded, tmp_path: Path
) -> None:
    app = DeskApp(desk.url, AGENT, data_dir=tmp_path, poll_seconds=None, presence_seconds=None)  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot, app)
        await type_text(pilot, "carol")
        await until(pilot, lambda: screen.query_one("#matches", OptionList).option_count)
        burst(app, "enter", "Printer jams on tray 2")
        await settle(pilot)
        await until(pilot, lambda: screen.contact is not None, "caller taken")
        assert screen.query_one("#lookup", Input).value == "carol"
        assert screen.query_one("#subject", Input).value == "Printer jams on tray 2"


async def test_tab_moves_on_before_the_next_key(desk: Seeded, tmp_path: Path) -> None:
    app = DeskApp(desk.url, AGENT, data_dir=tmp_path, poll_seconds=None, presence_seconds=None)  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot, app)
        subject = screen.query_one("#subject", Input)
        description = screen.query_one("#description", TextArea)
        subject.focus()
        await settle(pilot)
        chain = screen.focus_chain
        tabs = chain.index(description) - chain.index(subject)
        assert tabs >= 1
        burst(app, "VPN drops", *["tab"] * tabs, "since ten")
        await settle(pilot)
        assert subject.value == "VPN drops"
        assert description.text == "since ten"


async def test_enter_on_a_caller_nobody_matches_stays_in_caller(
    desk: Seeded, tmp_path: Path
) -> None:
    """Nothing to take: the keys after enter stay where they were typed, as before."""
    app = DeskApp(desk.url, AGENT, data_dir=tmp_path, poll_seconds=None, presence_seconds=None)  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot, app)
        await type_text(pilot, "zzqx")
        await until(pilot, lambda: screen.matches_for == "zzqx", "looked up")
        burst(app, "enter", "y")
        await settle(pilot)
        assert screen.contact is None
        assert screen.focused is screen.query_one("#lookup", Input)
        assert screen.query_one("#subject", Input).value == ""
