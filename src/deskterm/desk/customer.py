"""The case as the customer sees it: only the public part of the log, in their words.

Public events are turned into sentences here, not with ``domain.events.describe``: that
one is for colleagues and repeats reasons (an escalation's reason, say) that were written
for the desk. The customer reads who has their case, what was said to them and by them,
what we wait for, and how it ended; never an internal note or an internal reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskterm.db.models import Analyst, Contact, SupportGroup, Ticket, TicketEvent
from deskterm.desk.mailparse import describe_size
from deskterm.desk.schemas import Public
from deskterm.domain.enums import CallDirection, EventKind, Status, Visibility
from deskterm.domain.errors import NotFound
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref

DESK = "Service desk"
YOU = "You"


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
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.visibility == Visibility.PUBLIC)
        .order_by(TicketEvent.id)
    ).all()
    names = _names(session, events, ticket)
    entries = []
    for event in events:
        text = _words(event.kind, event.data or {}, names)
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


def _names(session: Session, events: Any, ticket: Ticket) -> dict[tuple[str, Any], str]:
    """Analysts' full names by id and by login: the customer knows people, not logins."""
    ids = {e.actor_id for e in events if e.actor_id is not None}
    if ticket.assignee_id is not None:
        ids.add(ticket.assignee_id)
    logins = {
        str(e.data[key])
        for e in events
        for key in ("to", "from", "requested", "assignee", "away")
        if (e.data or {}).get(key)
    }
    rows = session.execute(
        select(Analyst.id, Analyst.login, Analyst.name).where(
            Analyst.id.in_(ids) | Analyst.login.in_(logins)
        )
    ).all()
    names: dict[tuple[str, Any], str] = {}
    for analyst_id, login, name in rows:
        names[("id", analyst_id)] = name
        names[("login", login)] = name
    return names


def _who(names: dict[tuple[str, Any], str], login: Any) -> str | None:
    if not login:
        return None
    return names.get(("login", login))


def _words(kind: str, data: dict[str, Any], names: dict[tuple[str, Any], str]) -> str | None:
    """One public event as the customer may read it; ``None`` leaves it out."""
    match kind:
        case EventKind.CREATED:
            return f"Case opened ({data.get('channel', 'phone')}): {data.get('subject', '')}"
        case EventKind.CALL_LOGGED:
            seconds = int(data.get("duration_seconds") or 0)
            length = f" ({seconds // 60}m{seconds % 60:02d}s)" if seconds else ""
            said = f": {data['outcome']}" if data.get("outcome") else ""
            if data.get("direction") == CallDirection.OUTBOUND:
                return f"We called you{length}{said}"
            return f"You called us{length}{said}"
        case EventKind.NOTE:
            return str(data.get("text", ""))
        case EventKind.CUSTOMER_MESSAGE:
            text = str(data.get("text") or "").strip()
            files = data.get("attachments") or []
            attached = ", ".join(
                f"{f.get('name')} ({describe_size(int(f.get('size') or 0))})" for f in files
            )
            # The first mail of a case has no text here: it is the case's description.
            parts = [p for p in (text, f"Attached: {attached}" if attached else "") if p]
            return "\n".join(parts) or None
        case EventKind.ASSIGNED | EventKind.REASSIGNED:
            holder = _who(names, data.get("to"))
            if holder is None:
                team = data.get("to_group") or data.get("to")
                return f"Your case moved to our {team} team" if team else None
            if data.get("reason") == "away" or data.get("away"):
                who = data.get("away") or data.get("requested")
                away = _who(names, who) or "Your usual contact"
                return f"{holder} is looking after your case ({away} is away)"
            # The reason typed for colleagues is an internal line of the log, not this one.
            why = f" ({data['public_reason']})" if data.get("public_reason") else ""
            return f"{holder} is looking after your case{why}"
        case EventKind.ESCALATED:
            level = int(data.get("to_level") or 2)
            who = "senior engineers" if level >= 3 else "specialists"
            said = f": {data['public_reason']}" if data.get("public_reason") else ""
            return f"Your case went to our {who} in {data.get('to_group', 'another team')}{said}"
        case EventKind.STATUS_CHANGED:
            return _status_words(data)
        case EventKind.RESOLVED:
            return f"Resolved: {data.get('text', '')}".strip()
        case EventKind.REOPENED:
            said = f": {data['reason']}" if data.get("reason") else ""
            return f"Your case was reopened{said}"
        case EventKind.CLOSED:
            return "Case closed"
        case EventKind.CALLBACK_SCHEDULED:
            said = f" about: {data['reason']}" if data.get("reason") else ""
            return f"We will call you back at {data.get('due_at', 'a time we agreed')}{said}"
    return None


def _status_words(data: dict[str, Any]) -> str | None:
    target = data.get("to")
    match target:
        case Status.WAITING_CUSTOMER:
            said = f": {data['reason']}" if data.get("reason") else ""
            return f"We are waiting for something from you{said}"
        case Status.WAITING_THIRD_PARTY:
            return "We are waiting for a supplier or another party"
        case Status.IN_PROGRESS:
            return "We are working on your case"
        case Status.NEW:
            return "Your case is waiting for the next free technician"
        case Status.CANCELLED:
            said = f": {data['reason']}" if data.get("reason") else ""
            return f"Your case was cancelled{said}"
        case Status.ASSIGNED:
            return None  # the assignment entry beside it already says who
    return f"Status: {str(target or '').replace('_', ' ')}"
