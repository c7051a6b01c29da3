"""A ticket's SLA clock kept in step with every change to it.

``tickets.Change`` takes a ``Before`` snapshot when a change begins and calls ``follow`` as
it saves, so every path that changes a ticket (a status set by hand, a mail reply that ends
a wait, an escalation, a handover, a new priority) moves the clock the same way: paused while
the ticket waits on the customer or is finished, resumed when it comes back, and due times
recomputed from the working time already used. ``sla_next_at`` tells ``deskterm sla check``
when to look at the ticket again; it may be early (the check then finds nothing to do), never
late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from deskterm import defaults
from deskterm.db.models import Ticket
from deskterm.domain.enums import Status
from deskterm.domain.sla import Alert, ClockState, Schedule, SlaPolicy, next_alarm, schedule

#: Statuses in which the clock stands still: the customer has the ball, or it is over.
PAUSED = frozenset({Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED, Status.CANCELLED})


def runs(status: str) -> bool:
    return status not in PAUSED


@dataclass(frozen=True)
class Before:
    """What a change may move that the clock depends on."""

    status: str
    priority: int
    assignee_id: int | None
    group_id: int | None
    answered: bool


def before(ticket: Ticket) -> Before:
    return Before(
        status=ticket.status,
        priority=ticket.priority,
        assignee_id=ticket.assignee_id,
        group_id=ticket.group_id,
        answered=ticket.first_response_at is not None,
    )


def state_of(ticket: Ticket) -> ClockState:
    used = timedelta(seconds=ticket.sla_used_seconds or 0)
    if ticket.sla_running_since is None and ticket.sla_paused_at is None:
        # A row written without a clock (an old import): it ran from its opening.
        if runs(ticket.status):
            return ClockState(running_since=ticket.created_at, used=used)
        return ClockState(running_since=None, paused_at=ticket.updated_at, used=used)
    return ClockState(
        running_since=ticket.sla_running_since, paused_at=ticket.sla_paused_at, used=used
    )


def stored_plan(ticket: Ticket) -> Schedule:
    return Schedule(
        response_due=ticket.response_due_at,
        response_warn=ticket.response_warn_at,
        resolution_due=ticket.resolve_due_at,
        resolution_warn=ticket.resolve_warn_at,
    )


def start(ticket: Ticket, at: datetime) -> None:
    """The clock of a ticket being opened at ``at``."""
    ticket.sla_alerts = 0
    _store(ticket, ClockState.start(at), defaults.sla_policy())
    ticket.unassigned_since = at if ticket.assignee_id is None else None


def follow(ticket: Ticket, was: Before, at: datetime) -> None:
    """Move the clock for whatever this change did to the ticket."""
    if ticket.assignee_id is not None:
        ticket.unassigned_since = None
    elif (
        was.assignee_id is not None
        or was.group_id != ticket.group_id
        or ticket.unassigned_since is None
    ):
        # Unassigned in a (new) queue: the "unassigned for N minutes" rules count from now.
        ticket.unassigned_since = at
    moved_priority = ticket.priority != was.priority
    running = runs(ticket.status)
    if not moved_priority and runs(was.status) == running:
        if was.answered != (ticket.first_response_at is not None):
            ticket.sla_next_at = _next(ticket)
        return
    policy = defaults.sla_policy()
    state = state_of(ticket)
    if moved_priority:
        state = state.rebase(at, policy.calendar(was.priority))
    if running and not state.running:
        state = state.resume(at)
    elif not running and state.running:
        state = state.pause(at, policy.calendar(ticket.priority))
    _store(ticket, state, policy)


def _store(ticket: Ticket, state: ClockState, policy: SlaPolicy) -> None:
    ticket.sla_running_since = state.running_since
    ticket.sla_paused_at = state.paused_at
    ticket.sla_used_seconds = int(state.used.total_seconds())
    plan = schedule(state, policy.for_priority(ticket.priority), policy.warning_share)
    if ticket.first_response_at is None or ticket.response_due_at is None:
        # Once the customer has heard from us, the first-response clock is history.
        ticket.response_due_at, ticket.response_warn_at = plan.response_due, plan.response_warn
    ticket.resolve_due_at, ticket.resolve_warn_at = plan.resolution_due, plan.resolution_warn
    ticket.sla_next_at = _next(ticket)


def _next(ticket: Ticket) -> datetime | None:
    return next_alarm(
        stored_plan(ticket),
        Alert(ticket.sla_alerts or 0),
        answered=ticket.first_response_at is not None,
        running=ticket.sla_running_since is not None and runs(ticket.status),
    )


def left_while_paused(ticket: Ticket) -> int | None:
    """Working seconds left to resolve a ticket waiting on its customer (negative: overdue);
    None for a running or finished clock."""
    return left_paused(
        ticket.status, ticket.priority, ticket.sla_paused_at, ticket.sla_used_seconds
    )


def left_paused(
    status: str, priority: int, paused_at: datetime | None, used_seconds: int | None
) -> int | None:
    """``left_while_paused`` from the columns themselves, for lists read as plain rows."""
    if paused_at is None or status != Status.WAITING_CUSTOMER:
        return None
    target = defaults.resolution_seconds(priority)
    if target is None:
        return None
    return target - (used_seconds or 0)
