"""``deskterm ticket ...``: tickets for scripting and quick work from a shell."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import (
    CsvOpt,
    State,
    age,
    due_in,
    fail,
    literal,
    not_blank,
    out,
    print_json,
    print_rows,
    quoted,
    when,
)
from deskterm.i18n import N_, _, ngettext, pgettext
from deskterm.looks import fill

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Group
    from rich.text import Text

    from deskterm.desk.schemas import EventPublic, TicketDetail, TicketPublic
    from deskterm.domain.payloads import CustomerMessage

ticket_app = typer.Typer(help=_("Open, find, read and work tickets."), no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]
CallerOpt = Annotated[
    str | None,
    typer.Option(
        "--contact",
        "-c",
        help=_("The caller: id (#12), phone (or 4+ of its digits), email or exact name."),
    ),
]
AnonymousOpt = Annotated[
    bool,
    typer.Option("--anonymous", help=_("The caller gave no name: open it without a contact.")),
]
ExpectOpt = Annotated[
    int | None,
    typer.Option(
        "--expect-version",
        metavar="N",
        # Versions count from 1; -1 used to reach the desk and come back as a conflict.
        min=1,
        help=_("Refuse if the ticket changed since version N (optimistic locking for scripts)."),
    ),
]
RefArg = Annotated[str, typer.Argument(help=_("Ticket reference, e.g. DT-000123 or 123."))]
#: Minutes worked, checked by the desk (``domain.worked``) so every face refuses alike.
MinutesOpt = Annotated[
    int | None,
    typer.Option(
        "--minutes", metavar="N", help=_("Minutes you worked on it (0 to 1440), for time reports.")
    ),
]


def _state(ctx: typer.Context) -> State:
    return ctx.obj


def _done(ticket: TicketPublic, said: str, as_json: bool) -> None:
    """``DT-000123 opened · new · P3 · unassigned · Service Desk``: what was done (``said``,
    translated by the caller), then the ticket's state."""
    from rich.text import Text

    from deskterm.domain.enums import status_label

    if as_json:
        print_json(ticket.to_json())
        return
    line = Text()
    line.append(ticket.ref, style="bold")
    line.append(f" {said} · {status_label(ticket.status)} · {ticket.priority} · ")
    line.append(ticket.assignee or _("unassigned"))
    line.append(" · ")
    line.append_text(literal(ticket.group or _("no group")))
    out.print(line)


# Translators: the values an option takes (high, medium, low) are typed as they are.
_LEVELS_HELP = N_("high, medium or low.")


@ticket_app.command("new", help=_("Open a ticket; priority follows from impact and urgency."))
def new(
    ctx: typer.Context,
    subject: Annotated[str, typer.Option("--subject", "-s", help=_("One line: what is wrong."))],
    contact: CallerOpt = None,
    anonymous: AnonymousOpt = False,
    description: Annotated[
        str, typer.Option("--description", "-d", help=_("The whole story, as told."))
    ] = "",
    category: Annotated[
        str | None, typer.Option(help=_("Category path, e.g. 'Hardware > Printer'."))
    ] = None,
    impact: Annotated[str, typer.Option(help=_(_LEVELS_HELP))] = "medium",
    urgency: Annotated[str, typer.Option(help=_(_LEVELS_HELP))] = "medium",
    priority: Annotated[
        str | None,
        typer.Option(help=_("Override the matrix (P1-P5); needs --reason."), callback=not_blank),
    ] = None,
    reason: Annotated[str | None, typer.Option(help=_("Why the priority is overridden."))] = None,
    channel: Annotated[
        str, typer.Option(help=_("phone, email, chat, sms, walk-in or portal."))
    ] = "phone",
    group: Annotated[
        str | None, typer.Option(help=_("Route to this group's queue (default: your group)."))
    ] = None,
    assign: Annotated[
        str,
        typer.Option(
            "--assign",
            help=_("auto (keep it unless routed away), me, none, or a login."),
        ),
    ] = "auto",
    asset: Annotated[int | None, typer.Option(help=_("Asset id of the contact's device."))] = None,
    call_seconds: Annotated[
        int | None, typer.Option(help=_("Length of the call that opened it, in seconds."))
    ] = None,
    split_from: Annotated[
        str | None,
        typer.Option(help=_("Another ticket from the same call (they are linked).")),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.tickets import create_ticket
    from deskterm.domain.errors import InvalidInput

    # A nameless ticket is a choice, never an omission (the app asks the same).
    if anonymous == bool(contact and contact.strip()):
        raise InvalidInput(
            _("give the caller with --contact, or not both")
            if anonymous
            else _("give the caller with --contact, or --anonymous if the caller gave no name"),
            field="contact",
        )
    ticket = (
        _state(ctx)
        .desk()
        .write(
            create_ticket,
            subject=subject,
            description=description,
            contact=contact,
            asset_id=asset,
            category=category,
            impact=impact,
            urgency=urgency,
            priority=priority,
            priority_reason=reason,
            channel=channel,
            group=group,
            assignee=assign,
            call_seconds=call_seconds,
            split_from=split_from,
        )
    )
    if as_json:
        print_json(_detail_json(ticket))
        return
    # Translators: what was done to a ticket, in "DT-000123 opened · new · P3 · ..."
    _done(ticket, _("opened"), False)


@ticket_app.command("list", help=_("List tickets, most urgent first."))
def list_(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help=_("A status, 'open' (default), 'waiting' or 'all'; repeat for several."),
        ),
    ] = None,
    group: Annotated[str | None, typer.Option(help=_("Only this group's tickets."))] = None,
    assignee: Annotated[
        str | None, typer.Option(help=_("A login, 'me', or 'none' for unassigned."))
    ] = None,
    priority: Annotated[
        str | None, typer.Option(help=_("Only this priority (P1-P5)."), callback=not_blank)
    ] = None,
    sort: Annotated[
        str, typer.Option(help=_("urgent (priority, then SLA due) or newest."))
    ] = "urgent",
    limit: Annotated[int, typer.Option(help=_("At most this many (1-1000)."))] = 50,
    view: Annotated[
        str | None,
        typer.Option(
            "--view",
            help=_("A saved view's tickets, in its order, as its tab shows them."),
            callback=not_blank,
        ),
    ] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.rows import list_tickets

    if view is not None:
        if any((status, group, assignee, priority, sort != "urgent")):
            fail(
                _(
                    "--view keeps its own filter and order: leave out --status, --group, "
                    "--assignee, --priority and --sort"
                ),
                2,
            )
        from deskterm.desk.saved_views import saved_view_rows

        found = _state(ctx).desk().read(saved_view_rows, view=view, limit=limit)
        if not print_rows(found, as_json=as_json, as_csv=as_csv, of=saved_view_rows):
            _print_tickets(found)
        return
    rows = (
        _state(ctx)
        .desk()
        .read(
            list_tickets,
            statuses=status or ["open"],
            group=group,
            assignee=assignee,
            priority=priority,
            sort=sort,
            limit=limit,
        )
    )
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_tickets):
        return
    _print_tickets(rows)


@ticket_app.command(
    "search",
    help=_(
        "Find tickets, open or closed, by the words of their subject or description, newest first."
    ),
)
def search(
    ctx: typer.Context,
    words: Annotated[
        list[str] | None,
        typer.Argument(
            help=_(
                "Words of the subject or description; all must match, the last may be the "
                "start of a word."
            ),
            show_default=False,
        ),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help=_("A status, 'open', 'waiting' or 'all' (default); repeat for several."),
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help=_("At most this many (1-200)."))] = 50,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.kb import search_words
    from deskterm.desk.search import search_tickets

    query = " ".join(words or ())
    if not query.strip():
        fail(_("no words to search for: e.g. deskterm ticket search vpn error 809"), code=2)
    if not search_words(query):
        # Words given, none searchable ('*', '"?"'): bad input, not a usage slip.
        fail(
            _(
                "{query} holds no word to search for: give words of letters or digits, "
                "all must match and the last may be the start of one (no * or other operators), "
                "e.g. deskterm ticket search vpn err"
            ).format(query=quoted(query)),
            code=1,
        )
    rows = (
        _state(ctx)
        .desk()
        .read(search_tickets, query=query, statuses=status or ["all"], limit=limit)
    )
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=search_tickets):
        return
    _print_tickets(rows, empty=_("No ticket holds all of these words."))


def _print_tickets(rows: Sequence[TicketPublic], *, empty: str | None = None) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not rows:
        out.print(empty or _("No tickets match."))
        return
    # On a narrow terminal the contact and age give way, so the subject stays readable.
    wide = out.width >= 100
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
    # Translators: column headers of `deskterm ticket list`: reference, priority, ...
    table.add_column(_("Ref"), no_wrap=True, min_width=9)
    # Translators: column header, short for priority (P1-P5).
    table.add_column(_("Pri"), no_wrap=True, min_width=3)
    table.add_column(_("Status"), no_wrap=True, min_width=8)
    table.add_column(_("SLA"), no_wrap=True, justify="right", min_width=4)
    table.add_column(_("Subject"), no_wrap=True, overflow="ellipsis", ratio=3, min_width=16)
    if wide:
        table.add_column(_("Contact"), no_wrap=True, overflow="ellipsis", ratio=1, min_width=10)
    table.add_column(_("Assignee"), no_wrap=True, overflow="ellipsis", max_width=12)
    if wide:
        table.add_column(_("Age"), no_wrap=True, justify="right", min_width=3)
    for t in rows:
        cells: list[str | Text] = [
            t.ref,
            _priority_text(t.priority),
            status_short(t.status),
            Text("-")
            if t.status in _DONE
            else Text(pgettext("SLA clock", "paused"), style="dim")
            if t.sla_paused_at
            else due_in(t.resolve_due_at),
            literal(t.subject),
        ]
        if wide:
            cells.append(literal(t.contact or "-"))
        cells.append(literal(t.assignee or "-"))
        if wide:
            cells.append(age(t.created_at))
        table.add_row(*cells)
    out.print(table)


_DONE = {"resolved", "closed", "cancelled"}


def status_short(status: str) -> str:
    """A status in a narrow column: the long ones cut short, in the analyst's words."""
    from deskterm.domain.enums import status_label

    short = {
        "in_progress": pgettext("ticket status, short", "working"),
        "waiting_customer": pgettext("ticket status, short", "wait cust"),
        "waiting_third_party": pgettext("ticket status, short", "wait 3rd"),
    }
    return short.get(status) or status_label(status)


def _priority_text(code: str) -> Text:
    from rich.text import Text

    from deskterm.looks import priority_style

    # The colour an admin gave the priority in priority.toml, as the app shows it.
    return Text(code, style=priority_style(int(code.lstrip("Pp") or 0)))


def _detail_json(ticket: TicketDetail) -> dict:
    data = ticket.to_json()
    data["events"] = [
        {key: e[key] for key in ("kind", "actor", "at", "visibility", "data", "summary", "minutes")}
        for e in data["events"]
    ]
    return data


@ticket_app.command("show", help=_("Show a ticket with its contact and its whole log."))
def show(
    ctx: typer.Context,
    ref: RefArg,
    customer: Annotated[
        bool,
        typer.Option(
            "--customer", help=_("Only what the customer sees: public entries, no notes.")
        ),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help=_(
                "Show each mail whole, with the quoted text and signatures that are "
                "otherwise folded away."
            ),
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.tickets import get_ticket

    if customer:
        from deskterm.cli.comms import show_customer_view

        show_customer_view(ctx, ref, as_json)
        return
    ticket = _state(ctx).desk().read(get_ticket, ref=ref)
    if as_json:
        print_json(_detail_json(ticket))
        return
    out.print(render_ticket(ticket, full=full))


def render_ticket(t: TicketDetail, *, full: bool = False) -> Group:
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from deskterm.domain.enums import channel_label, level_label, link_label, status_label
    from deskterm.domain.worked import format_minutes

    head = Text()
    head.append(f"{t.ref}  ", style="bold")
    head.append_text(_priority_text(t.priority))
    head.append(f"  {status_label(t.status)}  L{t.level} ")
    head.append_text(literal(t.group or _("no group")))
    holder = literal(t.assignee_name or _("nobody"))
    holder.stylize("bold")
    head.append("  ")
    # Translators: who holds the ticket, in the head of `ticket show`: "with Ana Silva".
    head.append_text(fill(_("with {name}"), name=holder))
    head.append("\n")
    head.append_text(literal(t.subject))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    contact = t.contact_detail
    if contact is not None:
        reach = " · ".join(x for x in (contact.phone, contact.mobile, contact.email) if x)
        organization = contact.organization or _("no organization")
        facts.add_row(
            _("Contact"),
            literal(f"{contact.name} ({organization}) {reach}"),
        )
    if t.asset is not None:
        a = t.asset
        facts.add_row(
            _("Asset"),
            literal(
                " ".join(
                    x for x in (a.product, a.model_number, a.serial_number, a.account_number) if x
                )
            ),
        )
    facts.add_row(_("Category"), literal(t.category or "-"))
    impact = _("{impact} impact, {urgency} urgency").format(
        impact=level_label(t.impact), urgency=level_label(t.urgency)
    )
    if t.priority_reason:
        impact = _("{impact} (override: {reason})").format(impact=impact, reason=t.priority_reason)
    facts.add_row(_("Impact"), literal(impact))
    facts.add_row(
        _("Opened"),
        literal(
            _("{when} by {who} via {channel}").format(
                when=when(t.created_at),
                who=t.created_by or _("system"),
                channel=channel_label(t.channel),
            )
        ),
    )
    facts.add_row(_("Due"), _due_line(t))
    if t.minutes_worked:
        facts.add_row(_("Time worked"), Text(format_minutes(t.minutes_worked)))
    if t.resolution_code:
        facts.add_row(_("Resolution"), literal(f"{t.resolution_code}: {t.resolution_text or ''}"))
    for link in t.links:
        facts.add_row(
            _("Linked"),
            literal(
                f"{link_label(link.kind)} {link.ref} {link.subject} ({status_label(link.status)})"
            ),
        )
    parts: list = [Panel(Group(head, facts), box=box.ROUNDED, expand=False)]
    if t.description:
        description = _unfolded(t.description, _first_mail(t), ref=t.ref, full=full)
        parts.append(Panel(description, title=_("Description"), box=box.SIMPLE, expand=False))
    log = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    # Translators: column headers of a ticket's log in `deskterm ticket show`.
    log.add_column(_("When"), no_wrap=True, style="dim")
    log.add_column(_("Who"), no_wrap=True)
    log.add_column(_("Seen by"), no_wrap=True)
    log.add_column(_("What"))
    for e in t.events:
        seen = (
            # Translators: who sees a log entry: the customer too, or only the desk.
            Text(_("customer"), style="cyan")
            if e.visibility == "public"
            else Text(_("desk"), style="dim")
        )
        what = _event_text(e, ref=t.ref, full=full)
        if e.minutes is not None:
            # Translators: minutes worked on a log entry, after its text: "(25 min)".
            what.append(" " + _("({time})").format(time=format_minutes(e.minutes)), style="dim")
        log.add_row(when(e.at), literal(e.actor), seen, what)
    parts.append(log)
    return Group(*parts)


def _due_line(t: TicketDetail) -> Text:
    """The SLA clocks in the words and colours of the app's ticket screen (domain/due.py)."""

    from deskterm.desk import clock
    from deskterm.domain.due import ticket_due
    from deskterm.looks import due_text

    now = clock.now()
    due = ticket_due(t, now)
    line = fill(
        # Translators: the SLA clocks of a ticket: "response met, resolution due in 3h05m".
        _("response {response}, resolution {resolution}"),
        response=due_text(due.response, long=True),
        resolution=due_text(due.resolve, long=True),
    )
    if due.left is not None and t.sla_paused_at is not None:
        # Waiting on the customer: the clock stands still, so a date would mislead.
        since = when(t.sla_paused_at, now=now)
        line.append(
            " "
            + _("(waiting on the customer since {since}, {left})").format(
                since=since, left=due.left
            )
        )
    elif t.resolve_due_at is not None:
        at = when(t.resolve_due_at, now=now)
        line.append(f" ({at})" if due.resolve.running else " " + _("(due {at})").format(at=at))
    return line


def _event_text(event: EventPublic, *, ref: str = "", full: bool = False) -> Text:
    """The event in words; a note shows its whole text, literally."""
    from deskterm.domain.payloads import CustomerMessage, Note

    payload = event.payload
    if isinstance(payload, Note):
        return literal(payload.text or "")
    if isinstance(payload, CustomerMessage) and payload.text:
        # The customer's own words, whole: nobody should have to ask them again. What the
        # mail repeats (quotes, signature) is one line, unfolded by --full.
        said = literal(_("the customer wrote:") + "\n")
        said.append_text(_unfolded(payload.text, payload, ref=ref, full=full))
        files = ", ".join(str(f.name) for f in payload.attachments or [])
        if files:
            said.append_text(literal("\n" + _("[attached: {files}]").format(files=files)))
        return said
    return literal(event.summary)


def _first_mail(t: TicketDetail) -> CustomerMessage | None:
    """The mail that opened the ticket, whose new part is the description."""
    from deskterm.domain.payloads import CustomerMessage

    for event in t.events:
        if isinstance(event.payload, CustomerMessage) and event.payload.text is None:
            return event.payload
    return None


def _unfolded(shown: str, mail: CustomerMessage | None, *, ref: str, full: bool) -> Text:
    """A mail's new part and one dim line for what is folded; with ``full``, the whole mail."""
    if mail is None or not mail.full_text or not mail.folded:
        return literal(shown)
    if full:
        return literal(mail.full_text)
    text = literal(shown)
    text.append(
        "\n"
        + ngettext(
            # Translators: under a customer's mail in `ticket show`; the command unfolds it.
            "… {count} quoted line folded ({command})",
            "… {count} quoted lines folded ({command})",
            mail.folded,
        ).format(count=mail.folded, command=f"ticket show {ref} --full"),
        style="dim",
    )
    return text


@ticket_app.command("note", help=_("Add a note to the ticket's log."))
def note(
    ctx: typer.Context,
    ref: RefArg,
    text: Annotated[
        str | None, typer.Option("--text", "-t", help=_("What you found or did."))
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help=_("Customer-visible (default: internal)."))
    ] = False,
    edit: Annotated[
        bool,
        typer.Option(
            "--edit",
            "-e",
            help=_(
                "Write the note in $VISUAL or $EDITOR (as `git commit` does); an empty note aborts."
            ),
        ),
    ] = False,
    minutes: MinutesOpt = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.tickets import add_note

    if edit:
        text = _edited_note(_state(ctx), ref, text or "", public=public)
    elif text is None:
        raise typer.BadParameter(_("give the note with --text, or write it with --edit"))
    ticket = (
        _state(ctx)
        .desk()
        .write(
            add_note,
            ref=ref,
            text=text,
            public=public,
            minutes=minutes,
            expected_version=expect_version,
        )
    )
    _done(ticket, _("noted"), as_json)


def _edited_note(state: State, ref: str, text: str, *, public: bool) -> str:
    """The note written in the analyst's editor, as ``git commit`` asks for a message: the
    ticket shown in ``#`` lines (left out of the note); nothing written aborts."""
    from deskterm.desk.tickets import get_ticket
    from deskterm.domain.text import clean_line
    from deskterm.editor import EditorFailed, edit, strip_comments

    ticket = state.desk().read(get_ticket, ref=ref)
    kind = _("a customer-visible note") if public else _("an internal note")
    about = [
        f"{ticket.ref} · {ticket.subject}",
        _("Caller: {caller} · Group: {group}").format(
            caller=ticket.contact or "-", group=ticket.group or "-"
        ),
        "",
        _("Write {kind} above. Lines starting with '#' are left out;").format(kind=kind),
        _("an empty note aborts: nothing is saved."),
    ]
    template = (text.rstrip("\n") + "\n\n" if text else "\n\n") + "\n".join(
        f"# {clean_line(line)}".rstrip() for line in about
    )
    try:
        written = strip_comments(edit(template, suffix=".md").text)
    except EditorFailed as exc:
        fail(_("nothing saved: {reason}").format(reason=exc), 1)
    if not written:
        fail(_("aborted: the note is empty; nothing was saved"), 1)
    return written


@ticket_app.command("call", help=_("Log a call with the customer on the ticket."))
def call(
    ctx: typer.Context,
    ref: RefArg,
    direction: Annotated[str, typer.Option(help=_("inbound or outbound."))] = "inbound",
    seconds: Annotated[int, typer.Option(help=_("How long the call took."))] = 0,
    outcome: Annotated[str | None, typer.Option(help=_("What was said or agreed."))] = None,
    minutes: Annotated[
        int | None,
        typer.Option(
            "--minutes",
            metavar="N",
            help=_("Minutes you worked on it (default: the call's --seconds, rounded up)."),
        ),
    ] = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.tickets import log_call

    ticket = (
        _state(ctx)
        .desk()
        .write(
            log_call,
            ref=ref,
            direction=direction,
            duration_seconds=seconds,
            outcome=outcome,
            minutes=minutes,
            expected_version=expect_version,
        )
    )
    _done(ticket, _("call logged"), as_json)


@ticket_app.command(
    "assign", help=_("Give a ticket to an analyst (an away analyst's tickets go to their backup).")
)
def assign(
    ctx: typer.Context,
    ref: RefArg,
    to: Annotated[
        str, typer.Option("--to", help=_("A login, 'me', or 'none' (back to the queue)."))
    ],
    reason: Annotated[
        str | None,
        typer.Option(
            help=_(
                "Why, for colleagues (required when it changes hands; internal: the customer "
                "is told who has it now and why in fixed words, never this)."
            )
        ),
    ] = None,
    tell_customer: Annotated[
        str | None,
        typer.Option(
            "--tell-customer",
            help=_("Words for the customer, added to their message (default: nothing of yours)."),
        ),
    ] = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.tickets import assign as assign_ticket

    ticket = (
        _state(ctx)
        .desk()
        .write(
            assign_ticket,
            ref=ref,
            to=to,
            reason=reason,
            public_reason=tell_customer,
            expected_version=expect_version,
        )
    )
    _done(ticket, _("assigned"), as_json)


@ticket_app.command(
    "escalate",
    help=_("Escalate to a higher level or a named group; it waits in that group's queue."),
)
def escalate(
    ctx: typer.Context,
    ref: RefArg,
    reason: Annotated[
        str,
        typer.Option(
            help=_("Why, so nobody asks the customer again (internal: never in their message).")
        ),
    ],
    level: Annotated[
        int | None, typer.Option(help=_("Escalate along the path to this level (2 or 3)."))
    ] = None,
    group: Annotated[str | None, typer.Option(help=_("Escalate to this group."))] = None,
    tell_customer: Annotated[
        str | None,
        typer.Option(
            "--tell-customer",
            help=_(
                "Words for the customer, added to their message (default: the reason stays "
                "internal and they read that a specialist team is taking over)."
            ),
        ),
    ] = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.tickets import escalate as escalate_ticket

    ticket = (
        _state(ctx)
        .desk()
        .write(
            escalate_ticket,
            ref=ref,
            reason=reason,
            level=level,
            group=group,
            public_reason=tell_customer,
            expected_version=expect_version,
        )
    )
    _done(ticket, _("escalated"), as_json)


@ticket_app.command(
    "status",
    help=_("Change a ticket's status (resolve, reopen and close have commands of their own)."),
)
def status(
    ctx: typer.Context,
    ref: RefArg,
    new_status: Annotated[
        str,
        typer.Argument(
            metavar="STATUS",
            help=_(
                "new, assigned, in_progress, waiting_customer, waiting_third_party or cancelled."
            ),
        ),
    ],
    reason: Annotated[str | None, typer.Option(help=_("Why (required to cancel)."))] = None,
    minutes: MinutesOpt = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.tickets import change_status

    ticket = (
        _state(ctx)
        .desk()
        .write(
            change_status,
            ref=ref,
            status=new_status,
            reason=reason,
            minutes=minutes,
            expected_version=expect_version,
        )
    )
    _done(ticket, _("updated"), as_json)


@ticket_app.command(
    "resolve", help=_("Resolve a ticket with a resolution code and what solved it.")
)
def resolve(
    ctx: typer.Context,
    ref: RefArg,
    code: Annotated[str, typer.Option(help=_("Resolution code (see `deskterm config codes`)."))],
    text: Annotated[str, typer.Option("--text", "-t", help=_("What solved it."))],
    minutes: MinutesOpt = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.tickets import resolve as resolve_ticket

    ticket = (
        _state(ctx)
        .desk()
        .write(
            resolve_ticket,
            ref=ref,
            code=code,
            text=text,
            minutes=minutes,
            expected_version=expect_version,
        )
    )
    _done(ticket, pgettext("done to a ticket", "resolved"), as_json)


@ticket_app.command("reopen", help=_("Reopen a resolved ticket."))
def reopen(
    ctx: typer.Context,
    ref: RefArg,
    reason: Annotated[str, typer.Option(help=_("Why it is not solved after all."))],
    minutes: MinutesOpt = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.tickets import reopen as reopen_ticket

    ticket = (
        _state(ctx)
        .desk()
        .write(
            reopen_ticket, ref=ref, reason=reason, minutes=minutes, expected_version=expect_version
        )
    )
    _done(ticket, _("reopened"), as_json)


@ticket_app.command("close", help=_("Close a resolved ticket."))
def close(
    ctx: typer.Context, ref: RefArg, expect_version: ExpectOpt = None, as_json: JsonOpt = False
) -> None:
    from deskterm.desk.tickets import close as close_ticket

    ticket = _state(ctx).desk().write(close_ticket, ref=ref, expected_version=expect_version)
    _done(ticket, pgettext("done to a ticket", "closed"), as_json)


@ticket_app.command("link", help=_("Link two tickets; both logs record it."))
def link(
    ctx: typer.Context,
    ref: RefArg,
    other: Annotated[str, typer.Argument(help=_("The other ticket."))],
    kind: Annotated[
        str,
        typer.Option(
            help=_("related, duplicate (REF duplicates OTHER), parent or child (of OTHER).")
        ),
    ] = "related",
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.tickets import link as link_tickets

    ticket = _state(ctx).desk().write(link_tickets, ref=ref, other=other, kind=kind)
    _done(ticket, _("linked to {other}").format(other=other.upper()), as_json)


@ticket_app.command(
    "priority", help=_("Change impact or urgency (priority follows), or override the priority.")
)
def priority(
    ctx: typer.Context,
    ref: RefArg,
    impact: Annotated[str | None, typer.Option(help=_(_LEVELS_HELP), callback=not_blank)] = None,
    urgency: Annotated[str | None, typer.Option(help=_(_LEVELS_HELP), callback=not_blank)] = None,
    priority: Annotated[
        str | None, typer.Option(help=_("Override (P1-P5); needs --reason."), callback=not_blank)
    ] = None,
    reason: Annotated[str | None, typer.Option(help=_("Why."))] = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.tickets import set_priority

    ticket = (
        _state(ctx)
        .desk()
        .write(
            set_priority,
            ref=ref,
            impact=impact,
            urgency=urgency,
            priority=priority,
            reason=reason,
            expected_version=expect_version,
        )
    )
    _done(ticket, _("re-prioritised"), as_json)


@ticket_app.command(
    "callback",
    help=_("Promise the customer a call back; an outbound call on the ticket keeps the promise."),
)
def callback(
    ctx: typer.Context,
    ref: RefArg,
    when_: Annotated[
        str | None,
        typer.Option(
            "--when",
            help=_(
                "When to call: 'in 2h', 'tomorrow 9:00', '2026-12-01 14:30'; default: the "
                "follow-up cadence of the ticket's priority."
            ),
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(help=_("What the call is for (default with the cadence: a follow-up).")),
    ] = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk import clock
    from deskterm.desk.callbacks import parse_when, propose_callback, schedule_callback
    from deskterm.domain.errors import InvalidInput

    if when_ is None:
        proposal = _state(ctx).desk().read(propose_callback, ref=ref)
        if proposal is None:
            raise InvalidInput(
                _("{ref}'s priority has no callback cadence: say when with --when").format(
                    ref=ref.upper()
                ),
                field="when",
            )
        due, reason = proposal.due_at, reason or proposal.reason
    else:
        due = parse_when(when_, clock.now())
    if not reason:
        raise InvalidInput(_("say what the call is for with --reason"), field="reason")
    ticket = (
        _state(ctx)
        .desk()
        .write(
            schedule_callback, ref=ref, due_at=due, reason=reason, expected_version=expect_version
        )
    )
    from deskterm.i18n import format_time

    _done(ticket, _("callback {when}").format(when=format_time(due)), as_json)
