"""Working a ticket without moving it: notes, calls, and links between tickets.

Apart from assignment and status because anyone on the desk may add to a ticket's story (that
is how cases change hands safely): these changes check no holder and leave the status alone.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Callback, Ticket, TicketLink
from deskterm.desk.rows import _enum
from deskterm.desk.schemas import TicketPublic
from deskterm.desk.tickets.change import Change, load
from deskterm.desk.tickets.read import summary
from deskterm.domain import payloads as p
from deskterm.domain.enums import CallDirection, LinkKind
from deskterm.domain.errors import InvalidInput
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.domain.text import long_text
from deskterm.domain.worked import call_minutes, check_minutes
from deskterm.i18n import _

#: The longest call a ticket logs, in seconds.
MAX_CALL_SECONDS = 24 * 3600


def add_note(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    text: str,
    public: bool = False,
    minutes: int | None = None,
    expected_version: int | None = None,
) -> TicketPublic:
    """Anyone on the desk may add to a ticket's story: that is how cases change hands safely.
    ``minutes`` worked on it, if the analyst records time."""
    body = long_text(text, field="note", required=True)
    worked = check_minutes(minutes)
    ticket = load(session, ref, expected_version)
    change = Change(session, actor, ticket)
    change.log(p.Note(text=body), visible=public, minutes=worked)
    change.save()
    return summary(session, ticket)


def log_call(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    direction: str = CallDirection.INBOUND,
    duration_seconds: int = 0,
    outcome: str | None = None,
    minutes: int | None = None,
    expected_version: int | None = None,
) -> TicketPublic:
    """Log a call about the ticket; calling the customer keeps the callbacks promised.

    ``minutes`` worked: as given, else the call's length rounded up to the minute (none
    when the length is not known)."""
    direction_value = _enum(CallDirection, direction, "direction")
    if not 0 <= duration_seconds <= MAX_CALL_SECONDS:
        raise InvalidInput(_("call duration must be between 0 and 24 hours"), field="duration")
    worked = check_minutes(minutes)
    if worked is None:
        worked = call_minutes(duration_seconds)
    outcome_text = long_text(outcome, field="outcome", limit=4000)
    ticket = load(session, ref, expected_version)
    change = Change(session, actor, ticket)
    kept = 0
    if direction_value == CallDirection.OUTBOUND:
        # Calling the customer keeps every callback promised on this ticket.
        for callback in session.scalars(
            select(Callback).where(
                col(Callback.ticket_id) == ticket.id, col(Callback.done_at).is_(None)
            )
        ):
            callback.done_at = change.at
            callback.done_by_id = actor.id
            kept += 1
    change.log(
        p.CallLogged(
            direction=direction_value,
            duration_seconds=duration_seconds,
            outcome=outcome_text or None,
            kept_callbacks=kept or None,
        ),
        minutes=worked,
    )
    change.save()
    return summary(session, ticket)


def link(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    other: str | int,
    kind: str = LinkKind.RELATED,
) -> TicketPublic:
    """Link two tickets; both logs record it. ``kind`` reads from ``ref``: "ref is a
    duplicate of other", "ref is parent of other"."""
    aliases = {
        "duplicate": "duplicate_of",
        "parent": "parent_of",
        "child": "child_of",
        "split": "split_from",
    }
    key = kind.strip().lower().replace("-", "_")
    link_kind = _enum(LinkKind, aliases.get(key, key), "link kind")
    ticket_id = ref if isinstance(ref, int) else parse_ref(ref)
    other_id = other if isinstance(other, int) else parse_ref(other)
    if ticket_id == other_id:
        raise InvalidInput(_("a ticket cannot be linked to itself"), field="other")
    # Lock in id order: two analysts linking A-B and B-A at once must not deadlock.
    locked = {tid: load(session, tid) for tid in sorted((ticket_id, other_id))}
    ticket, target = locked[ticket_id], locked[other_id]
    exists = session.scalars(
        select(col(TicketLink.id)).where(
            or_(
                and_(col(TicketLink.ticket_id) == ticket_id, col(TicketLink.other_id) == other_id),
                and_(col(TicketLink.ticket_id) == other_id, col(TicketLink.other_id) == ticket_id),
            )
        )
    ).first()
    if exists:
        raise InvalidInput(
            _("{ref} and {ref2} are linked already").format(
                ref=format_ref(ticket_id), ref2=format_ref(other_id)
            ),
            field="other",
        )
    change = Change(session, actor, ticket)
    link_pair(session, actor, ticket, target, link_kind, change=change)
    change.save()
    return summary(session, ticket)


def link_pair(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    other: Ticket,
    kind: LinkKind,
    *,
    change: Change,
) -> None:
    """Link ``ticket`` to ``other`` both ways, each log saying so, within ``change``."""
    assert ticket.id is not None and other.id is not None
    now = change.at
    session.add(
        TicketLink(
            ticket_id=ticket.id,
            other_id=other.id,
            kind=kind,
            created_at=now,
            created_by_id=actor.id,
        )
    )
    session.add(
        TicketLink(
            ticket_id=other.id,
            other_id=ticket.id,
            kind=kind.inverse,
            created_at=now,
            created_by_id=actor.id,
        )
    )
    event: type[p.Linked | p.Split] = p.Split if kind == LinkKind.SPLIT_FROM else p.Linked
    change.log(event(link=kind, other=format_ref(other.id)))
    other_change = Change(session, actor, other)
    other_change.log(event(link=kind.inverse, other=format_ref(ticket.id)))
