"""The outbox: what the customer is told, written with the change, delivered afterwards.

Queuing. ``tickets.Change.save()`` and ``queue.claim_next`` hand this module the events of
each change; when one of them is news for the customer (a new holder, an escalation, waiting
on them, resolved, a callback promised, or a mail-opened case acknowledged) a row is added to
the ``outbox`` table in the same session, so it commits or rolls back with the change: no
message is lost when the mail server is down, and none is sent for a change that failed.
At most one message per change and channel: one action, one message, or one on each
channel the contact asked for (``contact edit --notify email,sms``: a row each).

A contact who prefers the phone (and asked for no channel) is sent nothing: the change
opens a callback task on the ticket instead, due now, saying what to tell them in their
language (the text message's words), in the same session. A ticket has at most one such
task open: a later notice adds its words to it (``callbacks.tell_by_phone``).

No ``notification_queued`` event is written. In the change's own version it would double
every customer-visible step of the timeline (and the outbox row already records the
intent); as a change of its own it would bump the ticket's version, and an analyst saving an
edit meanwhile would be refused over an automatic message. The log records the outcome
instead: ``notification_sent`` or ``notification_failed``, written by the worker with the
ticket's current version, since telling the customer changes nothing about the ticket a
stale writer could overwrite.

Delivery. A worker claims one due row at a time in a short transaction, marking it
``sending`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write transactions are
already serialised by ``BEGIN IMMEDIATE``), commits, sends outside any transaction, then
marks it ``sent`` in a second transaction, only if the claim is still its own. So two
workers never send the same row. If a worker dies between the server accepting the message
and that second commit, the row stays ``sending`` until its lease runs out and is then sent
again: at least once, never silently dropped. The retry carries the same ``Message-ID``
(built from the row's stable token) and the SMS gateway gets it as ``Idempotency-Key``, so a
mail system or gateway that drops duplicates by ID shows the customer one message.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    Update,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from deskterm.db.engine import Database
from deskterm.db.models import (
    Analyst,
    Contact,
    MailMessage,
    Notification,
    SupportGroup,
    Ticket,
    TicketEvent,
)
from deskterm.desk import clock, ledger
from deskterm.desk.schemas import Public
from deskterm.desk.templates import TemplateProblem, render_notice
from deskterm.domain import payloads as p
from deskterm.domain.enums import LIVE_CHANNELS, Channel, EventKind, Status
from deskterm.domain.errors import InvalidInput, NotFound, PermissionDenied
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.i18n import _, format_time

if TYPE_CHECKING:
    from email.message import EmailMessage

#: A claimed row whose worker has not reported back after this long is claimed again.
LEASE = timedelta(minutes=10)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)


class Notice(StrEnum):
    """What a message tells the customer; also the name of its template."""

    CREATED = "created"
    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CALLBACK = "callback"


#: The notices a customer gets (a supervisor's alert rides the outbox too: no link in it).
_NOTICES = frozenset(n.value for n in Notice)


class Because(StrEnum):
    """Why a case changed hands, in the fixed words the customer reads (the templates say
    them). What the analyst typed as the reason is for colleagues and never reaches the
    customer; what they chose to tell the customer travels as ``public_reason``."""

    AWAY = "away"  # "<analyst> is away at the moment, so <holder> is covering"
    SPECIALIST = "specialist"  # "a specialist team is taking over"
    TEAM = "team"  # "your case was moved to the team that handles it"
    COLLEAGUE = "colleague"  # "a colleague is taking over so that your case keeps moving"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


_CANDIDATES = frozenset(
    {
        EventKind.CREATED,
        EventKind.ASSIGNED,
        EventKind.REASSIGNED,
        EventKind.ESCALATED,
        EventKind.STATUS_CHANGED,
        EventKind.RESOLVED,
        EventKind.CALLBACK_SCHEDULED,
    }
)


# --------------------------------------------------------------------------- queuing


@cache
def _change_query() -> Select[Any]:
    # Built once: this runs with every change that may be news, and building the join (with
    # its aliases) each time cost more than running it.
    holder, group = aliased(Analyst), aliased(SupportGroup)
    return (
        select(
            col(Ticket.channel),
            col(Ticket.subject),
            col(Ticket.level),
            col(Ticket.status),
            Contact,
            col(holder.name),
        )
        .add_columns(col(group.name))
        .select_from(Ticket)
        .join(Contact, col(Contact.id) == col(Ticket.contact_id))
        .outerjoin(holder, col(holder.id) == col(Ticket.assignee_id))
        .outerjoin(group, col(group.id) == col(Ticket.group_id))
        .where(col(Ticket.id) == bindparam("ticket_id"))
    )


def queue_for_change(
    session: Session,
    ticket_id: int,
    events: Sequence[TicketEvent],
    *,
    channel: str | None = None,
    has_contact: bool | None = None,
) -> Notification | None:
    """Queue the customer's message about one change, if the change is news for them.

    ``channel``: the ticket's channel, where the caller has it at hand; a change that is
    news for nobody on that channel (opening a ticket on the phone, with the customer
    listening) then costs no query at all. ``has_contact``: whether the ticket has a caller,
    where the caller knows (``None``: it does not); a ticket without one has nobody to
    tell, and that too then costs no query.
    """
    if has_contact is False:
        return None
    news = [(e, p.parse(e.kind, e.data)) for e in events if e.kind in _CANDIDATES]
    if not news:
        return None
    if channel is not None and all(
        _notice_for(payload, channel) is None for _event, payload in news
    ):
        return None
    row = session.execute(_change_query(), {"ticket_id": ticket_id}).first()
    if row is None:  # no contact: nobody to tell
        return None
    channel, subject, level, status, contact, holder_name, group_name = row
    for event, payload in news:
        notice = _notice_for(payload, channel)
        if notice is None:
            continue
        context = notice_context(
            ref=format_ref(ticket_id),
            subject=subject,
            name=contact.name,
            holder=holder_name,
            group=group_name,
            level=level,
            status=status,
            channel=channel,
        )
        context.update(_details(session, notice, payload))
        if wants_a_call(contact):
            # A callback promised is itself a call: nothing more to tell them about it.
            if notice != Notice.CALLBACK:
                _call_instead(session, event, notice, contact, context)
            return None
        now = clock.now()
        notes = [
            Notification(
                ticket_id=ticket_id,
                event_id=event.id,
                contact_id=contact.id,
                kind=notice,
                channel=route,
                recipient=recipient,
                context=context,
                token=secrets.token_hex(8),
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for route, recipient in routes(contact)
        ]
        session.add_all(notes)
        session.flush()
        return notes[0]
    return None


def _call_instead(
    session: Session, event: TicketEvent, notice: Notice, contact: Contact, context: dict[str, Any]
) -> None:
    """The callback task that tells a contact who prefers the phone what ``notice`` says:
    the text message's words in their language, which already carry the reason, shortened."""
    from deskterm.desk.callbacks import tell_by_phone

    try:
        what = render_notice(notice, contact.language, context).sms
    except TemplateProblem:  # a broken template must not cost the change: say it plainly
        what = f"{context['ref']}: {notice.value}"
    tell_by_phone(
        session,
        ticket_id=event.ticket_id,
        version=event.ticket_version,
        at=event.at,
        actor_id=event.actor_id,
        what=what,
        name=contact.name,
    )


def notice_context(
    *,
    ref: str,
    subject: str,
    name: str,
    holder: str | None,
    group: str | None,
    level: int,
    status: str,
    channel: str,
) -> dict[str, Any]:
    """Every variable a customer's template gets, those of the event (``_details``) empty:
    the one place that says what a template may use (data/templates/README.md lists them)."""
    return {
        "ref": ref,
        "subject": subject,
        "name": name,
        "holder": holder,
        "group": group,
        "level": level,
        "status": status,
        "channel": channel,
        "reason": None,
        "because": None,
        "away": None,
        "resolution": None,
        "callback_at": None,
        # Made when the message is sent (``_claim``), never stored: a link is signed then.
        "link": None,
        "survey_link": None,
    }


def _notice_for(payload: p.Payload, channel: str) -> Notice | None:
    match payload:
        case p.Created():
            # On the phone or at the counter the customer hears it; by mail they need the ref.
            return None if channel in LIVE_CHANNELS else Notice.CREATED
        case p.Assigned(to=to):
            return Notice.ASSIGNED if to else None
        case p.Reassigned():
            return Notice.ASSIGNED
        case p.Escalated():
            return Notice.ESCALATED
        case p.StatusChanged(to=to):
            return Notice.WAITING if to == Status.WAITING_CUSTOMER else None
        case p.Resolved():
            return Notice.RESOLVED
        case p.CallbackScheduled():
            return Notice.CALLBACK
    return None


def _details(session: Session, notice: Notice, payload: p.Payload) -> dict[str, Any]:
    """The parts of the event the customer may read. A reason typed for a handover,
    reassignment or escalation is internal: only its ``public_reason`` (what the analyst
    chose to tell the customer) and the fixed ``because`` are passed on; the template says
    the rest in plain words."""
    match payload:
        case p.HolderChange() as moved if notice == Notice.ASSIGNED:
            told = {"reason": moved.public_reason, "because": _because(moved.because)}
            away = moved.away or (moved.requested if moved.reason == Because.AWAY else None)
            if away:
                name = session.scalar(select(col(Analyst.name)).where(col(Analyst.login) == away))
                told.update(away=name or away, because=Because.AWAY.value)
            return told
        case p.Escalated(public_reason=public_reason) if notice == Notice.ESCALATED:
            return {"reason": public_reason, "because": Because.SPECIALIST.value}
        case p.StatusChanged(reason=reason) if notice == Notice.WAITING:
            return {"reason": reason}
        case p.Resolved(text=text) if notice == Notice.RESOLVED:
            return {"resolution": text}
        case p.CallbackScheduled(due_at=due_at, reason=reason) if notice == Notice.CALLBACK:
            return {"callback_at": due_at, "reason": reason}
    return {}


def _because(because: str | None) -> str | None:
    """The event's fixed "why"; anything else in it is not the customer's to read."""
    try:
        return Because(because or "").value
    except ValueError:
        return None


def preview(
    notice: str,
    *,
    holder: str | None,
    group: str | None,
    because: str | None,
    told: str | None,
    away: str | None = None,
    ref: str = "DT-…",
    subject: str = "…",
    name: str = "",
    level: int = 2,
    language: str | None = None,
) -> str:
    """The body of the message a customer would get for a handover, a reassignment or an
    escalation, for a dialog to show before it is saved."""
    context = notice_context(
        ref=ref,
        subject=subject,
        name=name,
        holder=holder,
        group=group,
        level=level,
        status="",
        channel="email",
    )
    context.update(reason=told or None, because=because, away=away)
    try:
        return render_notice(notice, language, context).body
    except TemplateProblem as exc:
        return _("(no preview: {problem})").format(problem=exc)


def sms_number(mobile: str) -> str:
    """A mobile number as gateways want it: digits, with the leading + kept."""
    digits = "".join(ch for ch in mobile if ch.isdigit())
    return f"+{digits}" if mobile.strip().startswith("+") else digits


def wants_a_call(contact: Contact) -> bool:
    """A contact who prefers the phone and asked for no channel: called, never written to."""
    return not contact.notify and contact.preferred_channel == Channel.PHONE


def notify_channels(contact: Contact) -> tuple[str, ...]:
    """``contact.notify`` as channels (``contacts.stored_channels``; empty: as preferred)."""
    if not contact.notify:
        return ()
    from deskterm.desk.contacts import stored_channels

    return stored_channels(contact.notify)


def address(contact: Contact, channel: str) -> str | None:
    """The contact's address on ``channel``: their email, or their mobile as gateways want it."""
    if channel == Channel.SMS:
        return sms_number(contact.mobile) if contact.mobile else None
    return contact.email


def routes(contact: Contact) -> list[tuple[str, str | None]]:
    """Each channel and address a message to the contact goes to: every channel they asked
    for (``--notify``), else the one ``choose_route`` picks."""
    channels = notify_channels(contact)
    if not channels:
        return [choose_route(contact)]
    return [(channel, address(contact, channel)) for channel in channels]


def choose_route(contact: Contact) -> tuple[str, str | None]:
    """The channel and address to reach a contact: their preference where it can be met,
    else email, else a text to their mobile; no address at all gives ``(email, None)``."""
    if contact.preferred_channel == Channel.SMS and contact.mobile:
        return Channel.SMS, sms_number(contact.mobile)
    if contact.email:
        return Channel.EMAIL, contact.email
    if contact.mobile:
        return Channel.SMS, sms_number(contact.mobile)
    return Channel.EMAIL, None


# --------------------------------------------------------------------------- reading, retrying


class NotificationPublic(Public):
    id: int
    ref: str
    ticket_id: int
    kind: str
    channel: str
    recipient: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None
    message_id: str | None = None
    subject: str | None = None


def _public(note: Notification) -> NotificationPublic:
    assert note.id is not None
    return NotificationPublic(
        id=note.id,
        ref=format_ref(note.ticket_id),
        ticket_id=note.ticket_id,
        kind=note.kind,
        channel=note.channel,
        recipient=note.recipient,
        status=note.status,
        attempts=note.attempts,
        next_attempt_at=note.next_attempt_at,
        last_error=note.last_error,
        created_at=note.created_at,
        sent_at=note.sent_at,
        message_id=note.message_id,
        subject=note.subject,
    )


def _statuses(names: Iterable[str]) -> list[str]:
    wanted: set[str] = set()
    for name in names:
        key = name.strip().lower()
        if key == "all":
            return [s.value for s in OutboxStatus]
        if key == "waiting":
            wanted |= {OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.DEAD}
            continue
        try:
            wanted.add(OutboxStatus(key))
        except ValueError:
            allowed = ", ".join([*(s.value for s in OutboxStatus), "all"])
            raise InvalidInput(
                _("unknown status {name!r}: use {allowed}").format(name=name, allowed=allowed),
                field="status",
            ) from None
    return sorted(wanted)


def list_outbox(
    session: Session,
    actor: Actor,
    *,
    statuses: Sequence[str] = ("waiting",),
    ref: str | None = None,
    limit: int = 100,
) -> list[NotificationPublic]:
    """Messages by status (``waiting``: pending, sending and dead), oldest first."""
    if not 1 <= limit <= 1000:
        raise InvalidInput(
            _("limit must be between 1 and 1000, not {limit}").format(limit=limit), field="limit"
        )
    query = select(Notification).where(col(Notification.status).in_(_statuses(statuses)))
    if ref:
        query = query.where(col(Notification.ticket_id) == parse_ref(ref))
    query = query.order_by(col(Notification.id)).limit(limit)
    return [_public(n) for n in session.scalars(query)]


def ticket_notifications(session: Session, ticket_id: int) -> list[NotificationPublic]:
    rows = session.scalars(
        select(Notification)
        .where(col(Notification.ticket_id) == ticket_id)
        .order_by(col(Notification.id))
    )
    return [_public(n) for n in rows]


def retry(
    session: Session,
    actor: Actor,
    *,
    ids: Sequence[int] = (),
    all_dead: bool = False,
) -> list[NotificationPublic]:
    """Send dead (or waiting) messages again, now, with a fresh count of tries.

    All or nothing: one message that cannot be retried refuses the lot. The address is
    looked up again when it is sent, so fix the contact first, then retry.
    """
    if not actor.is_supervisor:
        raise PermissionDenied(_("only a supervisor or an admin retries customer messages"))
    if bool(ids) == all_dead:
        raise InvalidInput(_("name the messages to retry, or --all-dead"), field="ids")
    now = clock.now()
    if all_dead:
        rows = list(
            session.scalars(
                select(Notification)
                .where(col(Notification.status) == OutboxStatus.DEAD)
                .order_by(col(Notification.id))
                .with_for_update()
            )
        )
    else:
        rows = []
        for note_id in sorted(set(ids)):
            note = session.scalars(
                select(Notification).where(col(Notification.id) == note_id).with_for_update()
            ).first()
            if note is None:
                raise NotFound(_("no outbox message {id}").format(id=note_id))
            if note.status == OutboxStatus.SENT:
                raise InvalidInput(
                    _("outbox message {id} was sent at {at}; nothing to retry").format(
                        id=note_id, at=format_time(note.sent_at)
                    ),
                    field="ids",
                )
            if note.status == OutboxStatus.SENDING and not _lease_over(note, now):
                raise InvalidInput(
                    _("outbox message {id} is being sent right now").format(id=note_id),
                    field="ids",
                )
            rows.append(note)
    for note in rows:
        note.status = OutboxStatus.PENDING
        note.attempts = 0
        note.next_attempt_at = now
        note.claimed_at = None
        note.claimed_by = None
        note.last_error = None
    session.flush()
    return [_public(n) for n in rows]


def _lease_over(note: Notification, now: datetime) -> bool:
    return note.claimed_at is None or note.claimed_at < now - LEASE


# --------------------------------------------------------------------------- delivering


class EmailSender(Protocol):
    def send(self, message: EmailMessage, *, to_addrs: Sequence[str]) -> None:
        """Send ``message`` to exactly ``to_addrs`` (the envelope), whatever its headers say."""
        ...

    def close(self) -> None: ...


class SmsSender(Protocol):
    def send(self, *, to: str, text: str, ref: str, message_id: str) -> None: ...

    def close(self) -> None: ...


@dataclass
class Senders:
    """What a worker delivers with; a channel without a sender fails its messages."""

    email: EmailSender | None = None
    sms: SmsSender | None = None
    from_address: str = "deskterm@deskterm.invalid"
    domain: str = "deskterm.invalid"
    #: ``[web] base_url``: where customers reach their case page. Without it a message
    #: carries no link.
    base_url: str | None = None

    def close(self) -> None:
        for sender in (self.email, self.sms):
            if sender is not None:
                sender.close()


def senders_from_config(config: Any) -> Senders:
    """Senders for a ``channels.CommsConfig``."""
    from deskterm.desk.channels import EmailTransport, SmsTransport

    senders = Senders()
    if config.smtp is not None:
        senders.email = EmailTransport(config.smtp)
        senders.from_address = config.smtp.from_address
        senders.domain = config.smtp.domain
    if config.sms is not None:
        senders.sms = SmsTransport(config.sms)
    senders.base_url = config.base_url
    return senders


@dataclass(frozen=True)
class Delivery:
    """What became of one message in a run."""

    id: int
    ref: str
    channel: str
    recipient: str | None
    status: str  # sent, retrying, dead, lost (another worker took it over)
    reason: str | None = None


@dataclass
class RunSummary:
    deliveries: list[Delivery] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for d in self.deliveries if d.status == status)


@dataclass(frozen=True)
class _Job:
    id: int
    ticket_id: int
    notice: str
    token: str
    attempts: int
    context: dict[str, Any]
    channel: str
    recipient: str | None
    contact_name: str | None
    language: str | None
    thread: str | None


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def deliver_due(
    db: Database,
    senders: Senders,
    *,
    max_attempts: int = 5,
    limit: int | None = None,
    worker: str | None = None,
) -> RunSummary:
    """Deliver every message that is due now (at most ``limit``); return what happened."""
    worker = worker or worker_name()
    summary = RunSummary()
    with db.write() as session:
        summary.deliveries.extend(_bury_abandoned(session, max_attempts))
    while limit is None or len(summary.deliveries) < limit:
        with db.write() as session:
            job = _claim(session, worker, base_url=senders.base_url)
        if job is None:
            break
        summary.deliveries.append(_deliver(db, senders, job, worker, max_attempts))
    return summary


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            col(Notification.status) == OutboxStatus.PENDING,
            col(Notification.next_attempt_at) <= now,
        ),
        and_(
            col(Notification.status) == OutboxStatus.SENDING,
            col(Notification.claimed_at) < now - LEASE,
        ),
    )


def _claim(session: Session, worker: str, *, base_url: str | None = None) -> _Job | None:
    now = clock.now()
    candidate = (
        select(col(Notification.id))
        .where(_due(now))
        .order_by(col(Notification.next_attempt_at), col(Notification.id))
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    claimed = session.execute(
        update(Notification)
        .where(col(Notification.id) == candidate.scalar_subquery(), _due(now))
        .values(
            status=OutboxStatus.SENDING,
            claimed_at=now,
            claimed_by=worker,
            attempts=col(Notification.attempts) + 1,
        )
        .returning(col(Notification.id))
        .execution_options(synchronize_session=False)
    ).first()
    if claimed is None:
        return None
    note = session.scalars(
        select(Notification)
        .where(col(Notification.id) == claimed[0])
        .execution_options(populate_existing=True)
    ).one()
    contact = session.get(Contact, note.contact_id) if note.contact_id else None
    # The address is looked up now, so a contact corrected after a failure is reached by a
    # retry. A row of several for one change (``--notify email,sms``) keeps its channel, or
    # the customer would get the same message twice on the other; a single one goes the
    # way the contact's preference says now.
    if contact is None:
        channel, recipient = note.channel, note.recipient
    elif note.channel in notify_channels(contact) or _one_of_several(session, note):
        channel, recipient = note.channel, address(contact, note.channel)
    else:
        channel, recipient = choose_route(contact)
    thread = session.scalar(
        select(col(MailMessage.message_id))
        .where(
            col(MailMessage.ticket_id) == note.ticket_id, col(MailMessage.message_id).is_not(None)
        )
        .order_by(col(MailMessage.id).desc())
        .limit(1)
    )
    language = contact.language if contact else _analyst_language(session, note.recipient)
    context = dict(note.context)
    if note.kind in _NOTICES:
        context.update(_links(session, note, base_url))
    assert note.id is not None
    return _Job(
        id=note.id,
        ticket_id=note.ticket_id,
        notice=note.kind,
        token=note.token,
        attempts=note.attempts,
        context=context,
        channel=channel,
        recipient=recipient,
        contact_name=contact.name if contact else None,
        language=language,
        thread=thread,
    )


def _one_of_several(session: Session, note: Notification) -> bool:
    """Whether the change that queued ``note`` queued another message beside it."""
    if note.event_id is None:
        return False
    other = session.scalar(
        select(col(Notification.id))
        .where(
            col(Notification.ticket_id) == note.ticket_id,
            col(Notification.event_id) == note.event_id,
            col(Notification.id) != note.id,
        )
        .limit(1)
    )
    return other is not None


def _links(session: Session, note: Notification, base_url: str | None) -> dict[str, str | None]:
    """``link`` (the case page) and, for ``resolved``, ``survey_link``: signed as the
    message is sent, as ``portal link REF`` signs its link, so a retry carries a fresh one
    and a revocation before the send is kept (the queued row holds no token). None without
    a base URL, or when the ticket is no longer the contact's."""
    from deskterm.desk.portal import message_links

    made = (
        message_links(
            session, ticket_id=note.ticket_id, contact_id=note.contact_id, base_url=base_url
        )
        if base_url
        else None
    )
    if made is None:
        return {"link": None, "survey_link": None}
    return {
        "link": made.case,
        "survey_link": made.survey if note.kind == Notice.RESOLVED else None,
    }


def _analyst_language(session: Session, address: str | None) -> str | None:
    """The language of the analyst a message without a contact goes to (a supervisor's
    alert): their own (``analyst edit --language``), else English."""
    if not address:
        return None
    return session.scalar(
        select(col(Analyst.language))
        .where(func.lower(col(Analyst.email)) == address.strip().lower())
        .order_by(col(Analyst.active).desc(), col(Analyst.id))
        .limit(1)
    )


def message_id(ticket_id: int, token: str, domain: str) -> str:
    return f"<{format_ref(ticket_id)}.{token}@{domain}>"


def _deliver(db: Database, senders: Senders, job: _Job, worker: str, max_attempts: int) -> Delivery:
    # Imported here: every ticket change imports this module, only workers send.
    from deskterm.desk.channels import DeliveryError

    ref = format_ref(job.ticket_id)
    mid = message_id(job.ticket_id, job.token, senders.domain)
    subject = body = None
    try:
        if job.recipient is None:
            raise DeliveryError(
                "no email address or mobile number on file for the contact", permanent=True
            )
        try:
            rendered = render_notice(job.notice, job.language, job.context)
        except TemplateProblem as exc:
            raise DeliveryError(str(exc), permanent=True) from None
        if job.channel == Channel.SMS:
            if senders.sms is None:
                raise DeliveryError(
                    "no SMS gateway is configured (DESKTERM_SMS_URL)", permanent=True
                )
            body = _sms_text(job, rendered.sms)
            senders.sms.send(to=job.recipient, text=body, ref=ref, message_id=mid.strip("<>"))
        else:
            to = _deliverable(job)
            job = replace(job, recipient=to)
            if senders.email is None:
                raise DeliveryError("SMTP is not configured (DESKTERM_SMTP_HOST)", permanent=True)
            subject = rendered.subject
            if f"[{ref}]" not in subject:
                subject = f"[{ref}] {subject}".strip()
            body = rendered.body
            # The envelope is given, never read back from the To header: the relay delivers
            # to exactly the address the log will name.
            senders.email.send(_email(senders, job, mid, subject, body), to_addrs=[to])
    except DeliveryError as exc:
        return _failed(db, job, worker, str(exc), exc.permanent, max_attempts)
    except Exception as exc:  # a bug must cost one try, not the whole queue
        return _failed(db, job, worker, f"{type(exc).__name__}: {exc}", False, max_attempts)
    return _sent(db, job, worker, mid, subject, body)


def _sms_text(job: _Job, sms: str) -> str:
    """The text message, with its links only where they fit whole. A text longer than the
    limit is cut (``templates.SMS_MAX``), and a link cut short opens nothing: such a text is
    written again without the survey's link, then without any."""
    for dropped in ((), ("survey_link",), ("survey_link", "link")):
        context = {**job.context, **dict.fromkeys(dropped)}
        if dropped:
            sms = render_notice(job.notice, job.language, context).sms
        whole = all(not context.get(k) or context[k] in sms for k in ("link", "survey_link"))
        if whole or not sms.endswith("…"):
            break
    return sms


def _deliverable(job: _Job) -> str:
    """The job's email address, checked as a contact's address is checked when added.

    A row stored before that check (or imported) may hold a loose form such as
    ``"x"<victim@b.example>``, which a relay would deliver to its local mailbox ``x``: such
    a message fails, with the reason, rather than going anywhere but where the log says.
    """
    from deskterm.desk.channels import DeliveryError
    from deskterm.desk.contacts import checked_email

    try:
        address = checked_email(job.recipient, field="recipient")
    except InvalidInput as exc:
        raise DeliveryError(
            f"the address on file cannot be sent to exactly as written ({exc}); correct the "
            f"contact's email, then `deskterm outbox retry {job.id}`",
            permanent=True,
        ) from None
    assert address is not None
    return address


def _email(senders: Senders, job: _Job, mid: str, subject: str, body: str) -> EmailMessage:
    from email.message import EmailMessage
    from email.utils import format_datetime, formataddr

    assert job.recipient is not None
    message = EmailMessage()
    message["From"] = senders.from_address
    message["To"] = formataddr((job.contact_name or "", job.recipient))
    message["Subject"] = subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = mid
    if job.thread:
        message["In-Reply-To"] = job.thread
        message["References"] = job.thread
    # RFC 3834: a vacation responder must not answer this, so no mail loop can start.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Deskterm-Ticket"] = format_ref(job.ticket_id)
    message.set_content(body)
    return message


def _sent(
    db: Database, job: _Job, worker: str, mid: str, subject: str | None, body: str | None
) -> Delivery:
    ref = format_ref(job.ticket_id)
    with db.write() as session:
        now = clock.now()
        done = _changed(
            session,
            update(Notification)
            .where(
                col(Notification.id) == job.id,
                col(Notification.status) == OutboxStatus.SENDING,
                col(Notification.claimed_by) == worker,
            )
            .values(
                status=OutboxStatus.SENT,
                sent_at=now,
                channel=job.channel,
                recipient=job.recipient,
                message_id=mid,
                subject=subject,
                body=body,
                last_error=None,
            )
            .execution_options(synchronize_session=False),
        )
        if done == 0:
            return Delivery(job.id, ref, job.channel, job.recipient, "lost")
        log_note(
            session,
            job.ticket_id,
            p.NotificationSent(
                channel=job.channel,
                to=job.recipient,
                notice=job.notice,
                outbox_id=job.id,
                message_id=mid,
            ),
        )
    return Delivery(job.id, ref, job.channel, job.recipient, "sent")


def _changed(session: Session, statement: Update) -> int:
    """How many rows ``statement`` updated. An UPDATE's result is a ``CursorResult``;
    ``Session.execute`` is typed for any statement, so it says only ``Result``."""
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount


def backoff(attempts: int) -> timedelta:
    """The wait before try ``attempts + 1``: 1, 2, 4, 8 ... minutes, at most an hour."""
    return min(BACKOFF_BASE * (1 << max(attempts - 1, 0)), BACKOFF_CAP)


def _failed(
    db: Database, job: _Job, worker: str, reason: str, permanent: bool, max_attempts: int
) -> Delivery:
    ref = format_ref(job.ticket_id)
    reason = " ".join(reason.split())[:480]
    dead = permanent or job.attempts >= max_attempts
    with db.write() as session:
        now = clock.now()
        values: dict[str, Any] = {
            "last_error": reason,
            "claimed_at": None,
            "claimed_by": None,
            "channel": job.channel,
            "recipient": job.recipient,
        }
        if dead:
            values["status"] = OutboxStatus.DEAD
        else:
            values["status"] = OutboxStatus.PENDING
            values["next_attempt_at"] = now + backoff(job.attempts)
        done = _changed(
            session,
            update(Notification)
            .where(
                col(Notification.id) == job.id,
                col(Notification.status) == OutboxStatus.SENDING,
                col(Notification.claimed_by) == worker,
            )
            .values(**values)
            .execution_options(synchronize_session=False),
        )
        if done == 0:
            return Delivery(job.id, ref, job.channel, job.recipient, "lost", reason)
        if dead:
            log_note(
                session,
                job.ticket_id,
                p.NotificationFailed(
                    channel=job.channel,
                    to=job.recipient,
                    notice=job.notice,
                    outbox_id=job.id,
                    attempts=job.attempts,
                    reason=reason,
                ),
            )
    return Delivery(job.id, ref, job.channel, job.recipient, "dead" if dead else "retrying", reason)


def _bury_abandoned(session: Session, max_attempts: int) -> list[Delivery]:
    """Rows whose workers died mid-send on every one of their tries: give up on them."""
    now = clock.now()
    rows = session.scalars(
        select(Notification)
        .where(
            col(Notification.status) == OutboxStatus.SENDING,
            col(Notification.claimed_at) < now - LEASE,
            col(Notification.attempts) >= max_attempts,
        )
        .with_for_update()
    ).all()
    buried = []
    for note in rows:
        assert note.id is not None
        reason = f"the worker stopped while sending it, {note.attempts} times"
        note.status = OutboxStatus.DEAD
        note.last_error = reason
        note.claimed_at = note.claimed_by = None
        log_given_up(session, note, reason, attempts=note.attempts)
        buried.append(
            Delivery(note.id, format_ref(note.ticket_id), note.channel, note.recipient, "dead")
        )
    session.flush()
    return buried


def log_given_up(
    session: Session, note: Notification, reason: str, *, attempts: int | None = None
) -> None:
    """The ticket's log says the customer could not be told by ``note``, and why."""
    log_note(
        session,
        note.ticket_id,
        p.NotificationFailed(
            channel=note.channel,
            to=note.recipient,
            notice=note.kind,
            outbox_id=note.id,
            attempts=attempts,
            reason=reason,
        ),
    )


def log_note(session: Session, ticket_id: int, payload: p.Payload) -> None:
    """Write ``payload`` as the system's internal event at the ticket's current version: an
    annotation (a message sent, failed or bounced), not a change."""
    # Locked: a change committing meanwhile would otherwise leave this note with the version
    # before it but an id after it, and the log's versions would go backwards.
    locked = select(col(Ticket.version)).where(col(Ticket.id) == ticket_id).with_for_update()
    version = session.scalar(locked)
    ledger.record(
        session,
        payload,
        ticket_id=ticket_id,
        version=version or 1,
        at=clock.now(),
        actor_id=None,
        visible=False,
    )
    session.flush()
