"""The supervisor's dashboard: SLA compliance, escalation, satisfaction, the daily flow of
tickets, the backlog and every analyst's load, in one read; every count opens its tickets.

Each number sits in a ``DataTable`` cell; the screen keeps, per cell, the ``Figure`` it
counts, so selecting it (enter or a click) opens ``DrillScreen`` on exactly those tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Sparkline, Static
from textual.worker import Worker, WorkerState

from deskterm.tui.format import literal, priority_text, status_label
from deskterm.tui.widgets.bar import DeskBar
from deskterm.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from deskterm.desk.dashboard import Dashboard, Figure
    from deskterm.desk.schemas import TicketPublic


#: Below this width the SLA, escalation and satisfaction boxes stack instead of sitting side
#: by side.
NARROW = 110
#: Changes to the desk are gathered for this long before the figures are read again.
RELOAD_SECONDS = 15.0


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 60:.0f}m" if value < 1 else f"{value:.1f}h"


def _count(value: int, figure: bool = True) -> Text:
    # Numbers that open a list are underlined, like links.
    return Text(str(value), style="underline" if figure and value else "")


class DashboardScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Queue", tooltip="Back to the queue", id="back"),
        Binding("r", "reload", "Refresh", tooltip="Read every figure again", id="reload"),
    ]

    @dataclass
    class Loaded(Message):
        board: Dashboard

    def __init__(self) -> None:
        super().__init__()
        self.board: Dashboard | None = None
        #: (table id, row key, column key) -> the figure that cell counts.
        self.figures: dict[tuple[str, str, str], Figure] = {}
        self._reload: Timer | None = None

    def compose(self) -> ComposeResult:
        yield DeskBar("Dashboard", id="bar")
        with VerticalScroll(id="dashboard"):
            with Horizontal(id="dash-top"):
                with Vertical(classes="dash-box"):
                    yield Static("SLA compliance", classes="dash-title")
                    yield DataTable(id="dash-sla", cursor_type="cell", zebra_stripes=False)
                with Vertical(classes="dash-box"):
                    yield Static("Escalation", classes="dash-title")
                    yield DataTable(id="dash-escalation", cursor_type="cell")
                with Vertical(classes="dash-box", id="dash-satisfaction-box"):
                    yield Static("Customer satisfaction", classes="dash-title")
                    yield Static(id="dash-satisfaction")
            yield Static(id="dash-flow-title", classes="dash-title")
            with Horizontal(classes="dash-chart"):
                yield Static("opened  ", classes="dash-legend")
                yield Sparkline([], id="dash-opened")
            with Horizontal(classes="dash-chart"):
                yield Static("resolved", classes="dash-legend")
                yield Sparkline([], id="dash-resolved")
            yield Static("Backlog: open tickets by group, priority and age", classes="dash-title")
            yield DataTable(id="dash-backlog", cursor_type="cell")
            yield Static(id="dash-analysts-title", classes="dash-title")
            yield DataTable(id="dash-analysts", cursor_type="cell")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")
        self.query_one("#dashboard").loading = True
        self.load()

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")

    def on_screen_resume(self) -> None:
        if self.board is not None:
            self.load()

    def desk_changed(self) -> None:
        # Every figure is a scan of the desk: a busy minute is one reload, not one per change.
        if self._reload is None:
            self._reload = self.set_timer(RELOAD_SECONDS, self._reload_now)

    def _reload_now(self) -> None:
        self._reload = None
        self.load()

    def load(self) -> None:
        self.query_one(DeskBar).busy = True
        self.fetch()

    @work(thread=True, exclusive=True, exit_on_error=False, group="dashboard")
    def fetch(self) -> None:
        from deskterm.desk.dashboard import dashboard

        desk = self.app.desk  # type: ignore[attr-defined]
        self.post_message(self.Loaded(desk.read(dashboard)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "dashboard":
            self.query_one(DeskBar).busy = False
            self.query_one("#dashboard").loading = False

    def action_back(self) -> None:
        self.app.switch_mode("queue")

    def action_reload(self) -> None:
        self.load()

    # ------------------------------------------------------------------ showing

    @on(Loaded)
    def show(self, event: DashboardScreen.Loaded) -> None:
        self.board = board = event.board
        self.figures.clear()
        self.query_one(DeskBar).busy = False
        self.query_one("#dashboard").loading = False
        self.show_sla(board)
        self.show_escalation(board)
        self.show_satisfaction(board)
        self.show_flow(board)
        self.show_backlog(board)
        self.show_analysts(board)

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
        table.clear(columns=True)
        for label, key in columns:
            table.add_column(label, key=key)
        for key, cells, figures in rows:
            table.add_row(*cells, key=key)
            for column, figure in figures.items():
                self.figures[(table_id, key, column)] = figure
        if table.row_count:
            row = min(cursor.row, table.row_count - 1)
            table.cursor_coordinate = Coordinate(row, min(cursor.column, len(columns) - 1))

    def show_sla(self, board: Dashboard) -> None:
        from deskterm.desk.dashboard import Figure

        rows = []
        for key, label, figures, since in (
            ("today", "Today", board.sla_today, board.today),
            ("period", "30 days", board.sla_period, board.since),
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
        self._fill(
            "dash-sla",
            [
                ("Opened", "label"),
                ("Tickets", "tickets"),
                ("Response", "response"),
                ("missed", "r_missed"),
                ("Resolution", "resolution"),
                ("missed", "s_missed"),
            ],
            rows,
        )

    def show_escalation(self, board: Dashboard) -> None:
        from deskterm.desk.dashboard import Figure

        rows = [
            (
                f"l{share.level}",
                [f"Reached L{share.level}", _count(share.tickets), _pct(share.pct)],
                {
                    "tickets": Figure(
                        kind="escalated",
                        level=share.level,
                        since=board.since,
                        label=f"Reached L{share.level} (opened in the last 30 days)",
                    )
                },
            )
            for share in board.escalation
        ]
        self._fill(
            "dash-escalation",
            [(f"{board.opened} opened", "label"), ("Tickets", "tickets"), ("Share", "share")],
            rows,
        )

    def show_satisfaction(self, board: Dashboard) -> None:
        s = board.satisfaction
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

    def show_flow(self, board: Dashboard) -> None:
        opened = [day.opened for day in board.flow]
        resolved = [day.resolved for day in board.flow]
        title = (
            f"Tickets per day, {board.flow[0].day:%b %d} to {board.flow[-1].day:%b %d}: "
            f"{sum(opened)} opened, {sum(resolved)} resolved (today {opened[-1]} / "
            f"{resolved[-1]})"
        )
        self.query_one("#dash-flow-title", Static).update(title)
        self.query_one("#dash-opened", Sparkline).data = opened
        self.query_one("#dash-resolved", Sparkline).data = resolved

    def show_backlog(self, board: Dashboard) -> None:
        from deskterm.desk.dashboard import Figure
        from deskterm.desk.reports import AGE_BUCKETS

        report = board.backlog
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
        columns = [("Group", "group")] + [(f"P{p}", f"p{p}") for p in range(1, 6)]
        columns.append(("Total", "total"))
        columns += [(label, f"age{i}") for i, (_d, label) in enumerate(AGE_BUCKETS)]
        columns.append(("Oldest", "oldest"))
        self._fill("dash-backlog", columns, rows)

    def show_analysts(self, board: Dashboard) -> None:
        from deskterm.desk.dashboard import Figure

        self.query_one("#dash-analysts-title", Static).update(
            "Analysts: open now; resolved in the last 30 days, first-contact rate, "
            "median time to first response and to resolve"
        )
        rows = []
        for record in board.analysts.records():
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
                            since=board.since,
                            label=f"Resolved in the last 30 days · {login}",
                        ),
                    },
                )
            )
        self._fill(
            "dash-analysts",
            [
                ("Analyst", "analyst"),
                ("Lvl", "level"),
                ("Open", "open"),
                ("Resolved", "resolved"),
                ("FCR", "fcr"),
                ("Response", "response"),
                ("Resolve", "resolve"),
            ],
            rows,
        )

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


class DrillScreen(Screen[None]):
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

        desk = self.app.desk  # type: ignore[attr-defined]
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
            self.app.open_ticket(int(event.row_key.value))  # type: ignore[attr-defined]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "drill":
            self.query_one(DataTable).loading = False

    def action_back(self) -> None:
        self.dismiss()
