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
from deskterm.domain import payloads as p
from deskterm.domain.enums import CallDirection, EventKind, Status, Visibility
from deskterm.domain.errors import NotFound
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref

DESK = "Service desk"
YOU = "You"

#: Analysts' names by ``("id", id)`` and by ``("login", login)``.
_Names = dict[tuple[str, Any], str]


class CustomerEntry(Public):
    at: datetime
    by: str
    kind: str
    text: str


class CustomerView(Public):
    ref: str
    subject: str
    status: str
    contact: str | None
    holder: str | None
    group: str | None
    opened_at: datetime
    entries: list[CustomerEntry]


def customer_view(session: Session, actor: Actor, *, ref: str | int) -> CustomerView:
    ticket_id = ref if isinstance(ref, int) else parse_ref(ref)
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket {format_ref(ticket_id)}")
    events = session.scalars(
        select(TicketEvent)
        .where(
            col(TicketEvent.ticket_id) == ticket_id,
            col(TicketEvent.visibility) == Visibility.PUBLIC,
        )
        .order_by(col(TicketEvent.id))
    ).all()
    told = [(event, p.parse(event.kind, event.data)) for event in events]
    names = _names(session, told, ticket)
    entries = []
    for event, payload in told:
        text = _words(payload, names)
        if text is None:
            continue
        by = (
            YOU
            if event.kind == EventKind.CUSTOMER_MESSAGE
            else names.get(("id", event.actor_id), DESK)
        )
        entries.append(CustomerEntry(at=event.at, by=by, kind=event.kind, text=text))
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
    group = session.get(SupportGroup, ticket.group_id) if ticket.group_id else None
    return CustomerView(
        ref=format_ref(ticket_id),
        subject=ticket.subject,
        status=Status(ticket.status).label,
        contact=contact.name if contact else None,
        holder=names.get(("id", ticket.assignee_id)) if ticket.assignee_id else None,
        group=group.name if group else None,
        opened_at=ticket.created_at,
        entries=entries,
    )


def _names(
    session: Session, told: Sequence[tuple[TicketEvent, p.Payload]], ticket: Ticket
) -> _Names:
    """Analysts' full names by id and by login: the customer knows people, not logins."""
    ids = {e.actor_id for e, _ in told if e.actor_id is not None}
    if ticket.assignee_id is not None:
        ids.add(ticket.assignee_id)
    logins: set[str] = set()
    for _, payload in told:
        said: tuple[str | None, ...] = ()
        match payload:
            case p.HolderChange() as moved:
                said = (moved.to, moved.from_, moved.requested, moved.away)
            case p.Created(assignee=assignee, requested=requested):
                said = (assignee, requested)
            case p.Resolved(assignee=assignee):
                said = (assignee,)
        logins.update(login for login in said if login)
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


def _words(payload: p.Payload, names: _Names) -> str | None:
    """One public event as the customer may read it; ``None`` leaves it out."""
    match payload:
        case p.Created(channel=channel, subject=subject):
            return f"Case opened ({channel or 'phone'}): {subject or ''}"
        case p.CallLogged(direction=direction, duration_seconds=seconds, outcome=outcome):
            seconds = seconds or 0
            length = f" ({seconds // 60}m{seconds % 60:02d}s)" if seconds else ""
            said = f": {outcome}" if outcome else ""
            if direction == CallDirection.OUTBOUND:
                return f"We called you{length}{said}"
            return f"You called us{length}{said}"
        case p.Note(text=text):
            return text or ""
        case p.CustomerMessage(text=text, attachments=files):
            text = (text or "").strip()
            attached = ", ".join(f"{f.name} ({describe_size(f.size or 0)})" for f in files or [])
            # The first mail of a case has no text here: it is the case's description.
            parts = [part for part in (text, f"Attached: {attached}" if attached else "") if part]
            return "\n".join(parts) or None
        case p.Assigned() | p.Reassigned():
            holder = _who(names, payload.to)
            if holder is None:
                team = payload.to_group or payload.to
                return f"Your case moved to our {team} team" if team else None
            if payload.reason == "away" or payload.away:
                away = _who(names, payload.away or payload.requested) or "Your usual contact"
                return f"{holder} is looking after your case ({away} is away)"
            # The reason typed for colleagues is an internal line of the log, not this one.
            why = f" ({payload.public_reason})" if payload.public_reason else ""
            return f"{holder} is looking after your case{why}"
        case p.Escalated(to_level=level, to_group=group, public_reason=public_reason):
            who = "senior engineers" if (level or 2) >= 3 else "specialists"
            said = f": {public_reason}" if public_reason else ""
            return f"Your case went to our {who} in {group or 'another team'}{said}"
        case p.StatusChanged(to=target, reason=reason):
            return _status_words(target, reason)
        case p.Resolved(text=text):
            return f"Resolved: {text or ''}".strip()
        case p.Reopened(reason=reason):
            return f"Your case was reopened{f': {reason}' if reason else ''}"
        case p.Closed():
            return "Case closed"
        case p.CallbackScheduled(due_at=due_at, reason=reason):
            said = f" about: {reason}" if reason else ""
            return f"We will call you back at {due_at or 'a time we agreed'}{said}"
    return None


def _status_words(target: Status | None, reason: str | None) -> str | None:
    said = f": {reason}" if reason else ""
    match target:
        case Status.WAITING_CUSTOMER:
            return f"We are waiting for something from you{said}"
        case Status.WAITING_THIRD_PARTY:
            return "We are waiting for a supplier or another party"
        case Status.IN_PROGRESS:
            return "We are working on your case"
        case Status.NEW:
            return "Your case is waiting for the next free technician"
        case Status.CANCELLED:
            return f"Your case was cancelled{said}"
        case Status.ASSIGNED:
            return None  # the assignment entry beside it already says who
    return f"Status: {str(target or '').replace('_', ' ')}"
