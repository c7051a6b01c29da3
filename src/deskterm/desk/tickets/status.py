"""A ticket's status and priority: moving it along its lifecycle (resolve, reopen, close,
any other allowed step) and re-prioritising it.

Apart because these are the changes the lifecycle's rules (``domain.transitions``) and the
priority matrix bind, and the ones the SLA clock follows most closely.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from deskterm.desk.lookups import resolution_code
from deskterm.desk.rows import _enum
from deskterm.desk.schemas import TicketPublic
from deskterm.desk.tickets.change import (
    Change,
    chosen_priority,
    ensure_open,
    load,
    login_of,
    require_work,
)
from deskterm.desk.tickets.read import summary
from deskterm.domain import payloads as p
from deskterm.domain.enums import Impact, Status, Urgency, status_label
from deskterm.domain.errors import InvalidInput, InvalidTransition
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref
from deskterm.domain.text import long_text, optional_line, required_line
from deskterm.domain.transitions import check_transition
from deskterm.domain.worked import check_minutes
from deskterm.i18n import N_, _


def change_status(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    status: str,
    reason: str | None = None,
    minutes: int | None = None,
    expected_version: int | None = None,
) -> TicketPublic:
    """Move the ticket to ``status`` where its lifecycle allows; cancelling needs a reason.
    ``minutes`` worked go on the status change's event."""
    target = _enum(Status, status.replace(" ", "_").replace("-", "_"), "status")
    worked = check_minutes(minutes)
    ticket = load(session, ref, expected_version)
    check_transition(ticket.status, target)
    # Translators: completes "only its holder or a supervisor may ..."
    require_work(actor, ticket, N_("change its status"))
    why = optional_line(reason, field="reason")
    if target == Status.CANCELLED and not why:
        raise InvalidInput(_("cancelling a ticket needs a reason"), field="reason")
    change = Change(session, actor, ticket)
    previous = ticket.status
    if target == Status.NEW and ticket.assignee_id is not None:
        change.log(p.Unassigned(from_=login_of(session, ticket.assignee_id), status=target))
        ticket.assignee_id = None
    elif target in (Status.ASSIGNED, Status.IN_PROGRESS) and ticket.assignee_id is None:
        if actor.id is None:
            raise InvalidInput(_("the system cannot start work on a ticket"), field="status")
        ticket.assignee_id = actor.id
        change.log(p.Assigned(to=actor.login, status=target))
    ticket.status = target
    if target == Status.CANCELLED:
        ticket.closed_at = change.at
    change.log(p.StatusChanged(from_=previous, to=target, reason=why), minutes=worked)
    change.save()
    return summary(session, ticket)


def resolve(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    code: str,
    text: str,
    minutes: int | None = None,
    expected_version: int | None = None,
) -> TicketPublic:
    """Resolve the ticket with a resolution code and what solved it (the customer reads it);
    ``minutes`` worked go on the resolution's event."""
    code_row = resolution_code(session, code)
    worked = check_minutes(minutes)
    resolution = long_text(text, field="resolution", required=True, limit=16_000)
    ticket = load(session, ref, expected_version)
    check_transition(ticket.status, Status.RESOLVED, plain=False)
    # Translators: completes "only its holder or a supervisor may ..."
    require_work(actor, ticket, N_("resolve it"))
    change = Change(session, actor, ticket)
    previous = ticket.status
    if ticket.assignee_id is None and actor.id is not None:
        ticket.assignee_id = actor.id
    ticket.status = Status.RESOLVED
    ticket.resolution_code = code_row.code
    ticket.resolution_text = resolution
    ticket.resolved_at = change.at
    change.log(
        p.Resolved(
            from_=previous,
            to=Status.RESOLVED,
            code=code_row.code,
            text=resolution,
            assignee=actor.login
            if actor.id is not None and ticket.assignee_id == actor.id
            else login_of(session, ticket.assignee_id),
        ),
        minutes=worked,
    )
    change.save()
    return summary(session, ticket)


def reopen(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    reason: str,
    minutes: int | None = None,
    expected_version: int | None = None,
) -> TicketPublic:
    """Any analyst may reopen a resolved ticket: it is usually the customer calling back."""
    why = required_line(reason, field="reason", limit=300)
    worked = check_minutes(minutes)
    ticket = load(session, ref, expected_version)
    if ticket.status != Status.RESOLVED:
        raise InvalidTransition(
            _("only a resolved ticket can be reopened; {ref} is {status}").format(
                ref=format_ref(ticket.id or 0), status=status_label(ticket.status)
            )
        )
    target = Status.IN_PROGRESS if ticket.assignee_id else Status.NEW
    change = Change(session, actor, ticket)
    ticket.status = target
    ticket.resolution_code = None
    ticket.resolution_text = None
    ticket.resolved_at = None
    change.log(p.Reopened(from_=Status.RESOLVED, to=target, reason=why), minutes=worked)
    change.save()
    return summary(session, ticket)


def close(
    session: Session, actor: Actor, *, ref: str | int, expected_version: int | None = None
) -> TicketPublic:
    """Close a resolved ticket: its case is over."""
    ticket = load(session, ref, expected_version)
    check_transition(ticket.status, Status.CLOSED, plain=False)
    # Translators: completes "only its holder or a supervisor may ..."
    require_work(actor, ticket, N_("close it"))
    change = Change(session, actor, ticket)
    ticket.status = Status.CLOSED
    ticket.closed_at = change.at
    change.log(p.Closed(from_=Status.RESOLVED, to=Status.CLOSED))
    change.save()
    return summary(session, ticket)


def set_priority(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    impact: str | None = None,
    urgency: str | None = None,
    priority: str | None = None,
    reason: str | None = None,
    expected_version: int | None = None,
) -> TicketPublic:
    """Change impact or urgency (priority follows), or override the priority with a reason."""
    ticket = load(session, ref, expected_version)
    ensure_open(ticket, N_("{ref} is {status} and cannot be re-prioritised; reopen it first"))
    # Translators: completes "only its holder or a supervisor may ..."
    require_work(actor, ticket, N_("change its priority"))
    new_impact = _enum(Impact, impact, "impact") if impact else Impact(ticket.impact)
    new_urgency = _enum(Urgency, urgency, "urgency") if urgency else Urgency(ticket.urgency)
    derived, chosen, why = chosen_priority(
        new_impact, new_urgency, priority, reason, field="reason"
    )
    changes = [
        (name, old, new)
        for name, old, new in (
            ("impact", ticket.impact, new_impact.value),
            ("urgency", ticket.urgency, new_urgency.value),
            ("priority", f"P{ticket.priority}", f"P{chosen}"),
        )
        if old != new
    ]
    if not changes:
        raise InvalidInput(_("nothing to change"), field="priority")
    change = Change(session, actor, ticket)
    ticket.impact, ticket.urgency = new_impact, new_urgency
    # Due times follow in change.save(), from the working time the ticket has used so far.
    ticket.priority = chosen
    ticket.priority_reason = why if chosen != derived else None
    for name, old, new in changes:
        # ``override`` says the reason stays on the ticket: the log alone then tells it.
        change.log(
            p.FieldChanged(
                field=name,
                from_=old,
                to=new,
                reason=why,
                override=True if chosen != derived else None,
            )
        )
    change.save()
    return summary(session, ticket)
