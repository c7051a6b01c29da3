"""Email to tickets: ``.eml`` files, mbox files, Maildir folders, and IMAP.

Each message is taken in a transaction of its own and ends in exactly one way, recorded in
``mail_message``:

- a **new ticket** (channel email; the contact matched by address, or created);
- a **reply**, added to its ticket's log as a customer message, which puts a ticket waiting
  on the customer back to work. The log shows what the customer wrote now, the quoted thread
  and the signature folded away (``mailfold``; a new ticket's description likewise), and keeps
  the whole text beside it. A reply is recognised by ``In-Reply-To``/``References``
  naming one of our messages (their IDs carry a secret token), or naming a message already
  in the ticket or the reference ``DT-000123`` in the subject when it comes from the
  ticket's contact or their organization's mail domain; anyone else quoting a reference or
  a customer's Message-ID gets a new ticket, linked to the one they named, so no stranger
  can write into someone else's case;
- **ignored**: auto-replies, bounces, bulk and list mail, and our own messages, so that no
  mail loop can start (a bounce of one of our messages is noted on its ticket);
- **kept aside** with the reason, when it cannot be read.

Every message keeps its bytes, so nothing that arrived is lost, whatever the parser could
not show (the ticket's log says what that was). A message imported again is recognised and
skipped: the same Message-ID from the same sender with the same body, or, without a
Message-ID, the same bytes. Anyone can write any Message-ID, so the ID alone never makes a
mail "seen before". The sender is the one address of the From header as it arrived; a mail
whose From names several addresses, or a group, is kept aside. A reply
to a resolved ticket is added to it without reopening it (a "thank you" must not undo a
resolution; the analyst decides); a reply to a closed one opens a new ticket linked to it.
"""

from __future__ import annotations

import imaplib
import mailbox
import re
import ssl
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.engine import Database
from deskterm.db.models import (
    Contact,
    MailAttachment,
    MailMessage,
    Notification,
    Organization,
    SupportGroup,
    Ticket,
)
from deskterm.desk import clock, outbox, tickets
from deskterm.desk.channels import ImapConfig
from deskterm.desk.contacts import add_contact, checked_email
from deskterm.desk.context import Desk
from deskterm.desk.mailfold import fold_reply
from deskterm.desk.mailparse import (
    BODY_MAX,
    Attachment,
    ParsedMail,
    Unreadable,
    guess_language,
    parse_mail,
    raw_key,
)
from deskterm.desk.outbox import OutboxStatus
from deskterm.desk.schemas import Public
from deskterm.domain import payloads as p
from deskterm.domain.enums import Channel, Status
from deskterm.domain.errors import DatabaseUnavailable, DeskError, InvalidInput, NotFound
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.domain.text import NAME_MAX, clean_line
from deskterm.i18n import _, normalize

# [0-9], not \d: a Unicode digit ("[DT-١]") must not name a ticket.
_SUBJECT_REF = re.compile(r"\bDT-?0*([0-9]{1,12})\b", re.IGNORECASE)
_OUR_ID = re.compile(r"<DT-([0-9]{1,12})\.([0-9a-f]{16})@[^<>\s]+>", re.IGNORECASE)
_OUR_ID_BYTES = re.compile(rb"<DT-(\d{1,12})\.([0-9a-f]{16})@[^<>\s]+>", re.IGNORECASE)
_DIAGNOSTIC = re.compile(rb"(?im)^Diagnostic-Code:[ \t]*(.+)$")
_STATUS = re.compile(rb"(?im)^Status:[ \t]*(\d\.\d+\.\d+.*)$")


class MailOutcome(StrEnum):
    NEW_TICKET = "new_ticket"
    REPLY = "reply"
    IGNORED = "ignored"
    KEPT_ASIDE = "kept_aside"
    #: Not stored: the message was imported before.
    DUPLICATE = "duplicate"


class MailServerError(DeskError):
    """The IMAP server could not be reached or refused us."""

    exit_code = 4


class ImportResult(Public):
    source: str
    outcome: str
    ref: str | None = None
    mail_id: int | None = None
    from_address: str | None = None
    subject: str | None = None
    reason: str | None = None


class MailPublic(Public):
    id: int
    source: str
    received_at: datetime
    from_address: str | None
    subject: str | None
    outcome: str
    reason: str | None
    ref: str | None
    size: int


class AttachmentPublic(Public):
    id: int
    ref: str | None
    filename: str
    content_type: str
    size: int
    received_at: datetime


# --------------------------------------------------------------------------- one message


def receive_mail(
    session: Session,
    actor: Actor,
    *,
    raw: bytes,
    source: str,
    own_addresses: frozenset[str] = frozenset(),
    group: str | None = None,
) -> ImportResult:
    """Take one message into the desk (see the module's docstring for what becomes of it)."""
    source = clean_line(source)[:500]
    try:
        parsed = parse_mail(raw)
    except Unreadable as exc:
        earlier = _earlier(session, raw, None)
        if earlier is not None:
            return _duplicate(source, None, earlier)
        return _file(session, raw, source, None, MailOutcome.KEPT_ASIDE, str(exc))
    earlier = _earlier(session, raw, parsed)
    if earlier is not None:
        return _duplicate(source, parsed, earlier)
    if parsed.automatic:
        if parsed.bounce:
            _note_bounce(session, raw)
        return _file(session, raw, source, parsed, MailOutcome.IGNORED, parsed.automatic)
    if parsed.from_this_desk or (parsed.from_address or "") in own_addresses:
        return _file(session, raw, source, parsed, MailOutcome.IGNORED, "sent by this desk")
    if parsed.sender_problem is not None:
        return _file(session, raw, source, parsed, MailOutcome.KEPT_ASIDE, parsed.sender_problem)
    if parsed.from_address is None:
        return _file(
            session,
            raw,
            source,
            parsed,
            MailOutcome.KEPT_ASIDE,
            "no sender address: nobody to answer",
        )
    try:
        parsed.from_address = checked_email(parsed.from_address, field="from")
    except InvalidInput as exc:
        reason = f"the sender's address cannot be answered: {exc}"
        return _file(session, raw, source, parsed, MailOutcome.KEPT_ASIDE, reason)
    ticket, quoted = _find_ticket(session, parsed)
    if ticket is not None and ticket.status not in (Status.CLOSED, Status.CANCELLED):
        return _reply(session, actor, raw, source, parsed, ticket)
    related = ticket.id if ticket is not None else quoted
    return _new_ticket(session, actor, raw, source, parsed, group, related)


def _earlier(session: Session, raw: bytes, parsed: ParsedMail | None) -> MailMessage | None:
    """The same message, imported before (see ``mailparse.mail_key``)."""
    key = parsed.dedup_key if parsed is not None else raw_key(raw)
    found = session.scalars(select(MailMessage).where(col(MailMessage.dedup_key) == key)).first()
    if found is not None or parsed is None or parsed.message_id is None:
        return found
    # Mail imported before revision 0009 was known by its Message-ID alone, and its body
    # was not always kept: the same ID from the same sender is the best that can be said.
    return session.scalars(
        select(MailMessage).where(
            col(MailMessage.dedup_key) == f"id:{parsed.message_id}",
            col(MailMessage.content_digest).is_(None),
            col(MailMessage.from_address) == parsed.from_address,
        )
    ).first()


def _duplicate(source: str, parsed: ParsedMail | None, earlier: MailMessage) -> ImportResult:
    ref = format_ref(earlier.ticket_id) if earlier.ticket_id else None
    what = f"as {ref}" if ref else f"and {earlier.outcome.replace('_', ' ')} (mail #{earlier.id})"
    return ImportResult(
        source=source,
        outcome=MailOutcome.DUPLICATE,
        ref=ref,
        mail_id=earlier.id,
        from_address=parsed.from_address if parsed else earlier.from_address,
        subject=parsed.subject if parsed else earlier.subject,
        reason=f"imported before {what}",
    )


def _file(
    session: Session,
    raw: bytes,
    source: str,
    parsed: ParsedMail | None,
    outcome: MailOutcome,
    reason: str,
    *,
    ticket_id: int | None = None,
    contact_id: int | None = None,
) -> ImportResult:
    """Record the message, with its bytes as they arrived."""
    row = MailMessage(
        dedup_key=parsed.dedup_key if parsed else raw_key(raw),
        message_id=parsed.message_id if parsed else None,
        content_digest=parsed.digest if parsed else None,
        source=source,
        received_at=clock.now(),
        sent_at=parsed.sent_at if parsed else None,
        from_address=parsed.from_address if parsed else None,
        from_name=parsed.from_name if parsed else None,
        subject=parsed.subject[:300] if parsed else None,
        outcome=outcome,
        reason=reason[:500] if reason else None,
        ticket_id=ticket_id,
        contact_id=contact_id,
        size=len(raw),
        # Kept even when a ticket holds what it said: the parser may not have shown all
        # of it, and the message as it arrived is the only record of what came in.
        raw=raw,
    )
    session.add(row)
    session.flush()
    return ImportResult(
        source=source,
        outcome=outcome,
        ref=format_ref(ticket_id) if ticket_id else None,
        mail_id=row.id,
        from_address=row.from_address,
        subject=row.subject,
        reason=reason if ticket_id is None else None,
    )


def _find_ticket(session: Session, parsed: ParsedMail) -> tuple[Ticket | None, int | None]:
    """The ticket this mail answers, and a ticket it only quotes (for a link)."""
    quoted: int | None = None
    for thread_id in parsed.thread_ids:
        ours = _OUR_ID.fullmatch(thread_id)
        if ours:
            # Our own Message-IDs carry a secret token: only who received our mail knows it.
            ticket_id = session.scalar(
                select(col(Notification.ticket_id)).where(
                    col(Notification.token) == ours[2].lower()
                )
            )
            if ticket_id is not None:
                return session.get(Ticket, ticket_id), None
            continue
        ticket_id = session.scalar(
            select(col(MailMessage.ticket_id))
            .where(
                col(MailMessage.message_id) == thread_id, col(MailMessage.ticket_id).is_not(None)
            )
            # Message-IDs are not unique: the first mail that had it, not whichever.
            .order_by(col(MailMessage.id))
            .limit(1)
        )
        if ticket_id is None:
            continue
        # A customer's own Message-ID is no secret (everyone on Cc saw it): it threads a
        # mail into the case only from the ticket's contact or their organization.
        ticket = session.get(Ticket, ticket_id)
        if ticket is not None and _sender_belongs(session, ticket, parsed.from_address or ""):
            return ticket, None
        quoted = quoted or ticket_id
    match = _SUBJECT_REF.search(parsed.subject)
    if match is None:
        return None, quoted
    ticket = session.get(Ticket, int(match[1]))
    if ticket is None:
        return None, None
    if _sender_belongs(session, ticket, parsed.from_address or ""):
        return ticket, None
    return None, ticket.id


def _sender_belongs(session: Session, ticket: Ticket, address: str) -> bool:
    """The sender is the ticket's contact, or writes from their organization's domain."""
    if ticket.contact_id is None:
        return False
    contact = session.get(Contact, ticket.contact_id)
    if contact is None:
        return False
    if contact.email and contact.email.lower() == address:
        return True
    if contact.organization_id is None:
        return False
    org = session.get(Organization, contact.organization_id)
    domain = (org.email_domain or "").strip().lower().lstrip("@") if org else ""
    return bool(domain) and address.endswith("@" + domain)


def _contact(session: Session, actor: Actor, parsed: ParsedMail) -> Contact:
    address = parsed.from_address
    assert address is not None
    found = session.scalars(
        select(Contact).where(col(Contact.email) == address).order_by(col(Contact.id)).limit(1)
    ).first()
    if found is not None:
        return found
    domain = address.partition("@")[2]
    org = session.scalars(
        select(Organization)
        .where(func.lower(col(Organization.email_domain)).in_([domain, "@" + domain]))
        .order_by(col(Organization.id))
        .limit(1)
    ).first()
    name = (parsed.from_name or address.partition("@")[0])[:NAME_MAX]
    created = add_contact(
        session,
        actor,
        name=name or address,
        email=address,
        organization=org.name if org else None,
        language=_spoken(parsed),
    )
    contact = session.get(Contact, created.id)
    assert contact is not None
    contact.preferred_channel = Channel.EMAIL
    return contact


def _spoken(parsed: ParsedMail) -> str | None:
    """The language of a contact a mail creates: the one its ``Content-Language`` header
    names, when deskterm speaks it; without the header, the one its text is confidently in
    (``mailparse.guess_language``); else none, and the customer is written to in English.
    A header naming another language (``fr``) is believed: no guess overrides it."""
    if parsed.language:
        return normalize(parsed.language)
    return guess_language(f"{parsed.subject}\n{parsed.body}")


def _intake_group(session: Session, wanted: str | None) -> str | None:
    if wanted:
        return wanted
    return session.scalar(
        select(col(SupportGroup.name))
        .where(col(SupportGroup.level) == 1)
        .order_by(col(SupportGroup.id))
        .limit(1)
    )


def _new_ticket(
    session: Session,
    actor: Actor,
    raw: bytes,
    source: str,
    parsed: ParsedMail,
    group: str | None,
    related: int | None,
) -> ImportResult:
    contact = _contact(session, actor, parsed)
    # The description is what the customer wrote now; the whole text stays in the log.
    folded = fold_reply(parsed.body, subject=parsed.subject)
    detail = tickets.create_ticket(
        session,
        actor,
        subject=parsed.subject or _first_words(parsed.body) or "(no subject)",
        description=folded.text,
        contact_id=contact.id,
        channel=Channel.EMAIL,
        group=_intake_group(session, group),
        assignee=None,
    )
    result = _file(
        session,
        raw,
        source,
        parsed,
        MailOutcome.NEW_TICKET,
        "",
        ticket_id=detail.id,
        contact_id=contact.id,
    )
    assert result.mail_id is not None
    files = _store_files(session, result.mail_id, detail.id, parsed.attachments)
    ticket = tickets.load(session, detail.id)
    # Part of the opening change: the mail's facts and files, its text being the description.
    change = tickets.Change(session, actor, ticket, created=True)
    change.log(
        p.CustomerMessage(
            channel=Channel.EMAIL,
            from_=parsed.from_address,
            subject=parsed.subject,
            message_id=parsed.message_id,
            mail_id=result.mail_id,
            attachments=files or None,
            full_text=parsed.body if folded.lines else None,
            folded=folded.lines or None,
        ),
        visible=True,
    )
    _say_what_was_not_shown(change, parsed, result.mail_id)
    change.save()
    if related is not None:
        tickets.link(session, actor, ref=detail.id, other=related, kind="related")
    return result


def _first_words(body: str) -> str:
    line = next((ln.strip() for ln in body.splitlines() if ln.strip()), "")
    return clean_line(line)[:80]


def _reply(
    session: Session,
    actor: Actor,
    raw: bytes,
    source: str,
    parsed: ParsedMail,
    ticket: Ticket,
) -> ImportResult:
    assert ticket.id is not None
    ticket = tickets.load(session, ticket.id)
    assert ticket.id is not None
    result = _file(
        session,
        raw,
        source,
        parsed,
        MailOutcome.REPLY,
        "",
        ticket_id=ticket.id,
        contact_id=ticket.contact_id,
    )
    assert result.mail_id is not None
    files = _store_files(session, result.mail_id, ticket.id, parsed.attachments)
    change = tickets.Change(session, actor, ticket)
    # Every reply repeats the thread: the log shows the new part and keeps the whole.
    folded = fold_reply(parsed.body, subject=parsed.subject)
    change.log(
        p.CustomerMessage(
            channel=Channel.EMAIL,
            from_=parsed.from_address,
            subject=parsed.subject,
            text=folded.text or None,
            message_id=parsed.message_id,
            mail_id=result.mail_id,
            attachments=files or None,
            full_text=parsed.body if folded.lines else None,
            folded=folded.lines or None,
        ),
        visible=True,
    )
    _say_what_was_not_shown(change, parsed, result.mail_id)
    if ticket.status == Status.WAITING_CUSTOMER:
        back = Status.IN_PROGRESS if ticket.assignee_id else Status.NEW
        ticket.status = back
        change.log(
            p.StatusChanged(from_=Status.WAITING_CUSTOMER, to=back, reason="the customer replied")
        )
    change.save()
    return result


def not_shown_text(parsed: ParsedMail, mail_id: int) -> str | None:
    """What of a mail the ticket does not show, in words; None when it shows all of it."""
    said = []
    for what, count in sorted(parsed.not_shown.items()):
        noun, _sep, rest = what.partition(" ")
        said.append(f"{count:,} {noun.removesuffix('s') if count == 1 else noun} {rest}")
    if parsed.cut:
        said.append(f"{parsed.cut:,} characters of text past the first {BODY_MAX:,}")
    if not said:
        return None
    return (
        f"Not shown from this mail: {'; '.join(said)}. The whole message is kept: "
        f"`deskterm mail raw {mail_id} > mail-{mail_id}.eml`"
    )


def _say_what_was_not_shown(change: tickets.Change, parsed: ParsedMail, mail_id: int) -> None:
    text = not_shown_text(parsed, mail_id)
    if text is not None:
        change.log(p.Note(text=text), visible=False)


def _store_files(
    session: Session, mail_id: int, ticket_id: int, attachments: Sequence[Attachment]
) -> list[p.MailFile]:
    listed = []
    for item in attachments:
        row = MailAttachment(
            mail_id=mail_id,
            ticket_id=ticket_id,
            filename=item.filename,
            content_type=item.content_type[:200],
            size=item.size,
            content=item.content,
        )
        session.add(row)
        session.flush()
        listed.append(
            p.MailFile(id=row.id, name=item.filename, type=row.content_type, size=item.size)
        )
    return listed


def _note_bounce(session: Session, raw: bytes) -> None:
    """A bounce of one of our messages: the ticket says the customer was not reached."""
    match = _OUR_ID_BYTES.search(raw)
    if match is None:
        return
    note = session.scalars(
        select(Notification).where(col(Notification.token) == match[2].decode().lower())
    ).first()
    if note is None or note.status == OutboxStatus.DEAD:
        return
    said = _DIAGNOSTIC.search(raw) or _STATUS.search(raw)
    detail = clean_line(said[1].decode("utf-8", "replace")) if said else "no reason given"
    reason = f"the customer's mail system returned it: {detail}"[:480]
    note.status = OutboxStatus.DEAD
    note.last_error = reason
    outbox.log_given_up(session, note, reason)


# --------------------------------------------------------------------------- many messages


def import_message(
    db: Database,
    raw: bytes,
    *,
    source: str,
    own_addresses: frozenset[str] = frozenset(),
    group: str | None = None,
) -> ImportResult:
    """One message, in a transaction of its own; a failure keeps the message aside."""
    desk = Desk(db, None)
    error: Exception
    for _attempt in (1, 2):
        try:
            return desk.write(
                receive_mail, raw=raw, source=source, own_addresses=own_addresses, group=group
            )
        except DatabaseUnavailable:
            raise
        except IntegrityError as exc:
            # Another importer stored the same message meanwhile: the second try sees it.
            error = exc
        except Exception as exc:
            error = exc
            break
    said = " ".join(str(getattr(error, "orig", None) or error).split())
    reason = f"could not import it: {type(error).__name__}: {said}"
    return desk.write(_keep_aside, raw=raw, source=source, reason=reason[:480])


def _keep_aside(
    session: Session, actor: Actor, *, raw: bytes, source: str, reason: str
) -> ImportResult:
    try:
        parsed: ParsedMail | None = parse_mail(raw)
    except Exception:
        parsed = None
    earlier = _earlier(session, raw, parsed)
    if earlier is not None:
        return _duplicate(source, parsed, earlier)
    return _file(session, raw, clean_line(source)[:500], parsed, MailOutcome.KEPT_ASIDE, reason)


def check_paths(paths: Sequence[Path]) -> None:
    for path in paths:
        if not path.exists():
            raise InvalidInput(_("no such file or folder: {path}").format(path=path), field="path")


def read_sources(paths: Sequence[Path]) -> Iterator[tuple[str, bytes]]:
    """Every message under ``paths``: ``.eml`` files, mbox files, Maildirs, folders of them.

    All paths are checked before the first message is read, so a typo imports nothing.
    """
    check_paths(paths)
    for path in paths:
        yield from _messages(path)


def _messages(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            box = mailbox.Maildir(str(path), factory=None, create=False)
            for key in sorted(box.keys()):
                yield f"{path}#{key}", box.get_bytes(key)
            return
        for child in sorted(path.iterdir()):
            if not child.name.startswith(".") and (child.is_file() or child.is_dir()):
                yield from _messages(child)
        return
    with path.open("rb") as handle:
        head = handle.read(5)
    if head == b"From ":
        mbox = mailbox.mbox(str(path), create=False)
        try:
            for number, key in enumerate(mbox.keys(), start=1):
                yield f"{path}#{number}", mbox.get_bytes(key)
        finally:
            mbox.close()
        return
    yield str(path), path.read_bytes()


def import_paths(
    db: Database,
    paths: Sequence[Path],
    *,
    own_addresses: frozenset[str] = frozenset(),
    group: str | None = None,
    progress: Callable[[ImportResult], None] | None = None,
) -> list[ImportResult]:
    results = []
    for source, raw in read_sources(paths):
        result = import_message(db, raw, source=source, own_addresses=own_addresses, group=group)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


# --------------------------------------------------------------------------- IMAP


def imap_client(config: ImapConfig, *, timeout: float = 30.0) -> imaplib.IMAP4:
    context = ssl.create_default_context()
    if config.tls == "tls":
        return imaplib.IMAP4_SSL(config.host, config.port, ssl_context=context, timeout=timeout)
    client = imaplib.IMAP4(config.host, config.port, timeout=timeout)
    if config.tls == "starttls":
        client.starttls(ssl_context=context)
    return client


def fetch_imap(
    db: Database,
    config: ImapConfig,
    *,
    own_addresses: frozenset[str] = frozenset(),
    group: str | None = None,
    limit: int | None = None,
    connect: Callable[[ImapConfig], imaplib.IMAP4] = imap_client,
    progress: Callable[[ImportResult], None] | None = None,
) -> list[ImportResult]:
    """Import the unseen messages of the IMAP folder, marking each seen once it is stored.

    Marked after the commit: a crash between the two leaves it unseen, and the next fetch
    recognises it as imported before.
    """
    where = f"imap://{config.user}@{config.host}/{config.folder}"
    results: list[ImportResult] = []
    try:
        client = connect(config)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        raise MailServerError(
            f"cannot reach IMAP server {config.host}:{config.port}: {exc}"
        ) from None
    try:
        try:
            client.login(config.user, config.password)
        except imaplib.IMAP4.error as exc:
            raise MailServerError(f"IMAP login to {config.host} refused: {_said(exc)}") from None
        status, _count = client.select(_quoted(config.folder))
        if status != "OK":
            raise MailServerError(f"IMAP folder {config.folder!r} cannot be opened")
        # No charset: imaplib leaves a None argument out, so this is the same command.
        status, data = client.uid("SEARCH", "UNSEEN")
        if status != "OK":
            raise MailServerError(f"IMAP search in {config.folder!r} failed")
        uids = data[0].split() if data and data[0] else []
        for uid_bytes in uids[:limit] if limit else uids:
            uid = uid_bytes.decode("ascii")
            status, data = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next(
                (item[1] for item in data or [] if isinstance(item, tuple) and len(item) > 1),
                None,
            )
            if status != "OK" or not isinstance(raw, bytes):
                # Left unseen: the next fetch tries it again.
                results.append(
                    ImportResult(
                        source=f"{where};UID={uid}",
                        outcome="not_fetched",
                        reason="the server sent no message for it; left for the next fetch",
                    )
                )
                continue
            result = import_message(
                db, raw, source=f"{where};UID={uid}", own_addresses=own_addresses, group=group
            )
            client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
            results.append(result)
            if progress is not None:
                progress(result)
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise MailServerError(f"IMAP connection to {config.host} lost: {exc}") from None
    finally:
        try:
            client.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
    return results


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _said(exc: Exception) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())


# --------------------------------------------------------------------------- reading


def list_mail(
    session: Session,
    actor: Actor,
    *,
    outcomes: Sequence[str] = (MailOutcome.KEPT_ASIDE, MailOutcome.IGNORED),
    limit: int = 50,
) -> list[MailPublic]:
    """Imported mail, newest first: by default what did not become part of a ticket."""
    if not 1 <= limit <= 1000:
        raise InvalidInput(
            _("limit must be between 1 and 1000, not {limit}").format(limit=limit), field="limit"
        )
    wanted = []
    for name in outcomes:
        key = name.strip().lower().replace("-", "_").replace(" ", "_")
        if key == "all":
            wanted = [o.value for o in MailOutcome]
            break
        try:
            wanted.append(MailOutcome(key).value)
        except ValueError:
            allowed = ", ".join(o.value for o in MailOutcome if o != MailOutcome.DUPLICATE)
            raise InvalidInput(
                _("unknown outcome {name!r}: use {allowed} or all").format(
                    name=name, allowed=allowed
                ),
                field="outcome",
            ) from None
    rows = session.scalars(
        select(MailMessage)
        .where(col(MailMessage.outcome).in_(wanted))
        .order_by(col(MailMessage.id).desc())
        .limit(limit)
    )
    return [
        MailPublic(
            id=m.id or 0,
            source=m.source,
            received_at=m.received_at,
            from_address=m.from_address,
            subject=m.subject,
            outcome=m.outcome,
            reason=m.reason,
            ref=format_ref(m.ticket_id) if m.ticket_id else None,
            size=m.size,
        )
        for m in rows
    ]


def list_attachments(session: Session, actor: Actor, *, ref: str) -> list[AttachmentPublic]:
    ticket_id = parse_ref(ref)
    if session.get(Ticket, ticket_id) is None:
        raise NotFound(_("no ticket {ref}").format(ref=format_ref(ticket_id)))
    rows = session.execute(
        select(
            col(MailAttachment.id),
            col(MailAttachment.filename),
            col(MailAttachment.content_type),
            col(MailAttachment.size),
            col(MailMessage.received_at),
        )
        .join(MailMessage, col(MailMessage.id) == col(MailAttachment.mail_id))
        .where(col(MailAttachment.ticket_id) == ticket_id)
        .order_by(col(MailAttachment.id))
    ).all()
    return [
        AttachmentPublic(
            id=i,
            ref=format_ref(ticket_id),
            filename=name,
            content_type=kind,
            size=size,
            received_at=at,
        )
        for i, name, kind, size, at in rows
    ]


def attachment_content(
    session: Session, actor: Actor, *, attachment_id: int
) -> tuple[AttachmentPublic, bytes]:
    row = session.get(MailAttachment, attachment_id)
    if row is None or row.id is None:
        raise NotFound(_("no attachment {id}").format(id=attachment_id))
    mail = session.get(MailMessage, row.mail_id)
    public = AttachmentPublic(
        id=row.id,
        ref=format_ref(row.ticket_id) if row.ticket_id else None,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        received_at=mail.received_at if mail else clock.now(),
    )
    return public, bytes(row.content)


def raw_mail(session: Session, actor: Actor, *, mail_id: int) -> tuple[MailPublic, bytes | None]:
    """A stored message's record and its bytes as they arrived.

    ``None`` only for mail that went into a ticket before revision 0009, when the message
    itself was not kept: the ticket holds what was read of it, and nothing more.
    """
    row = session.get(MailMessage, mail_id)
    if row is None or row.id is None:
        raise NotFound(_("no imported mail #{id}").format(id=mail_id))
    public = MailPublic(
        id=row.id,
        source=row.source,
        received_at=row.received_at,
        from_address=row.from_address,
        subject=row.subject,
        outcome=row.outcome,
        reason=row.reason,
        ref=format_ref(row.ticket_id) if row.ticket_id else None,
        size=row.size,
    )
    return public, bytes(row.raw) if row.raw is not None else None
