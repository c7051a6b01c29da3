"""Reading a ticket: its card with the whole log, its links, and the row a change hands back.

Apart from the writers because a read needs none of their checks: these are the statements
the ticket screen, the CLI and every write's answer run, each built once and kept.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from deskterm.db.models import Analyst, Asset, Organization, Ticket, TicketEvent, TicketLink
from deskterm.desk.contacts import contact_assets
from deskterm.desk.rows import _ROW_WIDTH, _public, _public_fields, _row_by_id, _rows_query, _table
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
from deskterm.domain.enums import OPEN_STATUSES, Visibility
from deskterm.domain.errors import NotFound
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.i18n import _


def get_ticket(session: Session, actor: Actor, *, ref: str | int) -> TicketDetail:
    """The ticket with everything its card shows: caller, asset, links and the whole log."""
    ticket_id = ref if isinstance(ref, int) else parse_ref(ref)
    return detail(session, ticket_id)


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


def detail(session: Session, ticket_id: int) -> TicketDetail:
    """The ticket's card, read on the session's connection (what ``create_ticket`` answers)."""
    # A write's pending changes must be in the database before the read below, which goes
    # to the session's connection directly (the ORM layer would only add its own cost).
    session.flush()
    row = session.connection().execute(_detail_query(), {"id": ticket_id}).first()
    if row is None:
        raise NotFound(_("no ticket {ref}").format(ref=format_ref(ticket_id)))
    fields = _public_fields(row)
    events = ticket_events(session, ticket_id)
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
        events=events,
        # The whole log is read anyway: summing it here costs no statement.
        minutes_worked=sum(event.minutes or 0 for event in events),
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
            e.minutes,
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
    """The ticket's log, oldest first: each event with its actor and a sentence saying it."""
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
            summary=event_words.describe(p.parse(kind, data)),
            minutes=minutes,
        )
        for event_id, kind, at, visibility, data, version, login, name, minutes in rows
    ]


def minutes_worked(session: Session, ticket_id: int) -> int:
    """The minutes worked on the ticket: one SUM over its log (``ix_ticket_event_ticket``)."""
    event = _table(TicketEvent)
    total = session.connection().scalar(
        select(func.coalesce(func.sum(event.c.minutes), 0)).where(event.c.ticket_id == ticket_id)
    )
    return int(total or 0)


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


def summary(session: Session, ticket: Ticket | int) -> TicketPublic:
    """The ticket as a list shows it: what a change hands back to its face."""
    ticket_id = ticket if isinstance(ticket, int) else ticket.id
    assert ticket_id is not None
    return _public(session.execute(_row_by_id(), {"id": ticket_id}).one())
