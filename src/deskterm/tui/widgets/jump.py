"""Type-to-jump in lists of analysts: typing letters moves to the first one whose name (any
word of it) or login starts with them.

Textual 8.2.8's ``Select`` searches only while its menu is open, and matches anywhere in
the label ("ag" finds every "Agent"); ``DataTable`` and a closed ``Select`` do not search at
all. A supervisor covering for someone needs "al" to mean Alice, wherever the cursor is.
Letters typed within ``RESET_SECONDS`` of each other make one prefix; a pause starts anew.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from time import monotonic
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.widgets import DataTable, Select
from textual.widgets._select import SelectCurrent, SelectOverlay

#: A pause longer than this between letters starts a new prefix.
RESET_SECONDS = 1.0


#: What a row is found by: its whole labels (a name, a login), then the other words in them.
Words = tuple[tuple[str, ...], tuple[str, ...]]
NOTHING: Words = ((), ())


def words_of(*labels: str) -> Words:
    """A row's labels, lower-cased: each whole (a name from its first word, a login), and
    each later word of them (a surname)."""
    heads: list[str] = []
    rest: list[str] = []
    for label in labels:
        text = " ".join(label.lower().split())
        if text:
            heads.append(text)
            rest.extend(w.strip("()[],") for w in text.split()[1:])
    return tuple(heads), tuple(w for w in rest if w)


def first_match(rows: Sequence[Words], prefix: str) -> int | None:
    """The first row whose name or login starts with ``prefix``; failing that, the first
    with a later word (a surname) starting with it."""
    for index, (heads, _rest) in enumerate(rows):
        if any(h.startswith(prefix) for h in heads):
            return index
    for index, (_heads, rest) in enumerate(rows):
        if any(w.startswith(prefix) for w in rest):
            return index
    return None


class Jumper:
    """The typed prefix and where it leads; shared by the widgets below."""

    def __init__(self) -> None:
        self.prefix = ""
        self.at = 0.0

    def reset(self) -> None:
        self.prefix = ""

    def find(self, character: str, rows: Callable[[], Sequence[Words]]) -> int | None:
        now = monotonic()
        if now - self.at > RESET_SECONDS:
            self.prefix = ""
        self.at = now
        candidates = rows()
        self.prefix += character.lower()
        index = first_match(candidates, self.prefix)
        if index is None and len(self.prefix) > 1:
            # "ab" matches nobody: the newest letter alone may still (a fresh start).
            self.prefix = character.lower()
            index = first_match(candidates, self.prefix)
        return index


def _jump_key(event: events.Key) -> str | None:
    """The letter to jump by, or None for keys that keep their usual meaning (space ticks,
    enter picks, ``?`` opens the key help, control keys act)."""
    character = event.character
    return character if event.is_printable and _consumes(character) else None


def _consumes(character: str | None) -> bool:
    """Letters, digits and what a login may hold: what names and logins are typed with."""
    return (
        character is not None
        and len(character) == 1
        and (character.isalnum() or character in "._-")
    )


class JumpTable(DataTable[Any]):
    """A table of analysts: ``add_row(..., key=login, jump=words_of(name, login))``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jumper = Jumper()
        self.jump_words: dict[Any, Words] = {}

    def add_row(self, *cells: Any, jump: Words = NOTHING, **kwargs: Any) -> Any:
        row_key = super().add_row(*cells, **kwargs)
        self.jump_words[row_key] = jump
        return row_key

    def clear(self, columns: bool = False) -> JumpTable:
        self.jump_words.clear()
        super().clear(columns)
        return self

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return _consumes(character)

    def _rows(self) -> list[Words]:
        return [self.jump_words.get(row.key, NOTHING) for row in self.ordered_rows]

    async def _on_key(self, event: events.Key) -> None:
        character = _jump_key(event)
        if character is None:
            await super()._on_key(event)
            return
        event.stop()
        event.prevent_default()
        index = self.jumper.find(character, self._rows)
        if index is not None:
            self.move_cursor(row=index, animate=False)

    def on_blur(self) -> None:
        self.jumper.reset()


class _PrefixOverlay(SelectOverlay):
    """The open menu of a ``JumpSelect``: the same prefix rule as the closed one (its
    options are the select's, in the same order)."""

    def _find_search_match(self, query: str) -> int | None:
        select = self.parent
        if isinstance(select, JumpSelect):
            return first_match(select.jump_rows(), query.lower())
        return super()._find_search_match(query)


def _plain(prompt: Any) -> str:
    return prompt.plain if isinstance(prompt, Text) else str(prompt)


class JumpSelect(Select[str]):
    """A ``Select`` of analysts that jumps by letters while closed too: typing "bo" picks
    the first option whose label has a word (name or login) starting with "bo"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jumper = Jumper()
        #: What each option is found by (``words_of(name, login)``); else its label's words.
        self.jump_words: dict[Any, Words] = {}

    def compose(self) -> ComposeResult:
        yield SelectCurrent(self.prompt)
        yield _PrefixOverlay(type_to_search=True).data_bind(compact=Select.compact)

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return _consumes(character)

    def jump_rows(self) -> list[Words]:
        return [
            NOTHING
            if value == self.NULL
            else self.jump_words.get(value) or words_of(_plain(prompt))
            for prompt, value in self._options
        ]

    async def _on_key(self, event: events.Key) -> None:
        character = None if self.expanded else _jump_key(event)
        if character is None:
            await super()._on_key(event)
            return
        event.stop()
        event.prevent_default()
        index = self.jumper.find(character, self.jump_rows)
        if index is not None:
            self.value = self._options[index][1]

    def on_blur(self) -> None:
        self.jumper.reset()
