"""The queue's table: one page of rows, exactly as many as fit, painted line by line.

Textual's ``DataTable`` measures and wraps every cell through Rich on every refresh; at a
queue key that was most of the time from key to painted page. This table knows its column
widths beforehand, renders each row once into a ``Strip`` kept for as long as the row looks
the same (same ticket, same version, same columns, same style), and repaints only the lines
that changed. It never scrolls: the screen asks the desk for as many rows as are visible,
and the keys that would scroll past either end ask it for the next or previous page instead.

It looks like the ``DataTable`` it replaced: the same header, zebra stripes and row cursor,
from the same theme variables.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from deskterm.i18n import N_
from deskterm.tui.base import LocalBindings

#: Where the cursor lands on a page asked for by a key: its first row, its last, or the
#: row it was on (the same place on the next page).
Landing = Literal["first", "last", "keep"]

#: Rows kept rendered: every view's page and its neighbours at a tall window, with cursors.
_STRIPS = 1024


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


@dataclass
class _FromTable(Message):
    """A message of the queue table; ``control`` lets handlers pick it by the table's id."""

    table: QueueTable

    @property
    def control(self) -> QueueTable:
        return self.table


class QueueTable(LocalBindings, Widget, can_focus=True):
    """A page of queue rows: a header, zebra stripes and a row cursor; see the module."""

    # The component classes and colours of Textual's DataTable (textual/widgets/_data_table.py),
    # under this widget's names: the queue looks as it did.
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "queuetable--header",
        "queuetable--cursor",
        "queuetable--even-row",
        "queuetable--odd-row",
    }

    DEFAULT_CSS = """
    QueueTable {
        background: $surface;
        color: $foreground;
        height: 1fr;

        &:focus {
            background-tint: $foreground 5%;
            & > .queuetable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .queuetable--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark {
            & > .queuetable--even-row {
                background: $surface-darken-1 40%;
            }
        }
        & > .queuetable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .queuetable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .queuetable--odd-row {
        }
        & > .queuetable--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .queuetable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    # Off the footer, as DataTable's were; the key help lists them under the list's keys.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "up",
            "cursor_up",
            N_("Cursor up"),
            tooltip=N_("On the first row: the page before"),
            show=False,
            id="cursor_up",
        ),
        Binding(
            "down",
            "cursor_down",
            N_("Cursor down"),
            tooltip=N_("On the last row: the next page"),
            show=False,
            id="cursor_down",
        ),
        Binding(
            "pageup",
            "page_up",
            N_("Page up"),
            tooltip=N_("The page before"),
            show=False,
            id="page_up",
        ),
        Binding(
            "pagedown",
            "page_down",
            N_("Page down"),
            tooltip=N_("The next page"),
            show=False,
            id="page_down",
        ),
        Binding(
            "home",
            "first_row",
            N_("First row"),
            tooltip=N_("The first row of this page"),
            show=False,
            id="first_row",
        ),
        Binding(
            "end",
            "last_row",
            N_("Last row"),
            tooltip=N_("The last row of this page"),
            show=False,
            id="last_row",
        ),
    ]

    @dataclass
    class RowHighlighted(_FromTable):
        """The cursor moved to another row (by a key, a click or ``move_cursor``)."""

        row: int
        id: int

    @dataclass
    class RowSelected(_FromTable):
        """The highlighted row was clicked: open it."""

        row: int
        id: int

    @dataclass
    class PageTurned(_FromTable):
        """A key went past an end of the page: show the next (``forward``) or previous page,
        the cursor landing as ``landing`` says."""

        forward: bool
        landing: Landing

    @dataclass
    class Resized(_FromTable):
        """The table now shows ``rows`` rows, ``width`` cells wide."""

        rows: int
        width: int

    def __init__(
        self,
        cells: Callable[[int], Sequence[Text]],
        *,
        id: str | None = None,  # noqa: A002
        classes: str | None = None,
    ) -> None:
        """``cells(id)`` gives the cells of the row of ``id`` as the table's columns are now;
        it is called only for a row not rendered before."""
        super().__init__(id=id, classes=classes)
        self._cells_of = cells
        self._columns: tuple[Column, ...] = ()
        self._ids: list[int] = []
        self._looks: list[Hashable] = []
        self._cursor = 0
        self._cell_cache: LRUCache[tuple[Hashable, int], list[Text]]
        self._cell_cache = LRUCache(_STRIPS)
        self._strips: LRUCache[Hashable, Strip] = LRUCache(_STRIPS)
        self._styles: tuple[Style, Style, Style, Style, Style] | None = None
        #: The content width for this paint, and a number for the columns (cheaper in keys).
        self._width = 0
        self._layout = 0
        # No columns yet is a layout of its own: a paint before the first columns (a screen
        # laid out again early, the bar growing for a call) keeps its blank header under 0,
        # and the first real columns must not find it under their own number.
        self._layouts: dict[tuple[Column, ...], int] = {(): 0}
        #: Rows rendered into strips so far (each one a cache miss).
        self.renders = 0

    # ------------------------------------------------------------------ what tests and screens read

    @property
    def row_count(self) -> int:
        return len(self._ids)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def row_ids(self) -> list[int]:
        """The ids of the rows shown, top to bottom."""
        return list(self._ids)

    @property
    def highlighted_id(self) -> int | None:
        return self._ids[self._cursor] if self._ids else None

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    @property
    def visible_rows(self) -> int:
        """Rows that fit under the header (0 before the first layout)."""
        return max(0, self.content_size.height - 1)

    def row_cells(self, row: int) -> list[Text]:
        """The cells of the ``row``-th row as rendered."""
        return self._cells(row)

    def row_text(self, row: int) -> list[str]:
        """The cells of the ``row``-th row as plain text."""
        return [cell.plain for cell in self._cells(row)]

    def cell(self, ticket_id: int, column: str) -> Text:
        """The cell of ``column`` (a column key) in the row of ``ticket_id``."""
        row = self._ids.index(ticket_id)
        keys = [c.key for c in self._columns]
        return self._cells(row)[keys.index(column)]

    # ------------------------------------------------------------------ what the screen sets

    def set_columns(self, columns: Sequence[Column]) -> None:
        """New columns (another view, another width): the table is repainted, each row as
        last rendered with these columns if it was."""
        columns = tuple(columns)
        if columns == self._columns:
            return
        self._columns = columns
        self._layout = self._layouts.setdefault(columns, len(self._layouts))
        self.refresh()

    def show_rows(self, rows: Sequence[tuple[int, Hashable]], *, cursor: int) -> None:
        """Show ``rows`` (each its id and a ``look``: anything that changes whenever one of its
        cells would read differently) with the cursor on row ``cursor``. A row whose look is
        unchanged is not rendered again, and only lines that differ are repainted."""
        old_ids, old_looks, old_cursor = self._ids, self._looks, self._cursor
        self._ids = [row_id for row_id, _look in rows]
        self._looks = [look for _row_id, look in rows]
        self._cursor = max(0, min(cursor, len(self._ids) - 1))
        changed = [
            index
            for index in range(max(len(old_ids), len(self._ids)))
            if index >= len(old_ids)
            or index >= len(self._ids)
            or old_ids[index] != self._ids[index]
            or old_looks[index] != self._looks[index]
        ]
        if self._cursor != old_cursor:
            changed += [old_cursor, self._cursor]
        self._refresh_rows(changed)

    def move_cursor(self, *, row: int) -> None:
        """Put the cursor on ``row`` (kept within the page)."""
        if not self._ids:
            return
        row = max(0, min(row, len(self._ids) - 1))
        if row == self._cursor:
            return
        old, self._cursor = self._cursor, row
        self._refresh_rows([old, row])
        self.post_message(self.RowHighlighted(self, row, self._ids[row]))

    # ------------------------------------------------------------------ keys and mouse

    def action_cursor_down(self) -> None:
        if self._ids and self._cursor == len(self._ids) - 1:
            self.post_message(self.PageTurned(self, True, "first"))
        else:
            self.move_cursor(row=self._cursor + 1)

    def action_cursor_up(self) -> None:
        if self._ids and self._cursor == 0:
            self.post_message(self.PageTurned(self, False, "last"))
        else:
            self.move_cursor(row=self._cursor - 1)

    def action_page_down(self) -> None:
        self.post_message(self.PageTurned(self, True, "keep"))

    def action_page_up(self) -> None:
        self.post_message(self.PageTurned(self, False, "keep"))

    def action_first_row(self) -> None:
        self.move_cursor(row=0)

    def action_last_row(self) -> None:
        self.move_cursor(row=len(self._ids) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = offset.y - 1
        if not 0 <= row < len(self._ids):
            return
        event.stop()
        if row == self._cursor:
            self.post_message(self.RowSelected(self, row, self._ids[row]))
        else:
            self.move_cursor(row=row)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.action_cursor_down()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.action_cursor_up()

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized(self, self.visible_rows, self.content_size.width))

    # ------------------------------------------------------------------ painting

    def _refresh_rows(self, rows: Sequence[int]) -> None:
        height = self.content_size.height
        lines = sorted({row + 1 for row in rows if 0 <= row + 1 < height})
        if not lines:
            return
        if len(lines) > height // 2:
            self.refresh()
        else:
            width = self.content_size.width
            self.refresh(*[Region(0, line, width, 1) for line in lines])

    def render_lines(self, crop: Region) -> list[Strip]:
        # The theme's styles for this paint: they change with focus and the theme, and are
        # part of each strip's key, so a strip of another look is never reused.
        get = self.get_component_rich_style
        self._styles = (
            self.rich_style,
            get("queuetable--header"),
            get("queuetable--even-row"),
            get("queuetable--odd-row"),
            get("queuetable--cursor"),
        )
        self._width = self.content_size.width
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        styles = self._styles
        assert styles is not None
        base, header, even, odd, cursor = styles
        width = self._width
        if y == 0:
            return self._strip(("header", self._layout, header, width), self._header_segments)
        row = y - 1
        if row >= len(self._ids):
            return Strip.blank(width, base)
        on_cursor = row == self._cursor
        row_style = odd if row % 2 else even
        look = self._looks[row]
        key = (look, self._layout, row_style, cursor if on_cursor else None, base, width)
        return self._strip(key, lambda: self._row_segments(row, row_style, on_cursor))

    def _strip(self, key: Hashable, segments: Callable[[], list[Segment]]) -> Strip:
        strip = self._strips.get(key)
        if strip is None:
            assert self._styles is not None
            strip = Strip(segments()).adjust_cell_length(self._width, self._styles[0]).simplify()
            self._strips.set(key, strip)
        return strip

    def _cells(self, row: int) -> list[Text]:
        key = (self._looks[row], self._layout)
        cells = self._cell_cache.get(key)
        if cells is None:
            cells = list(self._cells_of(self._ids[row]))
            self._cell_cache.set(key, cells)
        return cells

    def _header_segments(self) -> list[Segment]:
        assert self._styles is not None
        header = self._styles[1]
        labels = [Text(column.label, end="") for column in self._columns]
        return self._line(labels, header, Style(), header)

    def _row_segments(self, row: int, row_style: Style, on_cursor: bool) -> list[Segment]:
        assert self._styles is not None
        self.renders += 1
        component = self._styles[4] if on_cursor else Style()
        # As DataTable draws a row cursor: the cursor's colour over the cells' own (their
        # bold or dim stays), the cells' background where they have one.
        post = Style.from_color(color=component.color)
        return self._line(self._cells(row), row_style + component, post, row_style + component)

    def _line(self, cells: Sequence[Text], pre: Style, post: Style, rest: Style) -> list[Segment]:
        console = self.app.console
        get_style = console.get_style
        segments: list[Segment] = []
        used = 0
        for column, cell in zip(self._columns, cells, strict=False):
            width = column.width
            style = get_style(cell.style) if cell.style else None
            # One line, cut to the column: no wrapping, no measuring of the others.
            if cell.spans:
                line = list(cell.render(console, end=""))
                if style is not None:
                    # Text.render leaves a text's own style to its caller.
                    line = list(Segment.apply_style(line, style))
                segments.append(Segment(" "))
                segments.extend(Segment.adjust_line_length(line, width))
                segments.append(Segment(" "))
            else:
                text = cell.plain
                cells_used = cell_len(text)
                if cells_used > width:
                    text, cells_used = set_cell_size(text, width), width
                # The padding in the row's style only: a reversed clock is reversed no wider
                # than its words.
                segments.append(Segment(" "))
                segments.append(Segment(text, style))
                segments.append(Segment(" " * (width - cells_used + 1)))
            used += width + 2
        segments = list(Segment.apply_style(segments, pre, post))
        room = self._width - used
        if room > 0:
            segments.append(Segment(" " * room, rest))
        return segments
