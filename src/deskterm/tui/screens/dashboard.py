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

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Sparkline, Static
from textual.worker import Worker, WorkerState, get_current_worker

from deskterm.i18n import N_, _, format_number, format_percent, ngettext
from deskterm.tui import benchmark
from deskterm.tui.base import DeskScreen
from deskterm.tui.format import fit_labels, literal, priority_text, short_day, status_label
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
    return "—" if value is None else format_percent(value / 100)


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        # Translators: a length of time in a narrow cell, in minutes: "12m".
        return _("{n}m").format(n=format_number(value * 60, digits=0))
    # Translators: a length of time in a narrow cell, in hours: "5h".
    return _("{n}h").format(n=format_number(value, digits=1))


# Column headers (translated where the tables are filled): short, the numbers are narrow.
SLA_COLUMNS = [
    # Translators: a dashboard column: when the tickets were opened ("Today", "30 days").
    (N_("Opened"), "label"),
    (N_("Tickets"), "tickets"),
    (N_("Response"), "response"),
    # Translators: a dashboard column beside "Response" / "Resolution": SLA targets missed.
    (N_("missed"), "r_missed"),
    (N_("Resolution"), "resolution"),
    (N_("missed"), "s_missed"),
]

ANALYST_COLUMNS = [
    (N_("Analyst"), "analyst"),
    # Translators: a narrow column: the analyst's support level (L1, L2, L3).
    (N_("Lvl"), "level"),
    # Translators: a column: how many open tickets the analyst holds.
    (N_("Open"), "open"),
    (N_("Resolved"), "resolved"),
    # Translators: first-contact resolution rate, as a short column header.
    (N_("FCR"), "fcr"),
    (N_("Response"), "response"),
    (N_("Resolve"), "resolve"),
]


def _translated(columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(_(label), key) for label, key in columns]


def _escalation_columns(opened: str) -> list[tuple[str, str]]:
    return [(opened, "label"), (_("Tickets"), "tickets"), (_("Share"), "share")]


def _backlog_columns() -> list[tuple[str, str]]:
    from deskterm.desk.reports import AGE_BUCKETS

    columns = [(_("Group"), "group")] + [(f"P{p}", f"p{p}") for p in range(1, 6)]
    columns.append((_("Total"), "total"))
    columns += [(label, f"age{i}") for i, (_d, label) in enumerate(AGE_BUCKETS)]
    columns.append((_("Oldest"), "oldest"))
    return columns


def _count(value: int, figure: bool = True) -> Text:
    # Numbers that open a list are underlined, like links.
    return Text(format_number(value), style="underline" if figure and value else "")


class DashboardScreen(DeskScreen[None]):
    BINDINGS = [
        Binding("escape", "back", N_("Queue"), tooltip=N_("Back to the queue"), id="back"),
        Binding("r", "reload", N_("Refresh"), tooltip=N_("Read every figure again"), id="reload"),
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
        yield DeskBar(_("Dashboard"), id="bar")
        with VerticalScroll(id="dashboard"):
            with Horizontal(id="dash-top"):
                with Vertical(classes="dash-box"):
                    yield Static(_("SLA compliance"), classes="dash-title")
                    yield DataTable(id="dash-sla", cursor_type="cell", zebra_stripes=False)
                    yield Static(PENDING, id="dash-sla-note", classes="dash-note")
                with Vertical(classes="dash-box"):
                    yield Static(_("Escalation"), classes="dash-title")
                    yield DataTable(id="dash-escalation", cursor_type="cell")
                    yield Static(PENDING, id="dash-escalation-note", classes="dash-note")
                with Vertical(classes="dash-box", id="dash-satisfaction-box"):
                    yield Static(_("Customer satisfaction"), classes="dash-title")
                    yield Static(PENDING, id="dash-satisfaction")
            yield Static(_("Tickets per day"), id="dash-flow-title", classes="dash-title")
            yield Static(PENDING, id="dash-flow-note", classes="dash-note")
            # Translators: the legends of the two chart lines: tickets opened, resolved per day.
            legends = [_("opened"), _("resolved")]
            width = max(cell_len(legend) for legend in legends)
            opened, resolved = (legend + " " * (width - cell_len(legend)) for legend in legends)
            with Horizontal(classes="dash-chart"):
                yield Static(opened, classes="dash-legend")
                yield Sparkline([], id="dash-opened")
            with Horizontal(classes="dash-chart"):
                yield Static(resolved, classes="dash-legend")
                yield Sparkline([], id="dash-resolved")
            yield Static(
                _("Backlog: open tickets by group, priority and age"), classes="dash-title"
            )
            yield DataTable(id="dash-backlog", cursor_type="cell")
            yield Static(PENDING, id="dash-backlog-note", classes="dash-note")
            yield Static(
                _(
                    "Analysts: open now; resolved in the last 30 days, first-contact rate, "
                    "median time to first response and to resolve"
                ),
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
        # The chart's legends: 9 cells in English (app.tcss), wider where a language needs.
        fit_labels(self.query(".dash-legend"), 9)
        for table_id, columns in (
            ("dash-sla", _translated(SLA_COLUMNS)),
            # Translators: the escalation table's first column before its figures come.
            ("dash-escalation", _escalation_columns(_("opened"))),
            ("dash-backlog", _backlog_columns()),
            ("dash-analysts", _translated(ANALYST_COLUMNS)),
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
        text = Text(
            _("Not read: {error} (r reads again)").format(
                error=self.app.describe_error(event.worker.error)
            )
        )
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
        for key, label, figures, since, response, resolution in (
            (
                "today",
                _("Today"),
                panel.today,
                panel.period.today,
                _("Response SLA missed, opened today"),
                _("Resolution SLA missed, opened today"),
            ),
            (
                "period",
                _("30 days"),
                panel.over_period,
                panel.period.since,
                _("Response SLA missed, opened in the last 30 days"),
                _("Resolution SLA missed, opened in the last 30 days"),
            ),
        ):
            rows.append(
                (
                    key,
                    [
                        label,
                        format_number(figures.tickets),
                        _pct(figures.response_pct),
                        _count(figures.response_missed),
                        _pct(figures.resolution_pct),
                        _count(figures.resolution_missed),
                    ],
                    {
                        "r_missed": Figure(
                            kind="response_missed",
                            since=since,
                            label=response,
                        ),
                        "s_missed": Figure(
                            kind="resolution_missed",
                            since=since,
                            label=resolution,
                        ),
                    },
                )
            )
        self._fill("dash-sla", _translated(SLA_COLUMNS), rows)

    def show_escalation(self, panel: EscalationPanel) -> None:
        from deskterm.desk.dashboard import Figure

        rows = [
            (
                f"l{share.level}",
                [
                    _("Reached L{level}").format(level=share.level),
                    _count(share.tickets),
                    _pct(share.pct),
                ],
                {
                    "tickets": Figure(
                        kind="escalated",
                        level=share.level,
                        since=panel.period.since,
                        label=_("Reached L{level} (opened in the last 30 days)").format(
                            level=share.level
                        ),
                    )
                },
            )
            for share in panel.levels
        ]
        opened = ngettext("{n} opened", "{n} opened", panel.opened).format(
            n=format_number(panel.opened)
        )
        self._fill("dash-escalation", _escalation_columns(opened), rows)

    def show_satisfaction(self, panel: SatisfactionPanel) -> None:
        s = panel.satisfaction
        text = Text()
        if not s.surveys:
            text.append(_("No surveys in the last 30 days."), style="dim")
        else:
            mean = "—" if s.csat_mean is None else format_number(s.csat_mean, digits=1)
            # Translators: customer satisfaction score; usually kept as "CSAT".
            text.append(_("CSAT") + " ", style="dim")
            text.append(_("{mean} / 5").format(mean=mean), style="bold")
            text.append("  " + _("{share} satisfied").format(share=_pct(s.csat_pct)) + "\n")
            # Translators: Net Promoter Score; usually kept as "NPS".
            text.append(_("NPS") + "  ", style="dim")
            if s.nps is None:
                nps = "—"
            else:
                nps = ("+" if round(s.nps) >= 0 else "") + format_number(s.nps, digits=0)
            text.append(nps, style="bold")
            text.append(
                "  "
                + ngettext("from {n} answer", "from {n} answers", s.nps_answers).format(
                    n=format_number(s.nps_answers)
                )
                + "\n"
            )
            text.append(
                ngettext(
                    "{n} survey in the last 30 days", "{n} surveys in the last 30 days", s.surveys
                ).format(n=format_number(s.surveys)),
                style="dim",
            )
        self.query_one("#dash-satisfaction", Static).update(text)

    def show_flow(self, panel: FlowPanel) -> None:
        days = panel.days
        opened = [day.opened for day in days]
        resolved = [day.resolved for day in days]
        title = _(
            "Tickets per day, {first} to {last}: {opened} opened, {resolved} resolved "
            "(today {opened_today} / {resolved_today})"
        ).format(
            first=short_day(days[0].day),
            last=short_day(days[-1].day),
            opened=format_number(sum(opened)),
            resolved=format_number(sum(resolved)),
            opened_today=format_number(opened[-1]),
            resolved_today=format_number(resolved[-1]),
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
            # Translators: the backlog's last row, the sum of every group.
            shown = _("TOTAL") if total else group
            figures = {
                f"p{p}": Figure(
                    kind="backlog",
                    group=where,
                    priority=p,
                    label=_("Open P{priority} · {group}").format(priority=p, group=shown),
                )
                for p in range(1, 6)
            }
            figures["total"] = Figure(
                kind="backlog", group=where, label=_("Open · {group}").format(group=shown)
            )
            for index, (_days, label) in enumerate(AGE_BUCKETS):
                figures[f"age{index}"] = Figure(
                    kind="backlog",
                    group=where,
                    age=index,
                    label=_("Open {age} · {group}").format(age=label, group=shown),
                )
            cells: list[Any] = [literal(shown, style="bold" if total else "")]
            cells += [_count(record[f"P{p}"]) for p in range(1, 6)]
            cells.append(_count(record["total"]))
            cells += [_count(record[label]) for _d, label in AGE_BUCKETS]
            # Translators: an age in days in a narrow cell: "3.5d".
            cells.append(_("{n}d").format(n=format_number(record["oldest_days"], digits=1)))
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
                        "open": Figure(
                            kind="analyst_open",
                            login=login,
                            label=_("Open · {login}").format(login=login),
                        ),
                        "resolved": Figure(
                            kind="analyst_resolved",
                            login=login,
                            since=panel.period.since,
                            label=_("Resolved in the last 30 days · {login}").format(login=login),
                        ),
                    },
                )
            )
        self._fill("dash-analysts", _translated(ANALYST_COLUMNS), rows)

    # ------------------------------------------------------------------ drilling down

    def figure_at(self, table_id: str, row: Any, column: Any) -> Figure | None:
        return self.figures.get((table_id, str(row.value), str(column.value)))

    @on(DataTable.CellSelected)
    def open_figure(self, event: DataTable.CellSelected) -> None:
        event.stop()
        table_id = event.data_table.id or ""
        figure = self.figure_at(table_id, event.cell_key.row_key, event.cell_key.column_key)
        if figure is None:
            self.notify(_("This number has no list of tickets behind it."), timeout=3)
            return
        self.app.push_screen(DrillScreen(figure))


class DrillScreen(DeskScreen[None]):
    """The tickets behind one number of the dashboard, newest first."""

    BINDINGS = [
        Binding("escape", "back", N_("Back"), tooltip=N_("Back to the dashboard"), id="back"),
    ]

    @dataclass
    class Loaded(Message):
        tickets: list[TicketPublic]

    def __init__(self, figure: Figure) -> None:
        super().__init__()
        self.figure = figure

    def compose(self) -> ComposeResult:
        yield DeskBar(_("Dashboard"), id="bar")
        yield Static(literal(self.figure.label, style="bold"), id="drill-title")
        yield DataTable(id="drill", cursor_type="row")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (
            ("ref", _("Ref")),
            ("pri", _("Pri")),
            ("status", _("Status")),
            ("subject", _("Subject")),
            ("group", _("Group")),
            ("assignee", _("Assignee")),
        ):
            table.add_column(label, key=key)
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
        if count >= DRILL_LIMIT:
            said = ngettext(
                "{n} ticket (the newest {limit})", "{n} tickets (the newest {limit})", count
            )
        else:
            said = ngettext("{n} ticket", "{n} tickets", count)
        title = literal(self.figure.label, style="bold")
        title.append(" · " + said.format(n=count, limit=DRILL_LIMIT))
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
