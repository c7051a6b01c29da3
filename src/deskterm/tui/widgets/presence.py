"""Who else has this ticket open: one line under the ticket's header, gone when nobody is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from deskterm.tui.format import literal

if TYPE_CHECKING:
    from deskterm.desk.presence import Viewer


def presence_text(viewers: Sequence[Viewer], ref: str, me: str | None = None) -> Text:
    """``Maria Lopez is editing DT-000123 · Bob Agent is viewing it``; empty when nobody.

    One analyst in two terminals is one person (editing in either wins); the analyst's own
    other terminal is said as such, so nobody wonders who "Alice Agent" is.
    """
    you = "You (another terminal)"
    people: dict[str, tuple[str, bool]] = {}
    for viewer in viewers:
        name = you if viewer.login == me else viewer.name
        _name, editing = people.get(viewer.login, (name, False))
        people[viewer.login] = (name, editing or viewer.editing)
    editors = [name for name, is_editing in people.values() if is_editing]
    lookers = [name for name, is_editing in people.values() if not is_editing]
    text = Text(no_wrap=True, overflow="ellipsis")
    said_ref = False
    for names, doing in ((editors, "editing"), (lookers, "viewing")):
        if not names:
            continue
        if text:
            text.append(" · ")
        text.append_text(_names(names))
        text.append(f" {'is' if names != [you] and len(names) == 1 else 'are'} {doing} ")
        text.append("it" if said_ref else ref)
        said_ref = True
    return text


def _names(names: list[str]) -> Text:
    shown = names if len(names) <= 3 else [*names[:2], f"{len(names) - 2} others"]
    text = Text()
    for index, name in enumerate(shown):
        if index:
            text.append(" and " if index == len(shown) - 1 else ", ")
        text.append_text(literal(name, style="bold"))
    return text


class PresenceLine(Static):
    """Shown only while someone else has the ticket open."""

    def show_viewers(self, viewers: Sequence[Viewer], ref: str, me: str | None) -> None:
        text = presence_text(viewers, ref, me)
        self.update(text)
        self.set_class(bool(text), "-shown")
