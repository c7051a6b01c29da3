"""Tickets and their log.

Every function that changes a ticket goes through ``_Change``: it bumps the ticket's version
once and writes each event with that version, in the caller's transaction. A stale
``expected_version`` (the version the analyst was looking at) is refused with the changes
the analyst has not seen.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col

from deskterm import defaults
from deskterm.db.models import (
    Analyst,
    Asset,
    Callback,
    Contact,
    Organization,
    SupportGroup,
    Ticket,
    TicketEvent,
    TicketLink,
)
from deskterm.desk import clock, ledger, outbox, sla_clock
from deskterm.desk.contacts import contact_assets
from deskterm.desk.lookups import (
    analyst_by_login,
    category_by_path,
    contact_by_key,
    group_by_name,
    resolution_code,
)
from deskterm.desk.rows import (
    _ROW_WIDTH,
    _enum,
    _public,
    _public_fields,
    _row_by_id,
    _rows_query,
    _table,
)
from deskterm.desk.rows import list_tickets as list_tickets
from deskterm.desk.schemas import (
    AssetPublic,
    ContactPublic,
    EventPublic,
    LinkPublic,
    TicketDetail,
    TicketPublic,
)
from deskterm.domain import events as event_words
from deskterm.domain import payloads as p
from deskterm.domain.enums import (
    LIVE_CHANNELS,
    OPEN_STATUSES,
    Availability,
    CallDirection,
    Channel,
    Impact,
    LinkKind,
    Status,
    Urgency,
    Visibility,
)
from deskterm.domain.errors import (
    ChangeSeen,
    ConflictError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from deskterm.domain.permissions import Actor, TicketHold, may_assign, may_work
from deskterm.domain.priority import parse_priority
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.domain.text import long_text, optional_line, required_line
from deskterm.domain.transitions import check_transition, status_for_holder

_MAX_CALL_SECONDS = 24 * 3600


# --------------------------------------------------------------------------- the change log


class _Change:
    """One change to one ticket: one version bump, any number of events."""

    def __init__(self, session: Session, actor: Actor, ticket: Ticket, *, created: bool = False):
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

    def log(self, payload: p.Payload, *, visible: bool | None = None) -> None:
        """Write one event of this change; ``visible`` overrides the kind's default."""
        assert self.ticket.id is not None
        event = ledger.record(
            self.session,
            payload,
            ticket_id=self.ticket.id,
            version=self.version,
            at=self.at,
            actor_id=self.actor.id,
            visible=visible,
        )
        self.events.append(event)
        public = event.visibility == Visibility.PUBLIC
        if public and not self.actor.is_system and self.ticket.first_response_at is None:
            if not isinstance(payload, p.Created):
                self.ticket.first_response_at = self.at

    def save(self) -> None:
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
            self.session, self.ticket.id, self.events, channel=self.ticket.channel
        )


def _conflict(session: Session, ticket_id: int, seen_version: int) -> ConflictError:
    rows = session.execute(
        select(TicketEvent, Analyst.login)
        .outerjoin(Analyst, Analyst.id == TicketEvent.actor_id)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.ticket_version > seen_version)
        .order_by(TicketEvent.id)
    ).all()
    changes = [
        ChangeSeen(
            actor=login or "system",
            at=event.at.strftime("%H:%M:%S UTC"),
            what=event_words.describe(event.kind, event.data),
        )
        for event, login in rows
    ]
    return ConflictError(format_ref(ticket_id), changes)


def _load(session: Session, ref: str | int, expected_version: int | None = None) -> Ticket:
    """The ticket, locked for this transaction, checked against the version the analyst saw."""
    ticket_id = ref if isinstance(ref, int) else parse_ref(ref)
    ticket = session.scalars(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).first()
    if ticket is None:
        raise NotFound(f"no ticket {format_ref(ticket_id)}")
    if expected_version is not None and ticket.version != expected_version:
        if expected_version > ticket.version:
            raise InvalidInput(
                f"{format_ref(ticket_id)} is at version {ticket.version}; "
                f"version {expected_version} does not exist yet",
                field="expected_version",
            )
        raise _conflict(session, ticket_id, expected_version)
    return ticket


def _hold(ticket: Ticket) -> TicketHold:
    return TicketHold(assignee_id=ticket.assignee_id, group_id=ticket.group_id, level=ticket.level)


def _require_work(actor: Actor, ticket: Ticket, doing: str) -> None:
    if not may_work(actor, _hold(ticket)):
        session = Session.object_session(ticket)
        assert session is not None
        raise _refusal(session, actor, ticket, doing)


def _refusal(session: Session, actor: Actor, ticket: Ticket, doing: str) -> PermissionDenied:
    """Why ``actor`` may not touch ``ticket``, in the words of the rule that says no."""
    ref = format_ref(ticket.id or 0)
    group = _group_name(session, ticket.group_id)
    boss = f"a supervisor of {group}" if group else "a supervisor"
    if ticket.assignee_id is not None:
        holder = _login(session, ticket.assignee_id)
        return PermissionDenied(
            f"{ref} is held by someone else ({holder}): only its holder or {boss} may {doing}"
        )
    if ticket.group_id is not None and ticket.group_id not in actor.group_ids:
        return PermissionDenied(
            f"{ref} waits in {group}, not one of your groups: only its analysts or {boss} "
            f"may {doing}"
        )
    return PermissionDenied(
        f"{ref} is at level {ticket.level}, above your level {actor.level}: only an analyst "
        f"at that level or {boss} may {doing}"
    )


def _login(session: Session, analyst_id: int | None) -> str | None:
    if analyst_id is None:
        return None
    analyst = session.get(Analyst, analyst_id)
    return analyst.login if analyst else None


def _group_name(session: Session, group_id: int | None) -> str | None:
    if group_id is None:
        return None
    group = session.get(SupportGroup, group_id)
    return group.name if group else None


# --------------------------------------------------------------------------- creating


def create_ticket(
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
    split_from: str | None = None,
) -> TicketDetail:
    """Open a ticket.

    ``assignee``: ``"auto"`` keeps the ticket with its creator unless it is routed to a group
    they are not in (then it waits unassigned in that group's queue); ``None`` or ``"none"``
    leaves it unassigned; a login assigns it to that analyst.
    """
    subject_text = required_line(subject, field="subject")
    body = long_text(description, field="description")
    channel_value = _enum(Channel, channel, "channel")
    impact_value = _enum(Impact, impact, "impact")
    urgency_value = _enum(Urgency, urgency, "urgency")
    matrix = defaults.priority_matrix()
    derived = matrix.priority(impact_value, urgency_value)
    chosen = parse_priority(priority) if priority else derived
    reason = optional_line(priority_reason, field="priority_reason")
    if chosen != derived and not reason:
        raise InvalidInput(
            f"impact {impact_value} and urgency {urgency_value} give P{derived}; "
            f"overriding to P{chosen} needs a reason",
            field="priority_reason",
        )

    contact_row: Contact | None = None
    if contact_id is not None:
        contact_row = session.get(Contact, contact_id)
        if contact_row is None:
            raise NotFound(f"no contact with id {contact_id}")
    elif contact:
        contact_row = contact_by_key(session, contact)
    asset_row: Asset | None = None
    if asset_id is not None:
        asset_row = session.get(Asset, asset_id)
        if asset_row is None:
            raise NotFound(f"no asset with id {asset_id}")
        if contact_row is not None and asset_row.contact_id not in (None, contact_row.id):
            raise InvalidInput("that asset belongs to another contact", field="asset")

    category_row = category_by_path(session, category) if category else None
    if group:
        group_row: SupportGroup | None = group_by_name(session, group)
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

    if call_seconds is not None and not 0 <= call_seconds <= _MAX_CALL_SECONDS:
        raise InvalidInput("call duration must be between 0 and 24 hours", field="call_seconds")
    parent = _load(session, split_from) if split_from else None

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
    change = _Change(session, actor, ticket, created=True)
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
        change.log(p.CallLogged(direction=CallDirection.INBOUND, duration_seconds=call_seconds))
    if parent is not None:
        _link_pair(session, actor, ticket, parent, LinkKind.SPLIT_FROM, change=change)
    change.save()
    assert ticket.id is not None
    return _detail(session, ticket.id)


def _first_group(session: Session, actor: Actor) -> SupportGroup | None:
    if not actor.group_ids:
        return None
    return session.scalars(
        select(SupportGroup)
        .where(SupportGroup.id.in_(actor.group_ids))
        .order_by(SupportGroup.level, SupportGroup.name)
    ).first()


def _choose_assignee(
    session: Session, actor: Actor, wanted: str | None, group: SupportGroup | None
) -> Analyst | None:
    if wanted is None or wanted.strip().lower() in ("none", ""):
        return None
    if wanted == "auto":
        if actor.is_system:
            return None
        if group is not None and group.id not in actor.group_ids:
            return None
        return session.get(Analyst, actor.id)
    if wanted.strip().lower() == "me":
        if actor.id is None:
            raise InvalidInput("the system cannot hold tickets", field="assignee")
        target = session.get(Analyst, actor.id)
        assert target is not None
    else:
        target = analyst_by_login(session, wanted)
    return _available(session, target)


def _available(session: Session, target: Analyst) -> Analyst:
    """The analyst who will really hold a ticket meant for ``target`` (their backup if away)."""
    if not target.active:
        raise InvalidInput(f"{target.login} is deactivated", field="assignee")
    seen = {target.id}
    while target.availability == Availability.AWAY and target.backup_id is not None:
        backup = session.get(Analyst, target.backup_id)
        if backup is None or backup.id in seen or not backup.active:
            break
        seen.add(backup.id)
        target = backup
    return target


# --------------------------------------------------------------------------- reading


def get_ticket(session: Session, actor: Actor, *, ref: str | int) -> TicketDetail:
    ticket_id = ref if isinstance(ref, int) else parse_ref(ref)
    return _detail(session, ticket_id)


@cache
def _detail_query() -> Select[Any]:
    """One ticket with everything its card shows: the list row, then the detail columns,
    its creator, asset, and caller with their organization and open ticket count.

    One statement where it was eight (the ticket as an ORM object, the list row again, the
    contact, organization, count, asset and creator each by itself): on PostgreSQL each
    statement is a round trip.
    """
    query, _holder, contact = _rows_query()
    ticket, asset, organization = _table(Ticket), _table(Asset), _table(Organization)
    creator = _table(Analyst).alias("creator")
    other = ticket.alias("other")
    t, c, a = ticket.c, contact.c, asset.c
    open_count = (
        select(func.count())
        .select_from(other)
        .where(
            other.c.contact_id == t.contact_id,
            other.c.status.in_(sorted(s.value for s in OPEN_STATUSES)),
        )
        .scalar_subquery()
    )
    return (
        query.add_columns(
            t.description,
            t.priority_reason,
            t.resolution_code,
            t.resolution_text,
            t.first_response_at,
            t.resolved_at,
            t.closed_at,
            creator.c.login,
            a.id,
            a.kind,
            a.product,
            a.model_number,
            a.serial_number,
            a.account_number,
            c.email,
            c.phone,
            c.mobile,
            c.location,
            c.language,
            c.vip,
            organization.c.name,
            open_count,
        )
        .outerjoin(creator, creator.c.id == t.created_by_id)
        .outerjoin(asset, asset.c.id == t.asset_id)
        .outerjoin(organization, organization.c.id == c.organization_id)
        .where(t.id == bindparam("id"))
    )


def _detail(session: Session, ticket_id: int) -> TicketDetail:
    # A write's pending changes must be in the database before the read below, which goes
    # to the session's connection directly (the ORM layer would only add its own cost).
    session.flush()
    row = session.connection().execute(_detail_query(), {"id": ticket_id}).first()
    if row is None:
        raise NotFound(f"no ticket {format_ref(ticket_id)}")
    fields = _public_fields(row)
    (
        description,
        priority_reason,
        resolution_code_,
        resolution_text,
        first_response_at,
        resolved_at,
        closed_at,
        created_by,
        asset_id,
        asset_kind,
        product,
        model_number,
        serial_number,
        account_number,
        email,
        phone,
        mobile,
        location,
        language,
        vip,
        organization,
        open_tickets,
    ) = row[_ROW_WIDTH:]
    contact_id = fields["contact_id"]
    contact = None
    if contact_id is not None:
        contact = ContactPublic(
            id=contact_id,
            name=fields["contact"],
            email=email,
            phone=phone,
            mobile=mobile,
            organization=organization,
            location=location,
            language=language,
            vip=vip,
            assets=contact_assets(session, contact_id),
            open_tickets=open_tickets or 0,
        )
    return TicketDetail(
        **fields,
        description=description,
        priority_reason=priority_reason,
        contact_detail=contact,
        asset=AssetPublic(
            id=asset_id,
            kind=asset_kind,
            product=product,
            model_number=model_number,
            serial_number=serial_number,
            account_number=account_number,
        )
        if asset_id is not None
        else None,
        resolution_code=resolution_code_,
        resolution_text=resolution_text,
        first_response_at=first_response_at,
        resolved_at=resolved_at,
        closed_at=closed_at,
        created_by=created_by,
        links=_links(session, ticket_id),
        events=ticket_events(session, ticket_id),
    )


@cache
def _events_query(public_only: bool) -> Select[Any]:
    # Columns, not TicketEvent entities: a long log read as ORM objects cost four times as
    # much (identity map and instance state per event), measured by `deskterm bench`. The
    # tables' columns and a statement built once: ORM attributes cost a fifth more again.
    event, analyst = _table(TicketEvent), _table(Analyst)
    e = event.c
    query = (
        select(
            e.id,
            e.kind,
            e.at,
            e.visibility,
            e.data,
            e.ticket_version,
            analyst.c.login,
            analyst.c.name,
        )
        .select_from(event)
        .outerjoin(analyst, analyst.c.id == e.actor_id)
        .where(e.ticket_id == bindparam("ticket_id"))
        .order_by(e.id)
    )
    if public_only:
        query = query.where(e.visibility == Visibility.PUBLIC.value)
    return query


def ticket_events(
    session: Session, ticket_id: int, *, public_only: bool = False
) -> list[EventPublic]:
    rows = session.connection().execute(_events_query(public_only), {"ticket_id": ticket_id})
    return [
        EventPublic(
            id=event_id,
            kind=kind,
            actor=login or "system",
            actor_name=name or "system",
            at=at,
            visibility=visibility,
            data=data,
            ticket_version=version,
            summary=event_words.describe(kind, data),
        )
        for event_id, kind, at, visibility, data, version, login, name in rows
    ]


@cache
def _links_query() -> Select[Any]:
    link, ticket = _table(TicketLink), _table(Ticket)
    return (
        select(link.c.kind, ticket.c.id, ticket.c.subject, ticket.c.status)
        .select_from(link)
        .join(ticket, ticket.c.id == link.c.other_id)
        .where(link.c.ticket_id == bindparam("ticket_id"))
        .order_by(link.c.id)
    )


def _links(session: Session, ticket_id: int) -> list[LinkPublic]:
    rows = session.connection().execute(_links_query(), {"ticket_id": ticket_id}).all()
    return [
        LinkPublic(ref=format_ref(other_id), kind=kind, subject=subject, status=status)
        for kind, other_id, subject, status in rows
    ]


# --------------------------------------------------------------------------- working a ticket


def add_note(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    text: str,
    public: bool = False,
    expected_version: int | None = None,
) -> TicketPublic:
    """Anyone on the desk may add to a ticket's story: that is how cases change hands safely."""
    body = long_text(text, field="note", required=True)
    ticket = _load(session, ref, expected_version)
    change = _Change(session, actor, ticket)
    change.log(p.Note(text=body), visible=public)
    change.save()
    return _summary(session, ticket)


def log_call(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    direction: str = CallDirection.INBOUND,
    duration_seconds: int = 0,
    outcome: str | None = None,
    expected_version: int | None = None,
) -> TicketPublic:
    direction_value = _enum(CallDirection, direction, "direction")
    if not 0 <= duration_seconds <= _MAX_CALL_SECONDS:
        raise InvalidInput("call duration must be between 0 and 24 hours", field="duration")
    summary = long_text(outcome, field="outcome", limit=4000)
    ticket = _load(session, ref, expected_version)
    change = _Change(session, actor, ticket)
    kept = 0
    if direction_value == CallDirection.OUTBOUND:
        # Calling the customer keeps every callback promised on this ticket.
        for callback in session.scalars(
            select(Callback).where(Callback.ticket_id == ticket.id, Callback.done_at.is_(None))
        ):
            callback.done_at = change.at
            callback.done_by_id = actor.id
            kept += 1
    change.log(
        p.CallLogged(
            direction=direction_value,
            duration_seconds=duration_seconds,
            outcome=summary or None,
            kept_callbacks=kept or None,
        )
    )
    change.save()
    return _summary(session, ticket)


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
    ticket = _load(session, ref, expected_version)
    _ensure_open(ticket, "assigned")
    why = optional_line(reason, field="reason")
    told = optional_line(public_reason, field="public_reason", limit=300)
    wanted = (to or "none").strip().lower()
    if wanted == "none":
        target: Analyst | None = None
    elif wanted == "me":
        target = session.get(Analyst, actor.id) if actor.id is not None else None
        if target is None:
            raise InvalidInput("the system cannot hold tickets", field="to")
    else:
        target = analyst_by_login(session, wanted)
    requested = target
    if target is not None:
        target = _available(session, target)
    target_id = target.id if target else None
    if target_id == ticket.assignee_id:
        who = target.login if target else "nobody"
        raise InvalidInput(f"{format_ref(ticket.id or 0)} is already with {who}", field="to")
    if not may_assign(actor, _hold(ticket), target_id):
        if ticket.assignee_id is None:
            raise _refusal(session, actor, ticket, "assign it")
        group = _group_name(session, ticket.group_id)
        raise PermissionDenied(
            f"{format_ref(ticket.id or 0)} is held by {_login(session, ticket.assignee_id)}: "
            f"only they or a supervisor{f' of {group}' if group else ''} may hand it on"
        )
    if ticket.assignee_id is not None and ticket.assignee_id != actor.id and not why:
        raise InvalidInput(
            "taking a ticket from someone else needs a reason (for colleagues, in its log)",
            field="reason",
        )
    if ticket.assignee_id is not None and target is not None and not why:
        raise InvalidInput(
            "handing a ticket on needs a reason (for colleagues, in its log)", field="reason"
        )
    previous_row = session.get(Analyst, ticket.assignee_id) if ticket.assignee_id else None
    previous = previous_row.login if previous_row else None
    change = _Change(session, actor, ticket)
    _log_internal_reason(change, why)
    _set_holder(change, target)
    redirected = requested is not None and target is not None and requested.id != target.id
    kind: type[p.HolderChange] = (
        p.Unassigned if target is None else p.Assigned if previous is None else p.Reassigned
    )
    holder_away = previous_row is not None and previous_row.availability == Availability.AWAY
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
    return _summary(session, ticket)


def _because_moved(previous: str | None, holder_away: bool) -> str | None:
    """The fixed words the customer reads for a change of holder (``outbox.Because``); a
    ticket redirected to an away analyst's backup says so with ``reason="away"``."""
    if holder_away:
        return outbox.Because.AWAY.value
    if previous is not None:
        return outbox.Because.COLLEAGUE.value
    return None


def _log_internal_reason(change: _Change, why: str | None) -> None:
    """What an analyst typed as the reason for moving a case: an internal line of the log,
    for colleagues. The customer's message and the customer's view of the case never read
    it (they read the fixed ``because`` and what the analyst chose to tell them)."""
    if why:
        change.log(p.Note(text=why, about="reason"), visible=False)


def _set_holder(change: _Change, target: Analyst | None) -> None:
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
        raise InvalidInput("escalate to a level or to a group (one of them)", field="level")
    ticket = _load(session, ref, expected_version)
    _ensure_open(ticket, "escalated")
    _require_work(actor, ticket, "escalate it")
    current = session.get(SupportGroup, ticket.group_id) if ticket.group_id else None
    if group is not None:
        target = group_by_name(session, group)
        if current is not None and target.id == current.id:
            raise InvalidInput(f"the ticket is already with {target.name}", field="group")
        if target.level < ticket.level:
            raise InvalidInput(
                f"{target.name} is level {target.level}, below the ticket's level {ticket.level}: "
                "assign it instead",
                field="group",
            )
    else:
        assert level is not None
        if level not in (1, 2, 3):
            raise InvalidInput(f"level must be 1, 2 or 3, not {level}", field="level")
        if level <= ticket.level:
            raise InvalidInput(
                f"the ticket is at level {ticket.level} already; escalate to a higher level",
                field="level",
            )
        target = _along_path(session, current, level)
    previous_holder = _login(session, ticket.assignee_id)
    change = _Change(session, actor, ticket)
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
    _log_internal_reason(change, why)
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
    return _summary(session, ticket)


def _move_callbacks(change: _Change, holder: str | None, group: str) -> None:
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
        where = start.name if start else "a ticket with no group"
        raise InvalidInput(
            f"{where} has no escalation path to level {level}: name a group instead", field="level"
        )
    return group


def change_status(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    status: str,
    reason: str | None = None,
    expected_version: int | None = None,
) -> TicketPublic:
    target = _enum(Status, status.replace(" ", "_").replace("-", "_"), "status")
    ticket = _load(session, ref, expected_version)
    check_transition(ticket.status, target)
    _require_work(actor, ticket, "change its status")
    why = optional_line(reason, field="reason")
    if target == Status.CANCELLED and not why:
        raise InvalidInput("cancelling a ticket needs a reason", field="reason")
    change = _Change(session, actor, ticket)
    previous = ticket.status
    if target == Status.NEW and ticket.assignee_id is not None:
        change.log(p.Unassigned(from_=_login(session, ticket.assignee_id), status=target))
        ticket.assignee_id = None
    elif target in (Status.ASSIGNED, Status.IN_PROGRESS) and ticket.assignee_id is None:
        if actor.id is None:
            raise InvalidInput("the system cannot start work on a ticket", field="status")
        ticket.assignee_id = actor.id
        change.log(p.Assigned(to=actor.login, status=target))
    ticket.status = target
    if target == Status.CANCELLED:
        ticket.closed_at = change.at
    change.log(p.StatusChanged(from_=previous, to=target, reason=why))
    change.save()
    return _summary(session, ticket)


def resolve(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    code: str,
    text: str,
    expected_version: int | None = None,
) -> TicketPublic:
    code_row = resolution_code(session, code)
    summary = long_text(text, field="resolution", required=True, limit=16_000)
    ticket = _load(session, ref, expected_version)
    check_transition(ticket.status, Status.RESOLVED, plain=False)
    _require_work(actor, ticket, "resolve it")
    change = _Change(session, actor, ticket)
    previous = ticket.status
    if ticket.assignee_id is None and actor.id is not None:
        ticket.assignee_id = actor.id
    ticket.status = Status.RESOLVED
    ticket.resolution_code = code_row.code
    ticket.resolution_text = summary
    ticket.resolved_at = change.at
    change.log(
        p.Resolved(
            from_=previous,
            to=Status.RESOLVED,
            code=code_row.code,
            text=summary,
            assignee=_login(session, ticket.assignee_id),
        )
    )
    change.save()
    return _summary(session, ticket)


def reopen(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    reason: str,
    expected_version: int | None = None,
) -> TicketPublic:
    """Any analyst may reopen a resolved ticket: it is usually the customer calling back."""
    why = required_line(reason, field="reason", limit=300)
    ticket = _load(session, ref, expected_version)
    if ticket.status != Status.RESOLVED:
        raise InvalidTransition(
            f"only a resolved ticket can be reopened; {format_ref(ticket.id or 0)} is "
            f"{Status(ticket.status).label}"
        )
    target = Status.IN_PROGRESS if ticket.assignee_id else Status.NEW
    change = _Change(session, actor, ticket)
    ticket.status = target
    ticket.resolution_code = None
    ticket.resolution_text = None
    ticket.resolved_at = None
    change.log(p.Reopened(from_=Status.RESOLVED, to=target, reason=why))
    change.save()
    return _summary(session, ticket)


def close(
    session: Session, actor: Actor, *, ref: str | int, expected_version: int | None = None
) -> TicketPublic:
    ticket = _load(session, ref, expected_version)
    check_transition(ticket.status, Status.CLOSED, plain=False)
    _require_work(actor, ticket, "close it")
    change = _Change(session, actor, ticket)
    ticket.status = Status.CLOSED
    ticket.closed_at = change.at
    change.log(p.Closed(from_=Status.RESOLVED, to=Status.CLOSED))
    change.save()
    return _summary(session, ticket)


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
    ticket = _load(session, ref, expected_version)
    _ensure_open(ticket, "re-prioritised")
    _require_work(actor, ticket, "change its priority")
    new_impact = _enum(Impact, impact, "impact") if impact else Impact(ticket.impact)
    new_urgency = _enum(Urgency, urgency, "urgency") if urgency else Urgency(ticket.urgency)
    derived = defaults.priority_matrix().priority(new_impact, new_urgency)
    chosen = parse_priority(priority) if priority else derived
    why = optional_line(reason, field="reason")
    if chosen != derived and not why:
        raise InvalidInput(
            f"impact {new_impact} and urgency {new_urgency} give P{derived}; "
            f"overriding to P{chosen} needs a reason",
            field="reason",
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
        raise InvalidInput("nothing to change", field="priority")
    change = _Change(session, actor, ticket)
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
    return _summary(session, ticket)


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
        raise InvalidInput("a ticket cannot be linked to itself", field="other")
    # Lock in id order: two analysts linking A-B and B-A at once must not deadlock.
    locked = {tid: _load(session, tid) for tid in sorted((ticket_id, other_id))}
    ticket, target = locked[ticket_id], locked[other_id]
    exists = session.scalars(
        select(TicketLink.id).where(
            or_(
                and_(TicketLink.ticket_id == ticket.id, TicketLink.other_id == target.id),
                and_(TicketLink.ticket_id == target.id, TicketLink.other_id == ticket.id),
            )
        )
    ).first()
    if exists:
        raise InvalidInput(
            f"{format_ref(ticket.id or 0)} and {format_ref(target.id or 0)} are linked already",
            field="other",
        )
    change = _Change(session, actor, ticket)
    _link_pair(session, actor, ticket, target, link_kind, change=change)
    change.save()
    return _summary(session, ticket)


def _link_pair(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    other: Ticket,
    kind: LinkKind,
    *,
    change: _Change,
) -> None:
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
    change.log(event(link=kind, other=format_ref(other.id or 0)))
    other_change = _Change(session, actor, other)
    other_change.log(event(link=kind.inverse, other=format_ref(ticket.id or 0)))


def _ensure_open(ticket: Ticket, doing: str) -> None:
    if ticket.status not in OPEN_STATUSES:
        raise InvalidTransition(
            f"{format_ref(ticket.id or 0)} is {Status(ticket.status).label} and cannot be {doing}; "
            "reopen it first"
        )


def _summary(session: Session, ticket: Ticket) -> TicketPublic:
    assert ticket.id is not None
    return summary(session, ticket.id)


def summary(session: Session, ticket_id: int) -> TicketPublic:
    """The ticket as a list shows it: what a change hands back to its face."""
    return _public(session.execute(_row_by_id(), {"id": ticket_id}).one())
