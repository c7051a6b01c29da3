"""Every key of a screen, with what it does: ``?`` or ``f1`` from anywhere.

The list is read from Textual's own bindings of the screen it was opened over, the way a
key press finds its binding (priority bindings from the app down, then the others from the
focused widget up, the first one for a key wins), so it cannot drift from what the keys do.
Keys off the footer (``show=False``) are listed too: the footer shows what a newcomer needs
first, this lists the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.keys import key_to_character
from textual.screen import Screen
from textual.widgets import Static

from deskterm.i18n import N_, _
from deskterm.tui.base import DeskModal
from deskterm.tui.format import fill
from deskterm.tui.widgets.footer import KeyFooter, bindings_in_force

if TYPE_CHECKING:
    from textual.dom import DOMNode

#: The groups, in the order they are listed.
SCREEN, EVERYWHERE, CURSOR = "screen", "everywhere", "cursor"


@dataclass(frozen=True)
class KeyRow:
    """One thing a key (or several keys) does on a screen."""

    keys: tuple[str, ...]
    """How each key is written, as the footer writes it (``^n``, ``⏎``, ``?``)."""
    description: str
    tooltip: str
    action: str
    group: str
    enabled: bool
    """Whether it does something right now (a ticket to open, the right role)."""
    typed: bool
    """The field with the cursor takes this key as text: it works outside text fields."""
    shown: bool
    """On the footer (when there is room); the others are only here and in the palette."""
    ours: bool
    """Bound by deskterm itself, not one of Textual's own keys (focus, copy, palette)."""
    node: DOMNode = field(compare=False, repr=False)
    """Where the action runs."""


def _ours(node: DOMNode) -> set[str]:
    """The actions deskterm's own classes bind on ``node`` (not those Textual's add)."""
    actions: set[str] = set()
    for cls in type(node).__mro__:
        if cls.__module__.startswith("deskterm.") and "BINDINGS" in cls.__dict__:
            for binding in Binding.make_bindings(cls.__dict__["BINDINGS"]):
                actions.add(binding.action)
    return actions


def _declaration_order(node: DOMNode) -> dict[str, int]:
    """Each action deskterm's classes bind on ``node``, by its place in their BINDINGS."""
    order: dict[str, int] = {}
    for cls in reversed(type(node).__mro__):
        if cls.__module__.startswith("deskterm.") and "BINDINGS" in cls.__dict__:
            for binding in Binding.make_bindings(cls.__dict__["BINDINGS"]):
                order.setdefault(binding.action, len(order))
    return order


def keys_of(screen: Screen[object]) -> list[KeyRow]:
    """Every key that does something on ``screen``, grouped: the screen's own, then the
    app's (and Textual's) everywhere, then those of the widget with the cursor."""
    app = screen.app
    focused = screen.focused
    if focused is not None and focused.loading:
        focused = None
    chain: list[DOMNode] = list(focused.ancestors_with_self) if focused else [screen, app]
    # Beyond a modal screen only priority bindings reach (as App._check_bindings does).
    modal_chain: list[DOMNode] = []
    for node in chain:
        modal_chain.append(node)
        if node.is_modal:
            break

    in_force = {id(node): bindings_in_force(node) for node in chain}
    winners: dict[str, tuple[DOMNode, Binding]] = {}
    for node in reversed(chain):
        for key, binding in in_force[id(node)]:
            if binding.priority and key not in winners:
                winners[key] = (node, binding)
    for node in modal_chain:
        for key, binding in in_force[id(node)]:
            if not binding.priority and key not in winners:
                winners[key] = (node, binding)

    ours = {id(node): _ours(node) for node in chain}
    found: dict[tuple[int, str], _Found] = {}
    for key, (node, binding) in winners.items():
        if binding.system or not binding.description:
            continue
        mine = binding.action in ours[id(node)]
        if node is app:
            group = EVERYWHERE
        elif node is screen:
            group = SCREEN if mine else EVERYWHERE
        else:
            group = CURSOR
        typed = (
            focused is not None
            and node is not focused
            and focused.check_consume_key(key, key_to_character(key))
        )
        entry = found.get((id(node), binding.action))
        if entry is None:
            state = app._check_action_state(binding.action, node)
            entry = _Found(binding, node, group, bool(state), mine)
            found[(id(node), binding.action)] = entry
        entry.keys.append(app.get_key_display(binding))
        entry.typed_keys.append(typed)
        entry.shown = entry.shown or binding.show
    # Each group in the order its keys are declared, deskterm's before Textual's. The order
    # of the classes' BINDINGS, not of the bindings in force: a key moved by a keymap comes
    # last in those, and "Pull next" on `n` went to the bottom of the queue's list.
    declared = {
        (id(node), binding.action): index
        for node in chain
        for index, (_key, binding) in reversed(list(enumerate(in_force[id(node)])))
    }
    for node in chain:
        for action, index in _declaration_order(node).items():
            declared[(id(node), action)] = index
    order = {SCREEN: 0, EVERYWHERE: 1, CURSOR: 2}
    entries = sorted(
        found.items(),
        key=lambda item: (order[item[1].group], not item[1].ours, declared.get(item[0], 0)),
    )
    return [entry.row() for _where, entry in entries]


@dataclass
class _Found:
    binding: Binding
    node: DOMNode
    group: str
    enabled: bool
    ours: bool
    keys: list[str] = field(default_factory=list)
    typed_keys: list[bool] = field(default_factory=list)
    shown: bool = False

    def row(self) -> KeyRow:
        return KeyRow(
            keys=tuple(dict.fromkeys(self.keys)),
            # deskterm's own are translated already (localize_bindings); Textual's widgets'
            # are translated here (their texts are marked in tui/textual_words.py).
            description=_first_upper(
                self.binding.description if self.ours else _(self.binding.description)
            ),
            tooltip=(
                self.binding.tooltip
                if self.ours or not self.binding.tooltip
                else _(self.binding.tooltip)
            ),
            action=self.binding.action,
            group=self.group,
            enabled=self.enabled,
            # Only when every key of it would be typed: ``?`` is, ``f1`` never.
            typed=all(self.typed_keys),
            shown=self.shown,
            ours=self.ours,
            node=self.node,
        )


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _where(screen: Screen[object]) -> str:
    from deskterm.tui.widgets.bar import DeskBar

    bars = screen.query(DeskBar)
    if bars:
        return bars.first().place
    title = getattr(screen, "title_text", "")
    return str(title) if title else _("this dialog")


def _cursor_title(screen: Screen[object]) -> str:
    from textual.widgets import DataTable, Input, OptionList, SelectionList, TextArea

    from deskterm.tui.widgets.queuetable import QueueTable

    focused = screen.focused
    if isinstance(focused, Input | TextArea):
        return _("In the text field")
    if isinstance(focused, DataTable | OptionList | SelectionList | QueueTable):
        return _("In the list")
    return _("Where the cursor is")


def _table(rows: list[KeyRow], key_width: int) -> Table:
    table = Table.grid(padding=(0, 2, 0, 0), expand=True)
    # One width for the keys of every group, so the descriptions line up all the way down.
    table.add_column(justify="right", no_wrap=True, width=key_width)
    table.add_column(ratio=1)
    for row in rows:
        keys = Text(" ".join(row.keys), style="bold" if row.enabled else "dim")
        # Binding texts are deskterm's own, yet never read as markup.
        what = Text(row.description, style="" if row.enabled else "dim")
        if row.tooltip and row.tooltip != row.description:
            what.append(" · ")
            what.append(row.tooltip, style="dim")
        notes = []
        if not row.enabled:
            # Translators: in the key help, beside a key that does nothing right now.
            notes.append(_("not now"))
        if row.typed:
            # Translators: in the key help, beside a key a text field takes as a letter.
            notes.append(_("outside text fields"))
        for note in notes:
            what.append(" · ")
            what.append(note, style="italic dim")
        table.add_row(keys, what)
    return table


class KeysScreen(DeskModal[None]):
    """The keys of the screen underneath; ``escape``, ``q``, ``?`` or ``f1`` close it."""

    BINDINGS = [
        Binding("escape", "close", N_("Close"), id="close"),
        Binding("q", "close", N_("Close"), show=False, id="close"),
    ]

    def __init__(self, origin: Screen[object]) -> None:
        super().__init__()
        self.origin = origin
        self.rows = keys_of(origin)

    def compose(self) -> ComposeResult:
        where = _where(self.origin)
        titles = {
            SCREEN: fill(_("Keys on this screen · {where}"), where=Text(where, style="bold")),
            EVERYWHERE: Text(_("Keys everywhere")),
            CURSOR: Text(_cursor_title(self.origin)),
        }
        key_width = max((cell_len(" ".join(row.keys)) for row in self.rows), default=1)
        with Vertical(classes="dialog", id="keys-dialog"):
            yield Static(
                Text.assemble(
                    (_("Keys"), "bold"),
                    "  ",
                    _("dim ones do nothing right now · ctrl+p finds any action by name"),
                ),
                id="keys-title",
            )
            with VerticalScroll(id="keys-list"):
                for group in (SCREEN, EVERYWHERE, CURSOR):
                    rows = [row for row in self.rows if row.group == group]
                    if not rows:
                        continue
                    yield Static(titles[group], classes="keys-group")
                    yield Static(_table(rows, key_width), classes="keys-table")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#keys-list").focus()

    def action_close(self) -> None:
        self.dismiss(None)
