"""``deskterm view ...``: saved views (named queue filters) from a shell; their tickets with
``deskterm ticket list --view NAME``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import CsvOpt, State, fail, literal, not_blank, out, print_json, print_rows
from deskterm.i18n import _, pgettext

if TYPE_CHECKING:
    from deskterm.desk.saved_views import SavedViewPublic

view_app = typer.Typer(
    help=_("Saved views: named queue filters, each a tab of the queue."), no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]
NameArg = Annotated[str, typer.Argument(help=_("The view's name."))]


def _state(ctx: typer.Context) -> State:
    return ctx.obj


def _said(view: SavedViewPublic, what: str, as_json: bool) -> None:
    from rich.text import Text

    from deskterm.desk.saved_views import describe

    if as_json:
        print_json(view.to_json())
        return
    line = Text()
    line.append_text(literal(view.name))
    line.stylize("bold")
    line.append(f" {what} · ")
    if view.group:
        line.append_text(literal(_("shared with {group}").format(group=view.group)))
    else:
        line.append(_("yours"))
    line.append(" · ")
    line.append_text(literal(describe(view.filter)))
    out.print(line)


@view_app.command("add", help=_("Save a filter as a view: a new tab in your queue."))
def add(
    ctx: typer.Context,
    name: NameArg,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help=_("A status, 'open' (default), 'waiting' or 'all'; repeat for several."),
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(help=_("A group's tickets, or 'mine' for your groups."), callback=not_blank),
    ] = None,
    assignee: Annotated[
        str | None,
        typer.Option(help=_("A login, 'me', or 'none' for unassigned."), callback=not_blank),
    ] = None,
    priority: Annotated[
        str | None,
        typer.Option(help=_("P1, a range P1-P2 or a list 1,3."), callback=not_blank),
    ] = None,
    category: Annotated[
        str | None,
        typer.Option(help=_("A category and its sub-categories."), callback=not_blank),
    ] = None,
    sla: Annotated[
        str | None,
        typer.Option(help=_("breached, fine, or due:4h (due within 4 hours)."), callback=not_blank),
    ] = None,
    text: Annotated[
        str | None,
        typer.Option(
            help=_("A reference, or words of the subject, caller or holder."), callback=not_blank
        ),
    ] = None,
    callbacks_due: Annotated[
        bool, typer.Option("--callbacks-due", help=_("Only tickets with a callback due now."))
    ] = False,
    sort: Annotated[
        str, typer.Option(help=_("queue (priority, then SLA due), due, newest or oldest."))
    ] = "queue",
    share: Annotated[
        str | None,
        typer.Option(
            "--share",
            metavar="GROUP",
            help=_("Share it with this group of yours (supervisors)."),
            callback=not_blank,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.saved_views import create_view, make_filter

    view_filter = make_filter(
        statuses=status or (),
        group=group,
        assignee=assignee,
        priority=priority,
        category=category,
        sla=sla,
        text=text,
        callbacks_due=callbacks_due,
        sort=sort,
    )
    made = (
        _state(ctx).desk().write(create_view, name=name, view_filter=view_filter, share_with=share)
    )
    # Translators: what was done to a saved view, in "Urgent saved · yours · P1,P2"
    _said(made, _("saved"), as_json)


@view_app.command("list", help=_("Your views and those shared with your groups, with counts."))
def list_(ctx: typer.Context, as_json: JsonOpt = False, as_csv: CsvOpt = False) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from deskterm.desk.saved_views import describe, saved_view_counts
    from deskterm.desk.views import COUNT_CAP

    counted = _state(ctx).desk().read(saved_view_counts)
    records = [_Record(c.view, c.count, c.problem) for c in counted]
    if print_rows(records, as_json=as_json, as_csv=as_csv):
        return
    if not counted:
        out.print(_("No saved views yet: deskterm view add NAME --status ... --group ..."))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
    # Translators: column headers of `deskterm view list`.
    table.add_column(_("Name"), no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column(_("Count"), no_wrap=True, justify="right")
    table.add_column(_("Shared with"), no_wrap=True, overflow="ellipsis", max_width=20)
    table.add_column(pgettext("column", "Filter"), overflow="fold", ratio=1)
    for c in counted:
        if c.count is None:
            count = Text("?", style="red")
        else:
            count = Text(str(c.count) if c.count < COUNT_CAP else f"{COUNT_CAP}+")
        what = literal(describe(c.view.filter))
        if c.problem:
            what.append("  ")
            what.append_text(literal(c.problem))
            what.stylize("red", len(what) - len(c.problem), len(what))
        table.add_row(literal(c.view.name), count, literal(c.view.group or "-"), what)
    out.print(table)


class _Record:
    """A view as ``--json``/``--csv`` give it: its fields and its count."""

    def __init__(self, view: SavedViewPublic, count: int | None, problem: str | None) -> None:
        self.view, self.count, self.problem = view, count, problem

    def to_json(self) -> dict[str, object]:
        return {**self.view.to_json(), "count": self.count, "problem": self.problem}


@view_app.command("rename", help=_("Rename a view (a shared one: its group's supervisor)."))
def rename(
    ctx: typer.Context,
    name: NameArg,
    new_name: Annotated[str, typer.Argument(help=_("Its new name."))],
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.saved_views import rename_view

    done = _state(ctx).desk().write(rename_view, view=name, name=new_name)
    _said(done, _("renamed"), as_json)


@view_app.command("remove", help=_("Delete a view (a shared one: its group's supervisor)."))
def remove(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help=_("Do not ask first."))] = False,
    as_json: JsonOpt = False,
) -> None:
    import sys

    from deskterm.desk.saved_views import delete_view

    if not yes and sys.stdin.isatty():
        if not typer.confirm(_("Delete the view {name}?").format(name=name), default=False):
            fail(_("nothing deleted"), 1)
    gone = _state(ctx).desk().write(delete_view, view=name)
    _said(gone, _("deleted"), as_json)
