"""Queue views for a face: one page of tickets at a time, in queue order, at any desk size.

A view ("mine", "my groups", ...) is a union of *partitions*, each an equality on the leading
columns of one of the ticket queue indexes (``ix_ticket_queue``, ``ix_ticket_group_queue``,
``ix_ticket_assignee_queue``). Each partition is read in index order after the page's key
(priority, resolve due, id), at most one page deep, and the partitions are merged in Python.
So a page costs a few index range scans whatever the number of tickets: no OFFSET, no sort of
the whole queue, no count of the whole table.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from deskterm.db.models import Analyst, Callback, Contact, Ticket, TicketEvent
from deskterm.desk.schemas import Public, TicketPublic
from deskterm.desk.tickets import _public_fields, _rows_query
from deskterm.domain.enums import OPEN_STATUSES, Status
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import parse_ref
from deskterm.domain.text import clean_line

PAGE = 100
#: Counts stop here: a tab says "1000+" rather than counting a million rows.
COUNT_CAP = 1000

# A fixed order, so that page merges and tests do not depend on set iteration.
_OPEN = tuple(sorted(s.value for s in OPEN_STATUSES))


class QueueView(StrEnum):
    MINE = "mine"
    GROUPS = "groups"
    UNASSIGNED = "unassigned"
    WAITING = "waiting"
    CALLBACKS = "callbacks"
    ALL = "all"


class QueueKey(Public):
    """Where a page ends: the next page starts after this row.

    ``due`` is the queue's second sort column: the resolution due time, or for callbacks the
    callback's due time (then ``id`` is the callback's id).
    """

    priority: int = 0
    due: datetime | None = None
    id: int


class QueueRow(TicketPublic):
    callback_id: int | None = None
    callback_due_at: datetime | None = None
    callback_reason: str | None = None
    callback_by: str | None = None


class QueuePage(Public):
    view: str
    rows: list[QueueRow]
    #: The key to pass as ``after`` for the next page; None on the last page.
    next_after: QueueKey | None = None


def views_for(actor: Actor) -> list[QueueView]:
    """The views this analyst may open, in tab order."""
    views = [v for v in QueueView if v != QueueView.ALL]
    return [*views, QueueView.ALL] if actor.is_supervisor else views


# --------------------------------------------------------------------------- partitions


def _partitions(actor: Actor, view: QueueView) -> list[list[ColumnElement[bool]]]:
    """Each partition: equalities an index serves in order of (priority, due, id)."""
    groups = sorted(actor.group_ids)
    if view == QueueView.MINE:
        return [[Ticket.assignee_id == actor.id, Ticket.status == s] for s in _OPEN]
    if view == QueueView.GROUPS:
        return [[Ticket.group_id == g, Ticket.status == s] for g in groups for s in _OPEN]
    if view == QueueView.UNASSIGNED:
        # Only these statuses can lack a holder (see transitions.status_for_holder); per group,
        # the group index serves the order and "no holder" filters the few that have one.
        loose = [s for s in _OPEN if s not in (Status.ASSIGNED, Status.IN_PROGRESS)]
        holderless = Ticket.assignee_id.is_(None)
        if actor.is_supervisor and not groups:
            return [[Ticket.status == s, holderless] for s in loose]
        return [
            [Ticket.group_id == g, Ticket.status == s, holderless] for g in groups for s in loose
        ]
    if view == QueueView.WAITING:
        waiting = Ticket.status == Status.WAITING_CUSTOMER.value
        mine = [[Ticket.assignee_id == actor.id, waiting]]
        return mine + [[Ticket.group_id == g, waiting] for g in groups]
    if view == QueueView.ALL:
        if not actor.is_supervisor:
            raise PermissionDenied("only a supervisor sees every queue")
        return [[Ticket.status == s] for s in _OPEN]
    raise InvalidInput(f"unknown queue view {view!r}", field="view")


def _text_filter(text: str | None) -> ColumnElement[bool] | None:
    """Filter as you type: a reference, or a piece of the subject, contact or holder."""
    needle = clean_line(text).lower()
    if not needle:
        return None
    try:
        return Ticket.id == parse_ref(needle)
    except InvalidInput:
        pass
    holder = aliased(Analyst)
    contact = aliased(Contact)
    return or_(
        func.lower(Ticket.subject).contains(needle, autoescape=True),
        # The caller's name is read per ticket the page passes over (a primary-key probe
        # each). As "contact_id IN (callers matching)", or as EXISTS, which PostgreSQL turns
        # into the same hashed set, it cost a scan of every contact for each partition.
        select(contact.name_lower)
        .where(contact.id == Ticket.contact_id)
        .scalar_subquery()
        .contains(needle, autoescape=True),
        Ticket.assignee_id.in_(
            select(holder.id).where(holder.login.startswith(needle, autoescape=True))
        ),
    )


def _after(key: QueueKey | None, nulls_first: bool) -> ColumnElement[bool] | None:
    """Rows strictly after ``key`` in (priority, resolve_due_at, id) order.

    SQLite sorts NULL before any value, PostgreSQL after, each in its own index order; the
    keyset follows the database's own order so that the index still serves it.
    """
    if key is None:
        return None
    due, later = Ticket.resolve_due_at, Ticket.priority > key.priority
    same = Ticket.priority == key.priority
    if key.due is None:
        if nulls_first:
            rest = or_(due.is_not(None), and_(due.is_(None), Ticket.id > key.id))
        else:
            rest = and_(due.is_(None), Ticket.id > key.id)
    else:
        rest = or_(due > key.due, and_(due == key.due, Ticket.id > key.id))
        if not nulls_first:
            rest = or_(rest, due.is_(None))
    return or_(later, and_(same, rest))


def _sort_key(nulls_first: bool) -> Any:
    def key(row: tuple[int, datetime | None, int]) -> tuple[int, int, datetime | None, int]:
        priority, due, ticket_id = row
        missing = due is None
        rank = (0 if missing else 1) if nulls_first else (1 if missing else 0)
        return (priority, rank, due if due is not None else datetime.min, ticket_id)

    return key


def _merged(
    session: Session,
    partitions: Sequence[Sequence[ColumnElement[bool]]],
    extra: Sequence[ColumnElement[bool]],
    limit: int,
) -> list[tuple[int, datetime | None, int]]:
    nulls_first = session.get_bind().dialect.name == "sqlite"
    streams: list[Iterable[tuple[int, datetime | None, int]]] = []
    for conditions in partitions:
        query = (
            select(Ticket.priority, Ticket.resolve_due_at, Ticket.id)
            .where(*conditions, *extra)
            .order_by(Ticket.priority, Ticket.resolve_due_at, Ticket.id)
            .limit(limit)
        )
        streams.append([tuple(row) for row in session.execute(query)])  # type: ignore[misc]
    key = _sort_key(nulls_first)
    seen: set[int] = set()
    merged: list[tuple[int, datetime | None, int]] = []
    for row in heapq.merge(*streams, key=key):
        if row[2] in seen:
            continue
        seen.add(row[2])
        merged.append(row)
        if len(merged) == limit:
            break
    return merged


def _full_rows(session: Session, ids: Sequence[int]) -> dict[int, QueueRow]:
    if not ids:
        return {}
    query, _holder, _contact = _rows_query()
    rows = session.execute(query.where(Ticket.id.in_(ids))).all()
    return {row[0].id: QueueRow(**_public_fields(*row)) for row in rows}


# --------------------------------------------------------------------------- pages


def queue_page(
    session: Session,
    actor: Actor,
    *,
    view: str,
    after: QueueKey | None = None,
    text: str | None = None,
    limit: int = PAGE,
) -> QueuePage:
    """One page of a queue view, most urgent first (callbacks: soonest due first)."""
    if not 1 <= limit <= 500:
        raise InvalidInput(f"limit must be between 1 and 500, not {limit}", field="limit")
    chosen = QueueView(view)
    if chosen == QueueView.CALLBACKS:
        return _callback_page(session, actor, after=after, text=text, limit=limit)
    extra = [c for c in (_text_filter(text),) if c is not None]
    nulls_first = session.get_bind().dialect.name == "sqlite"
    keyset = _after(after, nulls_first)
    if keyset is not None:
        extra.append(keyset)
    keys = _merged(session, _partitions(actor, chosen), extra, limit + 1)
    more = len(keys) > limit
    keys = keys[:limit]
    rows = _full_rows(session, [k[2] for k in keys])
    ordered = [rows[k[2]] for k in keys if k[2] in rows]
    last = keys[-1] if keys else None
    return QueuePage(
        view=chosen.value,
        rows=ordered,
        next_after=QueueKey(priority=last[0], due=last[1], id=last[2]) if more and last else None,
    )


def _callback_scope(actor: Actor) -> ColumnElement[bool] | None:
    """Callbacks that are this analyst's business: promised by them, on their tickets, or on
    unassigned tickets of their groups. Supervisors see every pending callback."""
    if actor.is_supervisor:
        return None
    return or_(
        Callback.scheduled_by_id == actor.id,
        Ticket.assignee_id == actor.id,
        and_(Ticket.assignee_id.is_(None), Ticket.group_id.in_(sorted(actor.group_ids))),
    )


def _callback_page(
    session: Session, actor: Actor, *, after: QueueKey | None, text: str | None, limit: int
) -> QueuePage:
    by = aliased(Analyst)
    query = (
        select(Callback.id, Callback.ticket_id, Callback.due_at, Callback.reason, by.login)
        .join(Ticket, Ticket.id == Callback.ticket_id)
        .outerjoin(by, by.id == Callback.scheduled_by_id)
        .where(Callback.done_at.is_(None))
        .order_by(Callback.due_at, Callback.id)
        .limit(limit + 1)
    )
    for condition in (_callback_scope(actor), _text_filter(text)):
        if condition is not None:
            query = query.where(condition)
    if after is not None and after.due is not None:
        query = query.where(
            or_(
                Callback.due_at > after.due,
                and_(Callback.due_at == after.due, Callback.id > after.id),
            )
        )
    found = session.execute(query).all()
    more = len(found) > limit
    found = found[:limit]
    tickets = _full_rows(session, sorted({row.ticket_id for row in found}))
    rows = [
        tickets[row.ticket_id].model_copy(
            update={
                "callback_id": row.id,
                "callback_due_at": row.due_at,
                "callback_reason": row.reason,
                "callback_by": row.login,
            }
        )
        for row in found
        if row.ticket_id in tickets
    ]
    last = found[-1] if found else None
    return QueuePage(
        view=QueueView.CALLBACKS.value,
        rows=rows,
        next_after=QueueKey(due=last.due_at, id=last.id) if more and last else None,
    )


def _capped_count(session: Session, query: Any) -> int:
    return session.scalar(select(func.count()).select_from(query.limit(COUNT_CAP).subquery())) or 0


def queue_counts(session: Session, actor: Actor) -> dict[str, int]:
    """How many tickets each view holds, counted up to ``COUNT_CAP``."""
    counts: dict[str, int] = {}
    for view in views_for(actor):
        if view == QueueView.CALLBACKS:
            query = (
                select(Callback.id)
                .join(Ticket, Ticket.id == Callback.ticket_id)
                .where(Callback.done_at.is_(None))
            )
            scope = _callback_scope(actor)
            if scope is not None:
                query = query.where(scope)
        else:
            parts = _partitions(actor, view)
            if not parts:
                counts[view.value] = 0
                continue
            query = select(Ticket.id).where(or_(*(and_(*p) for p in parts)))
        counts[view.value] = _capped_count(session, query)
    return counts


def latest_event_id(session: Session, actor: Actor) -> int:
    """The newest event of any ticket: a face polls this to know when to refresh.

    The primary key's index answers it at once on both databases.
    """
    return session.scalar(select(func.max(TicketEvent.id))) or 0


def ticket_version(session: Session, actor: Actor, *, ticket_id: int) -> int | None:
    """The ticket's current version (None if it is gone): a screen showing one ticket reloads
    only when this moved, not on every change to the desk."""
    return session.scalar(select(Ticket.version).where(Ticket.id == ticket_id))
