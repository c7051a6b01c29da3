"""Tickets as lists show them: the list row of a ticket, read as plain columns in one
statement, and ``list_tickets``.

Apart from ``desk.tickets`` so that reading a queue page or ``deskterm ticket list`` loads
only this: not the change log's machinery, the outbox and its templates, or the caller
lookups (measured: a fifth of the CLI's start went to modules a listing never runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum
from functools import cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Analyst, Category, Contact, SupportGroup, Ticket
from deskterm.desk import sla_clock
from deskterm.desk.schemas import TicketPublic
from deskterm.domain.enums import OPEN_STATUSES, Status
from deskterm.domain.errors import InvalidInput
from deskterm.domain.permissions import Actor
from deskterm.domain.priority import parse_priority
from deskterm.domain.refs import format_ref
from deskterm.i18n import _


def _enum(enum: type[Enum], value: str, field: str) -> Any:
    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInput(
            _("unknown {field} {value!r}: use {allowed}").format(
                field=field, value=value, allowed=allowed
            ),
            field=field,
        ) from None


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


@cache
def _rows_query() -> tuple[Select[Any], Any, Any]:
    """A ticket as a list shows it: plain columns, in the order ``_public_fields`` reads.

    Built once: statements are immutable (every .where() returns a new one), and building
    this join took longer than running it on SQLite (measured by `deskterm bench`). The
    tables' own columns, not the Ticket entity nor its ORM attributes: a page of rows made
    into ORM objects (identity map, instance state, thirty attributes each) cost about
    three times the reading itself, and ORM attributes alone add a fifth.
    """
    ticket, group, contact, category = (
        _table(Ticket),
        _table(SupportGroup),
        _table(Contact),
        _table(Category),
    )
    holder = _table(Analyst).alias("holder")
    t = ticket.c
    query = (
        select(
            t.id,
            t.subject,
            t.status,
            t.priority,
            t.impact,
            t.urgency,
            t.level,
            group.c.name,
            holder.c.login,
            holder.c.name,
            contact.c.name,
            t.contact_id,
            t.channel,
            category.c.path,
            t.created_at,
            t.updated_at,
            t.response_due_at,
            t.resolve_due_at,
            t.response_warn_at,
            t.resolve_warn_at,
            t.sla_paused_at,
            t.sla_used_seconds,
            t.version,
        )
        .select_from(ticket)
        .outerjoin(group, group.c.id == t.group_id)
        .outerjoin(holder, holder.c.id == t.assignee_id)
        .outerjoin(contact, contact.c.id == t.contact_id)
        .outerjoin(category, category.c.id == t.category_id)
    )
    return query, holder, contact


#: How many leading columns of a row ``_public_fields`` reads.
_ROW_WIDTH = 23


@cache
def _rows_by_ids() -> Select[Any]:
    """List rows of the given ids (``ids``: a list). One statement shape for any number of
    ids, so SQLAlchemy compiles it once."""
    query, _holder, _contact = _rows_query()
    return query.where(_table(Ticket).c.id.in_(bindparam("ids", expanding=True)))


@cache
def _row_by_id() -> Select[Any]:
    query, _holder, _contact = _rows_query()
    return query.where(_table(Ticket).c.id == bindparam("id"))


def _public(row: Any) -> TicketPublic:
    return TicketPublic(**_public_fields(row))


def _public_fields(row: Any) -> dict[str, Any]:
    """The list fields of a ``_rows_query`` row (extra columns after them are ignored)."""
    (
        ticket_id,
        subject,
        status,
        priority,
        impact,
        urgency,
        level,
        group,
        login,
        holder_name,
        contact_name,
        contact_id,
        channel,
        category,
        created_at,
        updated_at,
        response_due_at,
        resolve_due_at,
        response_warn_at,
        resolve_warn_at,
        paused_at,
        used_seconds,
        version,
    ) = row[:_ROW_WIDTH]
    return {
        "id": ticket_id,
        "ref": format_ref(ticket_id),
        "subject": subject,
        "status": status,
        "priority": f"P{priority}",
        "impact": impact,
        "urgency": urgency,
        "level": level,
        "group": group,
        "assignee": login,
        "assignee_name": holder_name,
        "contact": contact_name,
        "contact_id": contact_id,
        "channel": channel,
        "category": category,
        "created_at": created_at,
        "updated_at": updated_at,
        "response_due_at": response_due_at,
        "resolve_due_at": resolve_due_at,
        "response_warn_at": response_warn_at,
        "resolve_warn_at": resolve_warn_at,
        "sla_paused_at": paused_at,
        "sla_left_seconds": sla_clock.left_paused(status, priority, paused_at, used_seconds),
        "version": version,
    }


def public_rows(session: Session, ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
    """The list rows of these tickets by id, for ``_public_fields``; one statement."""
    if not ids:
        return {}
    return {row[0]: row for row in session.execute(_rows_by_ids(), {"ids": list(ids)})}


def list_tickets(
    session: Session,
    actor: Actor,
    *,
    statuses: Sequence[str] = ("open",),
    group: str | None = None,
    assignee: str | None = None,
    priority: str | None = None,
    contact_id: int | None = None,
    sort: str = "urgent",
    limit: int = 50,
) -> list[TicketPublic]:
    """Tickets matching the filters, most urgent (priority, then SLA due) or newest first.

    ``statuses``: status names, ``open`` for every open status, ``all`` for any.
    ``assignee``: a login, ``me`` or ``none``.
    """
    if not 1 <= limit <= 1000:
        raise InvalidInput(
            _("limit must be between 1 and 1000, not {limit}").format(limit=limit), field="limit"
        )
    query, _holder, _contact = _rows_query()
    wanted = _statuses(statuses)
    if wanted is not None:
        query = query.where(col(Ticket.status).in_(sorted(wanted)))
    if group:
        from deskterm.desk.lookups import group_by_name

        query = query.where(col(Ticket.group_id) == group_by_name(session, group).id)
    if assignee:
        who = assignee.strip().lower()
        if who == "none":
            query = query.where(col(Ticket.assignee_id).is_(None))
        elif who == "me":
            query = query.where(col(Ticket.assignee_id) == actor.id)
        else:
            from deskterm.desk.lookups import analyst_by_login

            query = query.where(col(Ticket.assignee_id) == analyst_by_login(session, who).id)
    if priority:
        query = query.where(col(Ticket.priority) == parse_priority(priority))
    if contact_id is not None:
        query = query.where(col(Ticket.contact_id) == contact_id)
    if sort == "urgent":
        query = query.order_by(col(Ticket.priority), col(Ticket.resolve_due_at), col(Ticket.id))
    elif sort == "newest":
        query = query.order_by(col(Ticket.id).desc())
    else:
        raise InvalidInput(
            _("unknown sort {sort!r}: use urgent or newest").format(sort=sort), field="sort"
        )
    return [_public(row) for row in session.execute(query.limit(limit))]


def _statuses(names: Iterable[str]) -> set[str] | None:
    wanted: set[str] = set()
    for name in names:
        key = name.strip().lower().replace(" ", "_").replace("-", "_")
        if key == "all":
            return None
        if key == "open":
            wanted |= {s.value for s in OPEN_STATUSES}
        elif key == "waiting":
            wanted |= {Status.WAITING_CUSTOMER.value, Status.WAITING_THIRD_PARTY.value}
        else:
            wanted.add(_enum(Status, key, "status").value)
    return wanted or None
