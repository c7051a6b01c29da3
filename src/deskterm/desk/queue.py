"""Pulling the next ticket: atomically, so two analysts never get the same one.

One statement claims: ``UPDATE ... WHERE id = (SELECT ... LIMIT 1) AND assignee_id IS NULL
RETURNING``. On PostgreSQL the inner SELECT takes ``FOR UPDATE SKIP LOCKED`` so concurrent
claimers pass over each other's rows instead of queueing on them; on SQLite the write session
already holds the database's write lock (``BEGIN IMMEDIATE``), so claims are serialised.
"""

from __future__ import annotations

from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import SupportGroup, Ticket
from deskterm.db.types import UTCDateTime
from deskterm.desk import clock, ledger, outbox
from deskterm.desk.lookups import group_by_name
from deskterm.desk.schemas import ClaimResult
from deskterm.desk.tickets import get_ticket, summary
from deskterm.domain.enums import Status
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.domain.payloads import Assigned
from deskterm.domain.permissions import Actor, may_pull_from
from deskterm.domain.replay import CLAIM_VIA
from deskterm.i18n import _


def claim_next(
    session: Session, actor: Actor, *, group: str | None = None, card: bool = True
) -> ClaimResult:
    """Take the most urgent unassigned ticket of the actor's groups (or of one of them).

    ``card``: answer with the ticket's whole card (what ``queue next`` prints); ``False``
    answers with its list row, for a face that opens the ticket's screen next and reads
    the card there: reading it here too took three statements where the row takes one."""
    if actor.id is None:
        raise InvalidInput(_("the system cannot pull tickets"), field="group")
    if group is not None:
        row = group_by_name(session, group)
        assert row.id is not None
        if not may_pull_from(actor, row.id):
            raise PermissionDenied(
                _("{login} is not in {name}").format(login=actor.login, name=row.name)
            )
        group_ids = [row.id]
        names = [row.name]
    elif actor.seats is not None:
        # Read with the actor, in this transaction: no statement of its own.
        group_ids = sorted(actor.group_ids)
        names = [seat.name for seat in actor.seats]
    else:
        group_ids = sorted(actor.group_ids)
        names = list(
            session.scalars(
                select(col(SupportGroup.name))
                .where(col(SupportGroup.id).in_(group_ids))
                .order_by(col(SupportGroup.name))
            )
        )
    if not group_ids:
        return ClaimResult(ticket=None, groups=[])
    candidate = (
        select(col(Ticket.id))
        .where(
            col(Ticket.group_id).in_(group_ids),
            col(Ticket.status) == Status.NEW,
            col(Ticket.assignee_id).is_(None),
            # Technicians pull at their level; a supervisor's or admin's groups are theirs.
            *(() if actor.is_supervisor else (col(Ticket.level) <= actor.level,)),
        )
        .order_by(col(Ticket.priority), col(Ticket.resolve_due_at), col(Ticket.id))
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    now = clock.now()
    claimed = session.execute(
        update(Ticket)
        .where(col(Ticket.id) == candidate.scalar_subquery(), col(Ticket.assignee_id).is_(None))
        .values(
            assignee_id=actor.id,
            status=Status.ASSIGNED,
            version=col(Ticket.version) + 1,
            updated_at=now,
            # The assignment is public, so it is the first response, as when assigned by hand.
            first_response_at=func.coalesce(
                col(Ticket.first_response_at), literal(now, UTCDateTime)
            ),
            # Held now: the "unassigned for N minutes" clock stops, as sla_clock.follow stops it.
            unassigned_since=None,
        )
        .returning(col(Ticket.id), col(Ticket.version), col(Ticket.contact_id))
        .execution_options(synchronize_session=False)
    ).first()
    if claimed is None:
        return ClaimResult(ticket=None, groups=names)
    ticket_id, version, contact_id = claimed
    assert ticket_id is not None
    event = ledger.record(
        session,
        Assigned(to=actor.login, via=CLAIM_VIA, status=Status.ASSIGNED),
        ticket_id=ticket_id,
        version=version,
        at=now,
        actor_id=actor.id,
    )
    session.flush()
    outbox.queue_for_change(session, ticket_id, [event], has_contact=contact_id is not None)
    ticket = get_ticket(session, actor, ref=ticket_id) if card else summary(session, ticket_id)
    return ClaimResult(ticket=ticket, groups=names)
