"""Opening a ticket: checking what the analyst typed, routing it to a group and choosing who
holds it first.

Apart because creation is the one change that starts from no ticket: it has no version to
check, starts the SLA clock, and logs the whole ticket as it was opened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Analyst, Asset, Contact, SupportGroup, Ticket
from deskterm.desk import clock, sla_clock
from deskterm.desk.lookups import analyst_by_login, category_by_path, contact_by_key, group_by_name
from deskterm.desk.rows import _enum
from deskterm.desk.schemas import TicketDetail
from deskterm.desk.tickets.change import Change, chosen_priority, load
from deskterm.desk.tickets.holders import holder_for
from deskterm.desk.tickets.read import detail
from deskterm.desk.tickets.work import MAX_CALL_SECONDS, link_pair
from deskterm.domain import payloads as p
from deskterm.domain import worked
from deskterm.domain.enums import (
    LIVE_CHANNELS,
    CallDirection,
    Channel,
    Impact,
    LinkKind,
    Status,
    Urgency,
)
from deskterm.domain.errors import InvalidInput, NotFound
from deskterm.domain.permissions import Actor, Seat
from deskterm.domain.text import long_text, required_line
from deskterm.i18n import _

P = ParamSpec("P")


def open_ticket(
    session: Session,
    actor: Actor,
    *,
    subject: str,
    description: str = "",
    contact: str | None = None,
    contact_id: int | None = None,
    asset_id: int | None = None,
    category: str | None = None,
    impact: str = Impact.MEDIUM,
    urgency: str = Urgency.MEDIUM,
    priority: str | None = None,
    priority_reason: str | None = None,
    channel: str = Channel.PHONE,
    group: str | None = None,
    assignee: str | None = "auto",
    call_seconds: int | None = None,
    minutes: int | None = None,
    split_from: str | None = None,
) -> Ticket:
    """Open a ticket inside the caller's transaction: the live row, flushed. For use cases
    that open several (the intake); a face calls ``create_ticket``, which answers with the
    card.

    ``assignee``: ``"auto"`` keeps the ticket with its creator unless it is routed to a group
    they are not in (then it waits unassigned in that group's queue); ``None`` or ``"none"``
    leaves it unassigned; a login assigns it to that analyst.
    """
    subject_text = required_line(subject, field="subject")
    body = long_text(description, field="description")
    channel_value = _enum(Channel, channel, "channel")
    impact_value = _enum(Impact, impact, "impact")
    urgency_value = _enum(Urgency, urgency, "urgency")
    derived, chosen, reason = chosen_priority(
        impact_value, urgency_value, priority, priority_reason, field="priority_reason"
    )

    contact_row: Contact | None = None
    if contact_id is not None:
        contact_row = session.get(Contact, contact_id)
        if contact_row is None:
            raise NotFound(_("no contact with id {contact_id}").format(contact_id=contact_id))
    elif contact:
        contact_row = contact_by_key(session, contact)
    asset_row: Asset | None = None
    if asset_id is not None:
        asset_row = session.get(Asset, asset_id)
        if asset_row is None:
            raise NotFound(_("no asset with id {asset_id}").format(asset_id=asset_id))
        if contact_row is not None and asset_row.contact_id not in (None, contact_row.id):
            raise InvalidInput(_("that asset belongs to another contact"), field="asset")

    category_row = category_by_path(session, category) if category else None
    if group:
        group_row: SupportGroup | Seat | None = group_by_name(session, group)
    elif category_row is not None and category_row.default_group_id is not None:
        # Without an explicit route, the analyst's own first-line group keeps the call;
        # the category's group is where it goes when routed.
        group_row = _first_group(session, actor) or session.get(
            SupportGroup, category_row.default_group_id
        )
    else:
        group_row = _first_group(session, actor)

    holder = _choose_assignee(session, actor, assignee, group_row)
    # Meant for someone away and given to their backup: the log says so, as assign() does.
    wanted = (assignee or "").strip().lower()
    redirected_from = (
        wanted
        if holder is not None and wanted not in ("auto", "me", "none", "", holder.login)
        else None
    )

    if call_seconds is not None and not 0 <= call_seconds <= MAX_CALL_SECONDS:
        raise InvalidInput(_("call duration must be between 0 and 24 hours"), field="call_seconds")
    # Minutes worked on the call: as given, else its length rounded up to the minute.
    call_worked = worked.check_minutes(minutes)
    if call_worked is None:
        call_worked = worked.call_minutes(call_seconds)
    parent = load(session, split_from) if split_from else None

    now = clock.now()
    status = Status.ASSIGNED if holder is not None else Status.NEW
    ticket = Ticket(
        subject=subject_text,
        description=body,
        contact_id=contact_row.id if contact_row else None,
        asset_id=asset_row.id if asset_row else None,
        category_id=category_row.id if category_row else None,
        channel=channel_value,
        impact=impact_value,
        urgency=urgency_value,
        priority=chosen,
        priority_reason=reason if chosen != derived else None,
        status=status,
        level=group_row.level if group_row else 1,
        group_id=group_row.id if group_row else None,
        assignee_id=holder.id if holder else None,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
        first_response_at=now if channel_value in LIVE_CHANNELS else None,
        version=1,
    )
    sla_clock.start(ticket, now)
    session.add(ticket)
    session.flush()
    change = Change(session, actor, ticket, created=True)
    change.log(
        p.Created(
            subject=subject_text,
            channel=channel_value.value,
            contact=contact_row.name if contact_row else None,
            contact_id=contact_row.id if contact_row else None,
            category=category_row.path if category_row else None,
            impact=impact_value.value,
            urgency=urgency_value.value,
            priority=f"P{chosen}",
            priority_reason=ticket.priority_reason,
            status=status.value,
            level=ticket.level,
            group=group_row.name if group_row else None,
            assignee=holder.login if holder else None,
            requested=redirected_from,
            reason="away" if redirected_from else None,
        )
    )
    if call_seconds is not None and channel_value == Channel.PHONE:
        change.log(
            p.CallLogged(direction=CallDirection.INBOUND, duration_seconds=call_seconds),
            minutes=call_worked,
        )
    if parent is not None:
        link_pair(session, actor, ticket, parent, LinkKind.SPLIT_FROM, change=change)
    change.save()
    return ticket


def _answering_with_the_card(
    opens: Callable[Concatenate[Session, Actor, P], Ticket],
) -> Callable[Concatenate[Session, Actor, P], TicketDetail]:
    # One signature for both: what an analyst may give when opening a ticket is said once.
    def create_ticket(
        session: Session, actor: Actor, /, *args: P.args, **kwargs: P.kwargs
    ) -> TicketDetail:
        ticket = opens(session, actor, *args, **kwargs)
        assert ticket.id is not None
        return detail(session, ticket.id)

    create_ticket.__doc__ = (
        "Open a ticket and answer with its card: caller, asset, links and the whole log "
        "(``open_ticket`` says what each argument means)."
    )
    return create_ticket


#: What the CLI, mail and the TUI call: the ticket's card comes back, as the ticket screen
#: shows it. The intake answers each ticket of a call with its list row (``open_ticket``).
create_ticket = _answering_with_the_card(open_ticket)


def _first_group(session: Session, actor: Actor) -> SupportGroup | Seat | None:
    if not actor.group_ids:
        return None
    if actor.seats is not None:
        # Read with the actor in this transaction, in the desk's name order: the lowest
        # level first, as the query below orders them (a stable sort keeps the names' order).
        return min(actor.seats, key=lambda seat: seat.level)
    return session.scalars(
        select(SupportGroup)
        .where(col(SupportGroup.id).in_(actor.group_ids))
        .order_by(col(SupportGroup.level), col(SupportGroup.name))
    ).first()


def _choose_assignee(
    session: Session, actor: Actor, wanted: str | None, group: SupportGroup | Seat | None
) -> Analyst | Actor | None:
    if wanted is None or wanted.strip().lower() in ("none", ""):
        return None
    if wanted == "auto":
        if actor.is_system:
            return None
        if group is not None and group.id not in actor.group_ids:
            return None
        if actor.seats is not None:
            # Loaded by load_actor in this transaction, so their row is there: no statement
            # to read it again for its id and login.
            return actor
        return session.get(Analyst, actor.id)
    if wanted.strip().lower() == "me":
        if actor.id is None:
            raise InvalidInput(_("the system cannot hold tickets"), field="assignee")
        target = session.get(Analyst, actor.id)
        assert target is not None
    else:
        target = analyst_by_login(session, wanted)
    return holder_for(session, target)
