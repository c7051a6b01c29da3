"""Saved views (issue 21): a named queue filter, shown as a tab of its own and listed by
``deskterm ticket list --view NAME``.

A view is an analyst's own, or shared with a group by a supervisor of that group. Its filter
(``ViewFilter``) is kept as JSON, by names (a group, a login, a category path) that are
looked up again at each read: a renamed group fails with a clear message rather than
silently showing another group's tickets.

Reading one is index-backed like the built-in tabs (``desk.views``): the filter's equalities
on group or holder, status and (where the order allows) priority make *partitions*, each an
equality on the leading columns of a queue index; each partition is read in index order after
the page's key, at most one page deep, and the partitions are merged in Python. What no index
column serves (category, SLA state, text, callbacks due, a group beside a holder) is a
residual condition the database applies to the rows it walks. No OFFSET, no count of the
whole table: counts stop at ``COUNT_CAP`` as the tabs' do.

Orders: ``queue`` (priority, resolution due, id) and ``due`` (resolution due, id) are the
indexes' own order within a partition; ``newest``/``oldest`` walk ids, which the primary key
serves (or the database sorts one partition's rows, as it judges cheaper).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlmodel import col

from deskterm.db.models import Analyst, Category, SavedView, SupportGroup
from deskterm.db.types import UTCDateTime
from deskterm.desk import clock
from deskterm.desk.rows import _statuses
from deskterm.desk.schemas import Public, TicketPublic
from deskterm.desk.views import (
    _CALLBACK,
    _OPEN,
    _T,
    COUNT_CAP,
    PAGE,
    QueueKey,
    QueuePage,
    _after,
    _conditions,
    _full_rows,
    _key_params,
    _Part,
    _Shape,
    _sort_key,
    _text_condition,
    _text_params,
)
from deskterm.domain.enums import Status
from deskterm.domain.errors import DeskError, InvalidInput, NotFound, PermissionDenied
from deskterm.domain.permissions import Actor
from deskterm.domain.priority import parse_priority
from deskterm.domain.text import clean_line
from deskterm.i18n import _

#: The orders a view may keep: the queue's, soonest resolution due, newest, oldest.
SORTS = ("queue", "due", "newest", "oldest")
#: SLA states a view may ask for: breached, due within some minutes, or neither.
SLA_STATES = ("breached", "due", "fine")
NAME_MAX = 40
TEXT_MAX = 100
#: The tab of a saved view is keyed by this and the view's id (``saved-12``).
KEY_PREFIX = "saved-"
_PRIORITIES = (1, 2, 3, 4, 5)
#: Partitions by category (sub-categories times statuses) at most; more: the groups' or the
#: statuses' index leads, and the category filters while walking.
_MANY = 40
_ANY_STATUS = tuple(s.value for s in Status)


class ViewFilter(Public):
    """What a saved view shows. Empty fields do not filter."""

    #: Status values; empty: every open status.
    statuses: tuple[str, ...] = ()
    #: A group's name, or ``mine``: the groups of whoever reads the view.
    group: str | None = None
    #: A login, ``me`` (whoever reads the view) or ``nobody``.
    assignee: str | None = None
    priorities: tuple[int, ...] = ()
    #: A category's path; its sub-categories are in too.
    category: str | None = None
    #: ``breached``, ``due`` (within ``due_within`` minutes) or ``fine`` (neither breached
    #: nor at its warning time, or paused).
    sla: str | None = None
    due_within: int | None = None
    #: As the filter as you type: a reference, or a piece of subject, caller or holder.
    text: str | None = None
    #: Only tickets with a callback that has come due.
    callbacks_due: bool = False
    sort: str = "queue"


class SavedViewPublic(Public):
    id: int
    name: str
    #: The owner's login for a personal view; None for a shared one.
    owner: str | None = None
    #: The group a supervisor shared it with; None for a personal view.
    group: str | None = None
    filter: ViewFilter
    position: int = 0
    created_by: str | None = None
    created_at: datetime
    #: Whether the analyst reading it may rename or delete it.
    can_change: bool = False

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}{self.id}"


class SavedViewCount(Public):
    view: SavedViewPublic
    #: Tickets it holds, counted up to ``COUNT_CAP``; None when it cannot be read now (its
    #: group or holder is gone).
    count: int | None = None
    problem: str | None = None


# --------------------------------------------------------------------------- the filter

_DURATION = re.compile(r"^(\d{1,5})\s*([mhd]?)$")


def _minutes(text: str) -> int:
    found = _DURATION.match(text.strip().lower())
    if not found or int(found.group(1)) == 0:
        raise InvalidInput(
            _("{text!r} is not a time: use minutes (30m), hours (4h) or days (2d)").format(
                text=text
            ),
            field="sla",
        )
    number, unit = int(found.group(1)), found.group(2) or "m"
    return number * {"m": 1, "h": 60, "d": 1440}[unit]


def parse_priorities(text: str) -> tuple[int, ...]:
    """``P1``, ``P1-P2``, ``1,3`` or ``P2..P4`` as the priorities they name."""
    wanted: set[int] = set()
    for piece in clean_line(text).replace("..", "-").split(","):
        piece = piece.strip()
        if not piece:
            continue
        low, dash, high = piece.partition("-")
        if dash:
            first, last = parse_priority(low), parse_priority(high)
            if first > last:
                first, last = last, first
            wanted |= set(range(first, last + 1))
        else:
            wanted.add(parse_priority(piece))
    if not wanted:
        raise InvalidInput(_("no priority given: use e.g. P1, P1-P2 or 1,3"), field="priority")
    return tuple(sorted(wanted))


def make_filter(
    *,
    statuses: Sequence[str] = (),
    group: str | None = None,
    assignee: str | None = None,
    priority: str | None = None,
    category: str | None = None,
    sla: str | None = None,
    text: str | None = None,
    callbacks_due: bool = False,
    sort: str | None = None,
) -> ViewFilter:
    """A filter from what an analyst typed, each part checked with a message that says what
    is allowed. Names are checked against the desk when the view is saved."""
    wanted: tuple[str, ...] = ()
    if statuses:
        found = _statuses(statuses)
        wanted = _ANY_STATUS if found is None else tuple(s for s in _ANY_STATUS if s in found)
        if wanted == _OPEN:
            wanted = ()
    holder = clean_line(assignee).lower() or None
    if holder == "none":
        holder = "nobody"
    state, within = None, None
    if sla:
        word, _colon, rest = clean_line(sla).lower().replace(" ", ":", 1).partition(":")
        if word not in SLA_STATES:
            raise InvalidInput(
                _("unknown SLA state {sla!r}: use breached, fine or due:4h").format(sla=sla),
                field="sla",
            )
        state = word
        if word == "due":
            if not rest:
                raise InvalidInput(
                    _("say how soon: due:30m, due:4h or due:2d"),
                    field="sla",
                )
            within = _minutes(rest)
        elif rest:
            raise InvalidInput(
                _("only 'due' takes a time (due:4h), not {sla!r}").format(sla=sla), field="sla"
            )
    words = clean_line(text) or None
    if words is not None and len(words) > TEXT_MAX:
        raise InvalidInput(
            _("the text is longer than {most} characters").format(most=TEXT_MAX), field="text"
        )
    order = (clean_line(sort).lower() or "queue") if sort is not None else "queue"
    if order == "urgent":
        order = "queue"
    if order not in SORTS:
        raise InvalidInput(
            _("unknown sort {sort!r}: use queue, due, newest or oldest").format(sort=sort),
            field="sort",
        )
    return ViewFilter(
        statuses=wanted,
        group=clean_line(group) or None,
        assignee=holder,
        priorities=parse_priorities(priority) if priority and priority.strip() else (),
        category=clean_line(category) or None,
        sla=state,
        due_within=within,
        text=words,
        callbacks_due=callbacks_due,
        sort=order,
    )


def describe(view: ViewFilter) -> str:
    """The filter in a few words, for ``deskterm view list``."""
    parts: list[str] = []
    if view.statuses:
        parts.append(_("status {statuses}").format(statuses=",".join(view.statuses)))
    if view.group:
        parts.append(
            _("my groups") if view.group == "mine" else _("group {name}").format(name=view.group)
        )
    if view.assignee:
        parts.append(_("holder {who}").format(who=view.assignee))
    if view.priorities:
        parts.append(",".join(f"P{p}" for p in view.priorities))
    if view.category:
        parts.append(_("category {path}").format(path=view.category))
    if view.sla == "due":
        parts.append(_("due within {minutes} min").format(minutes=view.due_within))
    elif view.sla == "breached":
        parts.append(_("breached"))
    elif view.sla == "fine":
        parts.append(_("SLA fine"))
    if view.text:
        parts.append(_("text “{text}”").format(text=view.text))
    if view.callbacks_due:
        parts.append(_("callbacks due"))
    if view.sort != "queue":
        parts.append(_("sort {sort}").format(sort=view.sort))
    return " · ".join(parts) or _("every open ticket")


# --------------------------------------------------------------------------- resolving


@dataclass(frozen=True)
class _Residual:
    """The conditions no index column serves: what a read's statement depends on beyond its
    partitions (the values travel as parameters)."""

    groups: bool = False
    priorities: bool = False
    categories: bool = False
    sla: str | None = None
    callbacks: bool = False
    #: The kind (``ref``/``text``) of the view's own text, and of the text typed over it.
    text: str | None = None
    typed: str | None = None


@dataclass
class _Plan:
    parts: list[_Part]
    residual: _Residual
    #: The residual's parameters, named without their prefix.
    params: dict[str, Any]
    sort: str


def _group_ids(session: Session, actor: Actor, name: str | None) -> list[int] | None:
    if name is None:
        return None
    if name.lower() == "mine":
        return sorted(actor.group_ids)
    from deskterm.desk.lookups import group_by_name

    group = group_by_name(session, name)
    assert group.id is not None
    return [group.id]


def _category_ids(session: Session, path: str) -> list[int]:
    from deskterm.desk.lookups import category_by_path

    found = category_by_path(session, path)
    below = f"{found.path.lower()} > %"
    return sorted(
        session.scalars(
            select(col(Category.id)).where(
                or_(col(Category.id) == found.id, func.lower(col(Category.path)).like(below))
            )
        )
    )


def _plan(session: Session, actor: Actor, view: ViewFilter, typed: str | None) -> _Plan:
    """The partitions and residual conditions of ``view`` for this analyst now."""
    statuses = view.statuses or _OPEN
    groups = _group_ids(session, actor, view.group)
    holder_id: int | None = None
    nobody = view.assignee == "nobody"
    if view.assignee == "me":
        if actor.id is None:
            raise InvalidInput(_("'me' means an analyst; the system has no tickets"), field="view")
        holder_id = actor.id
    elif view.assignee and not nobody:
        from deskterm.desk.lookups import analyst_by_login

        holder_id = analyst_by_login(session, view.assignee).id
    # Priority as a partition column keeps the order of (due, id) inside each partition,
    # which both the queue order and "soonest due" merge on.
    by_priority = view.sort == "due" or (view.sort == "queue" and bool(view.priorities))
    priorities = view.priorities or _PRIORITIES
    params: dict[str, Any] = {}
    residual: dict[str, Any] = {}
    bases: list[tuple[tuple[str, Any], ...]]
    categories = _category_ids(session, view.category) if view.category else None
    # The narrowest index the filter names leads: the holder's, the category's (unless its
    # subtree would make too many partitions), the groups', else the statuses'.
    by_category = categories is not None and len(categories) * len(statuses) <= _MANY
    if holder_id is not None:
        bases = [(("assignee_id", holder_id), ("status", s)) for s in statuses]
    elif by_category and categories is not None:
        bases = [(("category_id", c), ("status", s)) for c in categories for s in statuses]
    elif groups is not None:
        bases = [(("group_id", g), ("status", s)) for g in groups for s in statuses]
    else:
        bases = [(("status", s),) for s in statuses]
    if groups is not None and (holder_id is not None or by_category):
        residual["groups"], params["groups"] = True, groups
    if categories is not None and not (by_category and holder_id is None):
        residual["categories"], params["categories"] = True, categories
    if by_priority:
        bases = [(*base, ("priority", p)) for base in bases for p in priorities]
    elif view.priorities:
        residual["priorities"], params["priorities"] = True, list(view.priorities)
    parts = [_Part(base, holderless=nobody) for base in bases]
    now = clock.now()
    if view.sla:
        residual["sla"] = view.sla
        params["now"] = now
        if view.sla == "due":
            params["until"] = now + timedelta(minutes=view.due_within or 60)
    if view.callbacks_due:
        residual["callbacks"], params["now"] = True, now
    kind, text_params = _text_params(view.text, "text_")
    residual["text"] = kind
    params |= text_params
    kind, text_params = _text_params(typed, "typed_")
    residual["typed"] = kind
    params |= text_params
    return _Plan(parts, _Residual(**residual), params, view.sort)


@cache
def _residual_conditions(residual: _Residual, prefix: str) -> tuple[ColumnElement[bool], ...]:
    conditions: list[ColumnElement[bool]] = []
    if residual.groups:
        conditions.append(_T.group_id.in_(bindparam(f"{prefix}groups", expanding=True)))
    if residual.priorities:
        conditions.append(_T.priority.in_(bindparam(f"{prefix}priorities", expanding=True)))
    if residual.categories:
        conditions.append(_T.category_id.in_(bindparam(f"{prefix}categories", expanding=True)))
    now = bindparam(f"{prefix}now", type_=UTCDateTime())
    due, paused = _T.resolve_due_at, _T.sla_paused_at
    if residual.sla == "breached":
        conditions.append(and_(due <= now, paused.is_(None)))
    elif residual.sla == "due":
        until = bindparam(f"{prefix}until", type_=UTCDateTime())
        conditions.append(and_(due > now, due <= until, paused.is_(None)))
    elif residual.sla == "fine":
        warn = _T.resolve_warn_at
        conditions.append(
            or_(
                paused.is_not(None),
                due.is_(None),
                and_(due > now, or_(warn.is_(None), warn > now)),
            )
        )
    if residual.callbacks:
        callback = _CALLBACK.c
        conditions.append(
            exists()
            .where(callback.ticket_id == _T.id)
            .where(callback.done_at.is_(None))
            .where(callback.due_at <= now)
        )
    if residual.text is not None:
        conditions.append(_text_condition(residual.text, f"{prefix}text_"))
    if residual.typed is not None:
        conditions.append(_text_condition(residual.typed, f"{prefix}typed_"))
    return tuple(conditions)


def _prefixed(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {f"{prefix}{name}": value for name, value in params.items()}


# --------------------------------------------------------------------------- pages

_Row = tuple[int, datetime | None, int]


@cache
def _after_due(kind: str, nulls_first: bool) -> ColumnElement[bool]:
    """Rows strictly after the key in (resolve_due_at, id) order, NULLs where the database
    puts them (see ``views._after``)."""
    due, ticket_id = _T.resolve_due_at, _T.id
    after_id = ticket_id > bindparam("k_id")
    if kind == "no_due":
        if nulls_first:
            return or_(due.is_not(None), and_(due.is_(None), after_id))
        return and_(due.is_(None), after_id)
    key_due = bindparam("k_due", type_=UTCDateTime())
    rest = or_(due > key_due, and_(due == key_due, after_id))
    return rest if nulls_first else or_(rest, due.is_(None))


def _order(sort: str) -> list[Any]:
    if sort == "queue":
        return [_T.priority, _T.resolve_due_at, _T.id]
    if sort == "due":
        return [_T.resolve_due_at, _T.id]
    if sort == "newest":
        return [_T.id.desc()]
    return [_T.id]


def _keyset(sort: str, key: str | None, nulls_first: bool) -> ColumnElement[bool] | None:
    if key is None:
        return None
    if sort == "queue":
        return _after(key, nulls_first)
    if sort == "due":
        return _after_due(key, nulls_first)
    if sort == "newest":
        return _T.id < bindparam("k_id")
    return _T.id > bindparam("k_id")


@lru_cache(maxsize=256)
def _partition_query(
    shape: _Shape, residual: _Residual, sort: str, key: str | None, nulls_first: bool, limit: int
) -> Select[Any]:
    query = select(_T.priority, _T.resolve_due_at, _T.id).where(
        *_conditions(shape, "p_"), *_residual_conditions(residual, "r_")
    )
    after = _keyset(sort, key, nulls_first)
    if after is not None:
        query = query.where(after)
    return query.order_by(*_order(sort)).limit(limit)


def _merge_key(sort: str, nulls_first: bool) -> Callable[[_Row], Any]:
    if sort == "queue":
        queue_key: Callable[[_Row], Any] = _sort_key(nulls_first)
        return queue_key

    def due_key(row: _Row) -> tuple[int, datetime, int]:
        _priority, due, ticket_id = row
        missing = due is None
        rank = (0 if missing else 1) if nulls_first else (1 if missing else 0)
        return (rank, due if due is not None else datetime.min, ticket_id)

    if sort == "due":
        return due_key
    if sort == "newest":
        return lambda row: -row[2]
    return lambda row: row[2]


def _walk(session: Session, plan: _Plan, *, after: QueueKey | None, limit: int) -> list[_Row]:
    nulls_first = session.get_bind().dialect.name == "sqlite"
    key_kind: str | None
    key_params: dict[str, Any] = {}
    if after is None:
        key_kind = None
    elif plan.sort in ("queue", "due"):
        key_kind, key_params = _key_params(after)
    else:
        key_kind, key_params = "id", {"k_id": after.id}
    params = {**key_params, **_prefixed(plan.params, "r_")}
    connection = session.connection()
    streams = []
    for part in plan.parts:
        query = _partition_query(part.shape, plan.residual, plan.sort, key_kind, nulls_first, limit)
        streams.append(connection.execute(query, {**params, **part.params("p_")}).all())
    seen: set[int] = set()
    merged: list[_Row] = []
    for row in heapq.merge(*streams, key=_merge_key(plan.sort, nulls_first)):
        if row[2] in seen:
            continue
        seen.add(row[2])
        merged.append(row)
        if len(merged) == limit:
            break
    return merged


def saved_view_page(
    session: Session,
    actor: Actor,
    *,
    view: int | str,
    after: QueueKey | None = None,
    text: str | None = None,
    limit: int = PAGE,
) -> QueuePage:
    """One page of a saved view (its id or name) in its order; ``text``: the filter typed
    over it, applied with the view's own conditions."""
    if not 1 <= limit <= 500:
        raise InvalidInput(
            _("limit must be between 1 and 500, not {limit}").format(limit=limit), field="limit"
        )
    found = _find(session, actor, view)
    plan = _plan(session, actor, ViewFilter.model_validate(found.filter), text)
    keys = _walk(session, plan, after=after, limit=limit + 1)
    more = len(keys) > limit
    keys = keys[:limit]
    rows = _full_rows(session, [k[2] for k in keys])
    last = keys[-1] if keys and more else None
    return QueuePage(
        view=f"{KEY_PREFIX}{found.id}",
        rows=[rows[k[2]] for k in keys if k[2] in rows],
        next_after=None if last is None else QueueKey(priority=last[0], due=last[1], id=last[2]),
    )


# --------------------------------------------------------------------------- counts


@lru_cache(maxsize=64)
def _counts_query(shapes: tuple[tuple[str, tuple[_Shape, ...], _Residual], ...]) -> Any:
    """Every saved view's count in one statement, each stopping at ``COUNT_CAP``."""
    counts = []
    for name, view_shapes, residual in shapes:
        query = select(_T.id).where(
            or_(*(and_(*_conditions(shape, f"{name}{n}_")) for n, shape in enumerate(view_shapes))),
            *_residual_conditions(residual, f"{name}r_"),
        )
        capped = query.limit(COUNT_CAP).subquery(f"v_{name}")
        counts.append(select(func.count()).select_from(capped).scalar_subquery().label(name))
    return select(*counts)


def saved_view_counts(
    session: Session, actor: Actor, *, views: Sequence[SavedViewPublic] | None = None
) -> list[SavedViewCount]:
    """How many tickets each saved view holds (``views``: those the analyst sees), up to
    ``COUNT_CAP``, in one statement. A view that cannot be read now (its group is gone) has
    no count and says why; the others are counted all the same."""
    shown = list_views(session, actor) if views is None else list(views)
    results: dict[int, SavedViewCount] = {}
    shapes: list[tuple[str, tuple[_Shape, ...], _Residual]] = []
    params: dict[str, Any] = {}
    for saved in shown:
        try:
            plan = _plan(session, actor, saved.filter, None)
        except DeskError as exc:
            results[saved.id] = SavedViewCount(view=saved, problem=str(exc))
            continue
        if not plan.parts:
            results[saved.id] = SavedViewCount(view=saved, count=0)
            continue
        name = f"s{saved.id}_"
        shapes.append((name, tuple(p.shape for p in plan.parts), plan.residual))
        for n, part in enumerate(plan.parts):
            params |= part.params(f"{name}{n}_")
        params |= _prefixed(plan.params, f"{name}r_")
    if shapes:
        row = session.connection().execute(_counts_query(tuple(shapes)), params).one()
        by_name = {name: int(row[n] or 0) for n, (name, _s, _r) in enumerate(shapes)}
        for saved in shown:
            if f"s{saved.id}_" in by_name:
                results[saved.id] = SavedViewCount(view=saved, count=by_name[f"s{saved.id}_"])
    return [results[saved.id] for saved in shown]


def saved_view_tabs(session: Session, actor: Actor) -> tuple[list[SavedViewPublic], dict[str, int]]:
    """The saved views' tabs in order, and their counts keyed as the tabs are
    (``saved-12``); a view that cannot be read now has a tab without a count."""
    counted = saved_view_counts(session, actor)
    return [c.view for c in counted], {c.view.key: c.count for c in counted if c.count is not None}


# --------------------------------------------------------------------------- keeping them


def _may_change(actor: Actor, row: SavedView) -> bool:
    """Its owner changes a personal view; a supervisor of the group a shared one."""
    try:
        if row.owner_id is not None:
            return actor.id is not None and row.owner_id == actor.id
        if row.group_id is None or not actor.is_supervisor:
            return False
        return actor.is_admin or row.group_id in actor.group_ids
    except Exception:  # a permission check fails closed
        return False


def _visible(actor: Actor) -> ColumnElement[bool]:
    mine = col(SavedView.owner_id) == actor.id if actor.id is not None else None
    shared = col(SavedView.group_id).in_(sorted(actor.group_ids))
    return shared if mine is None else or_(mine, shared)


def _public(session: Session, actor: Actor, rows: Sequence[SavedView]) -> list[SavedViewPublic]:
    if not rows:
        # Most analysts keep none: every tab count reload asks, and pays one query for it.
        return []
    analyst_ids = {r.owner_id for r in rows} | {r.created_by_id for r in rows}
    logins = dict(
        session.execute(
            select(col(Analyst.id), col(Analyst.login)).where(
                col(Analyst.id).in_([a for a in analyst_ids if a is not None])
            )
        ).all()
    )
    group_ids = {r.group_id for r in rows if r.group_id is not None}
    groups = dict(
        session.execute(
            select(col(SupportGroup.id), col(SupportGroup.name)).where(
                col(SupportGroup.id).in_(sorted(group_ids))
            )
        ).all()
    )
    return [
        SavedViewPublic(
            id=r.id or 0,
            name=r.name,
            owner=logins.get(r.owner_id) if r.owner_id is not None else None,
            group=groups.get(r.group_id) if r.group_id is not None else None,
            filter=ViewFilter.model_validate(r.filter),
            position=r.position,
            created_by=logins.get(r.created_by_id) if r.created_by_id is not None else None,
            created_at=r.created_at,
            can_change=_may_change(actor, r),
        )
        for r in rows
    ]


def list_views(session: Session, actor: Actor) -> list[SavedViewPublic]:
    """The analyst's own views, then those shared with their groups, each in tab order."""
    rows = session.scalars(
        select(SavedView)
        .where(_visible(actor))
        .order_by(
            col(SavedView.owner_id).is_(None),
            col(SavedView.group_id),
            col(SavedView.position),
            col(SavedView.id),
        )
    ).all()
    return _public(session, actor, rows)


def _find(session: Session, actor: Actor, view: int | str) -> SavedView:
    """A view this analyst sees, by id or name (their own first). One they cannot see is
    not found, as if it did not exist."""
    if isinstance(view, int):
        row = session.scalars(
            select(SavedView).where(col(SavedView.id) == view, _visible(actor))
        ).first()
        if row is None:
            raise NotFound(_("no saved view #{id}").format(id=view))
        return row
    wanted = clean_line(view).lower()
    rows = session.scalars(
        select(SavedView)
        .where(func.lower(col(SavedView.name)) == wanted, _visible(actor))
        .order_by(col(SavedView.owner_id).is_(None), col(SavedView.id))
    ).all()
    if not rows:
        raise NotFound(
            _("no saved view named {name!r} (see `deskterm view list`)").format(name=view)
        )
    if rows[0].owner_id is None and len(rows) > 1:
        raise InvalidInput(
            _(
                "several of your groups share a view named {name!r}: ask a supervisor to rename one"
            ).format(name=view),
            field="view",
        )
    return rows[0]


def _check_name(name: str) -> str:
    cleaned = clean_line(name)
    if not cleaned:
        raise InvalidInput(_("give the view a name"), field="name")
    if len(cleaned) > NAME_MAX:
        raise InvalidInput(
            _("a view's name has at most {most} characters").format(most=NAME_MAX), field="name"
        )
    if cleaned.isdigit():
        # A number would read as a view's id (and a tab's key) wherever views are named.
        raise InvalidInput(_("a view's name must not be only digits"), field="name")
    return cleaned


def _check_unique(
    session: Session, name: str, *, owner_id: int | None, group_id: int | None, skip: int | None
) -> None:
    home = (
        col(SavedView.owner_id) == owner_id
        if owner_id is not None
        else col(SavedView.group_id) == group_id
    )
    query = select(col(SavedView.id)).where(home, func.lower(col(SavedView.name)) == name.lower())
    if skip is not None:
        query = query.where(col(SavedView.id) != skip)
    if session.scalars(query).first() is not None:
        raise InvalidInput(
            _("there is already a view named {name!r}").format(name=name), field="name"
        )


def create_view(
    session: Session,
    actor: Actor,
    *,
    name: str,
    view_filter: ViewFilter,
    share_with: str | None = None,
) -> SavedViewPublic:
    """Save ``view_filter`` as a view: the analyst's own, or (a supervisor) shared with one of
    their groups. Its names are checked against the desk now."""
    cleaned = _check_name(name)
    owner_id: int | None = actor.id
    group_id: int | None = None
    if share_with and clean_line(share_with):
        from deskterm.desk.lookups import group_by_name

        group = group_by_name(session, share_with)
        if not actor.is_supervisor or not (actor.is_admin or group.id in actor.group_ids):
            raise PermissionDenied(
                _("only a supervisor of {group} shares views with it").format(group=group.name)
            )
        owner_id, group_id = None, group.id
    elif owner_id is None:
        raise InvalidInput(_("the system keeps no views of its own: share it with a group"))
    _plan(session, actor, view_filter, None)  # unknown group, login or category: said now
    _check_unique(session, cleaned, owner_id=owner_id, group_id=group_id, skip=None)
    home = (
        col(SavedView.owner_id) == owner_id
        if owner_id is not None
        else col(SavedView.group_id) == group_id
    )
    last = session.scalar(select(func.max(col(SavedView.position))).where(home))
    row = SavedView(
        name=cleaned,
        owner_id=owner_id,
        group_id=group_id,
        filter=view_filter.model_dump(mode="json"),
        position=(last or 0) + 1,
        created_by_id=actor.id,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return _public(session, actor, [row])[0]


def _changeable(session: Session, actor: Actor, view: int | str) -> SavedView:
    row = _find(session, actor, view)
    if not _may_change(actor, row):
        if row.owner_id is not None:
            raise PermissionDenied(_("only its owner changes a personal view"))
        raise PermissionDenied(_("only a supervisor of its group changes a shared view"))
    return row


def rename_view(session: Session, actor: Actor, *, view: int | str, name: str) -> SavedViewPublic:
    row = _changeable(session, actor, view)
    cleaned = _check_name(name)
    _check_unique(session, cleaned, owner_id=row.owner_id, group_id=row.group_id, skip=row.id)
    row.name = cleaned
    session.add(row)
    session.flush()
    return _public(session, actor, [row])[0]


def delete_view(session: Session, actor: Actor, *, view: int | str) -> SavedViewPublic:
    row = _changeable(session, actor, view)
    gone = _public(session, actor, [row])[0]
    session.delete(row)
    session.flush()
    return gone


def saved_view_rows(
    session: Session, actor: Actor, *, view: int | str, limit: int = 50
) -> list[TicketPublic]:
    """The first ``limit`` tickets of a saved view in its order (``deskterm ticket list
    --view``): the rows its tab shows, page after page."""
    if not 1 <= limit <= 1000:
        raise InvalidInput(
            _("limit must be between 1 and 1000, not {limit}").format(limit=limit), field="limit"
        )
    rows: list[TicketPublic] = []
    after: QueueKey | None = None
    while len(rows) < limit:
        page = saved_view_page(session, actor, view=view, after=after, limit=min(500, limit))
        rows += [TicketPublic(**row.model_dump(include=_TICKET_FIELDS)) for row in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    return rows[:limit]


#: A queue row's fields that a ticket list has (a saved view's rows carry no callback).
_TICKET_FIELDS = set(TicketPublic.model_fields)
