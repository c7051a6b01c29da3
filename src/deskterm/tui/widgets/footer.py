"""The footer every deskterm screen shows: whole keys only, the most needed first.

Textual's Footer lays its keys out in a row and lets the last ones run under the palette key
or off the edge, cut mid-word. This one knows each key's width before laying it out and
leaves out whole keys from the end of the screen's list instead, so what shows is always
readable. The app's own shown keys (``^n New call``, ``? Keys``) stay on every screen, last,
and the key help (``?``, or ``f1`` where a text field takes ``?``) shows even over dialogs,
whose footers otherwise see only their own keys. Everything left out is in the key help.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.events import Resize
from textual.keys import key_to_character
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

if TYPE_CHECKING:
    from textual.binding import Binding, BindingsMap
    from textual.dom import DOMNode
    from textual.screen import Screen

    #: One key on the footer: its binding, whether it does something now, its tooltip.
    Entry = tuple[Binding, bool, str]

#: The action that opens the key help (the app's ``?`` and ``f1``).
KEYS_ACTION = "keys"
#: Cells the palette key takes at the right end, compact (its left border included), and
#: one cell of air before it.
PALETTE_CELLS = 12


def bindings_in_force(node: DOMNode) -> BindingsMap:
    """``node``'s bindings with the app's keymap applied (the keys moved by the desk's or
    the analyst's ``[keys]``), as Textual applies it when it looks a key up."""
    bindings = node._bindings.copy()
    keymap = node.app._keymap
    if keymap:
        bindings.apply_keymap(keymap)
    return bindings


def key_cells(key_display: str, description: str) -> int:
    """Cells one compact FooterKey takes: key, a space, description, a margin of one."""
    return cell_len(key_display) + 1 + cell_len(description) + 1


class KeyFooter(Footer):
    """A compact footer that never cuts a key in half; see the module's docstring."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, compact=True)
        self._laid_out_for = 0
        #: What the keys on the footer were composed from (None before the first time).
        self._laid_out: tuple[list[Entry], tuple[Binding, bool] | None] | None = None
        #: The actions on the footer now, in order (tests and the key help read it).
        self.shown_actions: list[str] = []

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        app = self.app
        shown, palette = self._plan()
        self._laid_out = (shown, palette)
        self.shown_actions = [binding.action for binding, _e, _t in shown]
        self._laid_out_for = self.size.width or app.size.width
        for binding, enabled, tooltip in shown:
            yield FooterKey(
                binding.key,
                app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip or binding.tooltip,
            ).data_bind(compact=Footer.compact)
        if palette is not None:
            binding, enabled = palette
            yield FooterKey(
                binding.key,
                app.get_key_display(binding),
                binding.description,
                binding.action,
                classes="-command-palette",
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            ).data_bind(compact=Footer.compact)

    def _plan(self) -> tuple[list[Entry], tuple[Binding, bool] | None]:
        """The keys to show, in order, and the palette key (with whether each is enabled)."""
        app, screen = self.app, self.screen
        own: list[Entry] = []
        pinned: list[Entry] = []
        seen: set[str] = set()
        active = screen.active_bindings
        for node, binding, enabled, tooltip in active.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            entry = (binding, enabled, tooltip)
            (pinned if node is app else own).append(entry)
        # In the order the screen declares them (the order of the dict of active bindings
        # follows whichever widget bound a key first: an Input's enter, say).
        declared: dict[str, int] = {}
        for index, (_key, binding) in enumerate(screen._bindings):
            declared.setdefault(binding.action, index)
        own.sort(key=lambda entry: declared.get(entry[0].action, len(declared)))
        if KEYS_ACTION not in seen:
            help_key = self._help_binding()
            if help_key is not None:
                pinned.append((help_key, True, help_key.tooltip))
        # The key help last, nearest the palette: the way to every key left out.
        pinned.sort(key=lambda entry: entry[0].action == KEYS_ACTION)

        width = self.size.width or app.size.width
        room = width - PALETTE_CELLS
        room -= sum(key_cells(app.get_key_display(b), b.description) for b, _e, _t in pinned)
        kept: list[Entry] = []
        for entry in own:
            cells = key_cells(app.get_key_display(entry[0]), entry[0].description)
            if cells > room:
                break  # the rest in order; the key help lists them
            room -= cells
            kept.append(entry)
        shown = kept + pinned if room >= 0 else pinned
        palette = active.get(app.COMMAND_PALETTE_BINDING)
        if palette is not None and self.show_command_palette and app.ENABLE_COMMAND_PALETTE:
            return shown, (palette.binding, palette.enabled)
        return shown, None

    def bindings_changed(self, screen: Screen) -> None:
        """Recompose only when the keys shown would differ: a screen refreshes its bindings
        at every page, view or focus change, and rebuilding the keys each time was a good
        share of a queue key's time."""
        if not self._bindings_ready or self._laid_out is None:
            super().bindings_changed(screen)
            return
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if self._plan() != self._laid_out:
            self.call_after_refresh(self.recompose)

    def _help_binding(self) -> Binding | None:
        """Over a dialog the app's keys are not in the screen's list, yet the key help is
        a priority key and opens there too: show the one that would work now."""
        focused = self.screen.focused
        # The app's keys as moved by the keymap: the help key shown is the one that works.
        candidates = [
            b for _k, b in bindings_in_force(self.app) if b.action == KEYS_ACTION and b.show
        ]
        for binding in candidates:
            if focused is None or not focused.check_consume_key(
                binding.key, key_to_character(binding.key)
            ):
                return binding
        return None

    def on_resize(self, event: Resize) -> None:
        if self._bindings_ready and event.size.width != self._laid_out_for:
            self.call_after_refresh(self.recompose)
