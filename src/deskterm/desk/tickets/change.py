"""The unit of work every change to a ticket goes through, and what every change checks first.

``Change`` bumps the version and writes the events; ``load`` locks a ticket and checks the
version the analyst saw; the refusals name the rule that says no. Apart because every use case
of the package (and of ``away``, ``handover``, ``callbacks``, ``kb``, ``mail``, ``reports``)
builds on them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col

from deskterm import defaults
from deskterm.db.models import Analyst, SupportGroup, Ticket, TicketEvent
from deskterm.desk import clock, ledger, outbox, sla_clock
from deskterm.domain import events as event_words
from deskterm.domain import payloads as p
from deskterm.domain.enums import OPEN_STATUSES, Impact, Urgency, Visibility, status_label
from deskterm.domain.errors import (
    ChangeSeen,
    ConflictError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from deskterm.domain.permissions import Actor, TicketHold, may_work
from deskterm.domain.priority import parse_priority
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.domain.text import optional_line
from deskterm.i18n import _, format_time


class Change:
    """One change to one ticket: one version bump, any number of events."""

    def __init__(
        self, session: Session, actor: Actor, ticket: Ticket, *, created: bool = False
    ) -> None:
        self.session = session
        self.actor = actor
        self.ticket = ticket
        # The change that opens a ticket happens when the ticket says it was created: a second
        # clock reading would put the first event after the row's updated_at.
        self.at = ticket.created_at if created else clock.now()
        self.before = sla_clock.before(ticket)
        if not created:
            ticket.version = ticket.version + 1
            ticket.updated_at = self.at
        self.version = ticket.version
        self.events: list[TicketEvent] = []

    def log(
        self, payload: p.Payload, *, visible: bool | None = None, minutes: int | None = None
    ) -> None:
        """Write one event of this change; ``visible`` overrides the kind's default;
        ``minutes`` worked on it (checked by the caller, ``domain.worked``)."""
        assert self.ticket.id is not None
        event = ledger.record(
            self.session,
            payload,
            ticket_id=self.ticket.id,
            version=self.version,
            at=self.at,
            actor_id=self.actor.id,
            visible=visible,
            minutes=minutes,
        )
        self.events.append(event)
        public = event.visibility == Visibility.PUBLIC
        if public and not self.actor.is_system and self.ticket.first_response_at is None:
            if not isinstance(payload, p.Created):
                self.ticket.first_response_at = self.at

    def save(self) -> None:
        """Flush the change (refused with what the analyst has not seen if it is stale)."""
        # Pauses, resumes or re-plans the SLA clock for whatever this change did.
        sla_clock.follow(self.ticket, self.before, self.at)
        try:
            self.session.flush()
        except StaleDataError:
            ticket_id, seen = self.ticket.id, self.version - 1
            self.session.rollback()
            assert ticket_id is not None
            raise _conflict(self.session, ticket_id, seen) from None
        # The customer's message commits or rolls back with the change it tells about.
        assert self.ticket.id is not None
        outbox.queue_for_change(
            self.session,
            self.ticket.id,
            self.events,
            channel=self.ticket.channel,
            has_contact=self.ticket.contact_id is not None,
        )


def _conflict(session: Session, ticket_id: int, seen_version: int) -> ConflictError:
    """The changes made to the ticket since ``seen_version``, each in the log's own words."""
    rows = session.execute(
        select(TicketEvent, col(Analyst.login))
        .outerjoin(Analyst, col(Analyst.id) == col(TicketEvent.actor_id))
        .where(
            col(TicketEvent.ticket_id) == ticket_id,
            col(TicketEvent.ticket_version) > seen_version,
        )
        .order_by(col(TicketEvent.id))
    ).all()
    now = clock.now()
    changes = [
        ChangeSeen(
            actor=login or "system",
            at=format_time(event.at, now),
            what=event_words.describe(p.parse(event.kind, event.data)),
        )
        for event, login in rows
    ]
    return ConflictError(format_ref(ticket_id), changes)


def load(session: Session, ref: str | int, expected_version: int | None = None) -> Ticket:
    """The ticket, locked for this transaction, checked against the version the analyst saw."""
    ticket_id = ref if isinstance(ref, int) else parse_ref(ref)
    ticket = session.scalars(
        select(Ticket).where(col(Ticket.id) == ticket_id).with_for_update()
    ).first()
    if ticket is None:
        raise NotFound(_("no ticket {ref}").format(ref=format_ref(ticket_id)))
    if expected_version is not None and ticket.version != expected_version:
        if expected_version > ticket.version:
            raise InvalidInput(
                _(
                    "{ref} is at version {version}; version {expected_version} does not exist yet"
                ).format(
                    ref=format_ref(ticket_id),
                    version=ticket.version,
                    expected_version=expected_version,
                ),
                field="expected_version",
            )
        raise _conflict(session, ticket_id, expected_version)
    return ticket


def hold(ticket: Ticket) -> TicketHold:
    """Who holds ``ticket``, as the permission rules read it."""
    return TicketHold(assignee_id=ticket.assignee_id, group_id=ticket.group_id, level=ticket.level)


def require_work(actor: Actor, ticket: Ticket, doing: str) -> None:
    """Refuse ``actor`` unless they may work ``ticket``; ``doing`` words the refusal: a verb
    phrase marked with ``N_`` ("change its status"), translated here."""
    if not may_work(actor, hold(ticket)):
        session = Session.object_session(ticket)
        assert session is not None
        raise refusal(session, actor, ticket, doing)


def refusal(session: Session, actor: Actor, ticket: Ticket, doing: str) -> PermissionDenied:
    """Why ``actor`` may not touch ``ticket``, in the words of the rule that says no.
    ``doing`` is a verb phrase marked with ``N_`` ("assign it"), translated here."""
    ref = format_ref(ticket.id or 0)
    group = group_name(session, ticket.group_id)
    doing = _(doing)
    if ticket.assignee_id is not None:
        holder = login_of(session, ticket.assignee_id)
        if group:
            message = _(
                "{ref} is held by someone else ({holder}): only its holder or a supervisor "
                "of {group} may {doing}"
            )
        else:
            message = _(
                "{ref} is held by someone else ({holder}): only its holder or a supervisor "
                "may {doing}"
            )
        return PermissionDenied(message.format(ref=ref, holder=holder, group=group, doing=doing))
    if ticket.group_id is not None and ticket.group_id not in actor.group_ids:
        return PermissionDenied(
            _(
                "{ref} waits in {group}, not one of your groups: only its analysts or a "
                "supervisor of {group} may {doing}"
            ).format(ref=ref, group=group, doing=doing)
        )
    if group:
        message = _(
            "{ref} is at level {level}, above your level {your_level}: only an analyst at "
            "that level or a supervisor of {group} may {doing}"
        )
    else:
        message = _(
            "{ref} is at level {level}, above your level {your_level}: only an analyst at "
            "that level or a supervisor may {doing}"
        )
    return PermissionDenied(
        message.format(
            ref=ref, level=ticket.level, your_level=actor.level, group=group, doing=doing
        )
    )


def ensure_open(ticket: Ticket, refused: str) -> None:
    """Refuse to change a resolved, closed or cancelled ticket. ``refused`` is the whole
    refusal, marked with ``N_``, with ``{ref}`` and ``{status}`` to fill in ("{ref} is
    {status} and cannot be assigned; reopen it first")."""
    if ticket.status not in OPEN_STATUSES:
        raise InvalidTransition(
            _(refused).format(ref=format_ref(ticket.id or 0), status=status_label(ticket.status))
        )


def login_of(session: Session, analyst_id: int | None) -> str | None:
    """The login of an analyst by id (``None`` for nobody)."""
    if analyst_id is None:
        return None
    # No autoflush: a name read in the middle of a change would flush the ticket's row
    # there, and Change.save a second UPDATE of it (the SLA clock's fields) after.
    with session.no_autoflush:
        analyst = session.get(Analyst, analyst_id)
    return analyst.login if analyst else None


def group_name(session: Session, group_id: int | None) -> str | None:
    """The name of a support group by id (``None`` for no group)."""
    if group_id is None:
        return None
    with session.no_autoflush:  # as login_of
        group = session.get(SupportGroup, group_id)
    return group.name if group else None


def chosen_priority(
    impact: Impact, urgency: Urgency, priority: str | None, reason: str | None, *, field: str
) -> tuple[int, int, str | None]:
    """The matrix's priority for ``impact`` and ``urgency``, the one chosen (``priority``, an
    override, needs a ``reason``: refused on ``field`` without one) and the reason given."""
    derived = defaults.priority_matrix().priority(impact, urgency)
    chosen = parse_priority(priority) if priority else derived
    why = optional_line(reason, field=field)
    if chosen != derived and not why:
        raise InvalidInput(
            _(
                "impact {impact} and urgency {urgency} give P{derived}; overriding to "
                "P{chosen} needs a reason"
            ).format(impact=impact, urgency=urgency, derived=derived, chosen=chosen),
            field=field,
        )
    return derived, chosen, why
