"""Text messages in: what an SMS gateway posts to ``POST /sms/TOKEN`` of ``serve web``.

A gateway (Twilio, Vonage, sipgate, an Android SMS forwarder ...) posts the sender's number
and the text, as a form or as JSON, under one of a few common names (:data:`NUMBER_FIELDS`,
:data:`TEXT_FIELDS`). The URL's secret is one of the desk's SMS tokens
(``deskterm portal sms-token add``): its SHA-256 is kept in ``portal_sms_token``, never the
secret, and every stored hash is compared in constant time, as the phone system's CTI tokens
are (their table opens only the phone system's door: a leaked SMS token must not let anyone
post calls, nor the other way round).

Like mail (``desk/mail.py``), each text ends in one way, in one transaction:

- the sender's number (read in E.164, in the desk's ``phone_region``) is a contact's, and
  they have an open ticket (not resolved, closed or cancelled): a public customer message
  on the newest one, which puts a ticket waiting on the customer back to work;
- it is a contact's, without an open ticket: a new ticket, channel ``sms``, for them;
- it is nobody's: a new contact (named by the number, their mobile, reached by SMS, in the
  language their text is confidently in) and a new ticket for them, as mail does for an
  unknown sender.

Only the whole number matches (E.164, on the contact's mobile or phone): a run of digits, as
the caller lookup allows an analyst, would put a stranger's text into someone's case. Where
several contacts share the number the first one is taken, as mail takes the first contact of
an address. The text is outside text: control characters and escape sequences are dropped,
and it is at most :data:`TEXT_MAX` characters.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Analyst, Contact, PortalSmsToken, SupportGroup, Ticket
from deskterm.desk import clock, tickets
from deskterm.desk.schemas import Public
from deskterm.domain import payloads as p
from deskterm.domain.enums import Channel, Status
from deskterm.domain.errors import InvalidInput, NotFound, PermissionDenied
from deskterm.domain.permissions import Actor
from deskterm.domain.phone import e164
from deskterm.domain.refs import format_ref
from deskterm.domain.text import clean_line, clean_long
from deskterm.i18n import _

#: The names gateways give the sender's number and the text, the first present wins.
NUMBER_FIELDS = ("from", "From", "number", "msisdn", "sender", "phone", "originator")
TEXT_FIELDS = ("text", "Text", "message", "Message", "body", "Body", "content", "sms")
#: Ten concatenated messages of 160 characters; a longer "text" is no SMS.
TEXT_MAX = 1600
NUMBER_MAX = 64
#: A ticket's status that is no longer open for a new message.
_DONE = (Status.RESOLVED, Status.CLOSED, Status.CANCELLED)
#: A token's last use is written at most this often.
_TOUCH_EVERY = timedelta(minutes=1)


class UnknownSmsToken(NotFound):
    """The URL's secret is none of the desk's SMS tokens (or was removed)."""

    def __init__(self) -> None:
        super().__init__("unknown token")


class SmsTokenPublic(Public):
    id: int
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class NewSmsToken:
    token: SmsTokenPublic
    #: The secret itself: shown once, never stored.
    secret: str


class SmsReceived(Public):
    #: ``reply`` (on the contact's open ticket) or ``new_ticket``.
    outcome: str
    ref: str
    contact_id: int
    #: A contact was made for an unknown number.
    new_contact: bool
    #: The ticket went back to work (it was waiting on the customer).
    back_to_work: bool = False


# --------------------------------------------------------------------------- tokens


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _may_manage(actor: Actor | None) -> None:
    # Fails closed: only an actor read as a supervisor or admin passes.
    if actor is None or not actor.is_supervisor:
        raise PermissionDenied(_("only a supervisor may manage SMS gateway tokens"))


def _public(session: Session, rows: Sequence[PortalSmsToken]) -> list[SmsTokenPublic]:
    ids = {r.created_by_id for r in rows if r.created_by_id}
    logins = (
        dict(
            session.execute(
                select(col(Analyst.id), col(Analyst.login)).where(col(Analyst.id).in_(ids))
            ).all()
        )
        if ids
        else {}
    )
    return [
        SmsTokenPublic(
            id=r.id,
            created_at=r.created_at,
            created_by=logins.get(r.created_by_id) if r.created_by_id else None,
            last_used_at=r.last_used_at,
        )
        for r in rows
        if r.id is not None
    ]


def add_sms_token(session: Session, actor: Actor) -> NewSmsToken:
    """A new secret for an SMS gateway's URL (``/sms/SECRET``), shown this once."""
    _may_manage(actor)
    secret = secrets.token_urlsafe(32)
    row = PortalSmsToken(token_hash=_hash(secret), created_at=clock.now(), created_by_id=actor.id)
    session.add(row)
    session.flush()
    return NewSmsToken(_public(session, [row])[0], secret)


def list_sms_tokens(session: Session, actor: Actor) -> list[SmsTokenPublic]:
    _may_manage(actor)
    rows = session.scalars(select(PortalSmsToken).order_by(col(PortalSmsToken.id))).all()
    return _public(session, rows)


def remove_sms_token(session: Session, actor: Actor, *, token_id: int) -> SmsTokenPublic:
    """The gateway posting with this token is refused from now on."""
    _may_manage(actor)
    row = session.get(PortalSmsToken, token_id)
    if row is None:
        raise NotFound(
            _(
                "no SMS gateway token with id {token_id} (see `deskterm portal sms-token list`)"
            ).format(token_id=token_id)
        )
    public = _public(session, [row])[0]
    session.delete(row)
    session.flush()
    return public


def _match(session: Session, secret: str) -> tuple[int, datetime | None] | None:
    """The token ``secret`` is. Every stored hash is compared in constant time, so how long
    a refusal takes says nothing of how close a guess was."""
    wanted = _hash(secret or "")
    found = None
    for token_id, stored, last_used in session.execute(
        select(
            col(PortalSmsToken.id), col(PortalSmsToken.token_hash), col(PortalSmsToken.last_used_at)
        )
    ):
        if hmac.compare_digest(stored, wanted):
            found = (cast(int, token_id), last_used)
    return found


def check_sms_token(session: Session, actor: Actor | None, *, secret: str) -> None:
    """Refuses (:class:`UnknownSmsToken`) a secret that is none of the desk's; nothing else."""
    if len(secret or "") > 200 or _match(session, secret) is None:
        raise UnknownSmsToken()


# --------------------------------------------------------------------------- texts


def pick(fields: Mapping[str, object], names: Sequence[str]) -> str | None:
    """The first of ``names`` present in what the gateway posted, as text."""
    for name in names:
        value = fields.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


def _newest_open(session: Session, contact_id: int) -> int | None:
    return session.scalar(
        select(col(Ticket.id))
        .where(col(Ticket.contact_id) == contact_id, col(Ticket.status).not_in(_DONE))
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(1)
    )


def _contact_for(session: Session, number: str) -> Contact | None:
    return session.scalars(
        select(Contact)
        .where(or_(col(Contact.mobile_e164) == number, col(Contact.phone_e164) == number))
        .order_by(col(Contact.mobile_e164) != number, col(Contact.id))
        .limit(1)
    ).first()


def _new_contact(
    session: Session, actor: Actor, number: str, text: str, region: str | None
) -> Contact:
    from deskterm.desk.contacts import add_contact
    from deskterm.desk.mailparse import guess_language

    made = add_contact(
        session,
        actor,
        name=number,
        mobile=number,
        preferred_channel=Channel.SMS,
        language=guess_language(text),
        region=region,
    )
    contact = session.get(Contact, made.id)
    assert contact is not None
    return contact


def _intake_group(session: Session) -> str | None:
    """Where a case opened by a text waits: the first first-line group (as mail's)."""
    return session.scalar(
        select(col(SupportGroup.name))
        .where(col(SupportGroup.level) == 1)
        .order_by(col(SupportGroup.id))
        .limit(1)
    )


def _first_words(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    said = clean_line(line)
    return said if len(said) <= 80 else said[:79].rstrip() + "…"


def receive_sms(
    session: Session,
    actor: Actor,
    *,
    secret: str,
    fields: Mapping[str, object],
    region: str | None = None,
) -> SmsReceived:
    """One text from the gateway: its token checked first (a stranger learns nothing of
    what a good post looks like), then its number and text; a refused post writes nothing.
    See the module's docstring for where it lands."""
    found = _match(session, secret) if len(secret or "") <= 200 else None
    if found is None:
        raise UnknownSmsToken()
    raw_number = pick(fields, NUMBER_FIELDS) or ""
    if len(raw_number) > NUMBER_MAX:
        raise InvalidInput("the sender's number is too long", field="from")
    number = e164(clean_line(raw_number), region)
    if number is None:
        raise InvalidInput("no sender's number the desk can read (from/number)", field="from")
    raw_text = pick(fields, TEXT_FIELDS) or ""
    if len(raw_text) > 4 * TEXT_MAX:
        raise InvalidInput(f"the text is longer than {TEXT_MAX} characters", field="text")
    text = clean_long(raw_text)
    if not text:
        raise InvalidInput("no text (text/message)", field="text")
    if len(text) > TEXT_MAX:
        raise InvalidInput(f"the text is longer than {TEXT_MAX} characters", field="text")

    contact = _contact_for(session, number)
    new_contact = contact is None
    if contact is None:
        contact = _new_contact(session, actor, number, text, region)
    assert contact.id is not None
    open_id = None if new_contact else _newest_open(session, contact.id)
    message = p.CustomerMessage(channel=Channel.SMS, from_=number, text=text)
    if open_id is not None:
        ticket = tickets.load(session, open_id)
        change = tickets.Change(session, actor, ticket)
        change.log(message, visible=True)
        back = ticket.status == Status.WAITING_CUSTOMER
        if back:
            to = Status.IN_PROGRESS if ticket.assignee_id else Status.NEW
            ticket.status = to
            change.log(
                p.StatusChanged(from_=Status.WAITING_CUSTOMER, to=to, reason="the customer replied")
            )
        change.save()
        result = SmsReceived(
            outcome="reply",
            ref=format_ref(open_id),
            contact_id=contact.id,
            new_contact=False,
            back_to_work=back,
        )
    else:
        made = tickets.create_ticket(
            session,
            actor,
            subject=_first_words(text) or number,
            description=text,
            contact_id=contact.id,
            channel=Channel.SMS,
            group=_intake_group(session),
            assignee=None,
        )
        ticket = tickets.load(session, made.id)
        # Part of the opening change: who sent it, its text being the description.
        change = tickets.Change(session, actor, ticket, created=True)
        change.log(p.CustomerMessage(channel=Channel.SMS, from_=number), visible=True)
        change.save()
        result = SmsReceived(
            outcome="new_ticket",
            ref=format_ref(made.id),
            contact_id=contact.id,
            new_contact=new_contact,
        )
    token_id, last_used = found
    now = clock.now()
    if last_used is None or now - last_used >= _TOUCH_EVERY:
        session.execute(
            update(PortalSmsToken)
            .where(col(PortalSmsToken.id) == token_id)
            .values(last_used_at=now)
        )
    return result
