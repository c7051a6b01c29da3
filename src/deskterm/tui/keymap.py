"""Every binding of the app, read from its screens' own ``BINDINGS``: the one list that
``deskterm keys``, ``deskterm config check``, the README's table and the app share.

Each screen, dialog and widget of ``deskterm.tui`` that declares bindings is a place; the
app's are live everywhere. Textual's own keys (the palette, focus, copy) are listed too,
without an id: they cannot be moved, but a moved key must not shadow them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache
from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from deskterm.desk.keymaps import EVERYWHERE, KeyBinding, parse_keys

if TYPE_CHECKING:
    from textual.dom import DOMNode

#: Widgets with keys of their own, and the screen they are on (their keys are live there).
WIDGET_PLACES = {"QueueTable": "queue"}
#: Modules that draw nothing: not searched for bindings.
_SKIP = ("deskterm.tui.benchmark", "deskterm.tui.driver")


def place_of(cls: type[DOMNode]) -> str:
    """A screen's or dialog's name as the keys list it: ``QueueScreen`` is ``queue``."""
    if issubclass(cls, App):
        return EVERYWHERE
    if cls.__name__ in WIDGET_PLACES:
        return WIDGET_PLACES[cls.__name__]
    name = re.sub(r"(Screen|Modal)$", "", cls.__name__) or cls.__name__
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return {"form": "dialog", "keys": "key_help"}.get(snake, snake)


def _classes() -> list[type[DOMNode]]:
    from textual.dom import DOMNode

    import deskterm.tui as package

    found: list[type[DOMNode]] = []
    for info in pkgutil.walk_packages(package.__path__, "deskterm.tui."):
        if info.name.startswith(_SKIP):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, DOMNode)
                and value.__module__ == module.__name__
                and "BINDINGS" in value.__dict__
            ):
                found.append(value)
    return found


@cache
def app_bindings() -> tuple[KeyBinding, ...]:
    """Every binding deskterm declares, where it is live, plus Textual's own keys."""
    rows: list[KeyBinding] = []
    classes = _classes()
    places = {cls: place_of(cls) for cls in classes}
    for cls in classes:
        place = places[cls]
        # A dialog's base class's keys (FormModal's ctrl+s) are live with its own.
        alongside = {
            places[base]
            for base in cls.__mro__[1:]
            if base in places and places[base] != EVERYWHERE
        }
        if cls.__name__ in WIDGET_PLACES:
            alongside.add(place)
        grouped: dict[tuple[str | None, str], list[Binding]] = {}
        for binding in Binding.make_bindings(cls.__dict__["BINDINGS"]):
            grouped.setdefault((binding.id, binding.action), []).append(binding)
        for (binding_id, action), same in grouped.items():
            first = same[0]
            rows.append(
                KeyBinding(
                    id=binding_id,
                    place=place,
                    keys=parse_keys(",".join(b.key for b in same)),
                    description=first.description,
                    action=action,
                    priority=first.priority,
                    modal=issubclass(cls, ModalScreen),
                    alongside=frozenset(alongside),
                )
            )
    rows.extend(_textual_keys())
    return tuple(rows)


def _textual_keys() -> list[KeyBinding]:
    """Textual's keys on every screen (focus, copy) and the app's palette."""
    rows = [
        KeyBinding(
            id=None,
            place=EVERYWHERE,
            keys=App.COMMAND_PALETTE_BINDING,
            description="Commands",
            action="command_palette",
            priority=True,
        )
    ]
    for binding in Binding.make_bindings(Screen.BINDINGS):
        # Live over dialogs too: as a priority key of the app's would be.
        rows.append(
            KeyBinding(
                id=None,
                place=EVERYWHERE,
                keys=parse_keys(binding.key),
                description=binding.description,
                action=binding.action.rpartition(".")[2],
                priority=True,
            )
        )
    return rows


def readme_table() -> str:
    """The README's table of ids and default keys (a test keeps the two the same)."""
    from deskterm.desk.keymaps import binding_ids, display_keys

    bindings = app_bindings()
    lines = ["| id | where | default keys | what it does |", "|---|---|---|---|"]
    for binding_id, (places, keys, description) in sorted(binding_ids(bindings).items()):
        shown = f"`{display_keys(keys)}`"
        # The same action may sit on other keys on one screen (quit is q while loading).
        for binding in bindings:
            if binding.id == binding_id and binding.keys != keys:
                shown += f" ({binding.place}: `{display_keys(binding.keys)}`)"
        shown = shown.replace("|", "\\|")
        lines.append(f"| `{binding_id}` | {', '.join(places)} | {shown} | {description} |")
    return "\n".join(lines)


def update_readme(path: str = "README.md") -> None:
    """Write ``readme_table()`` between the README's ``keys-table`` markers (run after a
    binding is added: ``python -c "from deskterm.tui.keymap import update_readme;
    update_readme()"``)."""
    from pathlib import Path

    file = Path(path)
    text = file.read_text()
    head, rest = text.split("<!-- keys-table -->\n", 1)
    _old, tail = rest.split("\n<!-- /keys-table -->", 1)
    file.write_text(f"{head}<!-- keys-table -->\n{readme_table()}\n<!-- /keys-table -->{tail}")
