"""``deskterm report ...``: the desk's figures as Rich tables, CSV or JSON; and
``deskterm survey``: the customer's CSAT and NPS answers for a resolved ticket."""

from __future__ import annotations

import csv
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deskterm.cli.common import State, literal, out, print_json

if TYPE_CHECKING:
    from rich.text import Text

    from deskterm.desk.reports import Report

report_app = typer.Typer(
    help="Reports: backlog, sla, analysts, csat, categories (supervisors).",
    no_args_is_help=True,
)

FromOpt = Annotated[
    str | None,
    typer.Option("--from", help="First day (YYYY-MM-DD, UTC); default 30 days before --to."),
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last day, included; default today.")]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="table, csv or json; default a table on a terminal and CSV when piped.",
    ),
]
_FORMATS = ("table", "csv", "json")


def _state(ctx: typer.Context) -> State:
    return ctx.obj


def _run(ctx: typer.Context, name: str, from_: str | None, to: str | None, fmt: str | None) -> None:
    from deskterm.desk.reports import REPORTS, day_range
    from deskterm.domain.errors import InvalidInput

    chosen = (fmt or ("table" if out.is_terminal else "csv")).strip().lower()
    if chosen not in _FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: use {', '.join(_FORMATS)}", field="format")
    # The backlog is what is open now; a period only narrows it when asked for.
    since, until = day_range(from_, to, default_days=None if name == "backlog" else 30)
    report = _state(ctx).desk().read(REPORTS[name], since=since, until=until)
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
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(report.columns)
        writer.writerows([["" if v is None else v for v in row] for row in report.rows])
    else:
        _table(report)


def _cell(value: Any) -> Text:
    from rich.text import Text

    if value is None:
        return Text("-", style="dim")
    if isinstance(value, float):
        return Text(f"{value:,.1f}" if abs(value) >= 10 else f"{value:g}")
    if isinstance(value, int):
        return Text(f"{value:,}")
    return literal(value)


def _table(report: Report) -> None:
    from rich import box
    from rich.table import Table

    period = ""
    if report.since or report.until:
        start = report.since.date().isoformat() if report.since else "…"
        # ``until`` is exclusive: the last day shown is the one before it.
        end = (report.until.date().toordinal() - 1) if report.until else None
        last = (
            type(report.until.date()).fromordinal(end).isoformat()
            if report.until and end
            else "now"
        )
        period = f" · {start} to {last}"
    table = Table(
        title=f"{report.title}{period}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    for index, column in enumerate(report.columns):
        numeric = any(isinstance(row[index], int | float) for row in report.rows)
        table.add_column(
            column.replace("_", " "),
            justify="right" if numeric else "left",
            no_wrap=index == 0,
            overflow="ellipsis",
        )
    for row in report.rows:
        total = row[0] == "TOTAL"
        table.add_row(*[_cell(v) for v in row], style="bold" if total else None)
    if not report.rows:
        out.print(f"{report.title}{period}: nothing to show.")
        return
    out.print(table)


@report_app.command("backlog")
def backlog(
    ctx: typer.Context, from_: FromOpt = None, to: ToOpt = None, fmt: FormatOpt = None
) -> None:
    """Open tickets by group: per priority and by age."""
    _run(ctx, "backlog", from_, to, fmt)


@report_app.command("sla")
def sla(ctx: typer.Context, from_: FromOpt = None, to: ToOpt = None, fmt: FormatOpt = None) -> None:
    """SLA compliance (response and resolution) per priority, tickets opened in the period."""
    _run(ctx, "sla", from_, to, fmt)


@report_app.command("analysts")
def analysts(
    ctx: typer.Context, from_: FromOpt = None, to: ToOpt = None, fmt: FormatOpt = None
) -> None:
    """Per analyst: open now, resolved, first-contact rate, median response and resolve."""
    _run(ctx, "analysts", from_, to, fmt)


@report_app.command("csat")
def csat(
    ctx: typer.Context, from_: FromOpt = None, to: ToOpt = None, fmt: FormatOpt = None
) -> None:
    """Customer satisfaction (CSAT) and NPS per analyst, from surveys in the period."""
    _run(ctx, "csat", from_, to, fmt)


@report_app.command("categories")
def categories(
    ctx: typer.Context, from_: FromOpt = None, to: ToOpt = None, fmt: FormatOpt = None
) -> None:
    """Per category: opened, resolved, open, escalated, articles used and needed."""
    _run(ctx, "categories", from_, to, fmt)


def survey(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Ticket reference, e.g. DT-000123.")],
    csat_score: Annotated[
        int | None, typer.Option("--csat", help="Satisfaction, 1 (bad) to 5 (great).")
    ] = None,
    nps_score: Annotated[
        int | None, typer.Option("--nps", help="Would recommend us, 0 to 10.")
    ] = None,
    via: Annotated[str, typer.Option(help="call (the closing call) or email (a reply).")] = "call",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Record the customer's answers for a resolved ticket (again: replaces them)."""
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
    line.append(f" survey recorded ({result.via}): {said}")
    out.print(line)
