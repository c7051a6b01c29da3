"""``deskterm ticket ...``: tickets for scripting and quick work from a shell."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import (
    State,
    age,
    due_in,
    fail,
    literal,
    not_blank,
    out,
    print_json,
    quoted,
    when,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Group
    from rich.text import Text

    from deskterm.desk.schemas import EventPublic, TicketDetail, TicketPublic

ticket_app = typer.Typer(help="Open, find, read and work tickets.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
CallerOpt = Annotated[
    str | None,
    typer.Option(
        "--contact",
        "-c",
        help="The caller: id (#12), phone (or 4+ of its digits), email or exact name.",
    ),
]
AnonymousOpt = Annotated[
    bool,
    typer.Option("--anonymous", help="The caller gave no name: open it without a contact."),
]
ExpectOpt = Annotated[
    int | None,
    typer.Option(
        "--expect-version",
        metavar="N",
        # Versions count from 1; -1 used to reach the desk and come back as a conflict.
        min=1,
        help="Refuse if the ticket changed since version N (optimistic locking for scripts).",
    ),
]
RefArg = Annotated[str, typer.Argument(help="Ticket reference, e.g. DT-000123 or 123.")]


def _state(ctx: typer.Context) -> State:
    return ctx.obj


def _done(ticket: TicketPublic, said: str, as_json: bool) -> None:
    from rich.text import Text

    if as_json:
        print_json(ticket.to_json())
        return
    line = Text()
    line.append(ticket.ref, style="bold")
    line.append(f" {said} · {ticket.status.replace('_', ' ')} · {ticket.priority} · ")
    line.append(ticket.assignee or "unassigned")
    line.append(f" · {ticket.group or 'no group'}")
    out.print(line)


@ticket_app.command("new")
def new(
    ctx: typer.Context,
    subject: Annotated[str, typer.Option("--subject", "-s", help="One line: what is wrong.")],
    contact: CallerOpt = None,
    anonymous: AnonymousOpt = False,
    description: Annotated[
        str, typer.Option("--description", "-d", help="The whole story, as told.")
    ] = "",
    category: Annotated[
        str | None, typer.Option(help="Category path, e.g. 'Hardware > Printer'.")
    ] = None,
    impact: Annotated[str, typer.Option(help="high, medium or low.")] = "medium",
    urgency: Annotated[str, typer.Option(help="high, medium or low.")] = "medium",
    priority: Annotated[
        str | None,
        typer.Option(help="Override the matrix (P1-P5); needs --reason.", callback=not_blank),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why the priority is overridden.")] = None,
    channel: Annotated[
        str, typer.Option(help="phone, email, chat, sms, walk-in or portal.")
    ] = "phone",
    group: Annotated[
        str | None, typer.Option(help="Route to this group's queue (default: your group).")
    ] = None,
    assign: Annotated[
        str,
        typer.Option(
            "--assign",
            help="auto (keep it unless routed away), me, none, or a login.",
        ),
    ] = "auto",
    asset: Annotated[int | None, typer.Option(help="Asset id of the contact's device.")] = None,
    call_seconds: Annotated[
        int | None, typer.Option(help="Length of the call that opened it, in seconds.")
    ] = None,
    split_from: Annotated[
        str | None,
        typer.Option(help="Another ticket from the same call (they are linked)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Open a ticket; priority follows from impact and urgency."""
    from deskterm.desk.tickets import create_ticket
    from deskterm.domain.errors import InvalidInput

    # A nameless ticket is a choice, never an omission (the app asks the same).
    if anonymous == bool(contact and contact.strip()):
        said = "not both" if anonymous else "--anonymous if the caller gave no name"
        raise InvalidInput(f"give the caller with --contact, or {said}", field="contact")
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
    _done(ticket, "opened", False)


@ticket_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="A status, 'open' (default), 'waiting' or 'all'; repeat for several.",
        ),
    ] = None,
    group: Annotated[str | None, typer.Option(help="Only this group's tickets.")] = None,
    assignee: Annotated[
        str | None, typer.Option(help="A login, 'me', or 'none' for unassigned.")
    ] = None,
    priority: Annotated[
        str | None, typer.Option(help="Only this priority (P1-P5).", callback=not_blank)
    ] = None,
    sort: Annotated[
        str, typer.Option(help="urgent (priority, then SLA due) or newest.")
    ] = "urgent",
    limit: Annotated[int, typer.Option(help="At most this many (1-1000).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List tickets, most urgent first."""
    from deskterm.desk.rows import list_tickets

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
    if as_json:
        print_json([t.to_json() for t in rows])
        return
    _print_tickets(rows)


@ticket_app.command("search")
def search(
    ctx: typer.Context,
    words: Annotated[
        list[str] | None,
        typer.Argument(
            help="Words of the subject or description; all must match, the last may be the "
            "start of a word.",
            show_default=False,
        ),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="A status, 'open', 'waiting' or 'all' (default); repeat for several.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1-200).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Find tickets, open or closed, by the words of their subject or description, newest
    first."""
    from deskterm.desk.kb import search_words
    from deskterm.desk.search import search_tickets

    query = " ".join(words or ())
    if not query.strip():
        fail("no words to search for: e.g. deskterm ticket search vpn error 809", code=2)
    if not search_words(query):
        # Words given, none searchable ('*', '"?"'): bad input, not a usage slip.
        fail(
            f"{quoted(query)} holds no word to search for: give words of letters or digits, "
            "all must match and the last may be the start of one (no * or other operators), "
            "e.g. deskterm ticket search vpn err",
            code=1,
        )
    rows = (
        _state(ctx)
        .desk()
        .read(search_tickets, query=query, statuses=status or ["all"], limit=limit)
    )
    if as_json:
        print_json([t.to_json() for t in rows])
        return
    _print_tickets(rows, empty="No ticket holds all of these words.")


def _print_tickets(rows: Sequence[TicketPublic], *, empty: str = "No tickets match.") -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not rows:
        out.print(empty)
        return
    # On a narrow terminal the contact and age give way, so the subject stays readable.
    wide = out.width >= 100
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
    table.add_column("Ref", no_wrap=True, min_width=9)
    table.add_column("Pri", no_wrap=True, min_width=3)
    table.add_column("Status", no_wrap=True, min_width=8)
    table.add_column("SLA", no_wrap=True, justify="right", min_width=4)
    table.add_column("Subject", no_wrap=True, overflow="ellipsis", ratio=3, min_width=16)
    if wide:
        table.add_column("Contact", no_wrap=True, overflow="ellipsis", ratio=1, min_width=10)
    table.add_column("Assignee", no_wrap=True, overflow="ellipsis", max_width=12)
    if wide:
        table.add_column("Age", no_wrap=True, justify="right", min_width=3)
    for t in rows:
        cells: list[str | Text] = [
            t.ref,
            _priority_text(t.priority),
            STATUS_SHORT.get(t.status, t.status),
            Text("-")
            if t.status in _DONE
            else Text("paused", style="dim")
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
STATUS_SHORT = {
    "in_progress": "working",
    "waiting_customer": "wait cust",
    "waiting_third_party": "wait 3rd",
}


def _priority_text(code: str) -> Text:
    from rich.text import Text

    from deskterm.looks import priority_style

    # The colour an admin gave the priority in priority.toml, as the app shows it.
    return Text(code, style=priority_style(int(code.lstrip("Pp") or 0)))


def _detail_json(ticket: TicketDetail) -> dict:
    data = ticket.to_json()
    data["events"] = [
        {key: e[key] for key in ("kind", "actor", "at", "visibility", "data", "summary")}
        for e in data["events"]
    ]
    return data


@ticket_app.command("show")
def show(
    ctx: typer.Context,
    ref: RefArg,
    customer: Annotated[
        bool,
        typer.Option("--customer", help="Only what the customer sees: public entries, no notes."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a ticket with its contact and its whole log."""
    from deskterm.desk.tickets import get_ticket

    if customer:
        from deskterm.cli.comms import show_customer_view

        show_customer_view(ctx, ref, as_json)
        return
    ticket = _state(ctx).desk().read(get_ticket, ref=ref)
    if as_json:
        print_json(_detail_json(ticket))
        return
    out.print(render_ticket(ticket))


def render_ticket(t: TicketDetail) -> Group:
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    head = Text()
    head.append(f"{t.ref}  ", style="bold")
    head.append_text(_priority_text(t.priority))
    head.append(f"  {t.status.replace('_', ' ')}  L{t.level} ")
    head.append_text(literal(t.group or "no group"))
    head.append("  with ")
    head.append_text(literal(t.assignee_name or "nobody"))
    head.stylize("bold", len(head) - len(literal(t.assignee_name or "nobody")))
    head.append("\n")
    head.append_text(literal(t.subject))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    contact = t.contact_detail
    if contact is not None:
        reach = " · ".join(x for x in (contact.phone, contact.mobile, contact.email) if x)
        facts.add_row(
            "Contact",
            literal(f"{contact.name} ({contact.organization or 'no organization'}) {reach}"),
        )
    if t.asset is not None:
        a = t.asset
        facts.add_row(
            "Asset",
            literal(
                " ".join(
                    x for x in (a.product, a.model_number, a.serial_number, a.account_number) if x
                )
            ),
        )
    facts.add_row("Category", literal(t.category or "-"))
    facts.add_row(
        "Impact",
        f"{t.impact} impact, {t.urgency} urgency"
        + (f" (override: {t.priority_reason})" if t.priority_reason else ""),
    )
    facts.add_row("Opened", f"{when(t.created_at)} by {t.created_by or 'system'} via {t.channel}")
    facts.add_row("Due", _due_line(t))
    if t.resolution_code:
        facts.add_row("Resolution", literal(f"{t.resolution_code}: {t.resolution_text or ''}"))
    for link in t.links:
        facts.add_row(
            "Linked",
            literal(f"{link.kind.replace('_', ' ')} {link.ref} {link.subject} ({link.status})"),
        )
    parts: list = [Panel(Group(head, facts), box=box.ROUNDED, expand=False)]
    if t.description:
        parts.append(
            Panel(literal(t.description), title="Description", box=box.SIMPLE, expand=False)
        )
    log = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    log.add_column("When", no_wrap=True, style="dim")
    log.add_column("Who", no_wrap=True)
    log.add_column("Seen by", no_wrap=True)
    log.add_column("What")
    for e in t.events:
        seen = (
            Text("customer", style="cyan")
            if e.visibility == "public"
            else Text("desk", style="dim")
        )
        log.add_row(when(e.at), literal(e.actor), seen, _event_text(e))
    parts.append(log)
    return Group(*parts)


def _due_line(t: TicketDetail) -> Text:
    """The SLA clocks in the words and colours of the app's ticket screen (domain/due.py)."""
    from rich.text import Text

    from deskterm.desk import clock
    from deskterm.domain.due import ticket_due
    from deskterm.looks import due_text

    now = clock.now()
    due = ticket_due(t, now)
    line = Text.assemble(
        "response ",
        due_text(due.response, long=True),
        ", resolution ",
        due_text(due.resolve, long=True),
    )
    if due.left is not None and t.sla_paused_at is not None:
        # Waiting on the customer: the clock stands still, so a date would mislead.
        since = when(t.sla_paused_at, now=now)
        line.append(f" (waiting on the customer since {since}, {due.left})")
    elif t.resolve_due_at is not None:
        at = when(t.resolve_due_at, now=now)
        line.append(f" ({at})" if due.resolve.running else f" (due {at})")
    return line


def _event_text(event: EventPublic) -> Text:
    """The event in words; a note shows its whole text, literally."""
    from deskterm.domain.payloads import CustomerMessage, Note

    payload = event.payload
    if isinstance(payload, Note):
        return literal(payload.text or "")
    if isinstance(payload, CustomerMessage) and payload.text:
        # The customer's own words, whole: nobody should have to ask them again.
        files = ", ".join(str(f.name) for f in payload.attachments or [])
        said = f"the customer wrote:\n{payload.text}"
        return literal(f"{said}\n[attached: {files}]" if files else said)
    return literal(event.summary)


@ticket_app.command("note")
def note(
    ctx: typer.Context,
    ref: RefArg,
    text: Annotated[str, typer.Option("--text", "-t", help="What you found or did.")],
    public: Annotated[
        bool, typer.Option("--public", help="Customer-visible (default: internal).")
    ] = False,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a note to the ticket's log."""
    from deskterm.desk.tickets import add_note

    ticket = (
        _state(ctx)
        .desk()
        .write(add_note, ref=ref, text=text, public=public, expected_version=expect_version)
    )
    _done(ticket, "noted", as_json)


@ticket_app.command("call")
def call(
    ctx: typer.Context,
    ref: RefArg,
    direction: Annotated[str, typer.Option(help="inbound or outbound.")] = "inbound",
    seconds: Annotated[int, typer.Option(help="How long the call took.")] = 0,
    outcome: Annotated[str | None, typer.Option(help="What was said or agreed.")] = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Log a call with the customer on the ticket."""
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
            expected_version=expect_version,
        )
    )
    _done(ticket, "call logged", as_json)


@ticket_app.command("assign")
def assign(
    ctx: typer.Context,
    ref: RefArg,
    to: Annotated[str, typer.Option("--to", help="A login, 'me', or 'none' (back to the queue).")],
    reason: Annotated[
        str | None,
        typer.Option(
            help="Why, for colleagues (required when it changes hands; internal: the customer "
            "is told who has it now and why in fixed words, never this)."
        ),
    ] = None,
    tell_customer: Annotated[
        str | None,
        typer.Option(
            "--tell-customer",
            help="Words for the customer, added to their message (default: nothing of yours).",
        ),
    ] = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give a ticket to an analyst (an away analyst's tickets go to their backup)."""
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
    _done(ticket, "assigned", as_json)


@ticket_app.command("escalate")
def escalate(
    ctx: typer.Context,
    ref: RefArg,
    reason: Annotated[
        str,
        typer.Option(
            help="Why, so nobody asks the customer again (internal: never in their message)."
        ),
    ],
    level: Annotated[
        int | None, typer.Option(help="Escalate along the path to this level (2 or 3).")
    ] = None,
    group: Annotated[str | None, typer.Option(help="Escalate to this group.")] = None,
    tell_customer: Annotated[
        str | None,
        typer.Option(
            "--tell-customer",
            help="Words for the customer, added to their message (default: the reason stays "
            "internal and they read that a specialist team is taking over).",
        ),
    ] = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Escalate to a higher level or a named group; it waits in that group's queue."""
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
    _done(ticket, "escalated", as_json)


@ticket_app.command("status")
def status(
    ctx: typer.Context,
    ref: RefArg,
    new_status: Annotated[
        str,
        typer.Argument(
            metavar="STATUS",
            help="new, assigned, in_progress, waiting_customer, waiting_third_party or cancelled.",
        ),
    ],
    reason: Annotated[str | None, typer.Option(help="Why (required to cancel).")] = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a ticket's status (resolve, reopen and close have commands of their own)."""
    from deskterm.desk.tickets import change_status

    ticket = (
        _state(ctx)
        .desk()
        .write(
            change_status,
            ref=ref,
            status=new_status,
            reason=reason,
            expected_version=expect_version,
        )
    )
    _done(ticket, "updated", as_json)


@ticket_app.command("resolve")
def resolve(
    ctx: typer.Context,
    ref: RefArg,
    code: Annotated[str, typer.Option(help="Resolution code (see `deskterm config codes`).")],
    text: Annotated[str, typer.Option("--text", "-t", help="What solved it.")],
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resolve a ticket with a resolution code and what solved it."""
    from deskterm.desk.tickets import resolve as resolve_ticket

    ticket = (
        _state(ctx)
        .desk()
        .write(resolve_ticket, ref=ref, code=code, text=text, expected_version=expect_version)
    )
    _done(ticket, "resolved", as_json)


@ticket_app.command("reopen")
def reopen(
    ctx: typer.Context,
    ref: RefArg,
    reason: Annotated[str, typer.Option(help="Why it is not solved after all.")],
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reopen a resolved ticket."""
    from deskterm.desk.tickets import reopen as reopen_ticket

    ticket = (
        _state(ctx)
        .desk()
        .write(reopen_ticket, ref=ref, reason=reason, expected_version=expect_version)
    )
    _done(ticket, "reopened", as_json)


@ticket_app.command("close")
def close(
    ctx: typer.Context, ref: RefArg, expect_version: ExpectOpt = None, as_json: JsonOpt = False
) -> None:
    """Close a resolved ticket."""
    from deskterm.desk.tickets import close as close_ticket

    ticket = _state(ctx).desk().write(close_ticket, ref=ref, expected_version=expect_version)
    _done(ticket, "closed", as_json)


@ticket_app.command("link")
def link(
    ctx: typer.Context,
    ref: RefArg,
    other: Annotated[str, typer.Argument(help="The other ticket.")],
    kind: Annotated[
        str,
        typer.Option(help="related, duplicate (REF duplicates OTHER), parent or child (of OTHER)."),
    ] = "related",
    as_json: JsonOpt = False,
) -> None:
    """Link two tickets; both logs record it."""
    from deskterm.desk.tickets import link as link_tickets

    ticket = _state(ctx).desk().write(link_tickets, ref=ref, other=other, kind=kind)
    _done(ticket, f"linked to {other.upper()}", as_json)


@ticket_app.command("priority")
def priority(
    ctx: typer.Context,
    ref: RefArg,
    impact: Annotated[
        str | None, typer.Option(help="high, medium or low.", callback=not_blank)
    ] = None,
    urgency: Annotated[
        str | None, typer.Option(help="high, medium or low.", callback=not_blank)
    ] = None,
    priority: Annotated[
        str | None, typer.Option(help="Override (P1-P5); needs --reason.", callback=not_blank)
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change impact or urgency (priority follows), or override the priority."""
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
    _done(ticket, "re-prioritised", as_json)


@ticket_app.command("callback")
def callback(
    ctx: typer.Context,
    ref: RefArg,
    when_: Annotated[
        str | None,
        typer.Option(
            "--when",
            help="When to call: 'in 2h', 'tomorrow 9:00', '2026-12-01 14:30'; default: the "
            "follow-up cadence of the ticket's priority.",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(help="What the call is for (default with the cadence: a follow-up)."),
    ] = None,
    expect_version: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Promise the customer a call back; an outbound call on the ticket keeps the promise."""
    from deskterm.desk import clock
    from deskterm.desk.callbacks import parse_when, propose_callback, schedule_callback
    from deskterm.domain.errors import InvalidInput

    if when_ is None:
        proposal = _state(ctx).desk().read(propose_callback, ref=ref)
        if proposal is None:
            raise InvalidInput(
                f"{ref.upper()}'s priority has no callback cadence: say when with --when",
                field="when",
            )
        due, reason = proposal.due_at, reason or proposal.reason
    else:
        due = parse_when(when_, clock.now())
    if not reason:
        raise InvalidInput("say what the call is for with --reason", field="reason")
    ticket = (
        _state(ctx)
        .desk()
        .write(
            schedule_callback, ref=ref, due_at=due, reason=reason, expected_version=expect_version
        )
    )
    _done(ticket, f"callback {due:%Y-%m-%d %H:%M} UTC", as_json)
