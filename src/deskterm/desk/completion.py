"""What a shell offers when an analyst presses Tab: ticket refs, logins, group names,
category paths and contact names, from the desk, one small query each.

Each reader takes what was typed so far and returns at most ``limit`` (value, help) pairs
in the order they are offered. The queries stay on indexes (a primary key range, a unique
column) so that a Tab on a desk of a million tickets answers as fast as on a demo desk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, and_, literal, or_, select
from sqlalchemy.orm import Session

from deskterm.db.models import Analyst, Category, Contact, SupportGroup, Ticket
from deskterm.domain.enums import OPEN_STATUSES
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import PREFIX, format_ref

#: Candidates offered at most: a shell shows no more than a screenful usefully.
LIMIT = 30
#: Digits a ref's number is padded to (``format_ref``); longer numbers are not padded.
_PAD = 6
#: The most digits a ref's number has (ids are BIGINT at most; refs.py reads 12).
_DIGITS_MAX = 12
#: Sorts after every character a name holds: ``name >= p AND name < p + _TOP`` is "starts
#: with p" as an index range.
_TOP = "\U0010ffff"

Pair = tuple[str, str]


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _id_ranges(digits: str) -> list[tuple[int, int]]:
    """The ticket ids whose ref number (``000123`` or ``1234567``) starts with ``digits``,
    as half-open ranges: one for the padded numbers, one per longer length."""
    if not digits:
        return [(1, 10**_DIGITS_MAX)]
    k, first = len(digits), int(digits)
    ranges = []
    if k <= _PAD:
        ranges.append(
            (max(first * 10 ** (_PAD - k), 1), min((first + 1) * 10 ** (_PAD - k), 10**_PAD))
        )
    if not digits.startswith("0"):
        for length in range(max(_PAD + 1, k), _DIGITS_MAX + 1):
            ranges.append((first * 10 ** (length - k), (first + 1) * 10 ** (length - k)))
    return [(low, high) for low, high in ranges if low < high]


def _ref_digits(typed: str) -> str | None:
    """The digits of a ref being typed (``DT-0001`` -> ``0001``, ``dt`` -> ``""``), or None
    when what is typed cannot become a ref."""
    head = f"{PREFIX}-"
    upper = typed.upper()
    if len(upper) <= len(head):
        return "" if head.startswith(upper) else None
    if not upper.startswith(head):
        return None
    digits = upper[len(head) :]
    return digits if digits.isascii() and digits.isdigit() else None


def _one_line(text: str | None, width: int = 60) -> str:
    """A help text a shell may show (zsh evaluates the lines it is given, fish splits them
    at tabs): letters, digits, spaces and a little punctuation only, cut short."""
    kept = "".join(c if c.isalnum() or c in " .,-_/#+@" else " " for c in text or "")
    said = " ".join(kept.split())
    return said if len(said) <= width else said[: width - 1] + "…"


def open_refs(session: Session, typed: str, limit: int) -> list[Pair]:
    """Open tickets whose ref starts with ``typed``, the most recent first."""
    digits = _ref_digits(typed)
    if digits is None:
        return []
    t = _table(Ticket).c
    ranges = _id_ranges(digits)
    query = (
        select(t.id, t.subject)
        # `status || ''`: no index on status for the planner to pick, so it walks the
        # primary key down from the newest ticket and stops at the limit. Picking the queue
        # index instead read and sorted every open ticket (270 ms at 1M tickets, 50k open;
        # 5 ms this way).
        .where((t.status + literal("")).in_(sorted(OPEN_STATUSES)))
        .where(or_(*(and_(t.id >= low, t.id < high) for low, high in ranges)))
        .order_by(t.id.desc())
        .limit(limit)
    )
    return [(format_ref(row.id), _one_line(row.subject)) for row in session.execute(query)]


def logins(session: Session, typed: str, limit: int) -> list[Pair]:
    """Active analysts whose login starts with ``typed``, by login."""
    a = _table(Analyst).c
    start = typed.strip().lower()
    query = (
        select(a.login, a.name)
        .where(a.active.is_(True), a.login >= start, a.login < start + _TOP)
        .order_by(a.login)
        .limit(limit)
    )
    return [(row.login, _one_line(row.name)) for row in session.execute(query)]


def groups(session: Session, typed: str, limit: int) -> list[Pair]:
    """Groups whose name starts with ``typed`` (any case), by name: a desk has a few."""
    g = _table(SupportGroup).c
    start = typed.casefold()
    rows = session.execute(select(g.name, g.level).order_by(g.name)).all()
    return [(r.name, f"L{r.level}") for r in rows if r.name.casefold().startswith(start)][:limit]


def categories(session: Session, typed: str, limit: int) -> list[Pair]:
    """Category paths (``Hardware > Printer``) starting with ``typed`` (any case)."""
    c = _table(Category).c
    start = typed.casefold()
    rows = session.execute(select(c.path).order_by(c.path)).scalars()
    return [(path, "") for path in rows if path.casefold().startswith(start)][:limit]


def contacts(session: Session, typed: str, limit: int) -> list[Pair]:
    """Contacts whose name starts with ``typed`` (two letters at least: a desk may hold
    many thousands), by name."""
    start = " ".join(typed.split()).lower()
    if len(start) < 2:
        return []
    c = _table(Contact).c
    query = (
        select(c.id, c.name, c.name_lower)
        .where(c.name_lower >= start, c.name_lower < start + _TOP)
        .order_by(c.name_lower, c.id)
        .limit(limit)
    )
    return [
        (row.name, f"#{row.id}")
        for row in session.execute(query)
        if row.name_lower.startswith(start)
    ]


READERS: dict[str, Callable[[Session, str, int], list[Pair]]] = {
    "ref": open_refs,
    "login": logins,
    "group": groups,
    "category": categories,
    "contact": contacts,
}


def candidates(
    session: Session, actor: Actor, *, kind: str, typed: str, limit: int = LIMIT
) -> list[Pair]:
    """What to offer for a ``kind`` of value: only to an active analyst of this desk (the
    actor was loaded, so they are one), and what they may list anyway."""
    del actor  # every analyst lists tickets, analysts, groups, categories and contacts
    return READERS[kind](session, typed, limit)
