"""Out of office in one step: mark an analyst away and hand their open tickets to the backup.

New work meant for someone away already goes to their backup (``tickets.holder_for``); this
moves what they hold now. Each ticket's log says it was handed over with the reason
``away`` and who was meant, so the customer's message says who has the case now and that
the usual analyst is away (see ``outbox._details``). All or nothing: one ticket the actor
may not move refuses the lot, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Analyst, Ticket
from deskterm.desk import tickets
from deskterm.desk.analysts import get_analyst, group_ids_of, list_analysts, set_away
from deskterm.desk.lookups import analyst_by_login
from deskterm.desk.schemas import AnalystPublic, Public, TicketPublic
from deskterm.domain.enums import OPEN_STATUSES, Availability
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.domain.payloads import Reassigned
from deskterm.domain.permissions import Actor, may_assign, may_set_away
from deskterm.domain.refs import format_ref
from deskterm.domain.text import optional_line
from deskterm.domain.transitions import status_for_holder
from deskterm.i18n import _

#: More open tickets than this is a supervisor's bulk handover, not an away message.
MAX_TICKETS = 1000


class AwayResult(Public):
    analyst: AnalystPublic
    handed_over: list[TicketPublic] = []


def go_away(
    session: Session,
    actor: Actor,
    *,
    login: str | None = None,
    backup: str | None = None,
    reason: str | None = None,
    handover: bool = False,
    public_reason: str | None = None,
) -> AwayResult:
    """Mark ``login`` (default: the actor) away with a backup; with ``handover``, their open
    tickets go to the backup in the same transaction."""
    if handover and not backup:
        raise InvalidInput(_("handing tickets over needs a backup to hand them to"), field="backup")
    analyst = set_away(session, actor, login=login, backup=backup, reason=reason)
    moved = (
        hand_to_backup(session, actor, login=analyst.login, public_reason=public_reason)
        if handover
        else []
    )
    return AwayResult(analyst=get_analyst(session, actor, login=analyst.login), handed_over=moved)


def propose_backup(session: Session, actor: Actor, *, login: str) -> str | None:
    """Who would cover for ``login`` best (see ``best_backup``)."""
    return best_backup(list_analysts(session, actor), login)


def best_backup(people: Sequence[AnalystPublic], login: str) -> str | None:
    """Their backup if they have one, else the available colleague of their groups holding
    the fewest open tickets, else anyone available (None: nobody to propose). A proposal
    the supervisor sees and may change, so the faces can preselect it."""
    away = next((p for p in people if p.login == login), None)
    if away is None:
        return None
    if away.backup:
        return away.backup
    free = [
        p for p in people if p.login != login and p.active and p.availability != Availability.AWAY
    ]
    mates = [p for p in free if set(p.groups) & set(away.groups)]
    # Supervisors and admins cover only when nobody else can: they are not the queue's.
    best = min(
        mates or free,
        key=lambda p: (p.role in ("supervisor", "admin"), p.open_tickets, p.login),
        default=None,
    )
    return best.login if best else None


def hand_to_backup(
    session: Session, actor: Actor, *, login: str | None = None, public_reason: str | None = None
) -> list[TicketPublic]:
    """Give every open ticket of an away analyst to their backup, logged with reason ``away``
    (a fixed word: the away reason stays with the analyst, for colleagues); the customers
    also read ``public_reason`` if given."""
    told = optional_line(public_reason, field="public_reason", limit=300)
    away = analyst_by_login(session, login) if login else session.get(Analyst, actor.id)
    if away is None or away.id is None:
        raise InvalidInput(_("the system holds no tickets"), field="login")
    if not may_set_away(actor, away.id, group_ids_of(session, away.id)):
        raise PermissionDenied(
            _("only a supervisor hands over {login}'s tickets").format(login=away.login)
        )
    if away.availability != Availability.AWAY:
        raise InvalidInput(
            _("{login} is not away: mark them away first").format(login=away.login), field="login"
        )
    if away.backup_id is None:
        raise InvalidInput(
            _("{login} has no backup to hand tickets to").format(login=away.login), field="backup"
        )
    backup = session.get(Analyst, away.backup_id)
    assert backup is not None
    target = tickets.holder_for(session, backup)
    if target.id == away.id:
        raise InvalidInput(
            _("{login}'s backups lead back to {login}: choose another backup").format(
                login=away.login
            ),
            field="backup",
        )
    held = session.scalars(
        select(col(Ticket.id))
        .where(col(Ticket.assignee_id) == away.id, col(Ticket.status).in_(sorted(OPEN_STATUSES)))
        .order_by(col(Ticket.id))
    ).all()
    if len(held) > MAX_TICKETS:
        raise InvalidInput(
            _(
                "{login} holds {n} open tickets; hand them over in bulk from the handover screen"
            ).format(login=away.login, n=len(held)),
            field="login",
        )
    moved: list[TicketPublic] = []
    for ticket_id in held:
        assert ticket_id is not None
        ticket = tickets.load(session, ticket_id)
        if not may_assign(actor, tickets.hold(ticket), target.id):
            group = tickets.group_name(session, ticket.group_id)
            if group:
                message = _("{ref} is not yours to hand over: only a supervisor of {group} may")
            else:
                message = _("{ref} is not yours to hand over: only a supervisor of its group may")
            raise PermissionDenied(message.format(ref=format_ref(ticket_id), group=group))
        change = tickets.Change(session, actor, ticket)
        ticket.assignee_id = target.id
        ticket.status = status_for_holder(ticket.status, True)
        change.log(
            Reassigned(
                from_=away.login,
                to=target.login,
                reason="away",
                requested=away.login,
                via="away",
                public_reason=told,
                status=ticket.status,
            )
        )
        change.save()
        moved.append(tickets.summary(session, ticket))
    return moved
