"""``deskterm outbox ...`` and ``deskterm mail ...``: telling customers, reading their mail.

``outbox run`` and the mail importers act as the desk itself (the ``system`` actor): they are
services, often run from cron or a unit file by an account that is no analyst. Reading and
retrying act as the analyst, like every other command.
"""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import CsvOpt, State, err, literal, out, print_json, print_rows, when
from deskterm.i18n import _, format_number, ngettext, pgettext

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from deskterm.desk.customer import CustomerView
    from deskterm.desk.mail import ImportResult

outbox_app = typer.Typer(
    help=_("Messages to customers: deliver them, see what waits or failed, retry."),
    no_args_is_help=True,
)
mail_app = typer.Typer(
    help=_("Customer mail into tickets: import files, fetch from IMAP, see what was set aside."),
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]


def _state(ctx: typer.Context) -> State:
    return ctx.obj


# --------------------------------------------------------------------------- outbox


@outbox_app.command(
    "list",
    help=_("Show messages waiting to go out, being sent, or given up on (dead, with the reason)."),
)
def outbox_list(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help=_("pending, sending, sent, dead, 'waiting' (default: all but sent) or 'all'."),
        ),
    ] = None,
    ticket: Annotated[str | None, typer.Option(help=_("Only this ticket's messages."))] = None,
    limit: Annotated[int, typer.Option(help=_("At most this many (1-1000)."))] = 100,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from deskterm.desk.outbox import list_outbox

    rows = (
        _state(ctx)
        .desk()
        .read(list_outbox, statuses=status or ["waiting"], ref=ticket, limit=limit)
    )
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_outbox):
        return
    if not rows:
        out.print(_("Nothing waiting in the outbox."))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in (
        # Translators: column headers of `deskterm outbox list`.
        _("ID"),
        _("Ticket"),
        _("Message"),
        _("To"),
        _("Status"),
        _("Tries"),
        _("Next try / why"),
    ):
        table.add_column(name, overflow="fold")
    for r in rows:
        if r.status == "dead":
            detail = literal(r.last_error or "")
        elif r.status == "sent":
            detail = Text(_("sent {when}").format(when=when(r.sent_at)))
        else:
            detail = Text(when(r.next_attempt_at))
            if r.last_error:
                detail.append(" · ")
                detail.append_text(literal(r.last_error))
        style = {"dead": "bold red", "sending": "yellow", "sent": "green"}.get(r.status, "")
        table.add_row(
            str(r.id),
            r.ref,
            r.kind,
            literal(f"{r.channel} {r.recipient or _('(no address)')}"),
            Text(_outbox_status(r.status), style=style),
            str(r.attempts),
            detail,
        )
    out.print(table)


def _outbox_status(status: str) -> str:
    """An outbox message's status as the analyst reads it (the value stays in JSON)."""
    words = {
        "pending": pgettext("outbox status", "pending"),
        "sending": pgettext("outbox status", "sending"),
        "sent": pgettext("outbox status", "sent"),
        "dead": pgettext("outbox status", "dead"),
        "retrying": pgettext("outbox status", "retrying"),
    }
    return words.get(status, status)


@outbox_app.command(
    "run",
    help=_("Deliver every message that is due, with retries and backoff; dead after N tries."),
)
def outbox_run(
    ctx: typer.Context,
    watch: Annotated[
        bool,
        typer.Option("--watch", help=_("Keep running: deliver, wait --interval, repeat.")),
    ] = False,
    interval: Annotated[
        float, typer.Option(help=_("Seconds between rounds with --watch."), min=0.5)
    ] = 10.0,
    limit: Annotated[
        int | None, typer.Option(help=_("At most this many messages per round."), min=1)
    ] = None,
    max_attempts: Annotated[
        int | None,
        typer.Option(
            help=_("Give a message up after this many tries (config: 5)."), min=1, max=100
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.channels import load_config
    from deskterm.desk.outbox import deliver_due, senders_from_config, worker_name
    from deskterm.desk.portal import deliver_confirmations
    from deskterm.domain.errors import DatabaseUnavailable, InvalidInput
    from deskterm.i18n import format_duration

    config = load_config()
    if config.smtp is None and config.sms is None:
        raise InvalidInput(
            _(
                "nothing to deliver with: configure SMTP (DESKTERM_SMTP_HOST, DESKTERM_SMTP_FROM) "
                "or an SMS gateway (DESKTERM_SMS_URL)"
            ),
            field="config",
        )
    db = _state(ctx).database()
    stop = threading.Event()
    _stop_on_sigterm(stop)
    worker = worker_name()
    attempts = max_attempts or config.max_attempts
    reported: list[dict] = []
    while True:
        senders = senders_from_config(config)
        try:
            summary = deliver_due(db, senders, max_attempts=attempts, limit=limit, worker=worker)
            # The contact form's confirmation mails have no ticket yet: their own queue.
            confirmed = deliver_confirmations(db, senders, max_attempts=attempts, limit=limit)
        except DatabaseUnavailable as exc:
            if not watch:
                raise
            err.print(
                literal(
                    "deskterm: "
                    + _("{error}; trying again in {seconds}").format(
                        error=exc, seconds=format_duration(interval)
                    )
                )
            )
            summary, confirmed = None, []
        except KeyboardInterrupt:
            break
        finally:
            senders.close()
        for c in confirmed:
            if as_json:
                reported.append({"confirmation": c.request_id, **c.model_dump()})
            else:
                out.print(
                    literal(
                        _("contact form confirmation to {recipient}: {outcome}").format(
                            recipient=c.recipient or "-", outcome=c.outcome
                        )
                        + (f" ({c.error})" if c.error else "")
                    )
                )
        if summary is not None:
            for d in summary.deliveries:
                if as_json:
                    reported.append(d.__dict__)
                else:
                    out.print(_delivery_line(d))
            if not watch and not as_json:
                out.print(
                    _("{sent} sent, {retrying} to retry, {dead} dead").format(
                        sent=summary.count("sent"),
                        retrying=summary.count("retrying"),
                        dead=summary.count("dead"),
                    )
                )
        if not watch:
            break
        try:
            if stop.wait(interval):
                break
        except KeyboardInterrupt:
            break
    if as_json:
        print_json(reported)


def _stop_on_sigterm(stop: threading.Event) -> None:
    import signal

    if threading.current_thread() is not threading.main_thread():
        return
    # A service manager stops us with SIGTERM: finish the message in hand, then leave.
    signal.signal(signal.SIGTERM, lambda *_args: stop.set())


def _delivery_line(d: object) -> Text:
    from rich.text import Text

    status = getattr(d, "status", "")
    style = {"sent": "green", "dead": "bold red", "retrying": "yellow"}.get(status, "")
    line = Text(f"{_outbox_status(status):<8}", style=style)
    line.append(f" #{getattr(d, 'id', '')} {getattr(d, 'ref', '')} {getattr(d, 'channel', '')} ")
    line.append_text(literal(getattr(d, "recipient", None) or _("(no address)")))
    reason = getattr(d, "reason", None)
    if reason:
        line.append(" · ")
        line.append_text(literal(reason))
    return line


@outbox_app.command(
    "retry",
    help=_("Send dead messages again now, with a fresh count of tries (supervisors and admins)."),
)
def outbox_retry(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help=_("Outbox message ids."))] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help=_("Every dead message."))] = False,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.outbox import retry

    rows = _state(ctx).desk().write(retry, ids=ids or [], all_dead=all_dead)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    if not rows:
        out.print(_("No dead messages."))
        return
    for r in rows:
        out.print(
            literal(
                _("#{id} {ref} {kind} queued again; `deskterm outbox run` sends it").format(
                    id=r.id, ref=r.ref, kind=r.kind
                )
            )
        )


# --------------------------------------------------------------------------- mail


def _import_line(r: ImportResult) -> Text:
    from rich.text import Text

    words = {
        "new_ticket": (pgettext("imported mail", "new ticket"), "green"),
        "reply": (pgettext("imported mail", "reply"), "cyan"),
        "ignored": (pgettext("imported mail", "ignored"), "dim"),
        "kept_aside": (pgettext("imported mail", "kept aside"), "bold red"),
        "duplicate": (pgettext("imported mail", "seen before"), "dim"),
        "not_fetched": (pgettext("imported mail", "not fetched"), "yellow"),
    }
    said, style = words.get(r.outcome, (r.outcome, ""))
    line = Text(f"{said:<11}", style=style)
    if r.ref:
        line.append(f" {r.ref}", style="bold")
    line.append(" ")
    line.append_text(literal(r.from_address or "-"))
    if r.subject:
        line.append(" · ")
        line.append_text(literal(r.subject))
    if r.reason:
        line.append(" · ")
        line.append_text(literal(r.reason))
    line.append(" · ", style="dim")
    line.append_text(literal(r.source))
    return line


def _import_totals(results: list[ImportResult]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    order = ("new_ticket", "reply", "ignored", "kept_aside", "duplicate", "not_fetched")

    def counted(outcome: str, n: int) -> str:
        names = {
            "new_ticket": ngettext("{n} new ticket", "{n} new tickets", n),
            "reply": ngettext("{n} reply", "{n} replies", n),
            "ignored": ngettext("{n} ignored", "{n} ignored", n),
            "kept_aside": ngettext("{n} kept aside", "{n} kept aside", n),
            "duplicate": ngettext("{n} seen before", "{n} seen before", n),
            "not_fetched": ngettext("{n} not fetched", "{n} not fetched", n),
        }
        return names[outcome].format(n=n)

    said = ", ".join(counted(k, counts[k]) for k in order if counts.get(k))
    return _("{messages}: {counts}").format(
        messages=ngettext("{n} message", "{n} messages", len(results)).format(n=len(results)),
        counts=said or _("none"),
    )


def _check_group(ctx: typer.Context, group: str | None) -> None:
    """A mistyped intake group is refused before any mail is taken, not per message."""
    if group:
        from deskterm.desk.context import Desk
        from deskterm.desk.lookups import group_by_name

        Desk(_state(ctx).database(), None).read(lambda session, _a: group_by_name(session, group))


@mail_app.command(
    "import",
    help=_("Turn mail files into tickets and replies; auto-replies and bounces are only recorded."),
)
def mail_import(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(help=_(".eml files, mbox files, Maildir folders, or folders of them.")),
    ],
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.channels import load_config
    from deskterm.desk.mail import check_paths, import_paths

    config = load_config()
    check_paths(paths)
    _check_group(ctx, config.mail_group)
    results = import_paths(
        _state(ctx).database(),
        paths,
        own_addresses=config.own_addresses,
        group=config.mail_group,
        progress=None if as_json else lambda r: out.print(_import_line(r)),
    )
    if as_json:
        print_json([r.to_json() for r in results])
        return
    out.print(_import_totals(results))


@mail_app.command(
    "fetch",
    help=_("Import unseen mail from the IMAP folder (DESKTERM_IMAP_HOST ...), marking it seen."),
)
def mail_fetch(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option(help=_("At most this many messages."), min=1)] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.channels import load_config
    from deskterm.desk.mail import fetch_imap
    from deskterm.domain.errors import InvalidInput

    config = load_config()
    if config.imap is None:
        raise InvalidInput(
            _(
                "IMAP is not configured: set DESKTERM_IMAP_HOST, DESKTERM_IMAP_USER and "
                "DESKTERM_IMAP_PASSWORD (or [imap] in the config file)"
            ),
            field="config",
        )
    _check_group(ctx, config.mail_group)
    results = fetch_imap(
        _state(ctx).database(),
        config.imap,
        own_addresses=config.own_addresses,
        group=config.mail_group,
        limit=limit,
        progress=None if as_json else lambda r: out.print(_import_line(r)),
    )
    if as_json:
        print_json([r.to_json() for r in results])
        return
    out.print(_import_totals(results))


@mail_app.command(
    "list", help=_("Imported mail, newest first: by default what became no ticket, and why.")
)
def mail_list(
    ctx: typer.Context,
    outcome: Annotated[
        list[str] | None,
        typer.Option(
            "--outcome",
            help=_("kept_aside, ignored, new_ticket, reply or all (default: kept_aside, ignored)."),
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help=_("At most this many (1-1000)."))] = 50,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from rich import box
    from rich.table import Table

    from deskterm.desk.mail import list_mail

    kwargs = {"outcomes": outcome} if outcome else {}
    rows = _state(ctx).desk().read(list_mail, limit=limit, **kwargs)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_mail):
        return
    if not rows:
        out.print(_("No such mail."))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in (
        # Translators: column headers of `deskterm mail list`.
        _("ID"),
        _("Received"),
        _("From"),
        _("Subject"),
        _("Outcome"),
        _("Why / ticket"),
    ):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(
            str(r.id),
            when(r.received_at),
            literal(r.from_address or "-"),
            literal(r.subject or "-"),
            r.outcome.replace("_", " "),
            literal(r.ref or r.reason or ""),
        )
    out.print(table)


@mail_app.command(
    "raw",
    help=_(
        "Write an imported message, as it arrived, to stdout: `> mail.eml` saves it exactly.\n\n"
        "On a terminal its control characters are shown escaped (\\x1b), never sent: a "
        "stranger's bytes must not retitle the window, write the clipboard or clear the screen."
    ),
)
def mail_raw(
    ctx: typer.Context,
    mail_id: Annotated[int, typer.Argument(help=_("The id shown by `deskterm mail list`."))],
) -> None:
    from deskterm.desk.mail import raw_mail
    from deskterm.domain.errors import InvalidInput

    record, data = _state(ctx).desk().read(raw_mail, mail_id=mail_id)
    if data is None:
        raise InvalidInput(
            _(
                "mail #{id} went into {ref} before deskterm kept every message as it arrived: "
                "only what was read of it is kept, in the ticket"
            ).format(id=mail_id, ref=record.ref)
            if record.ref
            else _(
                "mail #{id} was imported before deskterm kept every message as it arrived: "
                "only what was read of it is kept, in the ticket"
            ).format(id=mail_id),
            field="id",
        )
    if sys.stdout.isatty():
        err.print(
            literal(
                "deskterm: "
                + _(
                    "control characters are shown escaped; for the exact bytes: "
                    "deskterm mail raw {id} > mail-{id}.eml"
                ).format(id=mail_id)
            )
        )
        encoding = sys.stdout.encoding or "utf-8"
        sys.stdout.flush()
        sys.stdout.buffer.write(escaped_for_terminal(data).encode(encoding, "backslashreplace"))
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
    sys.stdout.flush()


# C0 and C1 controls (line breaks and tabs aside), DEL, and the marks that reorder a line.
_TERMINAL_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def escaped_for_terminal(data: bytes) -> str:
    """Bytes as text a terminal only prints: each unsafe character as its escape (``\\x1b``),
    bytes that are not UTF-8 as ``\\xNN``."""
    text = data.decode("utf-8", "backslashreplace").replace("\r\n", "\n")
    return _TERMINAL_UNSAFE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


@mail_app.command("attachments", help=_("List the files that came with a ticket's mail."))
def mail_attachments(
    ctx: typer.Context,
    ref: str,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.mail import list_attachments
    from deskterm.desk.mailparse import describe_size

    rows = _state(ctx).desk().read(list_attachments, ref=ref)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_attachments):
        return
    if not rows:
        out.print(_("No attachments."))
        return
    for r in rows:
        out.print(
            literal(
                f"{r.id:>6}  {r.filename}  {r.content_type}  {describe_size(r.size)}  "
                f"{when(r.received_at)}"
            )
        )


@mail_app.command("save", help=_("Save an attachment to a file."))
def mail_save(
    ctx: typer.Context,
    attachment_id: Annotated[int, typer.Argument(help=_("From `deskterm mail attachments REF`."))],
    to: Annotated[
        Path | None,
        typer.Option("--to", "-o", help=_("File or folder (default: its name, here).")),
    ] = None,
    force: Annotated[bool, typer.Option(help=_("Overwrite an existing file."))] = False,
) -> None:
    from deskterm.desk.mail import attachment_content
    from deskterm.domain.errors import InvalidInput

    meta, data = _state(ctx).desk().read(attachment_content, attachment_id=attachment_id)
    target = to or Path(meta.filename)
    if target.is_dir():
        target = target / meta.filename
    if target.exists() and not force:
        raise InvalidInput(
            _("{path} exists; use --force to overwrite it").format(path=target), field="to"
        )
    target.write_bytes(data)
    out.print(
        literal(
            ngettext(
                "saved {name} ({n} byte) to {path}", "saved {name} ({n} bytes) to {path}", len(data)
            ).format(name=meta.filename, n=format_number(len(data)), path=target)
        )
    )


# --------------------------------------------------------------------------- customer view


def show_customer_view(ctx: typer.Context, ref: str, as_json: bool) -> None:
    from deskterm.desk.customer import customer_view

    view = _state(ctx).desk().read(customer_view, ref=ref)
    if as_json:
        print_json(view.to_json())
        return
    out.print(render_customer_view(view))


def render_customer_view(view: CustomerView) -> Table:
    """The case as the customer sees it; every word from the log printed literally."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    # Who has the case, in the customer's words and language, as the web page says it.
    where = view.where
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        title=Text.assemble(
            (view.ref, "bold"),
            "  ",
            literal(view.subject),
            f"  ({view.status}; ",
            literal(where),
            ")",
        ),
        title_justify="left",
    )
    table.add_column(_("When"), no_wrap=True, style="dim")
    table.add_column(_("Who"), no_wrap=True)
    table.add_column(_("What"))
    for entry in view.entries:
        table.add_row(when(entry.at), literal(entry.by), literal(entry.text))
    return table
