"""Search every ticket, open or closed, by the words of its subject or description (ctrl+f
from anywhere); enter opens the ticket, escape goes back to where the analyst was."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from deskterm.desk import clock
from deskterm.domain.enums import Status
from deskterm.i18n import N_, _, ngettext
from deskterm.tui.base import DeskScreen
from deskterm.tui.format import (
    age,
    clip,
    fill,
    literal,
    local,
    priority_text,
    status_label,
)
from deskterm.tui.widgets.bar import DeskBar
from deskterm.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from deskterm.desk.search import TicketHit

#: Typing pauses this long before the desk is asked: a burst of keys is one search.
DEBOUNCE_SECONDS = 0.15
#: As many hits as fit a tall terminal; the newest come first, more words narrow them.
HITS = 100


def columns_for(width: int) -> list[tuple[str, str, int]]:
    """(key, label, width) of each column for a table ``width`` cells wide; the subject
    takes what the others leave."""
    wide = width >= 110
    # Closed and cancelled tickets are found too: "cancelled" needs all nine cells.
    statuses = min(12, max(cell_len(status_label(s, short=True)) for s in Status))
    head = [
        ("ref", _("Ref"), 9),
        ("status", _("Status"), max(9, statuses)),
        ("priority", _("Pri"), 3),
    ]
    tail = [
        ("contact", _("Caller"), 20 if wide else 11),
        # Translators: a column: when the ticket last changed.
        ("updated", _("Updated"), 16 if wide else 7),
    ]
    # No header cut: a column is at least as wide as its header in the analyst's language.
    head = [(key, label, max(size, cell_len(label))) for key, label, size in head]
    tail = [(key, label, max(size, cell_len(label))) for key, label, size in tail]
    # Each column has one cell of padding either side (the subject's too); two more for the
    # scrollbar.
    used = sum(w + 2 for _k, _l, w in head + tail) + 2 + 2
    return [*head, ("subject", _("Subject"), max(12, width - used)), *tail]


class SearchScreen(DeskScreen[None]):
    """Words typed at the top, the newest tickets holding all of them below."""

    BINDINGS = [
        # Shown while typing (in the list, down moves the cursor): where the found tickets
        # are is what a newcomer looks for first. Priority, or the field's own "down"
        # (scrolling, which it skips) would be the one the footer sees.
        Binding(
            "down",
            "to_hits",
            N_("Hits"),
            tooltip=N_("From the words to the tickets found; enter there opens one"),
            priority=True,
            id="to_hits",
        ),
        Binding("escape", "back", N_("Back"), tooltip=N_("Back to where you were"), id="back"),
    ]

    @dataclass
    class Found(Message):
        text: str
        hits: list[TicketHit]

    def __init__(self) -> None:
        super().__init__()
        self.hits: dict[int, TicketHit] = {}
        #: The text the table shows the hits of (None before the first search).
        self.shown: str | None = None
        self._layout = 0

    def compose(self) -> ComposeResult:
        yield DeskBar(_("Search"), id="bar")
        yield Input(
            placeholder=_("Search every ticket: words of the subject or description"),
            id="search-words",
        )
        yield DataTable(id="search-hits", cursor_type="row", zebra_stripes=True)
        yield Static(id="search-excerpt")
        yield Static(id="search-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.show_status(Text(_("Type words of the subject or description; all must match.")))
        self.query_one(Input).focus()

    def on_screen_resume(self) -> None:
        # Back from a ticket: what was changed there shows here too.
        if self.shown:
            self.find(self.shown, wait=False)

    # ------------------------------------------------------------------ searching

    @on(Input.Changed, "#search-words")
    def search_as_typed(self, event: Input.Changed) -> None:
        event.stop()
        if not event.value.strip():
            self.workers.cancel_group(self, "search")
            self.show(SearchScreen.Found("", []))
            return
        self.query_one(DeskBar).busy = True
        self.find(event.value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="search")
    def find(self, text: str, wait: bool = True) -> None:
        from deskterm.desk.search import search_tickets

        worker = get_current_worker()
        if wait:
            # Each key starts a new search and cancels the one before: only the search of
            # the last key before a pause reaches the desk.
            time.sleep(DEBOUNCE_SECONDS)
            if worker.is_cancelled:
                return
        desk = self.desk
        hits = desk.read(search_tickets, query=text, limit=HITS)
        if not worker.is_cancelled:
            self.post_message(self.Found(text, hits))

    @on(Found)
    def show(self, event: SearchScreen.Found) -> None:
        event.stop()
        if event.text != self.query_one(Input).value:
            return  # an answer to words since changed
        self.query_one(DeskBar).busy = False
        self.shown = event.text or None
        table = self.query_one(DataTable)
        kept = self.highlighted()
        width = table.size.width or self.size.width
        if width != self._layout:
            self._layout = width
            table.clear(columns=True)
            for key, label, size in columns_for(width):
                table.add_column(label, width=size, key=key)
        else:
            table.clear()
        self.hits = {hit.id: hit for hit in event.hits}
        widths = {key: size for key, _label, size in columns_for(width)}
        now = clock.now()
        for hit in event.hits:
            table.add_row(*self.cells(hit, widths, now), key=str(hit.id))
        if kept in self.hits:
            table.move_cursor(row=table.get_row_index(str(kept)), animate=False)
        self.show_excerpt()
        if not event.text.strip():
            self.show_status(Text(_("Type words of the subject or description; all must match.")))
        elif not event.hits:
            said = fill(
                _("No ticket holds all of “{words}”. Fewer words find more."),
                words=literal(event.text),
            )
            self.show_status(said)
        else:
            count = len(event.hits)
            if count == HITS:
                found = ngettext(
                    "{n} ticket, newest first (the newest; more words narrow them).",
                    "{n} tickets, newest first (the newest; more words narrow them).",
                    count,
                )
            else:
                found = ngettext("{n} ticket, newest first.", "{n} tickets, newest first.", count)
            self.show_status(Text(found.format(n=count)))

    def cells(self, hit: TicketHit, widths: dict[str, int], now: Any) -> list[Any]:
        wide = widths["updated"] > 7
        return [
            Text(hit.ref, end=""),
            Text(status_label(hit.status, short=True), end=""),
            priority_text(hit.priority),
            literal(clip(hit.subject, widths["subject"])),
            literal(clip(hit.contact or "—", widths["contact"])),
            Text(
                local(hit.updated_at, now) if wide else age(hit.updated_at, now),
                style="dim",
                end="",
            ),
        ]

    def show_status(self, text: Text) -> None:
        self.query_one("#search-status", Static).update(text)

    @on(DataTable.RowHighlighted, "#search-hits")
    def show_excerpt(self) -> None:
        hit = self.hits.get(self.highlighted() or 0)
        said = literal(hit.excerpt) if hit is not None and hit.excerpt else Text("")
        self.query_one("#search-excerpt", Static).update(said)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A failure goes on to the app, which tells the analyst; here the busy sign goes off.
        if event.worker.group == "search" and event.state == WorkerState.ERROR:
            self.query_one(DeskBar).busy = False

    # ------------------------------------------------------------------ acting

    def highlighted(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key and key.isdigit() else None

    @on(Input.Submitted, "#search-words")
    def to_hits_on_enter(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_to_hits()

    @on(DataTable.RowSelected, "#search-hits")
    def open_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value and event.row_key.value.isdigit():
            self.app.open_ticket(int(event.row_key.value))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "to_hits":
            return isinstance(self.focused, Input)
        return True

    def action_to_hits(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            table.focus()

    def action_back(self) -> None:
        self.dismiss(None)
