"""Who else has a ticket open: one row per app session and ticket, kept fresh by a heartbeat.

Presence is not a ticket action: it is never written to the ticket log and never bumps the
ticket's version. A row not refreshed for ``STALE_AFTER`` is someone whose terminal went away
(a crash, a dropped SSH session): it is ignored at once and deleted by the next heartbeat of
anyone, so nothing has to clean up after a terminal that never said goodbye.

On PostgreSQL a change others should see at once (someone arrives, starts or stops editing,
leaves) also notifies ``deskterm_presence`` with the ticket's id, delivered on commit; a
heartbeat that changes nothing notifies nobody. On SQLite the other terminals see it with
their own next heartbeat.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, select, text
from sqlalchemy.orm import Session

from deskterm.db.models import Analyst, Presence, Ticket
from deskterm.db.notify import PRESENCE_CHANNEL
from deskterm.desk import clock
from deskterm.desk.schemas import Public
from deskterm.domain.errors import NotFound
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref
from deskterm.i18n import _

#: A terminal that has not said it is still there for this long has gone.
STALE_AFTER = timedelta(seconds=15)

# Core columns: typed as columns (SQLModel's fields read as plain values to a type checker).
_presence: Table = Presence.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
_analyst: Table = Analyst.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__


class Viewer(Public):
    """Someone with a ticket open in another terminal."""

    ticket_id: int
    login: str
    name: str
    since: datetime
    editing: bool
    """They have a dialog open on the ticket (a note, a call, a status change...)."""


def see_ticket(
    session: Session,
    actor: Actor,
    *,
    ticket_id: int,
    app_session: str,
    editing: bool = False,
) -> list[Viewer]:
    """``actor`` has the ticket open in ``app_session`` (and a dialog on it when ``editing``);
    who else has it open."""
    if actor.id is None:
        return viewers(session, actor, ticket_id=ticket_id, app_session=app_session)
    now = clock.now()
    _forget_gone(session, now)
    row = session.get(Presence, (app_session, ticket_id))
    changed = True
    if row is None:
        if session.get(Ticket, ticket_id) is None:
            raise NotFound(_("no ticket {ref}").format(ref=format_ref(ticket_id)))
        session.add(
            Presence(
                session=app_session,
                ticket_id=ticket_id,
                analyst_id=actor.id,
                since=now,
                seen_at=now,
                editing=editing,
            )
        )
    else:
        changed = row.editing != editing or row.analyst_id != actor.id
        row.seen_at = now
        row.editing = editing
        row.analyst_id = actor.id
    session.flush()
    if changed:
        _tell(session, [ticket_id])
    return viewers(session, actor, ticket_id=ticket_id, app_session=app_session)


def leave_ticket(session: Session, actor: Actor, *, ticket_id: int, app_session: str) -> None:
    """The ticket screen closed."""
    gone = session.execute(
        delete(_presence)
        .where(_presence.c.session == app_session, _presence.c.ticket_id == ticket_id)
        .returning(_presence.c.ticket_id)
    ).all()
    _tell(session, [ticket_id for (ticket_id,) in gone])


def leave_all(session: Session, actor: Actor, *, app_session: str) -> None:
    """The terminal is closing: every ticket it had open."""
    gone = session.execute(
        delete(_presence).where(_presence.c.session == app_session).returning(_presence.c.ticket_id)
    ).all()
    _tell(session, [ticket_id for (ticket_id,) in gone])


def viewers(session: Session, actor: Actor, *, ticket_id: int, app_session: str) -> list[Viewer]:
    """Who has the ticket open in a terminal other than ``app_session``, longest first."""
    return open_elsewhere(session, actor, ticket_ids=[ticket_id], app_session=app_session).get(
        ticket_id, []
    )


def open_elsewhere(
    session: Session, actor: Actor, *, ticket_ids: Collection[int], app_session: str
) -> dict[int, list[Viewer]]:
    """For a page of tickets, who has each open in another terminal (tickets nobody has open
    are left out)."""
    if not ticket_ids:
        return {}
    fresh = clock.now() - STALE_AFTER
    p, a = _presence.c, _analyst.c
    rows = session.execute(
        select(p.ticket_id, a.login, a.name, p.since, p.editing)
        .join_from(_presence, _analyst, a.id == p.analyst_id)
        .where(p.ticket_id.in_(list(ticket_ids)), p.seen_at >= fresh, p.session != app_session)
        .order_by(p.ticket_id, p.since, a.login)
    ).all()
    found: dict[int, list[Viewer]] = {}
    for ticket_id, login, name, since, editing in rows:
        found.setdefault(ticket_id, []).append(
            Viewer(ticket_id=ticket_id, login=login, name=name, since=since, editing=editing)
        )
    return found


def _forget_gone(session: Session, now: datetime) -> None:
    # The table holds one row per open ticket screen on the whole desk: a few hundred rows
    # at most, so this costs next to nothing, and it needs no janitor process.
    gone = session.execute(
        delete(_presence)
        .where(_presence.c.seen_at < now - STALE_AFTER)
        .returning(_presence.c.ticket_id)
    ).all()
    _tell(session, [ticket_id for (ticket_id,) in gone])


def _tell(session: Session, ticket_ids: Iterable[int]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for ticket_id in sorted(set(ticket_ids)):
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": PRESENCE_CHANNEL, "payload": str(ticket_id)},
        )
