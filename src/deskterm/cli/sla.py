"""``deskterm sla ...``: run the SLA check once (cron, a systemd timer) and read compliance."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import State, literal, out, print_json
from deskterm.i18n import _, format_number, format_percent, ngettext

if TYPE_CHECKING:
    from rich.text import Text

    from deskterm.desk.sla_check import CheckResult, ComplianceRow

sla_app = typer.Typer(
    help=_("Service levels: warnings, breaches, automatic escalation, compliance."),
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]


def _state(ctx: typer.Context) -> State:
    return ctx.obj


@sla_app.command(
    "check",
    help=_(
        "Log SLA warnings and breaches and apply the escalation rules, once.\n\n"
        "Runs as ``system`` (no analyst login needed), so cron or a systemd timer can run it "
        "every minute; running it again changes nothing until something new falls due."
    ),
)
def check(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    from rich.text import Text

    from deskterm.desk.sla_check import run_check

    result = run_check(_state(ctx).database())
    if as_json:
        print_json(_check_json(result))
        return
    out.print(
        # Translators: the summary of `deskterm sla check`; each part is counted below
        # ("3 tickets", "1 warning", ...).
        _("Looked at {tickets}: {warnings}, {breaches}, {rules} applied.").format(
            tickets=ngettext("{n} ticket", "{n} tickets", result.looked_at).format(
                n=result.looked_at
            ),
            warnings=ngettext("{n} warning", "{n} warnings", result.warnings).format(
                n=result.warnings
            ),
            breaches=ngettext("{n} breach", "{n} breaches", result.breaches).format(
                n=result.breaches
            ),
            rules=ngettext(
                "{n} escalation rule", "{n} escalation rules", len(result.firings)
            ).format(n=len(result.firings)),
        ),
        soft_wrap=True,
    )
    for alarm in result.alarms:
        line = Text(f"  {alarm.ref}  ")
        if alarm.clock == "response":
            what = _("response breached") if alarm.breach else _("response warning")
        elif alarm.clock == "resolution":
            what = _("resolution breached") if alarm.breach else _("resolution warning")
        else:
            what = f"{alarm.clock.replace('_', ' ')} " + (
                _("breached") if alarm.breach else _("warning")
            )
        line.append(what, style="bold red" if alarm.breach else "yellow")
        # The time as a log keeps it (cron mails are read with grep): ISO, in UTC.
        at = f"{alarm.at:%Y-%m-%d %H:%M} UTC"
        line.append(" " + _("(at {when})").format(when=at), style="dim")
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


@sla_app.command(
    "report",
    help=_(
        "SLA compliance of the tickets opened in a period, by priority and group "
        "(supervisors).\n\n"
        "A clock is met when the response (or resolution) came in time, breached when it came "
        "late or is overdue; open clocks are still running. Tickets count under the group that "
        "has them now; cancelled tickets are left out."
    ),
)
def report(
    ctx: typer.Context,
    from_: Annotated[
        str | None,
        typer.Option("--from", help=_("First day (YYYY-MM-DD, UTC); default 30 days before --to.")),
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help=_("Last day, included; default today."))
    ] = None,
    group: Annotated[str | None, typer.Option(help=_("Only this group's tickets."))] = None,
    as_json: JsonOpt = False,
) -> None:
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table

    from deskterm.desk.reports import day_range
    from deskterm.desk.sla_check import sla_report
    from deskterm.i18n import format_date

    since, until = day_range(from_, to, default_days=30)
    assert since is not None and until is not None
    result = _state(ctx).desk().read(sla_report, since=since, until=until, group=group)
    if as_json:
        print_json(result.to_json())
        return
    last_day = (until - timedelta(days=1)).date()
    table = Table(
        title=_("SLA compliance of tickets opened {start} to {last}").format(
            start=format_date(since), last=format_date(last_day)
        ),
        caption=_("met / late / still open, and the share met of those decided"),
        box=box.SIMPLE_HEAD,
    )
    group_header = _("Group")
    table.add_column(_("Pri"), no_wrap=True)
    table.add_column(group_header, overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column(_("Tickets"), justify="right", no_wrap=True)
    table.add_column(_("Response"), justify="right", no_wrap=True)
    table.add_column(_("Resolution"), justify="right", no_wrap=True)
    for row in result.rows:
        table.add_row(*_cells(row))
    if result.rows:
        table.add_section()
        for row in result.by_priority:
            table.add_row(*_cells(row, group=_("all groups")))
        table.add_row(*_cells(result.total, group=_("all groups")), style="bold")
    # On a narrow terminal only the group's name gives way; the figures are never cut.
    for column in table.columns:
        if column.header != group_header:
            widest = max((cell_len(str(c)) for c in column.cells), default=0)
            column.min_width = max(cell_len(str(column.header)), widest)
    out.print(table)
    if not result.rows:
        out.print(_("No tickets were opened in that period."))


def _cells(row: ComplianceRow, *, group: str | None = None) -> list[Text | str]:
    return [
        row.priority,
        literal(group or row.group or _("no group")),
        format_number(row.tickets),
        _clock(row.response_met, row.response_breached, row.response_open, row.response_share),
        _clock(
            row.resolution_met, row.resolution_breached, row.resolution_open, row.resolution_share
        ),
    ]


def _clock(met: int, late: int, running: int, share: float | None) -> Text:
    from rich.text import Text

    text = Text(f"{format_number(met)}/{format_number(late)}/{format_number(running)} ")
    if share is None:
        text.append("   -", style="dim")
    else:
        style = "" if share >= 0.9 else "yellow" if share >= 0.75 else "bold red"
        # Right-aligned to "100%" in the locale's way of writing it ("100 %" in German).
        shown = format_percent(share)
        text.append(shown.rjust(len(format_percent(1.0))), style=style)
    return text
