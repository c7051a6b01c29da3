"""Keys typed ahead land where the analyst meant them.

Textual hands each key to the widget focused when the key is read, and that widget acts on
it later, in its own turn. A key that moves the focus (tab, or enter on the caller) moves it
only when its widget gets to it: the keys read meanwhile have already been handed to the
field being left. Whenever the app is a little behind the keyboard (a fast typist over SSH,
where keys arrive a round trip at a time, a paste, a screen busy painting) "Martina, enter,
VPN drops, tab, no connection since ten" ended up as one line in Caller.

So the app moves the focus itself, the moment such a key is read, before it reads the next:

- tab and shift+tab, from any widget that does not use tab itself;
- a key a screen acts on at once (its ``key_ahead(key, focused) -> bool``): enter on
  Caller takes the marked caller and moves to Subject before the next key is read. The
  screen does it itself: a key handed to a widget is looked up in the bindings of whatever
  is focused when the widget gets to it, which is already the next field.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from textual import events
from textual.app import App, ScreenStackError
from textual.widget import Widget


@cache
def _tab_leavers() -> tuple[type[Widget], ...]:
    """Widgets whose tab means "next field" (the screen's own binding), so the app can do it
    at once. Imported at the first tab, not at start: some are heavy (TextArea)."""
    from textual.widgets import (
        Button,
        Checkbox,
        DataTable,
        Input,
        OptionList,
        RadioButton,
        RadioSet,
        Select,
        Switch,
    )

    return (Input, Button, Checkbox, DataTable, OptionList, RadioButton, RadioSet, Select, Switch)


def _tab_leaves(widget: Widget) -> bool:
    from textual.widgets import TextArea

    if isinstance(widget, TextArea):
        return widget.tab_behavior == "focus"
    # A Select's open list is an OptionList of Textual's own, which tab does not leave the
    # same way: left to Textual.
    if type(widget).__name__ == "SelectOverlay":
        return False
    return isinstance(widget, _tab_leavers())


def route_key(app: App[Any], event: events.Key) -> bool:
    """Act now on a key that moves the focus; ``True`` when it was (nothing else to do)."""
    try:
        screen = app.screen
    except ScreenStackError:  # no screen yet (starting, ending): nothing to route
        return False
    focused = screen.focused
    if focused is None:
        return False
    if event.key in ("tab", "shift+tab"):
        if not _tab_leaves(focused):
            return False
        if event.key == "tab":
            screen.focus_next()
        else:
            screen.focus_previous()
        return True
    ahead = getattr(screen, "key_ahead", None)
    return bool(ahead is not None and ahead(event.key, focused))
