"""Who holds a ticket: assigning it, escalating it up a level or to a group, and where the
callbacks promised on it go when it changes hands.

Apart because a change of holder is what the customer is told about (``outbox.Because``) and
what colleagues must be able to follow: a typed reason goes to the log, never to the customer.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Analyst, Callback, SupportGroup
from deskterm.desk import outbox
from deskterm.desk.lookups import analyst_by_login, group_by_name
from deskterm.desk.schemas import TicketPublic
from deskterm.desk.tickets.change import (
    Change,
    ensure_open,
    group_name,
    hold,
    load,
    login_of,
    refusal,
    require_work,
)
from deskterm.desk.tickets.read import summary
from deskterm.domain import payloads as p
from deskterm.domain.enums import Availability, Status
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.domain.permissions import Actor, may_assign
from deskterm.domain.refs import format_ref
from deskterm.domain.text import optional_line, required_line
from deskterm.domain.transitions import status_for_holder
from deskterm.i18n import N_, _


def assign(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    to: str | None,
    reason: str | None = None,
    public_reason: str | None = None,
    expected_version: int | None = None,
) -> TicketPublic:
    """Give the ticket to an analyst (``me`` for oneself, ``none`` back to its group's queue).

    ``reason`` is for colleagues: an internal line of the log, never in the customer's
    message, which says who has the case now and why in fixed words (``outbox.Because``),
    plus ``public_reason`` when the analyst chose to tell the customer something."""
    ticket = load(session, ref, expected_version)
    ensure_open(ticket, N_("{ref} is {status} and cannot be assigned; reopen it first"))
    why = optional_line(reason, field="reason")
    told = optional_line(public_reason, field="public_reason", limit=300)
    wanted = (to or "none").strip().lower()
    if wanted == "none":
        target: Analyst | None = None
    elif wanted == "me":
        target = session.get(Analyst, actor.id) if actor.id is not None else None
        if target is None:
            raise InvalidInput(_("the system cannot hold tickets"), field="to")
    else:
        target = analyst_by_login(session, wanted)
    requested = target
    if target is not None:
        target = holder_for(session, target)
    target_id = target.id if target else None
    if target_id == ticket.assignee_id:
        if target is not None:
            said = _("{ref} is already with {login}").format(
                ref=format_ref(ticket.id or 0), login=target.login
            )
        else:
            said = _("{ref} is already with nobody").format(ref=format_ref(ticket.id or 0))
        raise InvalidInput(said, field="to")
    if not may_assign(actor, hold(ticket), target_id):
        if ticket.assignee_id is None:
            # Translators: completes "only its holder or a supervisor may ..."
            raise refusal(session, actor, ticket, N_("assign it"))
        group = group_name(session, ticket.group_id)
        if group:
            message = _(
                "{ref} is held by {login}: only they or a supervisor of {group} may hand it on"
            )
        else:
            message = _("{ref} is held by {login}: only they or a supervisor may hand it on")
        raise PermissionDenied(
            message.format(
                ref=format_ref(ticket.id or 0),
                login=login_of(session, ticket.assignee_id),
                group=group,
            )
        )
    if ticket.assignee_id is not None and ticket.assignee_id != actor.id and not why:
        raise InvalidInput(
            _("taking a ticket from someone else needs a reason (for colleagues, in its log)"),
            field="reason",
        )
    if ticket.assignee_id is not None and target is not None and not why:
        raise InvalidInput(
            _("handing a ticket on needs a reason (for colleagues, in its log)"), field="reason"
        )
    if (
        actor.seats is not None
        and ticket.assignee_id is not None
        and ticket.assignee_id == actor.id
    ):
        # Handing on one's own ticket: the holder was read with the actor, in this transaction.
        previous: str | None = actor.login
        holder_away = actor.away
    else:
        previous_row = session.get(Analyst, ticket.assignee_id) if ticket.assignee_id else None
        previous = previous_row.login if previous_row else None
        holder_away = previous_row is not None and previous_row.availability == Availability.AWAY
    change = Change(session, actor, ticket)
    log_internal_reason(change, why)
    _set_holder(change, target)
    redirected = requested is not None and target is not None and requested.id != target.id
    kind: type[p.HolderChange] = (
        p.Unassigned if target is None else p.Assigned if previous is None else p.Reassigned
    )
    change.log(
        kind(
            from_=previous,
            to=target.login if target else None,
            # "away" is a fixed word, never what was typed: the typed reason is the note above.
            reason="away" if redirected else None,
            requested=requested.login if redirected and requested else None,
            because=_because_moved(previous, holder_away) if target and not redirected else None,
            away=previous if holder_away and not redirected else None,
            public_reason=told,
            status=ticket.status,
        )
    )
    change.save()
    return summary(session, ticket)


def _because_moved(previous: str | None, holder_away: bool) -> str | None:
    """The fixed words the customer reads for a change of holder (``outbox.Because``); a
    ticket redirected to an away analyst's backup says so with ``reason="away"``."""
    if holder_away:
        return outbox.Because.AWAY.value
    if previous is not None:
        return outbox.Because.COLLEAGUE.value
    return None


def log_internal_reason(change: Change, why: str | None) -> None:
    """What an analyst typed as the reason for moving a case: an internal line of the log,
    for colleagues. The customer's message and the customer's view of the case never read
    it (they read the fixed ``because`` and what the analyst chose to tell them)."""
    if why:
        change.log(p.Note(text=why, about="reason"), visible=False)


def _set_holder(change: Change, target: Analyst | None) -> None:
    ticket = change.ticket
    ticket.assignee_id = target.id if target else None
    ticket.status = status_for_holder(ticket.status, target is not None)


def escalate(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    reason: str,
    level: int | None = None,
    group: str | None = None,
    public_reason: str | None = None,
    expected_version: int | None = None,
) -> TicketPublic:
    """Send the ticket up: to a named group, or along the escalation path to a level.

    It lands unassigned in the target group's queue; the reason is required, because whoever
    picks it up must not have to ask the customer again. The reason is for colleagues (an
    internal line of the log); the customer is told plain words about the new team, and
    ``public_reason`` only if the analyst chose to tell them something.
    """
    why = required_line(reason, field="reason", limit=300)
    told = optional_line(public_reason, field="public_reason", limit=300)
    if (level is None) == (group is None):
        raise InvalidInput(_("escalate to a level or to a group (one of them)"), field="level")
    ticket = load(session, ref, expected_version)
    ensure_open(ticket, N_("{ref} is {status} and cannot be escalated; reopen it first"))
    # Translators: completes "only its holder or a supervisor may ..."
    require_work(actor, ticket, N_("escalate it"))
    current = session.get(SupportGroup, ticket.group_id) if ticket.group_id else None
    if group is not None:
        target = group_by_name(session, group)
        if current is not None and target.id == current.id:
            raise InvalidInput(
                _("the ticket is already with {name}").format(name=target.name), field="group"
            )
        if target.level < ticket.level:
            raise InvalidInput(
                _(
                    "{name} is level {level}, below the ticket's level {ticket_level}: assign "
                    "it instead"
                ).format(name=target.name, level=target.level, ticket_level=ticket.level),
                field="group",
            )
    else:
        assert level is not None
        if level not in (1, 2, 3):
            raise InvalidInput(
                _("level must be 1, 2 or 3, not {level}").format(level=level), field="level"
            )
        if level <= ticket.level:
            raise InvalidInput(
                _("the ticket is at level {level} already; escalate to a higher level").format(
                    level=ticket.level
                ),
                field="level",
            )
        target = _along_path(session, current, level)
    previous_holder = login_of(session, ticket.assignee_id)
    change = Change(session, actor, ticket)
    from_level = ticket.level
    ticket.group_id = target.id
    ticket.level = target.level
    ticket.assignee_id = None
    # Unassigned in the target group is "new" there, so that group's "pull next" finds it;
    # but a ticket waiting on its customer still waits on them (its SLA clock stays paused
    # and the new group sees it under "waiting"): the customer's reply puts it in the queue
    # as "new" (``mail``), as for any unassigned waiting ticket.
    if ticket.status != Status.WAITING_CUSTOMER:
        ticket.status = Status.NEW
    log_internal_reason(change, why)
    change.log(
        p.Escalated(
            from_group=current.name if current else None,
            to_group=target.name,
            from_level=from_level,
            to_level=target.level,
            from_assignee=previous_holder,
            status=ticket.status,
            public_reason=told,
        )
    )
    _move_callbacks(change, previous_holder, target.name)
    change.save()
    return summary(session, ticket)


def _move_callbacks(change: Change, holder: str | None, group: str) -> None:
    """The callbacks promised on a ticket that leaves its holder go with the ticket.

    The customer was told we would call them back: cancelling would break that promise,
    and leaving them with the old holder reminds someone who no longer has the case. So they
    stay pending on the ticket, no longer tied to who promised them (the log keeps that), and
    remind whoever holds the ticket next; until then its new group sees them under
    "callbacks". One internal line says so."""
    ticket = change.ticket
    pending = change.session.scalars(
        select(Callback)
        .where(
            col(Callback.ticket_id) == ticket.id,
            col(Callback.done_at).is_(None),
            col(Callback.scheduled_by_id).is_not(None),
        )
        .order_by(col(Callback.due_at), col(Callback.id))
    ).all()
    for callback in pending:
        callback.scheduled_by_id = None
    if pending:
        when = ", ".join(c.due_at.strftime("%Y-%m-%d %H:%M UTC") for c in pending)
        change.log(
            p.Note(
                text=f"Callback due {when} (promised to the customer) moves with the ticket "
                f"to {group}" + (f"; {holder} is no longer reminded" if holder else ""),
                about="callbacks",
            ),
            visible=False,
        )


def _along_path(session: Session, start: SupportGroup | None, level: int) -> SupportGroup:
    group, seen = start, set()
    while group is not None and group.level < level and group.id not in seen:
        seen.add(group.id)
        group = (
            session.get(SupportGroup, group.escalation_group_id)
            if group.escalation_group_id
            else None
        )
    if group is None or group.level < level:
        if start is not None:
            said = _("{group} has no escalation path to level {level}: name a group instead")
        else:
            said = _(
                "a ticket with no group has no escalation path to level {level}: name a group "
                "instead"
            )
        raise InvalidInput(
            said.format(group=start.name if start else None, level=level), field="level"
        )
    return group


def holder_for(session: Session, target: Analyst) -> Analyst:
    """The analyst who will really hold a ticket meant for ``target`` (their backup if away)."""
    if not target.active:
        raise InvalidInput(_("{login} is deactivated").format(login=target.login), field="assignee")
    seen = {target.id}
    while target.availability == Availability.AWAY and target.backup_id is not None:
        backup = session.get(Analyst, target.backup_id)
        if backup is None or backup.id in seen or not backup.active:
            break
        seen.add(backup.id)
        target = backup
    return target
