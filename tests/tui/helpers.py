"""Waiting for the app without sleeping: on its workers and message queues, or a condition."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets import Input, TextArea
from textual.worker import WorkerCancelled, WorkerFailed

#: Workers that run as long as the app does (PostgreSQL's listener): never waited for.
LONG_LIVED = ("listen",)


def _busy(app) -> list:
    return [w for w in app.workers if w.is_running and w.group not in LONG_LIVED]


async def settle(pilot: Pilot) -> None:
    """Until no worker runs and every message posted because of them is handled."""
    app = pilot.app
    for _ in range(50):
        busy = _busy(app)
        try:
            # Never an empty list: that means "all of them", the listener included.
            if busy:
                await app.workers.wait_for_complete(busy)
        except WorkerFailed:
            pass  # a refusal: the app shows it, the test looks for it
        except WorkerCancelled:
            pass  # a newer one of its kind took over
        await pilot.pause()
        if not _busy(app):
            await pilot.pause()
            if not _busy(app):
                return
    raise AssertionError("the app never settled")


async def until(pilot: Pilot, condition: Callable[[], object], what: str = "") -> None:
    for _ in range(200):
        await settle(pilot)
        if condition():
            return
    raise AssertionError(f"never happened: {what or condition}")


async def opened(pilot: Pilot) -> None:
    """The desk is open and the queue shows its first page."""
    from deskterm.tui.screens.queue import QueueScreen

    await until(
        pilot,
        lambda: isinstance(pilot.app.screen, QueueScreen) and pilot.app.screen.page is not None,
        "queue shown",
    )


async def type_text(pilot: Pilot, text: str) -> None:
    """Type into the focused input as keys would, character by character."""
    focused = pilot.app.focused
    assert isinstance(focused, Input | TextArea), f"focus is on {focused!r}"
    await pilot.press(*[_key(c) for c in text])


def _key(char: str) -> str:
    names = {" ": "space", "[": "left_square_bracket", "]": "right_square_bracket"}
    return names.get(char, char)


def steady(pilot: Pilot) -> None:
    """No blinking cursors or passing toasts in a snapshot."""
    app = pilot.app
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False  # type: ignore[attr-defined]
    app.clear_notifications()
