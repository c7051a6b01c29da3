"""Command palette: deskterm's own commands first, then Textual's, each title once; and a
jump to any ticket by its reference."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.app import SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider

from deskterm.domain.errors import InvalidInput
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.i18n import _

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen

    from deskterm.tui.app import DeskApp


def palette_commands(
    app: App[Any], screen: Screen[Any], textual: Iterable[SystemCommand]
) -> Iterator[tuple[SystemCommand, bool]]:
    """Every action the screen and the app offer by key, under the key's name (the screen's
    first, as the key help lists them), then Textual's own commands whose title is still
    free ("Quit" and "Keys" are deskterm's); the flag says which are deskterm's."""
    from deskterm.tui.modals.keys import CURSOR, keys_of

    titles: set[str] = set()
    yield from _note_commands(screen, titles)
    for row in keys_of(screen):
        # Moving a cursor or focus is no command; what cannot run now is not offered.
        if row.group == CURSOR or not row.ours or not row.enabled or row.description in titles:
            continue
        titles.add(row.description)

        async def run(action: str = row.action, node: Any = row.node) -> None:
            await app.run_action(action, node)

        # No help line rather than the title twice.
        yield SystemCommand(row.description, row.tooltip, run), True
    for command in textual:
        # Textual's own, in the analyst's language where the catalog has them (their texts
        # are marked in tui/textual_words.py).
        title = _(command.title) if command.title else command.title
        if title not in titles:
            titles.add(title)
            help_ = _(command.help) if command.help else command.help
            yield SystemCommand(title, help_, command.callback, command.discover), False


def _note_commands(screen: Screen[Any], titles: set[str]) -> Iterator[tuple[SystemCommand, bool]]:
    """With the cursor in a note (any ``NoteArea``): insert a text module, or write the text
    in the analyst's editor. Keys of the widget with the cursor are not offered otherwise."""
    from deskterm.tui.widgets.notearea import NoteArea

    area = screen.focused
    if not isinstance(area, NoteArea):
        return
    commands = [
        (
            _("Insert text module…"),
            _("Choose a canned answer, filled in for this ticket's caller (or type ::)"),
            area.choose_module,
        ),
        (
            _("Write in your editor"),
            _("Open this text in $VISUAL or $EDITOR (ctrl+e) and come back with it"),
            area.action_open_editor,
        ),
    ]
    for title, help_, callback in commands:
        titles.add(title)
        yield SystemCommand(title, help_, callback), True


#: Added to the fuzzy score of deskterm's commands: the matcher's scores grow with the
#: length of the match (they are not 0..1), and no match of Textual's may outrank ours.
OURS = 1_000.0
#: A ticket reference typed in full is the one thing wanted: above every command.
JUMP = 1_000_000.0


class DeskCommands(Provider):
    """The palette's list: with nothing typed, deskterm's commands in the order of the
    screen's keys, then Textual's; typed words rank every deskterm match above Textual's."""

    def _commands(self) -> list[tuple[SystemCommand, bool]]:
        return cast("DeskApp", self.app).palette_commands(self.screen)

    async def discover(self) -> Hits:
        for command, _ours in self._commands():
            if command.discover:
                yield DiscoveryHit(command.title, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command, ours in self._commands():
            match = matcher.match(command.title)
            if match > 0:
                yield Hit(
                    match + OURS if ours else match,
                    matcher.highlight(command.title),
                    command.callback,
                    text=command.title,
                    help=command.help,
                )


class TicketJumpProvider(Provider):
    """Typing ``DT-000123``, ``dt-123``, ``#123`` or ``123`` offers to open that ticket."""

    async def search(self, query: str) -> Hits:
        try:
            ticket_id = parse_ref(query)
        except InvalidInput:
            return
        app = self.app
        opener = getattr(app, "open_ticket", None)
        if opener is None:
            return
        said = _("Open ticket {ref}").format(ref=format_ref(ticket_id))
        yield Hit(
            JUMP,
            said,
            partial(opener, ticket_id),
            text=said,
            help=_("Jump to the ticket with this reference"),
        )
