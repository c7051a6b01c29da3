"""``deskterm sla ...``: run the SLA check once (cron, a systemd timer) and read compliance."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import State, literal, out, print_json

if TYPE_CHECKING:
    from rich.text import Text

    from deskterm.desk.sla_check import CheckResult, ComplianceRow

sla_app = typer.Typer(
    help="Service levels: warnings, breaches, automatic escalation, compliance.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _state(ctx: typer.Context) -> State:
    return ctx.obj


@sla_app.command("check")
def check(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Log SLA warnings and breaches and apply the escalation rules, once.

    Runs as ``system`` (no analyst login needed), so cron or a systemd timer can run it every
    minute; running it again changes nothing until something new falls due.
    """
    from rich.text import Text

    from deskterm.desk.sla_check import run_check

    result = run_check(_state(ctx).database())
    if as_json:
        print_json(_check_json(result))
        return
    out.print(
        f"Looked at {result.looked_at} ticket{'s' if result.looked_at != 1 else ''}: "
        f"{result.warnings} warning{'s' if result.warnings != 1 else ''}, "
        f"{result.breaches} breach{'es' if result.breaches != 1 else ''}, "
        f"{len(result.firings)} escalation rule{'s' if len(result.firings) != 1 else ''} applied.",
        soft_wrap=True,
    )
    for alarm in result.alarms:
        line = Text(f"  {alarm.ref}  ")
        what = "breached" if alarm.breach else "warning"
        line.append(
            f"{alarm.clock.replace('_', ' ')} {what}",
            style="bold red" if alarm.breach else "yellow",
        )
        line.append(f" (at {alarm.at:%Y-%m-%d %H:%M} UTC)", style="dim")
        # One line per event, never wrapped: cron mails and logs are read with grep.
        out.print(line, soft_wrap=True)
    for firing in result.firings:
        line = Text(f"  {firing.ref}  ")
        line.append_text(literal(f"{firing.reason}: {firing.summary}"))
        out.print(line, soft_wrap=True)


def _check_json(result: CheckResult) -> dict[str, object]:
    data = result.to_json()
    data["warnings"] = result.warnings
    data["breaches"] = result.breaches
    return data


@sla_app.command("report")
def report(
    ctx: typer.Context,
    from_: Annotated[
        str | None,
        typer.Option("--from", help="First day (YYYY-MM-DD, UTC); default 30 days before --to."),
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Last day, included; default today.")
    ] = None,
    group: Annotated[str | None, typer.Option(help="Only this group's tickets.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """SLA compliance of the tickets opened in a period, by priority and group (supervisors).

    A clock is met when the response (or resolution) came in time, breached when it came late
    or is overdue; open clocks are still running. Tickets count under the group that has them
    now; cancelled tickets are left out.
    """
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table

    from deskterm.desk.reports import day_range
    from deskterm.desk.sla_check import sla_report

    since, until = day_range(from_, to, default_days=30)
    assert since is not None and until is not None
    result = _state(ctx).desk().read(sla_report, since=since, until=until, group=group)
    if as_json:
        print_json(result.to_json())
        return
    last_day = (until - timedelta(days=1)).date()
    table = Table(
        title=f"SLA compliance of tickets opened {since:%Y-%m-%d} to {last_day:%Y-%m-%d}",
        caption="met / late / still open, and the share met of those decided",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("Pri", no_wrap=True)
    table.add_column("Group", overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column("Tickets", justify="right", no_wrap=True)
    table.add_column("Response", justify="right", no_wrap=True)
    table.add_column("Resolution", justify="right", no_wrap=True)
    for row in result.rows:
        table.add_row(*_cells(row))
    if result.rows:
        table.add_section()
        for row in result.by_priority:
            table.add_row(*_cells(row, group="all groups"))
        table.add_row(*_cells(result.total, group="all groups"), style="bold")
    # On a narrow terminal only the group's name gives way; the figures are never cut.
    for column in table.columns:
        if column.header != "Group":
            widest = max((cell_len(str(c)) for c in column.cells), default=0)
            column.min_width = max(cell_len(str(column.header)), widest)
    out.print(table)
    if not result.rows:
        out.print("No tickets were opened in that period.")


def _cells(row: ComplianceRow, *, group: str | None = None) -> list[Text | str]:
    return [
        row.priority,
        literal(group or row.group or "no group"),
        str(row.tickets),
        _clock(row.response_met, row.response_breached, row.response_open, row.response_share),
        _clock(
            row.resolution_met, row.resolution_breached, row.resolution_open, row.resolution_share
        ),
    ]


def _clock(met: int, late: int, running: int, share: float | None) -> Text:
    from rich.text import Text

    text = Text(f"{met}/{late}/{running} ")
    if share is None:
        text.append("   -", style="dim")
    else:
        style = "" if share >= 0.9 else "yellow" if share >= 0.75 else "bold red"
        text.append(f"{share * 100:3.0f}%", style=style)
    return text
