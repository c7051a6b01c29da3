"""``deskterm report ...``: the desk's figures as Rich tables, CSV or JSON; and
``deskterm survey``: the customer's CSAT and NPS answers for a resolved ticket."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deskterm.cli.common import State, literal, out, print_csv, print_json
from deskterm.i18n import N_, _

if TYPE_CHECKING:
    from rich.text import Text

    from deskterm.desk.reports import Report

report_app = typer.Typer(
    help=_("Reports: backlog, sla, analysts, csat, categories, time (supervisors)."),
    no_args_is_help=True,
)

FromOpt = Annotated[
    str | None,
    typer.Option("--from", help=_("First day (YYYY-MM-DD, UTC); default 30 days before --to.")),
]
ToOpt = Annotated[str | None, typer.Option("--to", help=_("Last day, included; default today."))]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help=_("table, csv or json; default a table on a terminal and CSV when piped."),
    ),
]
_FORMATS = ("table", "csv", "json")

#: The reports' columns as a person reads them in the table; CSV and JSON keep the names.
_COLUMNS = {
    # Translators: column headers of `deskterm report ...` tables ("h": in hours, "fcr":
    # first-contact resolution, "nps": net promoter score).
    "group": N_("group"),
    "total": N_("total"),
    "oldest_days": N_("oldest days"),
    "priority": N_("priority"),
    "tickets": N_("tickets"),
    "response_met": N_("response met"),
    "response_missed": N_("response missed"),
    "response_pct": N_("response %"),
    "resolution_met": N_("resolution met"),
    "resolution_missed": N_("resolution missed"),
    "resolution_pct": N_("resolution %"),
    "analyst": N_("analyst"),
    "name": N_("name"),
    "level": N_("level"),
    "open": N_("open"),
    "resolved": N_("resolved"),
    "fcr_pct": N_("fcr %"),
    "median_response_h": N_("median response h"),
    "median_resolve_h": N_("median resolve h"),
    "surveys": N_("surveys"),
    "csat_answers": N_("csat answers"),
    "csat_mean": N_("csat mean"),
    "csat_pct": N_("csat %"),
    "nps_answers": N_("nps answers"),
    "nps": N_("nps"),
    "promoters": N_("promoters"),
    "detractors": N_("detractors"),
    "category": N_("category"),
    "opened": N_("opened"),
    "escalated": N_("escalated"),
    "escalated_pct": N_("escalated %"),
    "with_article": N_("with article"),
    "article_needed": N_("article needed"),
    "contact": N_("contact"),
    "contact_id": N_("contact id"),
    "organization": N_("organization"),
    "events": N_("events"),
    "minutes": N_("minutes"),
    "hours": N_("hours"),
}
#: The rows the reports name rather than count: the total, and what has no name.
_ROW_NAMES = {
    "TOTAL": N_("TOTAL"),
    "(no group)": N_("(no group)"),
    "(nobody)": N_("(nobody)"),
    "(none)": N_("(none)"),
    "(system)": N_("(system)"),
}


def _state(ctx: typer.Context) -> State:
    return ctx.obj


def _run(
    ctx: typer.Context,
    name: str,
    from_: str | None,
    to: str | None,
    fmt: str | None,
    **options: Any,
) -> None:
    from deskterm.desk.reports import REPORTS, day_range, desk_zone
    from deskterm.domain.errors import InvalidInput

    chosen = (fmt or ("table" if out.is_terminal else "csv")).strip().lower()
    if chosen not in _FORMATS:
        raise InvalidInput(
            _("unknown format {format!r}: use {formats}").format(
                format=fmt, formats=", ".join(_FORMATS)
            ),
            field="format",
        )
    # The backlog is what is open now; a period only narrows it when asked for.
    # Time is billed by the desk's days: a month's bill ends at the desk's midnight.
    zone = desk_zone() if name == "time" else UTC
    since, until = day_range(from_, to, default_days=None if name == "backlog" else 30, zone=zone)
    report = _state(ctx).desk().read(REPORTS[name], since=since, until=until, **options)
    if chosen == "json":
        print_json(
            {
                "report": report.name,
                "from": report.since.isoformat() if report.since else None,
                "until": report.until.isoformat() if report.until else None,
                "rows": report.records(),
            }
        )
    elif chosen == "csv":
        # The lists' writer: a category or name that looks like a formula stays text.
        print_csv(report.records(), list(report.columns))
    else:
        _table(report)


def _cell(value: Any, column: str = "") -> Text:
    """A figure as the analyst's locale writes it (``1.234,5`` in German); a share in per
    cent (the reports give ``93.5`` for 93.5 %)."""
    from rich.text import Text

    from deskterm.i18n import format_number, format_percent

    if value is None:
        return Text("-", style="dim")
    if isinstance(value, Decimal):
        return Text(format_number(float(value), digits=2))
    if isinstance(value, float | int) and not isinstance(value, bool) and column.endswith("_pct"):
        return Text(format_percent(value / 100, digits=0 if value == int(value) else 1))
    if isinstance(value, float):
        if abs(value) >= 10:
            return Text(format_number(value, digits=1))
        return Text(format_number(value))
    if isinstance(value, int):
        return Text(format_number(value))
    if isinstance(value, str) and value in _ROW_NAMES:
        return Text(_(_ROW_NAMES[value]))
    return literal(value)


def _header(column: str) -> str:
    label = _COLUMNS.get(column)
    return _(label) if label else column.replace("_", " ")


def _table(report: Report) -> None:
    from rich import box
    from rich.table import Table

    from deskterm.i18n import format_date

    period = ""
    if report.since or report.until:
        start = format_date(report.since.date()) if report.since else "…"
        # ``until`` is exclusive: the last day shown is the one before it.
        end = (report.until.date().toordinal() - 1) if report.until else None
        last = (
            format_date(type(report.until.date()).fromordinal(end))
            if report.until and end
            else _("now")
        )
        period = " · " + _("{start} to {last}").format(start=start, last=last)
    table = Table(
        title=literal(f"{report.title}{period}"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for index, column in enumerate(report.columns):
        numeric = any(isinstance(row[index], int | float | Decimal) for row in report.rows)
        table.add_column(
            _header(column),
            justify="right" if numeric else "left",
            no_wrap=index == 0,
            overflow="ellipsis",
        )
    for row in report.rows:
        total = row[0] == "TOTAL"
        table.add_row(
            *[_cell(v, c) for v, c in zip(row, report.columns, strict=True)],
            style="bold" if total else None,
        )
    if report.total is not None:
        table.add_section()
        table.add_row(
            *[_cell(v, c) for v, c in zip(report.total, report.columns, strict=True)],
            style="bold",
        )
    if not report.rows:
        out.print(literal(_("{title}: nothing to show.").format(title=f"{report.title}{period}")))
        return
    out.print(table)


@report_app.command("backlog", help=_("Open tickets by group: per priority and by age."))
def backlog(
    ctx: typer.Context, from_: FromOpt = None, to: ToOpt = None, fmt: FormatOpt = None
) -> None:
    _run(ctx, "backlog", from_, to, fmt)


@report_app.command(
    "sla",
    help=_("SLA compliance (response and resolution) per priority, tickets opened in the period."),
)
def sla(ctx: typer.Context, from_: FromOpt = None, to: ToOpt = None, fmt: FormatOpt = None) -> None:
    _run(ctx, "sla", from_, to, fmt)


@report_app.command(
    "analysts",
    help=_("Per analyst: open now, resolved, first-contact rate, median response and resolve."),
)
def analysts(
    ctx: typer.Context, from_: FromOpt = None, to: ToOpt = None, fmt: FormatOpt = None
) -> None:
    _run(ctx, "analysts", from_, to, fmt)


@report_app.command(
    "csat", help=_("Customer satisfaction (CSAT) and NPS per analyst, from surveys in the period.")
)
def csat(
    ctx: typer.Context, from_: FromOpt = None, to: ToOpt = None, fmt: FormatOpt = None
) -> None:
    _run(ctx, "csat", from_, to, fmt)


@report_app.command(
    "categories",
    help=_("Per category: opened, resolved, open, escalated, articles used and needed."),
)
def categories(
    ctx: typer.Context, from_: FromOpt = None, to: ToOpt = None, fmt: FormatOpt = None
) -> None:
    _run(ctx, "categories", from_, to, fmt)


@report_app.command(
    "time",
    help=_(
        "Minutes worked per analyst, contact or organization in the period (for billing: "
        "--format csv)."
    ),
)
def time(
    ctx: typer.Context,
    from_: FromOpt = None,
    to: ToOpt = None,
    by: Annotated[
        str, typer.Option("--by", help=_("analyst, contact or organization."))
    ] = "analyst",
    fmt: FormatOpt = None,
) -> None:
    _run(ctx, "time", from_, to, fmt, by=by)


def survey(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help=_("Ticket reference, e.g. DT-000123."))],
    csat_score: Annotated[
        int | None, typer.Option("--csat", help=_("Satisfaction, 1 (bad) to 5 (great)."))
    ] = None,
    nps_score: Annotated[
        int | None, typer.Option("--nps", help=_("Would recommend us, 0 to 10."))
    ] = None,
    via: Annotated[
        str, typer.Option(help=_("call (the closing call) or email (a reply)."))
    ] = "call",
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))] = False,
) -> None:
    # Its help is given where it is registered (deskterm/cli/__init__.py).
    from rich.text import Text

    from deskterm.desk.reports import record_survey

    result = (
        _state(ctx).desk().write(record_survey, ref=ref, csat=csat_score, nps=nps_score, via=via)
    )
    if as_json:
        print_json(result.to_json())
        return
    said = ", ".join(
        f"{name} {value}"
        for name, value in (("CSAT", result.csat), ("NPS", result.nps))
        if value is not None
    )
    line = Text()
    line.append(result.ref, style="bold")
    line.append(" ")
    line.append(_("survey recorded ({via}): {scores}").format(via=result.via, scores=said))
    out.print(line)
