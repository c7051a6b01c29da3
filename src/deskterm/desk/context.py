"""The desk as a face sees it: one call per user action, one transaction per call.

Faces never open sessions themselves: they call ``desk.read(fn, ...)`` or
``desk.write(fn, ...)`` with a use-case function whose first two parameters are the session
and the acting analyst. The actor is loaded afresh inside each transaction, so a role or group
change takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Select, Table, bindparam, func, select
from sqlalchemy.orm import Session

from deskterm.db.engine import Database
from deskterm.db.models import Analyst, AnalystGroup, SupportGroup
from deskterm.domain.enums import Availability, Role
from deskterm.domain.errors import UnknownActor, UnknownAnalyst
from deskterm.domain.permissions import SYSTEM, Actor, Seat
from deskterm.i18n import _

P = ParamSpec("P")
R = TypeVar("R")

UseCase = Callable[Concatenate[Session, Actor, P], R]
BootstrapCase = Callable[Concatenate[Session, "Actor | None", P], R]


@cache
def _actor_query() -> Select[Any]:
    # The analyst and their groups in one statement: every desk call starts here, and on
    # PostgreSQL each statement is a round trip. Built once, and as plain columns of the
    # tables: an Analyst ORM object per call cost more than the statement itself. The
    # groups' names and levels, and whether the analyst is away, come along: "pull next"
    # read the names again, every ticket of an intake looked up the first group and the
    # analyst, and handing a ticket on read its holder, a round trip each.
    analyst: Table = Analyst.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
    member: Table = AnalystGroup.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
    group: Table = SupportGroup.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
    a, g = analyst.c, group.c
    return (
        select(
            a.id,
            a.login,
            a.name,
            a.role,
            a.level,
            a.active,
            a.availability,
            a.language,
            member.c.group_id,
            g.name.label("group_name"),
            g.level.label("group_level"),
        )
        .select_from(analyst)
        .outerjoin(member, member.c.analyst_id == a.id)
        .outerjoin(group, g.id == member.c.group_id)
        .where(a.login == bindparam("login"))
        # The groups in the order the desk names them everywhere (the database's collation).
        .order_by(g.name)
    )


def load_actor(session: Session, login: str) -> Actor:
    login = login.strip().lower()
    rows = session.execute(_actor_query(), {"login": login}).all()
    analyst = rows[0] if rows else None
    if analyst is None or not analyst.active:
        known = session.scalar(select(func.count()).select_from(Analyst)) or 0
        if not known:
            raise UnknownActor(
                _(
                    "this desk has no analysts yet: create the first one with "
                    "`deskterm analyst add LOGIN --name NAME` (it becomes an admin), "
                    "or try a demo desk with `deskterm demo`"
                )
            )
        if analyst is None:
            said = _("{login!r} is not an analyst of this desk (use --as LOGIN or DESKTERM_USER)")
        else:
            said = _("{login!r} is deactivated (use --as LOGIN or DESKTERM_USER)")
        # Exit 3, like any refusal of who may act: an unknown login is not a missing record.
        raise UnknownActor(said.format(login=login))
    seats = tuple(
        Seat(id=row.group_id, name=row.group_name, level=row.group_level)
        for row in rows
        if row.group_id is not None
    )
    return Actor(
        id=analyst.id,
        login=analyst.login,
        name=analyst.name,
        role=Role(analyst.role),
        level=analyst.level,
        group_ids=frozenset(seat.id for seat in seats),
        seats=seats,
        away=analyst.availability == Availability.AWAY,
        language=analyst.language,
    )


class Desk:
    """A database and the analyst acting on it (``None`` login: the ``system`` actor)."""

    def __init__(self, db: Database, login: str | None) -> None:
        self.db = db
        self.login = login

    def _actor(self, session: Session) -> Actor:
        return SYSTEM if self.login is None else load_actor(session, self.login)

    def read(self, fn: UseCase[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.db.read() as session:
            return fn(session, self._actor(session), *args, **kwargs)

    def write(self, fn: UseCase[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.db.write() as session:
            return fn(session, self._actor(session), *args, **kwargs)

    def bootstrap(self, fn: BootstrapCase[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Like ``write``, but an unknown login on a desk with no analysts passes as ``None``."""
        with self.db.write() as session:
            try:
                actor: Actor | None = self._actor(session)
            except UnknownAnalyst:
                if session.scalar(select(func.count()).select_from(Analyst)):
                    raise
                actor = None
            return fn(session, actor, *args, **kwargs)

    def whoami(self) -> Actor:
        return self.read(lambda _session, actor: actor)
