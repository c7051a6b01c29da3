"""The customer's own pages (``deskterm serve web``): their case, their reply, their verdict
and their survey, reached by a link only they were given.

A link is ``{base_url}/case/{token}``. The token names a ticket, its contact and the
ticket's link generation, with the moment it was made, signed (``itsdangerous``, HMAC-SHA256)
with the desk's own secret: 32 random bytes made on first use and kept in ``portal_key``,
never in a link. A token opens its case for :data:`LINK_DAYS` days while the ticket still
belongs to that contact and its links have not been revoked since (``portal revoke REF``
bumps the generation). Whatever is wrong with a token (a changed character, its age, a
revocation, a ticket gone or now someone else's) is one refusal, :class:`UnknownCase`, so
that a page cannot tell a guess from a revoked link; only the log of the server says which.

The customer acts as the desk itself (the ``system`` actor, as mail that arrives does):
the token is their permission, checked in the same transaction as what they change. A
reply is a customer message in the ticket's log, public, as a mail reply is, and puts a
ticket waiting on the customer back to work (its SLA clock resumes); "still broken" on a
resolved ticket reopens it with their words; a survey answer lands in ``survey`` (what the
dashboard reads) with ``via`` ``web``, and may be changed for :data:`SURVEY_DAYS` days.

Each form carries a token of its own (``csrf_token``): an HMAC of the case token under the
desk's secret, compared in constant time before anything is written.

Customers read their own language (the contact's), whoever runs the server: the refusals
they may see are :class:`PortalInputError` with the message already in it.

Self-service, for any visitor (in the language their browser asks for): the published
knowledge-base articles (:func:`faq_search` is ``kb search``'s own search; a draft is
:class:`UnknownPage`, as a missing one), and the contact form. A form whose address is a
contact's is kept in ``portal_request`` and a confirmation mail (template
``portal_confirm``, in the contact's language) is queued in that row: the outbox's rows
belong to a ticket, and this one does not exist yet. :func:`deliver_confirmations` sends
them with the outbox's senders. The mail's link (signed, :data:`CONFIRM_HOURS` hours) opens
a ticket with channel ``portal`` on the first click; later clicks find that ticket. A form
with any other address keeps nothing and sends nothing, and the visitor is told the same.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import IO, TYPE_CHECKING, Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import and_, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.engine import Database
from deskterm.db.models import (
    Contact,
    MailAttachment,
    MailMessage,
    PortalKey,
    PortalLink,
    PortalRequest,
    PortalSurvey,
    SupportGroup,
    Survey,
    Ticket,
    TicketEvent,
)
from deskterm.desk import clock, tickets
from deskterm.desk.customer import CustomerView, customer_view
from deskterm.desk.schemas import Public
from deskterm.domain import payloads as p
from deskterm.domain.enums import ArticleStatus, Channel, EventKind, Status, Visibility
from deskterm.domain.errors import DeskError, InvalidInput, NotFound, PermissionDenied
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.domain.text import clean_line, clean_long, visible
from deskterm.i18n import N_, _, normalize, translate

if TYPE_CHECKING:
    from email.message import EmailMessage

#: How long a link opens its case.
LINK_DAYS = 30
#: How long a survey answer may be changed after the first one.
SURVEY_DAYS = 7
#: The longest reply, verdict or survey comment a customer may write, in characters.
TEXT_MAX = 10_000
COMMENT_MAX = 2_000
#: What a customer may say of a resolved case.
VERDICTS = ("solved", "broken")
#: What one reply may carry: a few screenshots, a log, a document; what a mail server
#: would take. Files land on the ticket as a mail's attachments do (``mail_attachment``).
FILES_MAX = 5
FILE_MAX_BYTES = 10 * 1024 * 1024
FILES_MAX_BYTES = 20 * 1024 * 1024
#: ``source`` of the ``mail_message`` row that holds a reply's files (no mail came).
PORTAL_SOURCE = "portal"
_SALT = "deskterm.portal.case.v1"
_CSRF = b"deskterm.portal.csrf.v1|"

#: Statuses in words a customer reads, marked here, said in the contact's language.
STATUS_WORDS: dict[str, str] = {
    Status.NEW: N_("Received: waiting for the next free technician"),
    Status.ASSIGNED: N_("Assigned: someone will start on it soon"),
    Status.IN_PROGRESS: N_("We are working on it"),
    Status.WAITING_CUSTOMER: N_("We are waiting for your answer"),
    Status.WAITING_THIRD_PARTY: N_("We are waiting for a supplier or another party"),
    Status.RESOLVED: N_("Solved"),
    Status.CLOSED: N_("Closed"),
    Status.CANCELLED: N_("Cancelled"),
}


class UnknownCase(NotFound):
    """No case for this token. ``why`` is for the server's log only, never the page."""

    def __init__(self, why: str) -> None:
        super().__init__("no such case")
        self.why = why


class CsrfRefused(PermissionDenied):
    """A form without its own token, or with someone else's: nothing was written."""

    def __init__(self) -> None:
        super().__init__("the form's csrf_token is missing or wrong")


class PortalInputError(DeskError):
    """What the customer sent cannot be taken; ``message`` is in their language."""

    def __init__(self, message: str, *, field: str, why: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        #: What was wrong, for the server's log: never the customer's words or file names.
        self.why = why or f"{field} refused"


class PortalLinkPublic(Public):
    ref: str
    contact: str
    #: ``{base_url}/case/{token}``, or the path alone without a base URL.
    url: str
    token: str
    generation: int
    expires_at: datetime


class CaseStamp(Public):
    """A live token's case as it is now: whatever the case page shows changes ``version``
    (or ``generation``, ``language``), so a page made for the same stamp is the same page."""

    ticket_id: int
    contact_id: int
    generation: int
    version: int
    status: str
    language: str


class CaseSight(Public):
    """The case page: the customer's view of the case and what they may do on it."""

    view: CustomerView
    language: str
    status: str
    status_words: str
    csrf: str
    #: A reply can be added (the case is not closed or cancelled).
    may_reply: bool
    #: "Solved" / "still broken" can be said (the case is resolved).
    may_verdict: bool
    #: A survey can be answered (the case is resolved or closed).
    may_survey: bool
    #: The files the customer sent with their messages (never the desk's own).
    files: list[CaseFile] = []
    #: The case as it was read for this page (None: not said).
    stamp: CaseStamp | None = None


class ReplyDone(Public):
    ref: str
    status: str
    #: The case went back to work (it was waiting on the customer, or they said it is broken).
    back_to_work: bool
    #: The files kept with the reply, as the ticket lists them.
    files: list[p.MailFile] = []


class CaseFile(Public):
    """A file the customer sent with one of their messages, as their page lists it."""

    name: str
    size: int
    at: datetime


@dataclass(frozen=True)
class Upload:
    """A file the customer sent, as the server received it: ``name`` and ``content_type``
    are what the browser claimed (cleaned before they are kept; the type only ever shown),
    ``file`` the spooled bytes, read once, when they are stored."""

    name: str
    content_type: str
    size: int
    file: IO[bytes]


class SurveySight(Public):
    ref: str
    subject: str
    language: str
    csrf: str
    csat: int | None
    nps: int | None
    comment: str | None
    #: Why no answer can be given now (in the customer's language), or None.
    closed: str | None
    answered_at: datetime | None
    changeable_until: datetime | None


# --------------------------------------------------------------------------- signing


class _DeskClockSigner(TimestampSigner):
    """A timestamp signer on the desk's clock, so a test can age a link."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        secret,
        salt=_SALT,
        signer=_DeskClockSigner,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )


def _secret(session: Session, *, make: bool) -> str | None:
    row = session.get(PortalKey, 1)
    if row is not None:
        return row.secret
    if not make:
        return None
    made = PortalKey(id=1, secret=secrets.token_hex(32), created_at=clock.now())
    try:
        with session.begin_nested():
            session.add(made)
    except IntegrityError:
        # Another analyst's first link made it meanwhile: theirs is the desk's.
        row = session.get(PortalKey, 1)
        assert row is not None
        return row.secret
    return made.secret


def _generation(session: Session, ticket_id: int) -> int:
    row = session.get(PortalLink, ticket_id)
    return row.generation if row is not None else 1


def csrf_for(secret: str, token: str) -> str:
    """The form token of a case token: only the desk's secret makes it."""
    return hmac.new(secret.encode(), _CSRF + token.encode(), hashlib.sha256).hexdigest()


class _Opened:
    """A token checked against the database: its ticket (locked when writing) and contact."""

    def __init__(self, ticket: Ticket, contact: Contact, secret: str, token: str) -> None:
        self.ticket = ticket
        self.contact = contact
        self.secret = secret
        self.token = token
        self.language = normalize(contact.language) or "en"

    @property
    def ticket_id(self) -> int:
        assert self.ticket.id is not None
        return self.ticket.id

    def check_csrf(self, given: str | None) -> None:
        expected = csrf_for(self.secret, self.token)
        if not given or not hmac.compare_digest(expected.encode(), given.encode()):
            raise CsrfRefused()


def _signed(session: Session, token: str) -> tuple[str, int, int, int]:
    """The desk's secret and what the token names (ticket, contact, generation), if it was
    signed here and is not too old; nothing of it checked against the case yet."""
    if not token or len(token) > 300:
        raise UnknownCase("malformed token")
    secret = session.scalar(select(col(PortalKey.secret)).where(col(PortalKey.id) == 1))
    if secret is None:
        raise UnknownCase("this desk has made no link yet")
    try:
        data: Any = _serializer(secret).loads(token, max_age=LINK_DAYS * 86_400)
    except BadSignature as exc:
        # SignatureExpired is a BadSignature: said apart for the log only.
        raise UnknownCase(type(exc).__name__) from None
    if not (
        isinstance(data, list)
        and len(data) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) for v in data)
    ):
        raise UnknownCase("signed, but not a case")
    ticket_id, contact_id, generation = data
    return secret, ticket_id, contact_id, generation


def _stamp(session: Session, token: str) -> tuple[CaseStamp, str]:
    """The token checked as :func:`_open` checks it, in one indexed read (no lock, no ORM
    object): the cheap check of every page load."""
    secret, ticket_id, contact_id, generation = _signed(session, token)
    found = session.execute(
        select(
            col(Ticket.contact_id),
            col(Ticket.version),
            col(Ticket.status),
            col(PortalLink.generation),
            col(Contact.id),
            col(Contact.language),
        )
        .select_from(Ticket)
        .outerjoin(PortalLink, col(PortalLink.ticket_id) == col(Ticket.id))
        .outerjoin(Contact, col(Contact.id) == contact_id)
        .where(col(Ticket.id) == ticket_id)
    ).first()
    if found is None:
        raise UnknownCase("ticket gone")
    owner, version, status, current, contact_found, language = found
    if owner != contact_id:
        raise UnknownCase("the ticket is no longer this contact's")
    if (current or 1) != generation:
        raise UnknownCase("revoked")
    if contact_found is None:
        raise UnknownCase("contact gone")
    stamp = CaseStamp(
        ticket_id=ticket_id,
        contact_id=contact_id,
        generation=generation,
        version=version,
        status=status,
        language=normalize(language) or "en",
    )
    return stamp, secret


def case_stamp(session: Session, actor: Actor, *, token: str) -> CaseStamp:
    """The case a token opens, as it is now (:class:`UnknownCase` when none)."""
    return _stamp(session, token)[0]


def _open(session: Session, token: str, *, lock: bool) -> _Opened:
    secret, ticket_id, contact_id, generation = _signed(session, token)
    if lock:
        try:
            ticket = tickets.load(session, ticket_id)
        except NotFound:
            raise UnknownCase("ticket gone") from None
    else:
        found = session.get(Ticket, ticket_id)
        if found is None:
            raise UnknownCase("ticket gone")
        ticket = found
    if ticket.contact_id != contact_id:
        raise UnknownCase("the ticket is no longer this contact's")
    if _generation(session, ticket_id) != generation:
        raise UnknownCase("revoked")
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise UnknownCase("contact gone")
    return _Opened(ticket, contact, secret, token)


# --------------------------------------------------------------------------- analysts


def _analyst(actor: Actor) -> None:
    if actor.is_system:
        raise PermissionDenied(_("customer links are made and revoked by an analyst"))


def link_for(
    session: Session, actor: Actor, *, ref: str | int, base_url: str | None = None
) -> PortalLinkPublic:
    """The customer's link to their case: the same for every message of this generation
    (a fresh signature each time, each valid for :data:`LINK_DAYS` days)."""
    _analyst(actor)
    ticket_id = ref if isinstance(ref, int) else parse_ref(ref)
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(_("no ticket {ref}").format(ref=format_ref(ticket_id)))
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
    if contact is None or contact.id is None:
        raise InvalidInput(
            _("{ref} has no contact: nobody to give a link to").format(ref=format_ref(ticket_id)),
            field="ref",
        )
    return _link(session, ticket_id, contact, base_url)


def _token(session: Session, ticket_id: int, contact_id: int) -> tuple[str, int]:
    """A case token for the ticket and its contact, signed now, and its generation."""
    secret = _secret(session, make=True)
    assert secret is not None
    generation = _generation(session, ticket_id)
    token = _serializer(secret).dumps([ticket_id, contact_id, generation])
    assert isinstance(token, str)
    return token, generation


def _link(
    session: Session, ticket_id: int, contact: Contact, base_url: str | None
) -> PortalLinkPublic:
    assert contact.id is not None
    token, generation = _token(session, ticket_id, contact.id)
    path = f"/case/{token}"
    return PortalLinkPublic(
        ref=format_ref(ticket_id),
        contact=contact.name,
        url=f"{base_url.rstrip('/')}{path}" if base_url else path,
        token=token,
        generation=generation,
        expires_at=clock.now() + timedelta(days=LINK_DAYS),
    )


class MessageLinks(Public):
    """The links a message to the customer carries (``{base_url}/case/TOKEN`` and
    ``{base_url}/survey/TOKEN``), one token for both."""

    case: str
    survey: str


def message_links(
    session: Session, *, ticket_id: int, contact_id: int | None, base_url: str
) -> MessageLinks | None:
    """The links of a message about the ticket to ``contact_id``, made as
    :func:`link_for` makes ``portal link REF``'s (same ticket, contact, generation and base
    URL; the signature carries the moment it was made). None when the ticket is not that
    contact's (any more): a message to its former contact must not open the case."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or contact_id is None or ticket.contact_id != contact_id:
        return None
    contact = session.get(Contact, contact_id)
    if contact is None:
        return None
    made = _link(session, ticket_id, contact, base_url)
    return MessageLinks(case=made.url, survey=f"{base_url.rstrip('/')}/survey/{made.token}")


def revoke_links(session: Session, actor: Actor, *, ref: str | int) -> PortalLinkPublic:
    """Every link given for the ticket so far stops working; the next one works again.
    Any analyst may (a link sent to the wrong person must die at once); the log says who."""
    _analyst(actor)
    ticket = tickets.load(session, ref)
    assert ticket.id is not None
    row = session.get(PortalLink, ticket.id)
    change = tickets.Change(session, actor, ticket)
    if row is None:
        row = PortalLink(ticket_id=ticket.id, generation=1)
        session.add(row)
    row.generation += 1
    row.revoked_at, row.revoked_by_id = change.at, actor.id
    change.log(
        p.Note(
            text=f"Every customer link to this case given so far was revoked "
            f"(links are now of generation {row.generation}).",
            about="portal",
        ),
        visible=False,
    )
    change.save()
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
    return PortalLinkPublic(
        ref=format_ref(ticket.id),
        contact=contact.name if contact else "",
        url="",
        token="",  # nosec B106 - a revoked link has no token: the field says so, empty
        generation=row.generation,
        expires_at=change.at,
    )


# --------------------------------------------------------------------------- the case page


def check_link(session: Session, actor: Actor, *, token: str) -> None:
    """Refuses (:class:`UnknownCase`) a token that opens no case; nothing else."""
    _stamp(session, token)


def open_case(session: Session, actor: Actor, *, token: str) -> CaseSight:
    """What the case page shows: exactly the customer's view (``ticket show --customer``)."""
    stamp, secret = _stamp(session, token)
    view = customer_view(session, actor, ref=stamp.ticket_id)
    status, language = stamp.status, stamp.language
    return CaseSight(
        view=view,
        language=language,
        status=status,
        status_words=translate(language, STATUS_WORDS.get(status, N_("In progress"))),
        csrf=csrf_for(secret, token),
        may_reply=status not in (Status.CLOSED, Status.CANCELLED),
        may_verdict=status == Status.RESOLVED,
        may_survey=status in (Status.RESOLVED, Status.CLOSED),
        files=_customer_files(session, stamp.ticket_id),
        stamp=stamp,
    )


def _customer_files(session: Session, ticket_id: int) -> list[CaseFile]:
    """The files of the customer's public messages: what the page's story names, and only
    that (a mail kept aside or an analyst's note never reaches this list)."""
    rows = session.execute(
        select(col(TicketEvent.at), col(TicketEvent.data)).where(
            col(TicketEvent.ticket_id) == ticket_id,
            col(TicketEvent.kind) == EventKind.CUSTOMER_MESSAGE,
            col(TicketEvent.visibility) == Visibility.PUBLIC,
        )
    ).all()
    files: list[CaseFile] = []
    for at, data in rows:
        payload = p.parse(EventKind.CUSTOMER_MESSAGE, data)
        assert isinstance(payload, p.CustomerMessage)
        files.extend(
            CaseFile(name=f.name or "?", size=f.size or 0, at=at) for f in payload.attachments or []
        )
    return sorted(files, key=lambda f: f.at)


_NAME_MAX = 200
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


def safe_filename(name: str | None, number: int) -> str:
    """A file's name as it is kept and shown: its last path part only (``../../x`` and
    ``C:\\x`` are ``x``), no control or bidi characters, no leading dot (never a hidden
    file, never ``..``), at most 200 characters with its extension kept; ``file-N`` when
    nothing is left."""
    last = re.split(r"[/\\]", name or "")[-1]
    cleaned = unicodedata.normalize("NFC", clean_line(visible(last))).strip(". ")
    if len(cleaned) > _NAME_MAX:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (
            stem[: _NAME_MAX - 10] + dot + ext if dot and len(ext) < 10 else cleaned[:_NAME_MAX]
        )
    return cleaned or f"file-{number}"


def _display_type(claimed: str | None) -> str:
    """The browser's word for a file's type, kept for display only; anything odd is
    ``application/octet-stream``."""
    kind = (claimed or "").split(";", 1)[0].strip().lower()
    return kind if _CONTENT_TYPE.match(kind) else "application/octet-stream"


def files_limit_text(language: str) -> str:
    """The limits of a reply's files, in the customer's words."""
    return translate(
        language,
        "You can attach up to {count} files, each up to {each} MB, {total} MB in all.",
    ).format(count=FILES_MAX, each=FILE_MAX_BYTES // (1 << 20), total=FILES_MAX_BYTES // (1 << 20))


def files_too_large_text(language: str) -> str:
    """What the customer reads when the files sent were more than a reply may carry."""
    return translate(
        language,
        "Your files are too large. {limits} Your message is still here: please choose "
        "fewer or smaller files and send it again.",
    ).format(limits=files_limit_text(language))


def _checked_files(opened: _Opened, files: Sequence[Upload]) -> list[Upload]:
    language = opened.language
    if len(files) > FILES_MAX:
        raise PortalInputError(
            translate(
                language,
                "Please send at most {count} files at once. Your message is still here: "
                "choose the files again.",
            ).format(count=FILES_MAX),
            field="files",
            why=f"{len(files)} files, more than {FILES_MAX}",
        )
    for number, item in enumerate(files, 1):
        name = safe_filename(item.name, number)
        if item.size <= 0:
            raise PortalInputError(
                translate(
                    language, "The file {name} is empty. Please choose it again or leave it out."
                ).format(name=name),
                field="files",
                why=f"file {number} is empty",
            )
        if item.size > FILE_MAX_BYTES:
            raise PortalInputError(
                translate(language, "The file {name} is too large. {limits}").format(
                    name=name, limits=files_limit_text(language)
                ),
                field="files",
                why=f"file {number} is {item.size} bytes, more than {FILE_MAX_BYTES}",
            )
    if sum(item.size for item in files) > FILES_MAX_BYTES:
        raise PortalInputError(
            files_too_large_text(language),
            field="files",
            why=f"files of more than {FILES_MAX_BYTES} bytes in all",
        )
    return list(files)


def _store_files(
    session: Session, opened: _Opened, files: Sequence[Upload], at: datetime
) -> list[p.MailFile]:
    """The reply's files on the ticket, where a mail's attachments are: ``mail attachments
    REF`` lists them and ``mail save ID`` saves them. Their ``mail_message`` row (source
    ``portal``, no raw message) is what an attachment belongs to. One file is in memory
    at a time, and the session keeps none of them."""
    contact = opened.contact
    envelope = MailMessage(
        dedup_key=f"{PORTAL_SOURCE}:{uuid.uuid4().hex}",
        source=PORTAL_SOURCE,
        received_at=at,
        from_address=contact.email,
        from_name=contact.name[:200] if contact.name else None,
        subject=opened.ticket.subject[:300],
        outcome="reply",
        ticket_id=opened.ticket_id,
        contact_id=contact.id,
        size=sum(item.size for item in files),
    )
    session.add(envelope)
    session.flush()
    listed = []
    for number, item in enumerate(files, 1):
        item.file.seek(0)
        content = item.file.read(FILE_MAX_BYTES + 1)
        if len(content) != item.size or len(content) > FILE_MAX_BYTES:
            raise PortalInputError(
                translate(opened.language, "The file {name} could not be read.").format(
                    name=safe_filename(item.name, number)
                ),
                field="files",
                why=f"file {number} is not the size it was said to be",
            )
        name = safe_filename(item.name, number)
        kind = _display_type(item.content_type)
        # A Core insert: the row's bytes are not kept in the session until the commit.
        new_id = session.scalar(
            insert(MailAttachment)
            .values(
                mail_id=envelope.id,
                ticket_id=opened.ticket_id,
                filename=name,
                content_type=kind,
                size=len(content),
                content=content,
            )
            .returning(col(MailAttachment.id))
        )
        del content
        listed.append(p.MailFile(id=new_id, name=name, type=kind, size=item.size))
    return listed


def _words(opened: _Opened, text: str | None, *, required: bool, limit: int) -> str:
    raw = text or ""
    if len(raw) > 4 * limit + 4096:  # refused before cleaning a 10 MB paste
        raw = raw[: 4 * limit + 4097]
    words = clean_long(raw)
    if required and not words:
        raise PortalInputError(
            translate(opened.language, "Please write your message first."),
            field="text",
            why="no text",
        )
    if len(words) > limit:
        raise PortalInputError(
            translate(
                opened.language,
                "Your message is too long: please keep it under {limit} characters.",
            ).format(limit=limit),
            field="text",
            why=f"text of {len(words)} characters, more than {limit}",
        )
    return words


def _log_message(
    change: tickets.Change,
    opened: _Opened,
    text: str | None,
    *,
    visible: bool,
    files: list[p.MailFile] | None = None,
) -> None:
    change.log(
        p.CustomerMessage(
            channel=Channel.PORTAL,
            from_=opened.contact.email or opened.contact.name,
            text=text,
            attachments=files or None,
        ),
        visible=visible,
    )


def _back_to_work(change: tickets.Change, ticket: Ticket) -> bool:
    """A ticket waiting on the customer goes back to work, as a mail reply puts it."""
    if ticket.status != Status.WAITING_CUSTOMER:
        return False
    back = Status.IN_PROGRESS if ticket.assignee_id else Status.NEW
    ticket.status = back
    change.log(
        p.StatusChanged(from_=Status.WAITING_CUSTOMER, to=back, reason="the customer replied")
    )
    return True


def post_reply(
    session: Session,
    actor: Actor,
    *,
    token: str,
    csrf: str | None,
    text: str | None,
    files: Sequence[Upload] = (),
) -> ReplyDone:
    """The customer's reply: a public customer message in the case's log, with the files
    they sent (at most :data:`FILES_MAX`, :data:`FILE_MAX_BYTES` each and
    :data:`FILES_MAX_BYTES` in all; then the words may be left out)."""
    opened = _open(session, token, lock=True)
    opened.check_csrf(csrf)
    ticket = opened.ticket
    if ticket.status in (Status.CLOSED, Status.CANCELLED):
        raise PortalInputError(
            translate(
                opened.language, "This case is closed. Please write to us to open a new one."
            ),
            field="text",
        )
    words = _words(opened, text, required=not files, limit=TEXT_MAX)
    checked = _checked_files(opened, files)
    change = tickets.Change(session, actor, ticket)
    stored = _store_files(session, opened, checked, change.at) if checked else []
    _log_message(change, opened, words or None, visible=True, files=stored)
    back = _back_to_work(change, ticket)
    change.save()
    return ReplyDone(
        ref=format_ref(opened.ticket_id), status=ticket.status, back_to_work=back, files=stored
    )


def post_verdict(
    session: Session,
    actor: Actor,
    *,
    token: str,
    csrf: str | None,
    verdict: str,
    text: str | None = None,
) -> ReplyDone:
    """On a resolved case, "this is solved" (said in the log) or "still broken" (reopened,
    with their words in the log). A closed case stays closed: they are asked to write."""
    opened = _open(session, token, lock=True)
    opened.check_csrf(csrf)
    if verdict not in VERDICTS:
        raise PortalInputError(
            translate(opened.language, "Please choose whether it is solved."), field="verdict"
        )
    solved = verdict == "solved"
    ticket = opened.ticket
    if ticket.status != Status.RESOLVED:
        raise PortalInputError(
            translate(opened.language, "This case is not waiting for your verdict any more."),
            field="verdict",
        )
    words = _words(opened, text, required=False, limit=TEXT_MAX)
    if not words:
        words = (
            translate(opened.language, "This is solved, thank you.")
            if solved
            else translate(opened.language, "This is still not working.")
        )
    change = tickets.Change(session, actor, ticket)
    _log_message(change, opened, words, visible=True)
    change.save()
    if solved:
        return ReplyDone(ref=format_ref(opened.ticket_id), status=ticket.status, back_to_work=False)
    reason = clean_line(words)
    if len(reason) > 200:
        reason = reason[:199].rstrip() + "…"
    tickets.reopen(
        session, actor, ref=opened.ticket_id, reason=f"the customer says it is not solved: {reason}"
    )
    return ReplyDone(ref=format_ref(opened.ticket_id), status=ticket.status, back_to_work=True)


# --------------------------------------------------------------------------- surveys


def _survey_window(
    session: Session, ticket_id: int
) -> tuple[Survey | None, PortalSurvey | None, datetime | None]:
    survey = session.get(Survey, ticket_id)
    web = session.get(PortalSurvey, ticket_id)
    first = web.first_at if web is not None else survey.recorded_at if survey else None
    return survey, web, first


def _survey_closed(opened: _Opened, first: datetime | None) -> str | None:
    if opened.ticket.status not in (Status.RESOLVED, Status.CLOSED):
        return translate(opened.language, "This survey opens when your case is solved.")
    if first is not None and clock.now() > first + timedelta(days=SURVEY_DAYS):
        return translate(
            opened.language, "Thank you: your answer is recorded and can no longer be changed."
        )
    return None


def read_survey(session: Session, actor: Actor, *, token: str) -> SurveySight:
    opened = _open(session, token, lock=False)
    survey, web, first = _survey_window(session, opened.ticket_id)
    return SurveySight(
        ref=format_ref(opened.ticket_id),
        subject=opened.ticket.subject,
        language=opened.language,
        csrf=csrf_for(opened.secret, token),
        csat=survey.csat if survey else None,
        nps=survey.nps if survey else None,
        comment=web.comment if web else None,
        closed=_survey_closed(opened, first),
        answered_at=survey.recorded_at if survey else None,
        changeable_until=first + timedelta(days=SURVEY_DAYS) if first else None,
    )


def _score(opened: _Opened, value: str | None, low: int, high: int, field: str) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise PortalInputError(
            translate(opened.language, "Please choose a score from {low} to {high}.").format(
                low=low, high=high
            ),
            field=field,
        )
    return int(text)


def answer_survey(
    session: Session,
    actor: Actor,
    *,
    token: str,
    csrf: str | None,
    csat: str | None,
    nps: str | None = None,
    comment: str | None = None,
) -> SurveySight:
    """The customer's CSAT (1-5, required), NPS (0-10) and comment: one answer per ticket,
    in ``survey`` with ``via`` ``web``; given again within :data:`SURVEY_DAYS` days of the
    first, it replaces it (the log keeps both)."""
    opened = _open(session, token, lock=True)
    opened.check_csrf(csrf)
    ticket_id = opened.ticket_id
    survey, web, first = _survey_window(session, ticket_id)
    closed = _survey_closed(opened, first)
    if closed is not None:
        raise PortalInputError(closed, field="csat")
    score = _score(opened, csat, 1, 5, "csat")
    if score is None:
        raise PortalInputError(
            translate(opened.language, "Please choose how satisfied you are."), field="csat"
        )
    promoter = _score(opened, nps, 0, 10, "nps")
    said = _words(opened, comment, required=False, limit=COMMENT_MAX) or None
    change = tickets.Change(session, actor, opened.ticket)
    if survey is None:
        survey = Survey(ticket_id=ticket_id, recorded_at=change.at)
        session.add(survey)
    survey.csat, survey.nps, survey.via = score, promoter, "web"
    survey.recorded_at, survey.recorded_by_id = change.at, None
    if web is None:
        web = PortalSurvey(ticket_id=ticket_id, first_at=first or change.at, updated_at=change.at)
        session.add(web)
    if said is not None and said != web.comment:
        # The customer's words about our service: for the desk, not part of the case.
        _log_message(change, opened, said, visible=False)
    web.comment, web.updated_at = said, change.at
    change.log(p.SurveyRecorded(csat=score, nps=promoter, via="web"), visible=False)
    change.save()
    return read_survey(session, actor, token=token)


def _case_path(session: Session, ticket_id: int, contact_id: int) -> str:
    """The path of the case page for the ticket and its contact (``/case/TOKEN``)."""
    return f"/case/{_token(session, ticket_id, contact_id)[0]}"


# --------------------------------------------------------------------------- self-service FAQ


class UnknownPage(NotFound):
    """No public page here (an article unpublished, never written, or a bad key); ``why``
    is for the server's log only."""

    def __init__(self, why: str) -> None:
        super().__init__("no such page")
        self.why = why


class FaqHit(Public):
    id: int
    key: str
    title: str
    excerpt: str
    #: ``/help/12-battery-will-not-charge``.
    path: str


class FaqArticle(Public):
    id: int
    key: str
    title: str
    #: The body's Markdown as safe HTML (no HTML of the article's own reaches the page).
    html: str
    category: str | None
    updated_at: datetime
    path: str


#: The most articles a FAQ page lists.
FAQ_LIMIT = 25
#: The longest search a visitor may type (more is cut, not refused).
FAQ_QUERY_MAX = 200
_ARTICLE_KEY = re.compile(r"^(?:kb-?)?([0-9]{1,9})(?:-[a-z0-9-]{0,120})?$", re.IGNORECASE)


def article_path(article_id: int, title: str) -> str:
    """``/help/12-battery-will-not-charge``: the id decides, the words are for people."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = "-".join(re.findall(r"[a-z0-9]+", plain))[:60].strip("-")
    return f"/help/{article_id}-{slug}" if slug else f"/help/{article_id}"


def faq_search(session: Session, actor: Actor, *, query: str = "") -> list[FaqHit]:
    """Published articles for the help page: those ``kb search`` finds for ``query``, in its
    order (the same function, so the same ranking); without a query the newest ones."""
    from deskterm.desk.kb import list_articles, search_articles

    query = (query or "")[:FAQ_QUERY_MAX]
    if query.strip():
        hits = search_articles(session, actor, query=query, limit=FAQ_LIMIT, drafts=False)
    else:
        hits = list_articles(session, actor, status=ArticleStatus.PUBLISHED, limit=FAQ_LIMIT)
    return [
        FaqHit(
            id=h.id,
            key=h.key,
            title=h.title,
            excerpt=h.excerpt,
            path=article_path(h.id, h.title),
        )
        for h in hits
        if h.status == ArticleStatus.PUBLISHED
    ]


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # CommonMark with the article's own HTML shown as text, never as markup; links to
    # javascript:, vbscript:, file: and data: are refused by markdown-it's validateLink.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def render_markdown(text: str) -> str:
    """An article's Markdown as HTML that carries none of the text's own HTML."""
    return str(_markdown().render(text or ""))


def faq_article(session: Session, actor: Actor, *, key: str) -> FaqArticle:
    """A published article for the help page; any other is :class:`UnknownPage`."""
    from deskterm.desk.kb import get_article

    match = _ARTICLE_KEY.match(key or "")
    if match is None:
        raise UnknownPage("not an article key")
    try:
        article = get_article(session, actor, key=int(match[1]))
    except NotFound:
        raise UnknownPage("no such article") from None
    if article.status != ArticleStatus.PUBLISHED:
        raise UnknownPage("the article is not published")
    return FaqArticle(
        id=article.id,
        key=article.key,
        title=article.title,
        html=render_markdown(article.body),
        category=article.category,
        updated_at=article.updated_at,
        path=article_path(article.id, article.title),
    )


# --------------------------------------------------------------------------- contact us

#: How long the contact form's own token, and the confirmation link a mail carries, last.
CONTACT_FORM_HOURS = 2
CONFIRM_HOURS = 24
SUBJECT_MAX = 200
#: The confirmation notice's template: ``data/templates/<lang>/portal_confirm.txt``.
CONFIRM_NOTICE = "portal_confirm"
_CONTACT_SALT = "deskterm.portal.contact-form.v1"
_CONFIRM_SALT = "deskterm.portal.contact-confirm.v1"


class ContactSent(Public):
    """What became of a contact form; the visitor is told the same in every case."""

    #: ``queued``: a known contact's confirmation mail; ``unknown``: no contact has the
    #: address, nothing was kept.
    outcome: str
    request_id: int | None = None


class ContactConfirmed(Public):
    ref: str
    #: ``/case/TOKEN``: the case page of the ticket, for the contact.
    case_path: str
    #: This click opened the ticket; False: an earlier click did.
    opened: bool
    language: str


def _form_signer(secret: str) -> TimestampSigner:
    return _DeskClockSigner(
        secret, salt=_CONTACT_SALT, key_derivation="hmac", digest_method=hashlib.sha256
    )


def contact_form_token(session: Session, actor: Actor) -> str:
    """The ``csrf_token`` of a contact form shown now: signed, good for a few hours."""
    secret = _secret(session, make=True)
    assert secret is not None
    return _form_signer(secret).sign(secrets.token_hex(8)).decode()


def check_contact_form(session: Session, actor: Actor, *, csrf: str | None) -> None:
    """Refuses (:class:`CsrfRefused`) a contact form whose token this desk did not sign in
    the last :data:`CONTACT_FORM_HOURS` hours."""
    secret = _secret(session, make=False)
    if secret is None or not csrf or len(csrf) > 200:
        raise CsrfRefused()
    try:
        _form_signer(secret).unsign(csrf, max_age=CONTACT_FORM_HOURS * 3600)
    except BadSignature:
        raise CsrfRefused() from None


def _visitor_text(language: str, value: str | None, *, field: str, limit: int) -> str:
    raw = (value or "")[: 4 * limit + 4096]
    said = clean_line(raw) if field == "subject" else clean_long(raw)
    if not said:
        message = (
            N_("Please tell us briefly what it is about.")
            if field == "subject"
            else N_("Please write your message first.")
        )
        raise PortalInputError(translate(language, message), field=field)
    if len(said) > limit:
        raise PortalInputError(
            translate(
                language, "Your message is too long: please keep it under {limit} characters."
            ).format(limit=limit),
            field=field,
        )
    return said


def checked_visitor_email(language: str, email: str | None) -> str:
    """The address a visitor typed, as contacts keep theirs; refused in their words."""
    from deskterm.desk.contacts import checked_email

    try:
        address = checked_email((email or "")[:320], field="email")
    except InvalidInput:
        address = None
    if not address:
        raise PortalInputError(
            translate(language, "Please give the email address we know you by."), field="email"
        )
    return address


def request_contact(
    session: Session,
    actor: Actor,
    *,
    email: str,
    subject: str | None,
    text: str | None,
    language: str,
    base_url: str,
) -> ContactSent:
    """A contact form: for a known contact's address, a request kept and its confirmation
    mail queued (in the contact's language); for any other, nothing. The visitor is told
    the same either way, so the form says nobody whether an address is a customer's."""
    address = checked_visitor_email(language, email)
    title = _visitor_text(language, subject, field="subject", limit=SUBJECT_MAX)
    words = _visitor_text(language, text, field="text", limit=TEXT_MAX)
    contact = session.scalars(
        select(Contact).where(col(Contact.email) == address).order_by(col(Contact.id)).limit(1)
    ).first()
    if contact is None or contact.id is None:
        return ContactSent(outcome="unknown")
    now = clock.now()
    request = PortalRequest(
        contact_id=contact.id,
        subject=title,
        text=words,
        base_url=base_url.rstrip("/")[:300],
        nonce=secrets.token_hex(16),
        created_at=now,
        mail_status="pending",
        attempts=0,
        next_attempt_at=now,
    )
    session.add(request)
    session.flush()
    return ContactSent(outcome="queued", request_id=request.id)


def _confirm_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        secret,
        salt=_CONFIRM_SALT,
        signer=_DeskClockSigner,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )


def confirm_link(session: Session, request: PortalRequest) -> str:
    """The confirmation link of a request, signed now (good for :data:`CONFIRM_HOURS`)."""
    secret = _secret(session, make=True)
    assert secret is not None and request.id is not None
    token = _confirm_serializer(secret).dumps([request.id, request.nonce])
    return f"{request.base_url}/contact/confirm/{token}"


def _intake_group(session: Session) -> str | None:
    """Where a case the customer opened waits: the first first-line group (as mail's)."""
    return session.scalar(
        select(col(SupportGroup.name))
        .where(col(SupportGroup.level) == 1)
        .order_by(col(SupportGroup.id))
        .limit(1)
    )


def confirm_contact(session: Session, actor: Actor, *, token: str) -> ContactConfirmed:
    """The confirmation link opened: the request's ticket (channel ``portal``, for its
    contact), opened by the first click; later clicks find it. A link changed, older than
    :data:`CONFIRM_HOURS` or of a request gone is :class:`UnknownPage`."""
    secret = _secret(session, make=False)
    if secret is None or not token or len(token) > 300:
        raise UnknownPage("malformed confirmation token")
    try:
        data: Any = _confirm_serializer(secret).loads(token, max_age=CONFIRM_HOURS * 3600)
    except BadSignature as exc:
        raise UnknownPage(type(exc).__name__) from None
    if not (
        isinstance(data, list)
        and len(data) == 2
        and isinstance(data[0], int)
        and isinstance(data[1], str)
    ):
        raise UnknownPage("signed, but not a contact request")
    request = session.scalars(
        select(PortalRequest).where(col(PortalRequest.id) == data[0]).with_for_update()
    ).first()
    if request is None or not hmac.compare_digest(request.nonce, data[1]):
        raise UnknownPage("no such contact request")
    contact = session.get(Contact, request.contact_id)
    if contact is None or contact.id is None:
        raise UnknownPage("contact gone")
    language = normalize(contact.language) or "en"
    opened = request.ticket_id is None
    if request.ticket_id is None:
        made = tickets.create_ticket(
            session,
            actor,
            subject=request.subject,
            description=request.text,
            contact_id=contact.id,
            channel=Channel.PORTAL,
            group=_intake_group(session),
            assignee=None,
        )
        ticket = tickets.load(session, made.id)
        # Part of the opening change: how it came, its text being the description.
        change = tickets.Change(session, actor, ticket, created=True)
        change.log(
            p.CustomerMessage(channel=Channel.PORTAL, from_=contact.email, subject=request.subject),
            visible=True,
        )
        change.save()
        request.ticket_id, request.confirmed_at = made.id, clock.now()
        session.flush()
    assert request.ticket_id is not None
    ticket_row = session.get(Ticket, request.ticket_id)
    if ticket_row is None or ticket_row.contact_id != contact.id:
        raise UnknownPage("the ticket is no longer this contact's")
    return ContactConfirmed(
        ref=format_ref(request.ticket_id),
        case_path=_case_path(session, request.ticket_id, contact.id),
        opened=opened,
        language=language,
    )


class ConfirmDelivery(Public):
    request_id: int
    recipient: str | None
    #: ``sent``, ``retry`` (failed, tried again later), ``dead`` (given up) or ``lost``.
    outcome: str
    error: str | None = None


def _claim_confirmation(db: Database) -> int | None:
    from deskterm.desk.outbox import LEASE

    with db.write() as session:
        now = clock.now()
        due = or_(
            and_(
                col(PortalRequest.mail_status) == "pending",
                col(PortalRequest.next_attempt_at) <= now,
            ),
            and_(
                col(PortalRequest.mail_status) == "sending",
                col(PortalRequest.claimed_at) < now - LEASE,
            ),
        )
        candidate = (
            select(col(PortalRequest.id))
            .where(due)
            .order_by(col(PortalRequest.next_attempt_at), col(PortalRequest.id))
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            candidate = candidate.with_for_update(skip_locked=True)
        found = session.scalar(candidate)
        if found is None:
            return None
        row = session.get(PortalRequest, found)
        assert row is not None
        row.mail_status, row.claimed_at, row.attempts = "sending", now, row.attempts + 1
        return found


def deliver_confirmations(
    db: Database, senders: Any, *, max_attempts: int = 5, limit: int | None = None
) -> list[ConfirmDelivery]:
    """Send the confirmation mails that are due, as ``outbox run`` sends notices (the same
    senders and templates, at least once, with a backoff), one request at a time."""
    from deskterm.desk.channels import DeliveryError
    from deskterm.desk.outbox import backoff
    from deskterm.desk.templates import TemplateProblem, format_moment, render_notice

    done: list[ConfirmDelivery] = []
    while limit is None or len(done) < limit:
        request_id = _claim_confirmation(db)
        if request_id is None:
            break
        with db.write() as session:
            row = session.get(PortalRequest, request_id)
            assert row is not None
            contact = session.get(Contact, row.contact_id)
            link = confirm_link(session, row)
            attempts = row.attempts
            recipient = contact.email if contact else None
            name = contact.name if contact else ""
            language = contact.language if contact else None
            context = {
                "name": name,
                "subject": row.subject,
                "link": link,
                "hours": CONFIRM_HOURS,
                "until": format_moment(clock.now() + timedelta(hours=CONFIRM_HOURS), language),
            }
        outcome, error = "sent", None
        try:
            if not recipient:
                raise DeliveryError("the contact has no email address any more", permanent=True)
            if senders.email is None:
                raise DeliveryError("SMTP is not configured (DESKTERM_SMTP_HOST)", permanent=True)
            try:
                rendered = render_notice(CONFIRM_NOTICE, language, context)
            except TemplateProblem as exc:
                raise DeliveryError(str(exc), permanent=True) from None
            senders.email.send(
                _confirmation_mail(senders, request_id, name, recipient, rendered),
                to_addrs=[recipient],
            )
        except DeliveryError as exc:
            error = str(exc)[:500]
            outcome = "dead" if exc.permanent or attempts >= max_attempts else "retry"
        except Exception as exc:  # a bug must cost one try, not the whole queue
            error = f"{type(exc).__name__}: {exc}"[:500]
            outcome = "dead" if attempts >= max_attempts else "retry"
        with db.write() as session:
            row = session.get(PortalRequest, request_id)
            if row is None or row.mail_status != "sending":
                outcome = "lost"
            elif outcome == "sent":
                row.mail_status, row.sent_at, row.last_error = "sent", clock.now(), None
            else:
                row.mail_status = "dead" if outcome == "dead" else "pending"
                row.last_error = error
                row.next_attempt_at = clock.now() + backoff(attempts)
        done.append(
            ConfirmDelivery(
                request_id=request_id, recipient=recipient, outcome=outcome, error=error
            )
        )
    return done


def _confirmation_mail(
    senders: Any, request_id: int, name: str, recipient: str, rendered: Any
) -> EmailMessage:
    from email.message import EmailMessage
    from email.utils import format_datetime, formataddr, make_msgid

    message = EmailMessage()
    message["From"] = senders.from_address
    message["To"] = formataddr((name, recipient))
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(f"portal-{request_id}", domain=senders.domain)
    # RFC 3834: a vacation responder must not answer this, so no mail loop can start.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(rendered.body)
    return message
