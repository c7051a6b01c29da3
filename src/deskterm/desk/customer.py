"""The case as the customer sees it: only the public part of the log, in their words.

Public events are turned into sentences here, not with ``domain.events.describe``: that
one is for colleagues and repeats reasons (an escalation's reason, say) that were written
for the desk. The customer reads who has their case, what was said to them and by them,
what we wait for, and how it ended; never an internal note or an internal reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Analyst, Contact, SupportGroup, Ticket, TicketEvent
from deskterm.desk.mailparse import describe_size
from deskterm.desk.schemas import Public
from deskterm.desk.templates import format_moment
from deskterm.domain import payloads as p
from deskterm.domain.enums import CallDirection, Channel, EventKind, Status, Visibility
from deskterm.domain.errors import NotFound
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.i18n import N_, _, normalize, translate

#: Who wrote an entry, when it was neither a named analyst nor the customer.
DESK = N_("Service desk")
#: The customer, as the author of their own messages.
YOU = N_("You")

#: How a case was opened, in the customer's words (the channel's stored value as the key).
_CHANNELS = {
    # Translators: how the customer opened their case, in "Case opened ({channel}): ..."
    Channel.PHONE.value: N_("phone"),
    # Translators: how the customer opened their case, in "Case opened ({channel}): ..."
    Channel.EMAIL.value: N_("email"),
    # Translators: how the customer opened their case, in "Case opened ({channel}): ..."
    Channel.CHAT.value: N_("chat"),
    # Translators: how the customer opened their case, in "Case opened ({channel}): ..."
    Channel.SMS.value: N_("sms"),
    # Translators: how the customer opened their case, in "Case opened ({channel}): ..."
    Channel.WALK_IN.value: N_("walk-in"),
    # Translators: how the customer opened their case, in "Case opened ({channel}): ..."
    Channel.PORTAL.value: N_("portal"),
}

#: A case's status, in plain words for the customer (not the desk's status codes).
_STATUSES = {
    # Translators: the status of a case, as its customer reads it (an adjective)
    Status.NEW.value: N_("new"),
    # Translators: the status of a case, as its customer reads it (an adjective)
    Status.ASSIGNED.value: N_("assigned"),
    # Translators: the status of a case, as its customer reads it (an adjective)
    Status.IN_PROGRESS.value: N_("in progress"),
    # Translators: the status of a case, as its customer reads it (an adjective)
    Status.WAITING_CUSTOMER.value: N_("waiting for you"),
    # Translators: the status of a case, as its customer reads it (an adjective)
    Status.WAITING_THIRD_PARTY.value: N_("waiting for another party"),
    # Translators: the status of a case, as its customer reads it (an adjective)
    Status.RESOLVED.value: N_("resolved"),
    # Translators: the status of a case, as its customer reads it (an adjective)
    Status.CLOSED.value: N_("closed"),
    # Translators: the status of a case, as its customer reads it (an adjective)
    Status.CANCELLED.value: N_("cancelled"),
}

#: Analysts' names by ``("id", id)`` and by ``("login", login)``.
_Names = dict[tuple[str, Any], str]


class CustomerEntry(Public):
    at: datetime
    by: str
    kind: str
    text: str


class CustomerView(Public):
    """What the customer may see of their case, in their language (``language``, the
    contact's; English when none): ``status``, ``where`` and every entry's words."""

    ref: str
    subject: str
    status: str
    contact: str | None
    holder: str | None
    group: str | None
    opened_at: datetime
    entries: list[CustomerEntry]
    language: str = "en"
    #: Where the case is, in the customer's words: "with Tom Technician", "waiting in ...".
    where: str = ""


def customer_view(session: Session, actor: Actor, *, ref: str | int) -> CustomerView:
    # Two plain statements, no ORM objects: the case page (``serve web``) reads this on
    # every load, and building the ORM objects cost more than the database's own work.
    ticket_id = ref if isinstance(ref, int) else parse_ref(ref)
    found = session.execute(
        select(
            col(Ticket.subject),
            col(Ticket.status),
            col(Ticket.created_at),
            col(Ticket.assignee_id),
            col(Contact.name),
            col(Contact.language),
            col(SupportGroup.name),
        )
        .select_from(Ticket)
        .outerjoin(Contact, col(Contact.id) == col(Ticket.contact_id))
        .outerjoin(SupportGroup, col(SupportGroup.id) == col(Ticket.group_id))
        .where(col(Ticket.id) == ticket_id)
    ).first()
    if found is None:
        raise NotFound(_("no ticket {ref}").format(ref=format_ref(ticket_id)))
    subject, status, opened_at, assignee_id, contact_name, contact_language, group_name = found
    events = session.execute(
        select(
            col(TicketEvent.kind),
            col(TicketEvent.data),
            col(TicketEvent.at),
            col(TicketEvent.actor_id),
        )
        .where(
            col(TicketEvent.ticket_id) == ticket_id,
            col(TicketEvent.visibility) == Visibility.PUBLIC,
        )
        .order_by(col(TicketEvent.id))
    ).all()
    told = [(event, p.parse(event.kind, event.data)) for event in events]
    names = _names(session, told, assignee_id)
    language = normalize(contact_language) or "en"
    entries = []
    for event, payload in told:
        text = _words(payload, names, language)
        if text is None:
            continue
        by = (
            translate(language, YOU)
            if event.kind == EventKind.CUSTOMER_MESSAGE
            else names.get(("id", event.actor_id)) or translate(language, DESK)
        )
        entries.append(CustomerEntry(at=event.at, by=by, kind=event.kind, text=text))
    holder = names.get(("id", assignee_id)) if assignee_id else None
    if holder:
        where = translate(language, "with {holder}").format(holder=holder)
    elif group_name is not None:
        where = translate(language, "waiting in {group}").format(group=group_name)
    else:
        where = translate(language, "waiting in the queue")
    return CustomerView(
        ref=format_ref(ticket_id),
        subject=subject,
        status=_status_label(status, language),
        contact=contact_name,
        holder=holder,
        group=group_name,
        opened_at=opened_at,
        entries=entries,
        language=language,
        where=where,
    )


def _status_label(status: str, language: str | None) -> str:
    label = _STATUSES.get(status)
    return translate(language, label) if label else status.replace("_", " ")


def _names(
    session: Session, told: Sequence[tuple[Any, p.Payload]], assignee_id: int | None
) -> _Names:
    """Analysts' full names by id and by login: the customer knows people, not logins."""
    ids = {e.actor_id for e, _payload in told if e.actor_id is not None}
    if assignee_id is not None:
        ids.add(assignee_id)
    logins: set[str] = set()
    for _event, payload in told:
        said: tuple[str | None, ...] = ()
        match payload:
            case p.HolderChange() as moved:
                said = (moved.to, moved.from_, moved.requested, moved.away)
            case p.Created(assignee=assignee, requested=requested):
                said = (assignee, requested)
            case p.Resolved(assignee=assignee):
                said = (assignee,)
        logins.update(login for login in said if login)
    if not ids and not logins:
        return {}
    rows = session.execute(
        select(col(Analyst.id), col(Analyst.login), col(Analyst.name)).where(
            col(Analyst.id).in_(ids) | col(Analyst.login).in_(logins)
        )
    ).all()
    names: _Names = {}
    for analyst_id, login, name in rows:
        names[("id", analyst_id)] = name
        names[("login", login)] = name
    return names


def _who(names: _Names, login: str | None) -> str | None:
    if not login:
        return None
    return names.get(("login", login))


def _words(payload: p.Payload, names: _Names, language: str | None = None) -> str | None:
    """One public event as the customer may read it, in ``language`` (English when none);
    ``None`` leaves it out."""
    tag = language

    def said(event: str, detail: str | None) -> str:
        if not detail:
            return event
        # Translators: an entry of the customer's view of their case and what was said,
        # e.g. "We called you (2m05s): Asked her to keep it plugged in".
        return translate(tag, "{event}: {detail}").format(event=event, detail=detail)

    match payload:
        case p.Created(channel=channel, subject=subject):
            how = _CHANNELS.get(channel or "phone")
            # Translators: {channel} is how the case was opened: phone, email, chat, ...
            return translate(tag, "Case opened ({channel}): {subject}").format(
                channel=translate(tag, how) if how else channel, subject=subject or ""
            )
        case p.CallLogged(direction=direction, duration_seconds=seconds, outcome=outcome):
            seconds = seconds or 0
            # Translators: the length of a call, minutes and seconds: "2m05s".
            length = translate(tag, "{minutes}m{seconds}s").format(
                minutes=seconds // 60, seconds=f"{seconds % 60:02d}"
            )
            if direction == CallDirection.OUTBOUND:
                call = (
                    translate(tag, "We called you ({length})").format(length=length)
                    if seconds
                    else translate(tag, "We called you")
                )
            else:
                call = (
                    translate(tag, "You called us ({length})").format(length=length)
                    if seconds
                    else translate(tag, "You called us")
                )
            return said(call, outcome)
        case p.Note(text=text):
            return text or ""
        case p.CustomerMessage(text=text, attachments=files):
            text = (text or "").strip()
            attached = ", ".join(
                f"{f.name} ({describe_size(f.size or 0, language=tag)})" for f in files or []
            )
            # The first mail of a case has no text here: it is the case's description.
            parts = [text] if text else []
            if attached:
                parts.append(translate(tag, "Attached: {files}").format(files=attached))
            return "\n".join(parts) or None
        case p.Assigned() | p.Reassigned():
            holder = _who(names, payload.to)
            if holder is None:
                team = payload.to_group or payload.to
                if not team:
                    return None
                return translate(tag, "Your case moved to our {team} team").format(team=team)
            if payload.reason == "away" or payload.away:
                away = _who(names, payload.away or payload.requested)
                if away is None:
                    return translate(
                        tag, "{holder} is looking after your case (your usual contact is away)"
                    ).format(holder=holder)
                said_away = translate(tag, "{holder} is looking after your case ({away} is away)")
                return said_away.format(holder=holder, away=away)
            # The reason typed for colleagues is an internal line of the log, not this one.
            if payload.public_reason:
                return translate(tag, "{holder} is looking after your case ({reason})").format(
                    holder=holder, reason=payload.public_reason
                )
            return translate(tag, "{holder} is looking after your case").format(holder=holder)
        case p.Escalated(to_level=level, to_group=group, public_reason=public_reason):
            senior = (level or 2) >= 3
            if group:
                went = (
                    translate(tag, "Your case went to our senior engineers in {group}")
                    if senior
                    else translate(tag, "Your case went to our specialists in {group}")
                ).format(group=group)
            else:
                went = (
                    translate(tag, "Your case went to our senior engineers in another team")
                    if senior
                    else translate(tag, "Your case went to our specialists in another team")
                )
            return said(went, public_reason)
        case p.StatusChanged(to=target, reason=reason):
            return _status_words(target, reason, tag)
        case p.Resolved(text=text):
            return said(translate(tag, "Resolved"), text)
        case p.Reopened(reason=reason):
            return said(translate(tag, "Your case was reopened"), reason)
        case p.Closed():
            return translate(tag, "Case closed")
        case p.CallbackScheduled(due_at=due_at, reason=reason):
            # The log's "2026-12-07 14:30 UTC", in the customer's words where they are known.
            when = format_moment(due_at, language) if due_at and language else due_at
            if when and reason:
                return translate(tag, "We will call you back at {when} about: {topic}").format(
                    when=when, topic=reason
                )
            if when:
                return translate(tag, "We will call you back at {when}").format(when=when)
            if reason:
                return translate(
                    tag, "We will call you back at a time we agreed about: {topic}"
                ).format(topic=reason)
            return translate(tag, "We will call you back at a time we agreed")
    return None


def _status_words(target: Status | None, reason: str | None, tag: str | None = None) -> str | None:
    match target:
        case Status.WAITING_CUSTOMER:
            waiting = translate(tag, "We are waiting for something from you")
            if not reason:
                return waiting
            return translate(tag, "{event}: {detail}").format(event=waiting, detail=reason)
        case Status.WAITING_THIRD_PARTY:
            return translate(tag, "We are waiting for a supplier or another party")
        case Status.IN_PROGRESS:
            return translate(tag, "We are working on your case")
        case Status.NEW:
            return translate(tag, "Your case is waiting for the next free technician")
        case Status.CANCELLED:
            cancelled = translate(tag, "Your case was cancelled")
            if not reason:
                return cancelled
            return translate(tag, "{event}: {detail}").format(event=cancelled, detail=reason)
        case Status.ASSIGNED:
            return None  # the assignment entry beside it already says who
    return translate(tag, "Status: {status}").format(status=_status_label(str(target or ""), tag))
