"""Marks for ``deskterm bench``: the moment a screen an analyst waits for is on the terminal.

``deskterm bench`` (``bench/startup.py``) starts the real app in a pseudo-terminal with
``DESKTERM_BENCH_MARK`` naming a file; the app appends one line per screen painted:

    <monotonic seconds> <what> [<detail> ...]

``what`` is one of

- ``queue <view> <rows> more|last``: a queue page painted (a new page, or the queue shown
  again when the screen above it closed);
- ``intake``: the new-call screen on screen, ready for typing;
- ``saved <ref>``: a call saved and said so on screen;
- ``ticket <id>``: a ticket screen painted with its story;
- ``dashboard``: the dashboard's frame painted (its figures fill in after);
- ``warm``: the screens built ahead after the first queue (new call; a supervisor's
  dashboard) are ready: their keys only show them from now on.

The monotonic clock is shared by every process of the machine, so the bench reads when a
screen was painted instead of polling for it; without the variable nothing is written.

A mark is written when the app next writes a frame to the terminal (``DeskApp._display``
calls ``displayed``): ``call_after_refresh`` alone can run before a refresh asked for in the
same handler has reached the screen, which made marks early by a frame.
"""

from __future__ import annotations

import os
import time
from typing import Any

MARK_ENV = "DESKTERM_BENCH_MARK"

_path: str | None = os.environ.get(MARK_ENV) or None


def enabled() -> bool:
    return _path is not None


_pending: list[str] = []


def mark(node: Any, what: str, *details: object) -> None:
    """Note ``what`` when the next frame is written to the terminal: call it once what
    ``node`` (a widget, screen or the app) shows has been set."""
    if _path is None:
        return
    _pending.append(_words(what, details))
    node.refresh()  # a frame is coming even if nothing else changed


def displayed() -> None:
    """A frame was just written to the terminal: every mark waiting for it is now true."""
    if _pending:
        lines, _pending[:] = list(_pending), []
        _append(lines)


def write(what: str, *details: object) -> None:
    """Note ``what`` now (for callers that know the paint is done)."""
    if _path is not None:
        _append([_words(what, details)])


def _words(what: str, details: tuple[object, ...]) -> str:
    return " ".join(str(d).replace(" ", "_") or "-" for d in (what, *details))


def _append(lines: list[str]) -> None:
    if _path is None:
        return
    now = f"{time.monotonic():.6f}"
    with open(_path, "a", encoding="utf-8") as file:
        file.writelines(f"{now} {line}\n" for line in lines)
