"""The supervisor's dashboard: SLA compliance, escalation, satisfaction, the daily flow of
tickets, the backlog and every analyst's load; every count opens its tickets.

The frame (each panel with its title, "…" for its figures) paints at once; each panel is
read by a thread worker of its own and filled as its read comes in, so the quick figures do
not wait for the slow ones, and a panel that cannot be read says so in its place only.

Each number sits in a ``DataTable`` cell; the screen keeps, per cell, the ``Figure`` it
counts, so selecting it (enter or a click) opens ``DrillScreen`` on exactly those tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Sparkline, Static
from textual.worker import Worker, WorkerState, get_current_worker

from deskterm.tui import benchmark
from deskterm.tui.base import DeskScreen
from deskterm.tui.format import literal, priority_text, status_label
from deskterm.tui.messages import DeskUpdated
from deskterm.tui.widgets.bar import DeskBar
from deskterm.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from deskterm.desk.dashboard import (
        Dashboard,
        EscalationPanel,
        Figure,
        FlowPanel,
        ReportPanel,
        SatisfactionPanel,
        SlaPanel,
    )
    from deskterm.desk.schemas import TicketPublic


#: Below this width the SLA, escalation and satisfaction boxes stack instead of sitting side
#: by side.
NARROW = 110
#: Changes to the desk are gathered for this long before the figures are read again.
RELOAD_SECONDS = 15.0
#: The panels, each read by ``deskterm.desk.dashboard.<name>_panel`` in a worker of its own,
#: the quick ones first.
PANELS = ("sla", "escalation", "satisfaction", "flow", "backlog", "analysts")
#: Where each panel says "…" while it is read, or why it could not be.
NOTES = {
    "sla": "#dash-sla-note",
    "escalation": "#dash-escalation-note",
    "satisfaction": "#dash-satisfaction",
    "flow": "#dash-flow-note",
    "backlog": "#dash-backlog-note",
    "analysts": "#dash-analysts-note",
}
PENDING = "…"
#: The figures are read this long after the frame is shown.
LOAD_AFTER = 0.05


def _cells(value: object) -> int:
    """Terminal cells ``value`` takes on one line, as a table cell."""
    from rich.cells import cell_len

    return value.cell_len if isinstance(value, Text) else cell_len(str(value))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 60:.0f}m" if value < 1 else f"{value:.1f}h"


SLA_COLUMNS = [
    ("Opened", "label"),
    ("Tickets", "tickets"),
    ("Response", "response"),
    ("missed", "r_missed"),
    ("Resolution", "resolution"),
    ("missed", "s_missed"),
]
ANALYST_COLUMNS = [
    ("Analyst", "analyst"),
    ("Lvl", "level"),
    ("Open", "open"),
    ("Resolved", "resolved"),
    ("FCR", "fcr"),
    ("Response", "response"),
    ("Resolve", "resolve"),
]


def _escalation_columns(opened: str) -> list[tuple[str, str]]:
    return [(opened, "label"), ("Tickets", "tickets"), ("Share", "share")]


def _backlog_columns() -> list[tuple[str, str]]:
    from deskterm.desk.reports import AGE_BUCKETS

    columns = [("Group", "group")] + [(f"P{p}", f"p{p}") for p in range(1, 6)]
    columns.append(("Total", "total"))
    columns += [(label, f"age{i}") for i, (_d, label) in enumerate(AGE_BUCKETS)]
    columns.append(("Oldest", "oldest"))
    return columns


def _count(value: int, figure: bool = True) -> Text:
    # Numbers that open a list are underlined, like links.
    return Text(str(value), style="underline" if figure and value else "")


class DashboardScreen(DeskScreen[None]):
    BINDINGS = [
        Binding("escape", "back", "Queue", tooltip="Back to the queue", id="back"),
        Binding("r", "reload", "Refresh", tooltip="Read every figure again", id="reload"),
    ]

    @dataclass
    class PanelLoaded(Message):
        """One panel's figures, read just now."""

        panel: str
        figures: Any

    def __init__(self) -> None:
        super().__init__()
        #: Each panel's figures as last read (``deskterm.desk.dashboard``'s ``*Panel``).
        self.panels: dict[str, Any] = {}
        #: The panels being read now.
        self.pending: set[str] = set()
        #: (table id, row key, column key) -> the figure that cell counts.
        self.figures: dict[tuple[str, str, str], Figure] = {}
        self._reload: Timer | None = None
        self._load_soon: Timer | None = None

    @property
    def board(self) -> Dashboard | None:
        """Every figure, once each panel has been read (``None`` before)."""
        from deskterm.desk.dashboard import from_panels

        if set(self.panels) != set(PANELS):
            return None
        return from_panels(**self.panels)

    def compose(self) -> ComposeResult:
        yield DeskBar("Dashboard", id="bar")
        with VerticalScroll(id="dashboard"):
            with Horizontal(id="dash-top"):
                with Vertical(classes="dash-box"):
                    yield Static("SLA compliance", classes="dash-title")
                    yield DataTable(id="dash-sla", cursor_type="cell", zebra_stripes=False)
                    yield Static(PENDING, id="dash-sla-note", classes="dash-note")
                with Vertical(classes="dash-box"):
                    yield Static("Escalation", classes="dash-title")
                    yield DataTable(id="dash-escalation", cursor_type="cell")
                    yield Static(PENDING, id="dash-escalation-note", classes="dash-note")
                with Vertical(classes="dash-box", id="dash-satisfaction-box"):
                    yield Static("Customer satisfaction", classes="dash-title")
                    yield Static(PENDING, id="dash-satisfaction")
            yield Static("Tickets per day", id="dash-flow-title", classes="dash-title")
            yield Static(PENDING, id="dash-flow-note", classes="dash-note")
            with Horizontal(classes="dash-chart"):
                yield Static("opened  ", classes="dash-legend")
                yield Sparkline([], id="dash-opened")
            with Horizontal(classes="dash-chart"):
                yield Static("resolved", classes="dash-legend")
                yield Sparkline([], id="dash-resolved")
            yield Static("Backlog: open tickets by group, priority and age", classes="dash-title")
            yield DataTable(id="dash-backlog", cursor_type="cell")
            yield Static(PENDING, id="dash-backlog-note", classes="dash-note")
            yield Static(
                "Analysts: open now; resolved in the last 30 days, first-contact rate, "
                "median time to first response and to resolve",
                id="dash-analysts-title",
                classes="dash-title",
            )
            yield DataTable(id="dash-analysts", cursor_type="cell")
            yield Static(PENDING, id="dash-analysts-note", classes="dash-note")
        yield KeyFooter()

    def on_mount(self) -> None:
        # Built ahead of its first f2 (see DeskApp.build_mode): the figures are read when it
        # is shown, not before. The frame has each table's columns, "…" below them.
        self.set_class(self.size.width < NARROW, "-narrow")
        for table_id, columns in (
            ("dash-sla", SLA_COLUMNS),
            ("dash-escalation", _escalation_columns("opened")),
            ("dash-backlog", _backlog_columns()),
            ("dash-analysts", ANALYST_COLUMNS),
        ):
            table = self.query_one(f"#{table_id}", DataTable)
            for label, key in columns:
                table.add_column(label, key=key)

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")

    def on_screen_resume(self) -> None:
        benchmark.mark(self, "dashboard")
        # A read under way, or about to start, is fresh enough (and Textual resumes a mode's
        # screen twice when its first switch builds it).
        if self._load_soon is None and not self.pending:
            # Once the frame is on the terminal: six reading threads started with it held
            # its paint back by up to 90 ms (measured in tmux, f2 to the frame written).
            self._load_soon = self.set_timer(LOAD_AFTER, self._load_now)

    def _load_now(self) -> None:
        self._load_soon = None
        self.load()

    @on(DeskUpdated)
    def reload_soon(self) -> None:
        # Every figure is a scan of the desk: a busy minute is one reload, not one per change.
        if self._reload is None:
            self._reload = self.set_timer(RELOAD_SECONDS, self._reload_now)

    def _reload_now(self) -> None:
        self._reload = None
        self.load()

    def load(self) -> None:
        """Read every panel again, each in its own worker; what is shown stays until its
        panel's new figures come."""
        self.pending = set(PANELS)
        self.query_one(DeskBar).busy = True
        for name in PANELS:
            self.run_worker(
                partial(self._read_panel, name),
                name=f"dashboard {name}",
                group=f"dash-{name}",
                thread=True,
                exclusive=True,
                exit_on_error=False,
            )

    def _read_panel(self, name: str) -> None:
        from deskterm.desk import dashboard as figures

        read = getattr(figures, f"{name}_panel")
        desk = self.desk
        panel = desk.read(read)
        if not get_current_worker().is_cancelled:
            self.post_message(self.PanelLoaded(name, panel))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        group = event.worker.group
        if event.state != WorkerState.ERROR or not group.startswith("dash-"):
            return
        # Said in the panel that failed, not in a toast: the other panels are fine.
        event.stop()
        name = group.removeprefix("dash-")
        text = Text(f"Not read: {self.app.describe_error(event.worker.error)} (r reads again)")
        note = self.query_one(NOTES[name], Static)
        note.update(text)
        note.display = True
        note.add_class("-failed")
        self._done(name)

    def _done(self, name: str) -> None:
        self.pending.discard(name)
        if not self.pending:
            self.query_one(DeskBar).busy = False

    def action_back(self) -> None:
        self.app.switch_mode("queue")

    def action_reload(self) -> None:
        self.load()

    # ------------------------------------------------------------------ showing

    @on(PanelLoaded)
    def show(self, event: DashboardScreen.PanelLoaded) -> None:
        name = event.panel
        self.panels[name] = event.figures
        note = self.query_one(NOTES[name], Static)
        note.remove_class("-failed")
        if note.has_class("dash-note"):
            note.display = False
        getattr(self, f"show_{name}")(event.figures)
        self._done(name)

    def _fill(
        self,
        table_id: str,
        columns: list[tuple[str, str]],
        rows: list[tuple[str, list[Any], dict[str, Figure]]],
    ) -> None:
        """Refill a table, keeping its cursor; ``rows``: key, cells, figures by column key."""
        from textual.coordinate import Coordinate

        table = self.query_one(f"#{table_id}", DataTable)
        cursor = table.cursor_coordinate
        self.figures = {k: f for k, f in self.figures.items() if k[0] != table_id}
        table.clear(columns=True)
        # Widths fixed from the cells at hand: left to DataTable, they are measured when idle,
        # and a header painted before that kept its old width above the new rows.
        for number, (label, key) in enumerate(columns):
            width = max([_cells(label), *(_cells(cells[number]) for _key, cells, _f in rows)])
            table.add_column(label, key=key, width=width)
        for key, cells, figures in rows:
            table.add_row(*cells, key=key)
            for column, figure in figures.items():
                self.figures[(table_id, key, column)] = figure
        if table.row_count:
            row = min(cursor.row, table.row_count - 1)
            table.cursor_coordinate = Coordinate(row, min(cursor.column, len(columns) - 1))

    def show_sla(self, panel: SlaPanel) -> None:
        from deskterm.desk.dashboard import Figure

        rows = []
        for key, label, figures, since in (
            ("today", "Today", panel.today, panel.period.today),
            ("period", "30 days", panel.over_period, panel.period.since),
        ):
            rows.append(
                (
                    key,
                    [
                        label,
                        str(figures.tickets),
                        _pct(figures.response_pct),
                        _count(figures.response_missed),
                        _pct(figures.resolution_pct),
                        _count(figures.resolution_missed),
                    ],
                    {
                        "r_missed": Figure(
                            kind="response_missed",
                            since=since,
                            label=f"Response SLA missed, opened {label.lower()}",
                        ),
                        "s_missed": Figure(
                            kind="resolution_missed",
                            since=since,
                            label=f"Resolution SLA missed, opened {label.lower()}",
                        ),
                    },
                )
            )
        self._fill("dash-sla", SLA_COLUMNS, rows)

    def show_escalation(self, panel: EscalationPanel) -> None:
        from deskterm.desk.dashboard import Figure

        rows = [
            (
                f"l{share.level}",
                [f"Reached L{share.level}", _count(share.tickets), _pct(share.pct)],
                {
                    "tickets": Figure(
                        kind="escalated",
                        level=share.level,
                        since=panel.period.since,
                        label=f"Reached L{share.level} (opened in the last 30 days)",
                    )
                },
            )
            for share in panel.levels
        ]
        self._fill("dash-escalation", _escalation_columns(f"{panel.opened} opened"), rows)

    def show_satisfaction(self, panel: SatisfactionPanel) -> None:
        s = panel.satisfaction
        text = Text()
        if not s.surveys:
            text.append("No surveys in the last 30 days.", style="dim")
        else:
            mean = "—" if s.csat_mean is None else f"{s.csat_mean:.1f}"
            text.append("CSAT ", style="dim")
            text.append(f"{mean} / 5", style="bold")
            text.append(f"  {_pct(s.csat_pct)} satisfied\n")
            text.append("NPS  ", style="dim")
            nps = "—" if s.nps is None else f"{s.nps:+.0f}"
            text.append(nps, style="bold")
            text.append(f"  from {s.nps_answers} answers\n")
            text.append(f"{s.surveys} surveys in the last 30 days", style="dim")
        self.query_one("#dash-satisfaction", Static).update(text)

    def show_flow(self, panel: FlowPanel) -> None:
        days = panel.days
        opened = [day.opened for day in days]
        resolved = [day.resolved for day in days]
        title = (
            f"Tickets per day, {days[0].day:%b %d} to {days[-1].day:%b %d}: "
            f"{sum(opened)} opened, {sum(resolved)} resolved (today {opened[-1]} / "
            f"{resolved[-1]})"
        )
        self.query_one("#dash-flow-title", Static).update(title)
        self.query_one("#dash-opened", Sparkline).data = opened
        self.query_one("#dash-resolved", Sparkline).data = resolved

    def show_backlog(self, panel: ReportPanel) -> None:
        from deskterm.desk.dashboard import Figure
        from deskterm.desk.reports import AGE_BUCKETS

        report = panel.report
        rows = []
        for record in report.records():
            group = record["group"]
            total = group == "TOTAL"
            where = None if total else group
            figures = {
                f"p{p}": Figure(
                    kind="backlog", group=where, priority=p, label=f"Open P{p} · {group}"
                )
                for p in range(1, 6)
            }
            figures["total"] = Figure(kind="backlog", group=where, label=f"Open · {group}")
            for index, (_days, label) in enumerate(AGE_BUCKETS):
                figures[f"age{index}"] = Figure(
                    kind="backlog", group=where, age=index, label=f"Open {label} · {group}"
                )
            cells: list[Any] = [literal(group, style="bold" if total else "")]
            cells += [_count(record[f"P{p}"]) for p in range(1, 6)]
            cells.append(_count(record["total"]))
            cells += [_count(record[label]) for _d, label in AGE_BUCKETS]
            cells.append(f"{record['oldest_days']:.1f}d")
            rows.append((group, cells, figures))
        self._fill("dash-backlog", _backlog_columns(), rows)

    def show_analysts(self, panel: ReportPanel) -> None:
        from deskterm.desk.dashboard import Figure

        rows = []
        for record in panel.report.records():
            login = record["analyst"]
            rows.append(
                (
                    login,
                    [
                        literal(login),
                        f"L{record['level']}",
                        _count(record["open"]),
                        _count(record["resolved"]),
                        _pct(record["fcr_pct"]),
                        _hours(record["median_response_h"]),
                        _hours(record["median_resolve_h"]),
                    ],
                    {
                        "open": Figure(kind="analyst_open", login=login, label=f"Open · {login}"),
                        "resolved": Figure(
                            kind="analyst_resolved",
                            login=login,
                            since=panel.period.since,
                            label=f"Resolved in the last 30 days · {login}",
                        ),
                    },
                )
            )
        self._fill("dash-analysts", ANALYST_COLUMNS, rows)

    # ------------------------------------------------------------------ drilling down

    def figure_at(self, table_id: str, row: Any, column: Any) -> Figure | None:
        return self.figures.get((table_id, str(row.value), str(column.value)))

    @on(DataTable.CellSelected)
    def open_figure(self, event: DataTable.CellSelected) -> None:
        event.stop()
        table_id = event.data_table.id or ""
        figure = self.figure_at(table_id, event.cell_key.row_key, event.cell_key.column_key)
        if figure is None:
            self.notify("This number has no list of tickets behind it.", timeout=3)
            return
        self.app.push_screen(DrillScreen(figure))


class DrillScreen(DeskScreen[None]):
    """The tickets behind one number of the dashboard, newest first."""

    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Back to the dashboard", id="back"),
    ]

    @dataclass
    class Loaded(Message):
        tickets: list[TicketPublic]

    def __init__(self, figure: Figure) -> None:
        super().__init__()
        self.figure = figure

    def compose(self) -> ComposeResult:
        yield DeskBar("Dashboard", id="bar")
        yield Static(literal(self.figure.label, style="bold"), id="drill-title")
        yield DataTable(id="drill", cursor_type="row")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("Ref", "Pri", "Status", "Subject", "Group", "Assignee"):
            table.add_column(label, key=label.lower())
        table.loading = True
        table.focus()
        self.fetch()

    @work(thread=True, exclusive=True, exit_on_error=False, group="drill")
    def fetch(self) -> None:
        from deskterm.desk.dashboard import drill

        desk = self.desk
        self.post_message(self.Loaded(desk.read(drill, figure=self.figure)))

    @on(Loaded)
    def show(self, event: DrillScreen.Loaded) -> None:
        from deskterm.desk.dashboard import DRILL_LIMIT

        table = self.query_one(DataTable)
        table.loading = False
        for ticket in event.tickets:
            table.add_row(
                Text(ticket.ref, style="bold"),
                priority_text(ticket.priority),
                # A str cell would be read as markup: every cell here is Text.
                Text(status_label(ticket.status, short=True), end=""),
                literal(ticket.subject),
                literal(ticket.group or "—"),
                literal(ticket.assignee or "—"),
                key=str(ticket.id),
            )
        count = len(event.tickets)
        more = f" (the newest {DRILL_LIMIT})" if count >= DRILL_LIMIT else ""
        title = literal(self.figure.label, style="bold")
        title.append(f" · {count} tickets{more}")
        self.query_one("#drill-title", Static).update(title)

    @on(DataTable.RowSelected)
    def open_ticket(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.app.open_ticket(int(event.row_key.value))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "drill":
            self.query_one(DataTable).loading = False

    def action_back(self) -> None:
        self.dismiss()
