"""Handing many tickets over at once: a supervisor covering for an analyst who is away.

All or nothing, in one transaction: if any ticket changed since the supervisor listed it, the
whole handover is refused with who changed what, and nothing moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from deskterm.db.models import Analyst, SupportGroup
from deskterm.desk import tickets
from deskterm.desk.lookups import analyst_by_login, group_by_name
from deskterm.desk.outbox import Because
from deskterm.desk.schemas import TicketPublic
from deskterm.domain.enums import Availability
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.domain.payloads import Reassigned
from deskterm.domain.permissions import Actor, may_hand_over
from deskterm.domain.refs import format_ref
from deskterm.domain.text import optional_line, required_line
from deskterm.domain.transitions import status_for_holder
from deskterm.i18n import N_, _

MAX_TICKETS = 1000


def hand_over(
    session: Session,
    actor: Actor,
    *,
    versions: Mapping[int, int],
    note: str,
    to: str | None = None,
    group: str | None = None,
    public_reason: str | None = None,
) -> list[TicketPublic]:
    """Give each ticket (id → the version the supervisor saw) to analyst ``to``, or to the
    queue of ``group``, or both. ``note`` goes into every ticket's log as an internal line,
    for colleagues: the customer is told who has the case now and why in fixed words
    (``outbox.Because``: their analyst is away, the team that handles it, a colleague), and
    ``public_reason`` only when the supervisor chose to tell them something."""
    if not actor.is_supervisor:
        raise PermissionDenied(_("only a supervisor hands tickets over in bulk"))
    why = required_line(note, field="note", limit=300)
    told = optional_line(public_reason, field="public_reason", limit=300)
    if not versions:
        raise InvalidInput(_("select at least one ticket to hand over"), field="tickets")
    if len(versions) > MAX_TICKETS:
        raise InvalidInput(
            _("at most {limit} tickets at once").format(limit=MAX_TICKETS),
            field="tickets",
        )
    if to is None and group is None:
        raise InvalidInput(_("hand them to an analyst or to a group"), field="to")
    target: Analyst | None = None
    if to:
        target = tickets.holder_for(session, analyst_by_login(session, to))
    target_group: SupportGroup | None = group_by_name(session, group) if group else None
    moved: list[TicketPublic] = []
    for ticket_id in sorted(versions):
        ticket = tickets.load(session, ticket_id, versions[ticket_id])
        tickets.ensure_open(
            ticket, N_("{ref} is {status} and cannot be handed over; reopen it first")
        )
        if not may_hand_over(actor, tickets.hold(ticket)):
            # One ticket outside the supervisor's groups refuses the lot: nothing moves.
            raise PermissionDenied(
                _(
                    "{ref} is in {group}, not one of your groups: only its supervisor or "
                    "an admin hands it over"
                ).format(
                    ref=format_ref(ticket_id),
                    group=tickets.group_name(session, ticket.group_id),
                )
            )
        holder = session.get(Analyst, ticket.assignee_id) if ticket.assignee_id else None
        previous = holder.login if holder else None
        previous_group = tickets.group_name(session, ticket.group_id)
        same_holder = target is not None and ticket.assignee_id == target.id
        same_group = target_group is None or ticket.group_id == target_group.id
        if same_holder and same_group:
            raise InvalidInput(
                _("{ref} is already with {login}").format(
                    ref=format_ref(ticket_id), login=target.login if target else ""
                ),
                field="to",
            )
        change = tickets.Change(session, actor, ticket)
        tickets.log_internal_reason(change, why)
        if target_group is not None:
            ticket.group_id = target_group.id
            ticket.level = target_group.level
        ticket.assignee_id = target.id if target is not None else None
        ticket.status = status_for_holder(ticket.status, target is not None)
        facts: dict[str, Any] = {
            "from": previous,
            "to": target.login if target else target_group.name if target_group else None,
            "from_group": previous_group if target_group else None,
            "to_group": target_group.name if target_group else None,
            "to_level": target_group.level if target_group else None,
            # "to" names the group when nobody holds it now; the replay must not read a login.
            "unassigned": True if target is None else None,
            "because": _because(holder, not same_group, target is None),
            "away": previous if holder and holder.availability == Availability.AWAY else None,
            "public_reason": told,
            "via": "handover",
            "status": ticket.status,
        }
        change.log(Reassigned.model_validate(facts))
        change.save()
        moved.append(tickets.summary(session, ticket))
    return moved


def _because(holder: Analyst | None, new_group: bool, to_queue: bool) -> str:
    """The fixed "why" the customer reads; never the supervisor's note."""
    if holder is not None and holder.availability == Availability.AWAY:
        return Because.AWAY.value
    if new_group or to_queue:
        return Because.TEAM.value
    return Because.COLLEAGUE.value
