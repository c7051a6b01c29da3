"""The queue: the analyst's home. One page of tickets from the database, most urgent first."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static, Tab, Tabs
from textual.worker import Worker, WorkerState, get_current_worker

from deskterm.desk import clock
from deskterm.desk.views import COUNT_CAP
from deskterm.tui.format import age, clip, literal, local, priority_text, sla_text, status_label
from deskterm.tui.widgets.bar import DeskBar
from deskterm.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from deskterm.desk.views import QueueKey, QueuePage, QueueRow

# The views in tab order with their keys; "all" is offered to supervisors only.
VIEWS = (
    ("mine", "1", "Mine"),
    ("groups", "2", "My groups"),
    ("unassigned", "3", "Unassigned"),
    ("waiting", "4", "Waiting"),
    ("callbacks", "5", "Callbacks"),
    ("all", "6", "All"),
)
_HOLDER_IMPLIED = ("mine", "unassigned")
#: Rows per page, as the desk serves them.
PAGE = 100


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


def columns_for(width: int, view: str) -> list[Column]:
    """Column widths for a table ``width`` cells wide: the subject takes what is left."""
    wide = width >= 110
    show_holder = view not in _HOLDER_IMPLIED
    contact = 20 if wide else 11
    holder = 12 if wide else 7
    fixed = [
        Column("ref", "Ref", 9),
        Column("priority", "Pri", 3),
        Column("status", "Status", 9 if wide else 8),
        Column(
            "sla", "Callback" if view == "callbacks" else "SLA", 8 if view == "callbacks" else 6
        ),
    ]
    tail = [Column("contact", "Contact", contact)]
    if show_holder:
        tail.append(Column("assignee", "Holder", holder))
    tail.append(Column("age", "Age", 4))
    # Each column has one cell of padding either side; two more for the scrollbar.
    used = sum(c.width + 2 for c in fixed + tail) + 2 + 2
    subject = max(12, width - used)
    return [*fixed, Column("subject", "Subject", subject), *tail]


def _mark_painted(path: str, view: str, rows: int, more: bool) -> None:
    """One line per painted page for ``deskterm bench`` (``bench/startup.py``): the monotonic
    clock is shared by every process of the machine, so the bench reads when, not polls."""
    with open(path, "a", encoding="utf-8") as file:
        file.write(f"{time.monotonic():.6f} {view} {rows} {'more' if more else 'last'}\n")


class QueueScreen(Screen[None]):
    """Queue views, filter as you type, pull next, pages of ~100 rows."""

    BINDINGS = [
        Binding(
            "enter",
            "open",
            "Open",
            tooltip="Open the highlighted ticket",
            priority=True,
            id="open",
        ),
        Binding(
            "p",
            "pull_next",
            "Pull next",
            tooltip="Take the most urgent unassigned ticket of your groups and open it",
            id="pull-next",
        ),
        Binding("slash", "filter", "Filter", tooltip="Filter this view as you type", id="filter"),
        Binding(
            "t", "take", "Take", tooltip="Assign the highlighted ticket to yourself", id="take"
        ),
        Binding(
            "h",
            "handover",
            "Handover",
            tooltip="Hand many tickets to another analyst or group (supervisors)",
            id="handover",
        ),
        Binding(
            "w",
            "away",
            "Away",
            tooltip="Mark yourself away with a backup and hand them your open tickets (or back)",
            id="away",
            # Off the footer, which is full; in the key help, the palette and the README.
            show=False,
        ),
        Binding(
            "W",
            "away_someone",
            "Mark away",
            tooltip="Mark an analyst of your groups away with a backup (supervisors)",
            id="away-someone",
            show=False,
        ),
        # Off the footer: the status line under the table says "] next page · [ previous".
        Binding("right_square_bracket", "next_page", "Next page", show=False, id="next-page"),
        Binding("left_square_bracket", "previous_page", "Prev page", show=False, id="prev-page"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="clear-filter"),
        *[
            Binding(
                key,
                f"view('{view}')",
                label,
                tooltip="Show this view (the tabs above the list)",
                show=False,
                id=f"view-{view}",
            )
            for view, key, label in VIEWS
        ],
    ]

    @dataclass
    class PageLoaded(Message):
        view: str
        text: str
        start: QueueKey | None
        page: QueuePage
        counts: dict[str, int]

    def __init__(self) -> None:
        super().__init__()
        self.view = "mine"
        self.text = ""
        #: Where each page of the current view starts: the last is the page on screen.
        self.starts: list[QueueKey | None] = [None]
        self.page: QueuePage | None = None
        self.rows: dict[int, QueueRow] = {}
        self.stale = False
        self._layout: tuple[int, str] | None = None

    def compose(self) -> ComposeResult:
        yield DeskBar("Queue", id="bar")
        views = self.allowed_views()
        yield Tabs(
            *[Tab(f"{key} {label}", id=f"tab-{view}") for view, key, label in views],
            id="views",
        )
        yield Input(placeholder="Filter: ref, subject, caller or holder", id="filter", compact=True)
        yield DataTable(id="queue", cursor_type="row", zebra_stripes=True)
        yield Static(id="queue-status")
        yield KeyFooter()

    def allowed_views(self) -> list[tuple[str, str, str]]:
        actor = getattr(self.app, "actor", None)
        supervisor = actor is not None and actor.is_supervisor
        return [v for v in VIEWS if v[0] != "all" or supervisor]

    def on_mount(self) -> None:
        tabs = self.query_one(Tabs)
        tabs.can_focus = False
        self.query_one("#filter", Input).display = False
        self.query_one(DataTable).focus()
        self.load()
        poll = getattr(self.app, "poll_seconds", None)
        if poll:
            # SLA clocks and callbacks come due without any event: repaint from the desk.
            self.set_interval(30, self.load)

    def on_screen_resume(self) -> None:
        if self.stale:
            self.stale = False
            self.load()

    def desk_changed(self) -> None:
        """Someone changed a ticket: reload now if on screen, else when we come back."""
        if self.is_current:
            self.load()
        else:
            self.stale = True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        actor = getattr(self.app, "actor", None)
        if action == "handover":
            return actor is not None and actor.is_supervisor
        if action == "view" and parameters and parameters[0] == "all":
            return actor is not None and actor.is_supervisor
        if action == "next_page":
            return self.page is not None and self.page.next_after is not None
        if action == "previous_page":
            return len(self.starts) > 1
        return True

    # ------------------------------------------------------------------ loading

    def load(self) -> None:
        self.query_one(DeskBar).busy = True
        self.fetch(self.view, self.text, self.starts[-1])

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue")
    def fetch(self, view: str, text: str, start: QueueKey | None) -> None:
        from deskterm.desk.views import queue_counts, queue_page

        def page_and_counts(session: Any, actor: Any) -> tuple[Any, dict[str, int]]:
            # One transaction: the analyst is loaded once, and the tab counts agree with the
            # page they are shown beside.
            page = queue_page(session, actor, view=view, after=start, text=text or None)
            return page, queue_counts(session, actor)

        desk = self.app.desk  # type: ignore[attr-defined]
        page, counts = desk.read(page_and_counts)
        if not get_current_worker().is_cancelled:
            self.post_message(self.PageLoaded(view, text, start, page, counts))

    @on(PageLoaded)
    def show_page(self, event: PageLoaded) -> None:
        if (event.view, event.text, event.start) != (self.view, self.text, self.starts[-1]):
            return  # a newer request is on its way
        self.query_one(DeskBar).busy = False
        self.page = event.page
        self.rows = {row.id: row for row in event.page.rows}
        self.fill_table()
        self.show_counts(event.counts)
        self.refresh_bindings()
        mark = os.environ.get("DESKTERM_BENCH_MARK")
        if mark:
            # `deskterm bench` times the app to this page on screen: after the next refresh.
            more = event.page.next_after is not None
            self.call_after_refresh(_mark_painted, mark, self.view, len(self.rows), more)

    def show_counts(self, counts: dict[str, int]) -> None:
        tabs = self.query_one(Tabs)
        for view, key, label in self.allowed_views():
            count = counts.get(view)
            shown = "" if count is None else f" {count}" if count < COUNT_CAP else f" {COUNT_CAP}+"
            tab = tabs.query_one(f"#tab-{view}", Tab)
            text = f"{key} {label}{shown}"
            # A relabelled tab re-lays out the whole screen and animates the underline
            # anew; most page loads change no count, and must not pay for that before the
            # rows paint (measured by `deskterm bench` as key to painted page).
            if tab.label_text != text:
                tab.label = text

    def fill_table(self) -> None:
        table = self.query_one(DataTable)
        layout = (table.size.width or self.size.width, self.view)
        kept = None
        if table.row_count:
            kept_index = table.cursor_row
            kept = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        else:
            kept_index = 0
        if layout != self._layout:
            self._layout = layout
            table.clear(columns=True)
            for column in columns_for(layout[0], self.view):
                table.add_column(column.label, width=column.width, key=column.key)
        else:
            table.clear()
        columns = {c.key: c.width for c in columns_for(layout[0], self.view)}
        now = clock.now()
        for row in self.rows.values():
            table.add_row(*self.cells(row, columns, now), key=str(row.id))
        if not self.rows:
            self.query_one("#queue-status", Static).update(self.empty_text())
            return
        index = kept_index
        if kept is not None and kept.isdigit() and int(kept) in self.rows:
            index = table.get_row_index(kept)
        table.move_cursor(row=min(index, table.row_count - 1), animate=False)
        self.query_one("#queue-status", Static).update(self.status_text())

    def cells(self, row: QueueRow, widths: dict[str, int], now: Any) -> list[Any]:
        cells: list[Any] = [
            Text(row.ref, end=""),
            priority_text(row.priority),
            Text(status_label(row.status, short=True), end=""),
        ]
        if self.view == "callbacks":
            cells.append(sla_text(row.callback_due_at, now))
        else:
            cells.append(
                sla_text(
                    row.resolve_due_at,
                    now,
                    warn_at=row.resolve_warn_at,
                    paused=row.sla_paused_at is not None,
                )
            )
        cells.append(literal(clip(row.subject, widths["subject"])))
        cells.append(literal(clip(row.contact or "—", widths["contact"])))
        if "assignee" in widths:
            cells.append(literal(clip(row.assignee or "—", widths["assignee"])))
        cells.append(Text(age(row.created_at, now), style="dim", end=""))
        return cells

    def empty_text(self) -> Text:
        if self.text:
            said = Text("Nothing in this view matches “")
            said.append_text(literal(self.text))
            said.append("”. escape clears the filter.")
            return said
        if self.view in ("mine", "groups", "unassigned"):
            # One line at 80 columns: the keys a newcomer needs first, the search among them.
            return Text("Nothing waiting. p pull next · ctrl+n new call · ctrl+f find any ticket")
        return Text("Nothing here right now.")

    @on(DataTable.RowHighlighted, "#queue")
    def describe_highlighted(self) -> None:
        if self.rows:
            self.query_one("#queue-status", Static).update(self.status_text())

    def status_text(self) -> Text:
        first = (len(self.starts) - 1) * PAGE + 1
        last = first + len(self.rows) - 1
        more = self.page is not None and self.page.next_after is not None
        text = Text(no_wrap=True, overflow="ellipsis")
        # The highlighted row in full: subjects are clipped in the table, reasons not shown.
        row = self.rows.get(self.highlighted() or 0)
        if row is not None:
            text.append(f"{row.ref} ", style="bold")
            if row.callback_due_at is not None:
                text.append(f"call back {local(row.callback_due_at, clock.now())} ")
                text.append_text(literal(f"({row.callback_by}): {row.callback_reason}"))
            else:
                text.append_text(literal(row.subject))
            text.append(" · ")
        text.append(f"{first}–{last}")
        if more:
            text.append(" · ] next page")
        if len(self.starts) > 1:
            text.append(" · [ previous")
        if self.text:
            text.append(" · filter: ")
            text.append(literal(self.text))
        return text

    def on_resize(self) -> None:
        if self.rows and self._layout is not None:
            table = self.query_one(DataTable)
            if table.size.width and table.size.width != self._layout[0]:
                self.fill_table()

    # ------------------------------------------------------------------ views and pages

    def action_view(self, view: str) -> None:
        if view == self.view:
            return
        self.query_one(Tabs).active = f"tab-{view}"

    @on(Tabs.TabActivated)
    def switch_view(self, event: Tabs.TabActivated) -> None:
        event.stop()
        view = (event.tab.id or "tab-mine").removeprefix("tab-")
        if view == self.view:
            return
        self.view = view
        self.starts = [None]
        self.load()
        self.query_one(DataTable).focus()

    def action_next_page(self) -> None:
        if self.page is not None and self.page.next_after is not None:
            self.starts.append(self.page.next_after)
            self.load()

    def action_previous_page(self) -> None:
        if len(self.starts) > 1:
            self.starts.pop()
            self.load()

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        if field.value:
            field.value = ""
        field.display = False
        self.query_one(DataTable).focus()

    @on(Input.Changed, "#filter")
    def filter_as_typed(self, event: Input.Changed) -> None:
        self.text = event.value.strip()
        self.starts = [None]
        self.load()

    @on(Input.Submitted, "#filter")
    def back_to_table(self) -> None:
        self.query_one(DataTable).focus()

    # ------------------------------------------------------------------ acting

    def highlighted(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key and key.isdigit() else None

    @on(DataTable.RowSelected)
    def open_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value and event.row_key.value.isdigit():
            self.app.open_ticket(int(event.row_key.value))  # type: ignore[attr-defined]

    def action_open(self) -> None:
        ticket_id = self.highlighted()
        if ticket_id is not None:
            self.app.open_ticket(ticket_id)  # type: ignore[attr-defined]

    def action_pull_next(self) -> None:
        self.query_one(DeskBar).busy = True
        self.claim()

    @work(thread=True, exclusive=True, exit_on_error=False, group="claim")
    def claim(self) -> None:
        from deskterm.desk.queue import claim_next

        result = self.app.desk.write(claim_next)  # type: ignore[attr-defined]
        self.app.call_from_thread(self.claimed, result)

    def claimed(self, result: Any) -> None:
        self.query_one(DeskBar).busy = False
        if result.ticket is None:
            where = ", ".join(result.groups) or "your groups (you are in none)"
            self.notify(f"Nothing waiting in {where}.", title="Pull next", markup=False)
            return
        self.notify(f"{result.ticket.ref} is yours now.", title="Pull next")
        self.app.open_ticket(result.ticket.id)  # type: ignore[attr-defined]
        self.stale = True

    def action_take(self) -> None:
        ticket_id = self.highlighted()
        if ticket_id is None:
            return
        row = self.rows[ticket_id]
        self.query_one(DeskBar).busy = True
        self.take(ticket_id, row.version)

    @work(thread=True, exclusive=True, exit_on_error=False, group="take")
    def take(self, ticket_id: int, version: int) -> None:
        from deskterm.desk.tickets import assign

        result = self.app.desk.write(  # type: ignore[attr-defined]
            assign, ref=ticket_id, to="me", expected_version=version
        )
        self.app.call_from_thread(self.notify, f"{result.ref} is yours now.", title="Taken")
        self.app.call_from_thread(self.load)

    def action_handover(self) -> None:
        from deskterm.tui.screens.handover import HandoverScreen

        self.app.push_screen(HandoverScreen())

    def action_away(self) -> None:
        from deskterm.tui.modals.away import AwayModal

        self.app.push_screen(AwayModal(), self.away_saved)

    def action_away_someone(self) -> None:
        from deskterm.tui.modals.away import AwayModal

        self.app.push_screen(AwayModal(pick=True), self.away_saved)

    def away_saved(self, result: Any) -> None:
        from deskterm.desk.away import AwayResult

        if result is None:
            return
        mine = self.app.desk.login  # type: ignore[attr-defined]
        me = (result.analyst if isinstance(result, AwayResult) else result).login == mine
        if isinstance(result, AwayResult):
            moved = len(result.handed_over)
            who = "You are" if me else f"{result.analyst.login} is"
            said = f"{who} away; {result.analyst.backup or 'nobody'} covers"
            said += " for you" if me else ""
            if moved:
                whose = "your" if me else "their"
                said += f" and now has {whose} {moved} open ticket{'s' if moved != 1 else ''}"
            self.app.notify(said + ".", title="Away", markup=False)
        elif me:
            self.app.notify("Welcome back: tickets meant for you come to you again.", title="Back")
        else:
            self.app.notify(f"{result.login} is back at the desk.", title="Back", markup=False)
        self.load()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Failures go on to the app, which tells the analyst; here the busy sign goes off.
        if event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.query_one(DeskBar).busy = False
