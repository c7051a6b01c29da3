"""``deskterm keys``: the app's keys in force, and an analyst's own moved (issue 21).

The analyst's keys win over the desk's ``[keys]`` (deskterm.toml), which win over the app's
defaults. ``set`` refuses what ``deskterm config check`` refuses: an unknown id, a key
Textual would not know, and two actions on one key where both would be live.
"""

from __future__ import annotations

from typing import Annotated

import typer

from deskterm.cli.common import State, literal, out, print_json
from deskterm.i18n import _, ngettext

keys_app = typer.Typer(
    help=_(
        "Your own keys: every key of the app by its binding id (pull_next, new_call...), "
        "moved for you or, in \\[keys] of deskterm.toml, for the desk."
    ),
    no_args_is_help=True,
)

AnalystOpt = Annotated[
    str | None,
    typer.Option(
        "--analyst",
        metavar="LOGIN",
        help=_("Another analyst's keys (supervisors and admins; default: yours)."),
    ),
]


def _desk_keymap() -> dict[str, str]:
    from deskterm.config import load_settings

    return load_settings().keys.keymap()


@keys_app.command(
    "list",
    help=_(
        "Every binding id with the keys in force, the default, and where they come from "
        "(default, desk or analyst)."
    ),
)
def keys_list(
    ctx: typer.Context,
    analyst: AnalystOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))] = False,
) -> None:
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table

    from deskterm.desk.keymaps import analyst_keymap, display_keys, keys_in_force
    from deskterm.tui.keymap import app_bindings

    state: State = ctx.obj
    own = state.desk().read(analyst_keymap, login=analyst)
    rows = keys_in_force(app_bindings(), _desk_keymap(), own)
    if as_json:
        print_json(
            [
                {
                    "id": row.id,
                    "keys": row.keys,
                    "default": row.default,
                    "source": row.source,
                    "where": list(row.places),
                    "description": row.description,
                }
                for row in rows
            ]
        )
        return
    sources = {"default": _("default"), "desk": _("desk"), "analyst": _("analyst")}
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    # The id and keys keep their width (what `keys set` takes); where and what give way.
    cells = [
        (
            row.id,
            display_keys(row.keys),
            display_keys(row.default),
            sources[row.source],
            ", ".join(row.places),
            _(row.description),
        )
        for row in rows
    ]
    for index, column in enumerate((_("Id"), _("Keys"), _("Default"), _("Set in"))):
        width = max(cell_len(c) for c in [column, *(line[index] for line in cells)])
        table.add_column(column, no_wrap=True, min_width=width)
    table.add_column(_("What it does"), overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column(_("Where"), overflow="ellipsis", no_wrap=True, ratio=1)
    for binding_id, keys, default, source, where, what in cells:
        table.add_row(binding_id, literal(keys), literal(default), source, literal(what), where)
    out.print(table)


@keys_app.command(
    "set",
    help=_(
        "Move a binding to other keys (`deskterm keys set pull_next n`; several keys "
        "comma-separated): yours, or with --analyst someone's (supervisors)."
    ),
)
def keys_set(
    ctx: typer.Context,
    binding_id: Annotated[str, typer.Argument(metavar="ID", help=_("The binding's id."))],
    keys: Annotated[str, typer.Argument(metavar="KEYS", help=_("The keys: n, ctrl+k, f5, ?"))],
    analyst: AnalystOpt = None,
) -> None:
    from deskterm.desk.keymaps import (
        analyst_keymap,
        binding_ids,
        check_id,
        display_keys,
        find_conflicts,
        merged,
        parse_keys,
        set_analyst_key,
    )
    from deskterm.domain.errors import InvalidInput
    from deskterm.tui.keymap import app_bindings

    state: State = ctx.obj
    bindings = app_bindings()
    known = check_id(binding_id.strip(), binding_ids(bindings))
    try:
        clean = parse_keys(keys)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="keys") from None
    desk = state.desk()
    own = desk.read(analyst_keymap, login=analyst)
    keymap = merged(_desk_keymap(), {**own, known: clean})
    conflicts = [c for c in find_conflicts(bindings, keymap) if known in (c.first, c.second)]
    # A clash with a key the desk or the analyst moved first: that is the one they look for.
    conflicts.sort(key=lambda c: ({c.first, c.second} - {known}).isdisjoint(keymap))
    if conflicts:
        raise InvalidInput(conflicts[0].line(), field="keys")
    saved = desk.write(set_analyst_key, binding_id=known, keys=clean, login=analyst)
    out.print(
        literal(
            _("{id} is now on {keys} (in the next app you open)").format(
                id=known, keys=display_keys(saved)
            )
        )
    )


@keys_app.command(
    "reset",
    help=_("Back to the desk's keys (or the defaults): one binding, or all you moved."),
)
def keys_reset(
    ctx: typer.Context,
    binding_id: Annotated[
        str | None,
        typer.Argument(metavar="[ID]", help=_("The binding's id (default: all).")),
    ] = None,
    analyst: AnalystOpt = None,
) -> None:
    from deskterm.desk.keymaps import binding_ids, check_id, reset_analyst_keys
    from deskterm.tui.keymap import app_bindings

    state: State = ctx.obj
    known = None
    if binding_id is not None:
        known = check_id(binding_id.strip(), binding_ids(app_bindings()))
    count = state.desk().write(reset_analyst_keys, binding_id=known, login=analyst)
    if known is not None:
        said = (
            _("{id} is back on the desk's keys").format(id=known)
            if count
            else _("{id} was not moved: nothing to reset").format(id=known)
        )
    else:
        said = ngettext(
            "{n} binding back on the desk's keys", "{n} bindings back on the desk's keys", count
        ).format(n=count)
    out.print(literal(said))
