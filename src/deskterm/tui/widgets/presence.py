"""Who else has this ticket open: one line under the ticket's header, gone when nobody is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from deskterm.i18n import _, ngettext
from deskterm.tui.format import fill, literal

if TYPE_CHECKING:
    from deskterm.desk.presence import Viewer


def presence_text(viewers: Sequence[Viewer], ref: str, me: str | None = None) -> Text:
    """``Maria Lopez is editing DT-000123 · Bob Agent is viewing it``; empty when nobody.

    One analyst in two terminals is one person (editing in either wins); the analyst's own
    other terminal is said as such, so nobody wonders who "Alice Agent" is.
    """
    you = _("You (another terminal)")
    people: dict[str, tuple[str, bool]] = {}
    for viewer in viewers:
        name = you if viewer.login == me else viewer.name
        _name, editing = people.get(viewer.login, (name, False))
        people[viewer.login] = (name, editing or viewer.editing)
    editors = [name for name, is_editing in people.values() if is_editing]
    lookers = [name for name, is_editing in people.values() if not is_editing]
    text = Text(no_wrap=True, overflow="ellipsis")
    said_ref = False
    for names, editing in ((editors, True), (lookers, False)):
        if not names:
            continue
        if text:
            text.append(" · ")
        text.append_text(
            fill(
                _sentence(names == [you], len(names), editing, said_ref),
                names=_names(names),
                ref=ref,
            )
        )
        said_ref = True
    return text


def _sentence(only_you: bool, count: int, editing: bool, said_ref: bool) -> str:
    """Whole sentences, so each language words them its own way."""
    if only_you:
        if editing:
            return _("{names} are editing it") if said_ref else _("{names} are editing {ref}")
        return _("{names} are viewing it") if said_ref else _("{names} are viewing {ref}")
    if editing:
        if said_ref:
            return ngettext("{names} is editing it", "{names} are editing it", count)
        return ngettext("{names} is editing {ref}", "{names} are editing {ref}", count)
    if said_ref:
        return ngettext("{names} is viewing it", "{names} are viewing it", count)
    return ngettext("{names} is viewing {ref}", "{names} are viewing {ref}", count)


def _names(names: list[str]) -> Text:
    others = len(names) - 2
    shown = (
        names
        if len(names) <= 3
        else [*names[:2], ngettext("{n} other", "{n} others", others).format(n=others)]
    )
    text = Text()
    for index, name in enumerate(shown):
        if index:
            # Translators: between the last two names of a list: "Ana, Bob and Cleo".
            text.append(_(" and ") if index == len(shown) - 1 else ", ")
        text.append_text(literal(name, style="bold"))
    return text


class PresenceLine(Static):
    """Shown only while someone else has the ticket open."""

    def show_viewers(self, viewers: Sequence[Viewer], ref: str, me: str | None) -> None:
        text = presence_text(viewers, ref, me)
        self.update(text)
        self.set_class(bool(text), "-shown")
