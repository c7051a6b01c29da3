"""How the desk's values look on a terminal, the same in the app and in the CLI: the
colour of a priority and of an SLA clock's state.

Beside ``defaults`` rather than in ``tui``: ``deskterm ticket show`` paints the same
colours without importing the app. Styles are Rich style strings.
"""

from __future__ import annotations

from functools import cache

from rich.text import Text

from deskterm import defaults
from deskterm.domain.due import DueState, DueWords

#: How each state of a clock looks, wherever it is shown.
DUE_STYLES = {
    DueState.NONE: "dim",
    DueState.MET: "dim",
    DueState.MISSED: "red",
    DueState.PAUSED: "dim italic",
    DueState.RUNNING: "",
    DueState.WARNING: "bold yellow",
    DueState.BREACHED: "bold red reverse",
}


def due_text(words: DueWords, *, long: bool = False) -> Text:
    """A clock's words (``domain.due``) in its colour: the cell form, or ``long`` for a line."""
    return Text(words.text if long else words.short, style=DUE_STYLES[words.state], end="")


def priority_style(number: int) -> str:
    """The colour an admin gave the priority (priority.toml); none when Rich cannot read it
    (`deskterm config check` says so), rather than a screen that fails to paint."""
    level = defaults.priority_matrix().levels.get(number)
    return _usable_style(level.colour) if level else ""


@cache
def _usable_style(style: str) -> str:
    from rich.errors import StyleSyntaxError
    from rich.style import Style

    try:
        Style.parse(style)
    except StyleSyntaxError:
        return ""
    return style


def fill(template: str, **parts: Text | str) -> Text:
    """A translated sentence with its named ``{placeholders}`` filled by Rich text (a styled
    due time, a name in bold), the same in the app and the CLI: the words stay whole for the
    translator, each part lands where the language put it, and neither the sentence nor the
    parts are read as markup. A plain ``str`` part is outside text: control characters go."""
    import re

    from deskterm.domain.text import visible

    line = Text(end="")
    for index, piece in enumerate(re.split(r"\{(\w+)\}", template)):
        if index % 2 == 0:
            line.append(piece)
            continue
        value = parts.get(piece)
        if value is None:
            line.append("{" + piece + "}")
        elif isinstance(value, Text):
            line.append_text(value)
        else:
            line.append(visible(value))
    return line
