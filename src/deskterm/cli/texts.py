"""``deskterm text ...``: text modules (canned answers) from a shell."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import (
    CsvOpt,
    State,
    literal,
    out,
    print_json,
    print_rows,
    read_text,
    when,
)
from deskterm.i18n import _

if TYPE_CHECKING:
    from deskterm.desk.texts import TextModulePublic

text_app = typer.Typer(
    help=_(
        "Text modules: canned answers with variables, inserted in notes by typing '::' "
        "and a few letters."
    ),
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]
NameArg = Annotated[str, typer.Argument(help=_("The module's name, one word (e.g. greeting)."))]
GroupOpt = Annotated[
    str | None,
    typer.Option(
        "--group", "-g", help=_("A support group's module (default: your own, personal one).")
    ),
]
EveryoneOpt = Annotated[
    bool, typer.Option("--everyone", help=_("The module for everyone (admins manage those)."))
]
OwnerOpt = Annotated[
    str | None,
    typer.Option(
        "--owner",
        help=_("An analyst's personal module, by login (admins: to clear out one who left)."),
    ),
]
BodyOpt = Annotated[
    str | None,
    typer.Option(
        "--body",
        "-b",
        help=_(
            "The text ('-' reads standard input). Variables: {{ contact.first_name }}, "
            "{{ contact.name }}, {{ ticket.ref }}, {{ ticket.subject }}, {{ ticket.group }}, "
            "{{ me.name }}, {{ me.first_name }}."
        ),
    ),
]


def _state(ctx: typer.Context) -> State:
    return ctx.obj


def _body(body: str | None) -> str | None:
    return read_text("-", field="body") if body == "-" else body


def _said(module: TextModulePublic, what: str, as_json: bool, *, theirs: bool = False) -> None:
    from rich.text import Text

    if as_json:
        print_json(module.to_json())
        return
    line = Text()
    line.append(module.name, style="bold")
    line.append(f" {what} · ")
    line.append_text(literal(scope_label(module, theirs=theirs)))
    out.print(line)


def scope_label(module: TextModulePublic, *, theirs: bool = False) -> str:
    """Whose module it is, as the reader says it: "mine" (``theirs``: the owner's login),
    the group, "everyone"."""
    if module.scope == "personal":
        # Translators: whose text module it is, in `deskterm text list`: your own.
        return (module.owner or "") if theirs else _("mine")
    if module.group:
        return module.group
    # Translators: whose text module it is: the one for every analyst.
    return _("everyone")


@text_app.command(
    "add",
    help=_(
        "Write a new text module: your own, or a group's (its supervisors) or everyone's (admins)."
    ),
)
def add(
    ctx: typer.Context,
    name: NameArg,
    body: BodyOpt = None,
    group: GroupOpt = None,
    everyone: EveryoneOpt = False,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.texts import add_text

    text = _body(body)
    if text is None:
        raise typer.BadParameter(_("give the text with --body (or --body - to read stdin)"))
    module = (
        _state(ctx).desk().write(add_text, name=name, body=text, group=group, everyone=everyone)
    )
    # Translators: what was done to a text module: "greeting added · everyone".
    _said(module, _("added"), as_json)


@text_app.command(
    "edit",
    help=_(
        "Change a text module; only what is given changes (without --group or --everyone: "
        "yours, else the one you see by that name)."
    ),
)
def edit(
    ctx: typer.Context,
    name: NameArg,
    body: BodyOpt = None,
    rename: Annotated[
        str | None, typer.Option("--name", help=_("A new name for the module."))
    ] = None,
    group: GroupOpt = None,
    everyone: EveryoneOpt = False,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.texts import edit_text

    module = (
        _state(ctx)
        .desk()
        .write(
            edit_text,
            name=name,
            body=_body(body),
            new_name=rename,
            group=group,
            everyone=everyone,
        )
    )
    _said(module, _("saved"), as_json)


@text_app.command("remove", help=_("Delete a text module."))
def remove(
    ctx: typer.Context,
    name: NameArg,
    group: GroupOpt = None,
    everyone: EveryoneOpt = False,
    owner: OwnerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.texts import remove_text

    module = (
        _state(ctx)
        .desk()
        .write(remove_text, name=name, group=group, everyone=everyone, owner=owner)
    )
    _said(module, _("removed"), as_json, theirs=bool(owner))


@text_app.command("list", help=_("The text modules you can insert, by name."))
def list_(
    ctx: typer.Context,
    owner: OwnerOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from deskterm.desk.texts import list_texts

    rows = _state(ctx).desk().read(list_texts, owner=owner)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_texts):
        return
    if not rows:
        out.print(_("No text modules yet: add one with `deskterm text add NAME --body TEXT`."))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
    # Translators: column headers of `deskterm text list`.
    table.add_column(_("Name"), no_wrap=True)
    table.add_column(_("For"), no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column(_("Text"), no_wrap=True, overflow="ellipsis", ratio=1, style="dim")
    table.add_column(_("Changed"), no_wrap=True)
    for row in rows:
        table.add_row(
            Text(row.name, style="bold"),
            literal(scope_label(row, theirs=bool(owner))),
            literal(" ".join(row.body.split())),
            when(row.updated_at),
        )
    out.print(table)


@text_app.command("show", help=_("Print a text module's text as it was written."))
def show(
    ctx: typer.Context,
    name: NameArg,
    group: GroupOpt = None,
    everyone: EveryoneOpt = False,
    owner: OwnerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.texts import show_text

    module = (
        _state(ctx).desk().read(show_text, name=name, group=group, everyone=everyone, owner=owner)
    )
    if as_json:
        print_json(module.to_json())
        return
    # As written: a long line is the terminal's to wrap, not cut into lines here.
    out.print(literal(module.body), soft_wrap=True)


@text_app.command(
    "render",
    help=_("Print a text module filled in for a ticket's caller and you (what '::' inserts)."),
)
def render(
    ctx: typer.Context,
    name: NameArg,
    ticket: Annotated[
        str, typer.Option("--ticket", "-t", help=_("Ticket reference, e.g. DT-000123."))
    ],
    group: GroupOpt = None,
    everyone: EveryoneOpt = False,
) -> None:
    from deskterm.desk.texts import render_text

    text = (
        _state(ctx)
        .desk()
        .read(render_text, name=name, ticket=ticket, group=group, everyone=everyone)
    )
    out.print(literal(text), soft_wrap=True)
