"""``deskterm call``: a phone call as the new-call screen saves it, from a script.

One call, several problems: one ticket each, all saved or none, the first carrying the call
and every other linked to it as split from the same call, each with the article that solved
it linked ("solved with"): the same transaction as the app's ``ctrl+s``
(``desk.intake.record_call``). ``--to REF`` adds problems to a call already saved, as the
app's "another problem from this call".
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import CsvOpt, State, literal, out, print_json, print_rows, read_text
from deskterm.cli.tickets import AnonymousOpt, CallerOpt, JsonOpt
from deskterm.i18n import N_, _

if TYPE_CHECKING:
    from collections.abc import Sequence

    from deskterm.desk.intake import Problem
    from deskterm.desk.schemas import TicketPublic

call_app = typer.Typer(
    help=_("Save a phone call with one ticket per problem, as the new-call screen does."),
    no_args_is_help=True,
)

#: What a problem may say in the file: the ``Problem`` field each fills, the JSON types it
#: takes, and how a wrong one is named.
_KEYS: dict[str, tuple[str, tuple[type, ...], str]] = {
    # Translators: what a key of a problem in a JSON file must be: "'subject' must be text".
    "subject": ("subject", (str,), N_("text")),
    "description": ("description", (str,), N_("text")),
    "category": ("category", (str,), N_("text")),
    "asset": ("asset_id", (int,), N_("a number (the asset's id)")),
    "impact": ("impact", (str,), N_("text")),
    "urgency": ("urgency", (str,), N_("text")),
    "article": ("article", (str, int), N_("an article's key (KB-12) or id")),
}


def _problems(text: str, where: str) -> list[Problem]:
    """The problems a file lists, each checked for keys it should not have."""
    from deskterm.desk.intake import Problem
    from deskterm.domain.errors import InvalidInput

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            _("{where} is not JSON (line {line}, column {column}: {error})").format(
                where=where, line=exc.lineno, column=exc.colno, error=exc.msg
            ),
            field="problems",
        ) from None
    items = [data] if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidInput(
            _("{where}: give a problem as an object, or a list of them ({example})").format(
                where=where, example='[{"subject": "...", "impact": "high"}]'
            ),
            field="problems",
        )
    problems = []
    for number, item in enumerate(items, start=1):
        unknown = sorted(set(item) - set(_KEYS))
        if unknown:
            raise InvalidInput(
                _("problem {number}: {keys} is not a problem's key (known: {known})").format(
                    number=number, keys=", ".join(map(repr, unknown)), known=", ".join(_KEYS)
                ),
                field="problems",
            )
        given = {key: value for key, value in item.items() if value is not None}
        for key, value in given.items():
            kinds, said = _KEYS[key][1:]
            # JSON's true and false are Python ints: never an id.
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise InvalidInput(
                    _("problem {number}: {key!r} must be {kind}").format(
                        number=number, key=key, kind=_(said)
                    ),
                    field="problems",
                )
        problems.append(Problem(**{_KEYS[key][0]: value for key, value in given.items()}))
    return problems


@call_app.command(
    "save", help=_("Save a call: one ticket per problem, all or none, linked as one call.")
)
def save(
    ctx: typer.Context,
    problems: Annotated[
        str,
        typer.Argument(
            help=_(
                "A JSON file of the problems ('-' for standard input): a list of objects "
                "with subject, and any of description, category, asset, impact, urgency, "
                "article."
            )
        ),
    ],
    contact: CallerOpt = None,
    anonymous: AnonymousOpt = False,
    seconds: Annotated[
        int | None, typer.Option("--seconds", help=_("How long the call ran, in seconds."))
    ] = None,
    minutes: Annotated[
        int | None,
        typer.Option(
            "--minutes",
            metavar="N",
            help=_(
                "Minutes you worked on the call, on its first ticket (default: --seconds, "
                "rounded up)."
            ),
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help=_(
                "A ticket of a call already saved: add these problems to that call "
                "(its caller; --seconds is how long the call ran on since)."
            ),
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help=_(
                "A key of the script's own for this call (8-64 letters, digits, - or _): "
                "the same key saved again opens nothing and prints the call's tickets, so a "
                "script may retry a save whose answer it lost."
            ),
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.intake import add_to_call, record_call
    from deskterm.desk.saved_calls import check_key, save_call
    from deskterm.domain.errors import InvalidInput

    named = bool(contact and contact.strip())
    if to is not None and (named or anonymous):
        raise InvalidInput(
            _(
                "--to adds to a saved call and takes its caller: leave out --contact and "
                "--anonymous"
            ),
            field="contact",
        )
    if to is None and anonymous == named:
        raise InvalidInput(
            _("give the caller with --contact, or not both")
            if anonymous
            else _("give the caller with --contact, or --anonymous if the caller gave no name"),
            field="contact",
        )
    if key is not None:
        check_key(key)
    where = _("standard input") if problems == "-" else problems
    listed = _problems(read_text(problems, field="problems"), where)
    state: State = ctx.obj
    desk = state.desk()
    earlier = False
    saved: Sequence[TicketPublic]
    if key is not None:
        result = desk.write(
            save_call,
            key=key,
            problems=listed,
            contact=contact if named else None,
            call=to,
            call_seconds=seconds,
            minutes=minutes,
        )
        saved, earlier = result.tickets, result.earlier
    elif to is not None:
        saved = desk.write(
            add_to_call, call=to, problems=listed, call_seconds=seconds, minutes=minutes
        )
    else:
        saved = desk.write(
            record_call,
            problems=listed,
            contact=contact if named else None,
            call_seconds=seconds,
            minutes=minutes,
        )
    if as_json:
        print_json([ticket.to_json() for ticket in saved])
        return
    from rich.text import Text

    from deskterm.domain.enums import status_label

    for ticket in saved:
        line = Text()
        line.append(ticket.ref, style="bold")
        # Translators: what was done to a ticket, in "DT-000123 opened · new · P3 · ..."
        said = _("saved before under this key") if earlier else _("opened")
        line.append(f" {said} · {status_label(ticket.status)} · {ticket.priority} · ")
        line.append(ticket.assignee or _("unassigned"))
        line.append(" · ")
        line.append_text(literal(ticket.group or _("no group")))
        line.append(" · ")
        line.append_text(literal(ticket.subject))
        out.print(line, soft_wrap=True)


@call_app.command(
    "list", help=_("The phone system's call log (`deskterm serve cti`), newest first.")
)
def call_list(
    ctx: typer.Context,
    missed: Annotated[
        bool, typer.Option("--missed", help=_("Only calls nobody answered, newest first."))
    ] = False,
    limit: Annotated[int, typer.Option(help=_("At most this many calls."), min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from rich.text import Text

    from deskterm.cli.common import when
    from deskterm.desk.cti import list_calls
    from deskterm.i18n import format_duration

    state: State = ctx.obj
    rows = state.desk().read(list_calls, missed=missed, limit=limit)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_calls):
        return
    if not rows:
        out.print(_("no missed calls") if missed else _("no calls yet"))
    for call in rows:
        line = Text()
        line.append(when(call.started_at), style="bold")
        line.append(f" {call.direction} ")
        line.append_text(literal(call.caller_number or _("unknown number")))
        line.append(" · ")
        line.append_text(literal(call.contact or _("unknown caller")))
        line.append(" · ")
        line.append_text(literal(call.analyst or _("nobody")))
        line.append(f" · {call.outcome or call.state}")
        if call.duration_seconds:
            line.append(f" · {format_duration(call.duration_seconds)}")
        if call.called_back_at:
            line.append(" · ")
            line.append_text(
                literal(_("called back by {name}").format(name=call.called_back_by or _("someone")))
            )
        out.print(line, soft_wrap=True)
