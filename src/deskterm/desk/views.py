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
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import ColumnElement, String, Table, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlmodel import col

from deskterm.db.models import (
    Analyst,
    Callback,
    Category,
    Contact,
    SupportGroup,
    Ticket,
    TicketEvent,
)
from deskterm.db.types import UTCDateTime
from deskterm.desk.rows import _public_fields, _rows_query, public_rows
from deskterm.desk.schemas import Public, TicketPublic
from deskterm.domain.enums import OPEN_STATUSES, Status
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import parse_ref
from deskterm.domain.text import clean_line
from deskterm.i18n import _

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
    views: list[QueueView] = [v for v in QueueView if v != QueueView.ALL]
    return [*views, QueueView.ALL] if actor.is_supervisor else views


# --------------------------------------------------------------------------- partitions
#
# Every statement here is built once per *shape* and cached; the values (the analyst, their
# groups, the statuses, the page's key, the typed text) travel as bound parameters. Building
# a dozen SELECTs per page with SQLAlchemy's expression API cost more than running them.

_TICKET: Table = Ticket.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
_CONTACT: Table = Contact.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
_ANALYST: Table = Analyst.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
_CALLBACK: Table = Callback.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
_T = _TICKET.c
_LOOSE = tuple(s for s in _OPEN if s not in (Status.ASSIGNED, Status.IN_PROGRESS))


@dataclass(frozen=True)
class _Part:
    """One partition: equalities on the leading columns of a queue index, in index order."""

    values: tuple[tuple[str, Any], ...]
    #: Also "nobody holds it" (filtered while walking the group's index).
    holderless: bool = False

    @property
    def shape(self) -> _Shape:
        return tuple(column for column, _value in self.values), self.holderless

    def params(self, prefix: str) -> dict[str, Any]:
        return {f"{prefix}{column}": value for column, value in self.values}


#: A partition's columns and whether it wants no holder: what its statement depends on.
_Shape = tuple[tuple[str, ...], bool]


def _partitions(actor: Actor, view: QueueView) -> list[_Part]:
    """Each partition: equalities an index serves in order of (priority, due, id)."""
    groups = sorted(actor.group_ids)
    if view == QueueView.MINE:
        return [_Part((("assignee_id", actor.id), ("status", s))) for s in _OPEN]
    if view == QueueView.GROUPS:
        return [_Part((("group_id", g), ("status", s))) for g in groups for s in _OPEN]
    if view == QueueView.UNASSIGNED:
        # Only these statuses can lack a holder (see transitions.status_for_holder); per group,
        # the group index serves the order and "no holder" filters the few that have one.
        if actor.is_supervisor and not groups:
            return [_Part((("status", s),), holderless=True) for s in _LOOSE]
        return [
            _Part((("group_id", g), ("status", s)), holderless=True) for g in groups for s in _LOOSE
        ]
    if view == QueueView.WAITING:
        waiting = ("status", Status.WAITING_CUSTOMER.value)
        mine = [_Part((("assignee_id", actor.id), waiting))]
        return mine + [_Part((("group_id", g), waiting)) for g in groups]
    if view == QueueView.ALL:
        if not actor.is_supervisor:
            raise PermissionDenied(_("only a supervisor sees every queue"))
        return [_Part((("status", s),)) for s in _OPEN]
    raise InvalidInput(_("unknown queue view {view!r}").format(view=view), field="view")


def _conditions(shape: _Shape, prefix: str) -> list[ColumnElement[bool]]:
    columns, holderless = shape
    conditions = [_T[column] == bindparam(f"{prefix}{column}") for column in columns]
    if holderless:
        conditions.append(_T.assignee_id.is_(None))
    return conditions


def _text_params(text: str | None, prefix: str = "") -> tuple[str | None, dict[str, Any]]:
    """Filter as you type: a reference, or a piece of the subject, contact or holder.

    Returns the kind of filter (None, ``ref`` or ``text``) and its parameters; ``prefix``
    names them apart when a saved view's own text and the typed filter both apply.
    """
    needle = clean_line(text).lower()
    if not needle:
        return None, {}
    try:
        return "ref", {f"{prefix}ref": parse_ref(needle)}
    except InvalidInput:
        pass
    # What ``contains(..., autoescape=True)`` did, as plain parameters of a cached statement.
    escaped = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return "text", {f"{prefix}pat": f"%{escaped}%", f"{prefix}start": f"{escaped}%"}


@cache
def _text_condition(kind: str, prefix: str = "") -> ColumnElement[bool]:
    if kind == "ref":
        return _T.id == bindparam(f"{prefix}ref")
    holder = _ANALYST.alias(f"{prefix}filter_holder")
    contact = _CONTACT.alias(f"{prefix}filter_contact")
    pattern = bindparam(f"{prefix}pat", type_=String())
    return or_(
        func.lower(_T.subject).like(pattern, escape="/"),
        # The caller's name is read per ticket the page passes over (a primary-key probe
        # each). As "contact_id IN (callers matching)", or as EXISTS, which PostgreSQL turns
        # into the same hashed set, it cost a scan of every contact for each partition.
        select(contact.c.name_lower)
        .where(contact.c.id == _T.contact_id)
        .scalar_subquery()
        .like(pattern, escape="/"),
        _T.assignee_id.in_(
            select(holder.c.id).where(holder.c.login.like(bindparam(f"{prefix}start"), escape="/"))
        ),
    )


def _key_params(key: QueueKey | None) -> tuple[str | None, dict[str, Any]]:
    if key is None:
        return None, {}
    params = {"k_pri": key.priority, "k_id": key.id}
    if key.due is None:
        return "no_due", params
    return "due", {**params, "k_due": key.due}


@cache
def _after(kind: str, nulls_first: bool) -> ColumnElement[bool]:
    """Rows strictly after the page's key in (priority, resolve_due_at, id) order.

    SQLite sorts NULL before any value, PostgreSQL after, each in its own index order; the
    keyset follows the database's own order so that the index still serves it.
    """
    due, priority, ticket_id = _T.resolve_due_at, _T.priority, _T.id
    later, same = priority > bindparam("k_pri"), priority == bindparam("k_pri")
    after_id = ticket_id > bindparam("k_id")
    if kind == "no_due":
        if nulls_first:
            rest = or_(due.is_not(None), and_(due.is_(None), after_id))
        else:
            rest = and_(due.is_(None), after_id)
    else:
        key_due = bindparam("k_due", type_=UTCDateTime())
        rest = or_(due > key_due, and_(due == key_due, after_id))
        if not nulls_first:
            rest = or_(rest, due.is_(None))
    return or_(later, and_(same, rest))


@lru_cache(maxsize=512)
def _partition_query(
    shape: _Shape, text: str | None, key: str | None, nulls_first: bool, limit: int
) -> Select[Any]:
    query = select(_T.priority, _T.resolve_due_at, _T.id).where(*_conditions(shape, "p_"))
    if text is not None:
        query = query.where(_text_condition(text))
    if key is not None:
        query = query.where(_after(key, nulls_first))
    return query.order_by(_T.priority, _T.resolve_due_at, _T.id).limit(limit)


def _sort_key(nulls_first: bool) -> Any:
    def key(row: tuple[int, datetime | None, int]) -> tuple[int, int, datetime | None, int]:
        priority, due, ticket_id = row
        missing = due is None
        rank = (0 if missing else 1) if nulls_first else (1 if missing else 0)
        return (priority, rank, due if due is not None else datetime.min, ticket_id)

    return key


def _merged(
    session: Session,
    parts: Sequence[_Part],
    *,
    text: str | None,
    key: str | None,
    params: dict[str, Any],
    limit: int,
) -> list[tuple[int, datetime | None, int]]:
    nulls_first = session.get_bind().dialect.name == "sqlite"
    # The session's own connection: the ORM layer of Session.execute adds nothing to a
    # plain SELECT of columns but its own cost, a dozen times per page.
    connection = session.connection()
    streams: list[Iterable[tuple[int, datetime | None, int]]] = []
    for part in parts:
        query = _partition_query(part.shape, text, key, nulls_first, limit)
        streams.append(connection.execute(query, {**params, **part.params("p_")}).all())
    sort_key = _sort_key(nulls_first)
    seen: set[int] = set()
    merged: list[tuple[int, datetime | None, int]] = []
    for row in heapq.merge(*streams, key=sort_key):
        if row[2] in seen:
            continue
        seen.add(row[2])
        merged.append(row)
        if len(merged) == limit:
            break
    return merged


def _full_rows(session: Session, ids: Sequence[int]) -> dict[int, QueueRow]:
    return {
        ticket_id: QueueRow(**_public_fields(row))
        for ticket_id, row in public_rows(session, ids).items()
    }


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
        raise InvalidInput(
            _("limit must be between 1 and 500, not {limit}").format(limit=limit), field="limit"
        )
    chosen = QueueView(view)
    if chosen == QueueView.CALLBACKS:
        return _callback_page(session, actor, after=after, text=text, limit=limit)
    text_kind, params = _text_params(text)
    key_kind, key_params = _key_params(after)
    keys = _merged(
        session,
        _partitions(actor, chosen),
        text=text_kind,
        key=key_kind,
        params={**params, **key_params},
        limit=limit + 1,
    )
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


def _callback_scope(supervisor: bool) -> ColumnElement[bool] | None:
    """Callbacks that are this analyst's business: promised by them, on their tickets, or on
    unassigned tickets of their groups. Supervisors see every pending callback.

    Parameters: ``me`` and ``groups`` (a list)."""
    if supervisor:
        return None
    callback = _CALLBACK.c
    return or_(
        callback.scheduled_by_id == bindparam("me"),
        _T.assignee_id == bindparam("me"),
        and_(_T.assignee_id.is_(None), _T.group_id.in_(bindparam("groups", expanding=True))),
    )


def _scope_params(actor: Actor) -> dict[str, Any]:
    if actor.is_supervisor:
        return {}
    # An empty list renders as a condition that matches nothing, as an empty IN should.
    return {"me": actor.id, "groups": sorted(actor.group_ids)}


@lru_cache(maxsize=64)
def _callback_query(supervisor: bool, text: str | None, after: bool, limit: int) -> Select[Any]:
    """Pending callbacks, soonest first, each with its ticket's list row: one statement,
    where the callbacks and then their tickets were two."""
    query, holder, contact = _rows_query()
    callback = _CALLBACK.c
    by = _ANALYST.alias("scheduled_by")
    group: Table = SupportGroup.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
    category: Table = Category.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
    joined = (
        _CALLBACK.join(_TICKET, _T.id == callback.ticket_id)
        .outerjoin(by, by.c.id == callback.scheduled_by_id)
        .outerjoin(group, group.c.id == _T.group_id)
        .outerjoin(holder, holder.c.id == _T.assignee_id)
        .outerjoin(contact, contact.c.id == _T.contact_id)
        .outerjoin(category, category.c.id == _T.category_id)
    )
    # The list row first (``_public_fields`` reads it by position), the callback after it.
    statement = (
        select(*query.selected_columns, callback.id, callback.due_at, callback.reason, by.c.login)
        .select_from(joined)
        .where(callback.done_at.is_(None))
        .order_by(callback.due_at, callback.id)
        .limit(limit + 1)
    )
    for condition in (_callback_scope(supervisor), _text_condition(text) if text else None):
        if condition is not None:
            statement = statement.where(condition)
    if after:
        due = bindparam("k_due", type_=UTCDateTime())
        statement = statement.where(
            or_(
                callback.due_at > due, and_(callback.due_at == due, callback.id > bindparam("k_id"))
            )
        )
    return statement


def _callback_page(
    session: Session, actor: Actor, *, after: QueueKey | None, text: str | None, limit: int
) -> QueuePage:
    text_kind, params = _text_params(text)
    params |= _scope_params(actor)
    keyed = after is not None and after.due is not None
    if after is not None and keyed:
        params |= {"k_due": after.due, "k_id": after.id}
    query = _callback_query(actor.is_supervisor, text_kind, keyed, limit)
    found = session.connection().execute(query, params).all()
    more = len(found) > limit
    found = found[:limit]
    rows = []
    for row in found:
        callback_id, due_at, reason, by = row[-4:]
        rows.append(
            QueueRow(
                **_public_fields(row),
                callback_id=callback_id,
                callback_due_at=due_at,
                callback_reason=reason,
                callback_by=by,
            )
        )
    last = found[-1] if found else None
    return QueuePage(
        view=QueueView.CALLBACKS.value,
        rows=rows,
        next_after=QueueKey(due=last[-3], id=last[-4]) if more and last else None,
    )


@lru_cache(maxsize=64)
def _counts_query(shapes: tuple[tuple[str, tuple[_Shape, ...]], ...], supervisor: bool) -> Any:
    """Every tab's count in one statement (a scalar subquery each), each stopping at
    ``COUNT_CAP``: one round trip where there were five."""
    counts = []
    for view, view_shapes in shapes:
        if view == QueueView.CALLBACKS:
            query = (
                select(_CALLBACK.c.id)
                .select_from(_CALLBACK.join(_TICKET, _T.id == _CALLBACK.c.ticket_id))
                .where(_CALLBACK.c.done_at.is_(None))
            )
            scope = _callback_scope(supervisor)
            if scope is not None:
                query = query.where(scope)
        else:
            query = select(_T.id).where(
                or_(
                    *(
                        and_(*_conditions(shape, f"{view}{n}_"))
                        for n, shape in enumerate(view_shapes)
                    )
                )
            )
        capped = query.limit(COUNT_CAP).subquery(f"v_{view}")
        counts.append(select(func.count()).select_from(capped).scalar_subquery().label(view))
    return select(*counts)


def queue_counts(session: Session, actor: Actor) -> dict[str, int]:
    """How many tickets each view holds, counted up to ``COUNT_CAP``."""
    counts: dict[str, int] = {}
    shapes: list[tuple[str, tuple[_Shape, ...]]] = []
    params = _scope_params(actor)
    for view in views_for(actor):
        if view == QueueView.CALLBACKS:
            shapes.append((view.value, ()))
            continue
        parts = _partitions(actor, view)
        if not parts:
            counts[view.value] = 0
            continue
        shapes.append((view.value, tuple(part.shape for part in parts)))
        for n, part in enumerate(parts):
            params |= part.params(f"{view.value}{n}_")
    row = (
        session.connection()
        .execute(_counts_query(tuple(shapes), actor.is_supervisor), params)
        .one()
    )
    counts |= {view: int(row[n] or 0) for n, (view, _shapes) in enumerate(shapes)}
    return {view.value: counts[view.value] for view in views_for(actor)}


def latest_event_id(session: Session, actor: Actor) -> int:
    """The newest event of any ticket: a face polls this to know when to refresh.

    The primary key's index answers it at once on both databases.
    """
    return session.scalar(select(func.max(col(TicketEvent.id)))) or 0


def ticket_version(session: Session, actor: Actor, *, ticket_id: int) -> int | None:
    """The ticket's current version (None if it is gone): a screen showing one ticket reloads
    only when this moved, not on every change to the desk."""
    return session.scalar(select(col(Ticket.version)).where(col(Ticket.id) == ticket_id))
