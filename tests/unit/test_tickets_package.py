"""The tickets package: one API however it is split, and the helpers other desk modules build
on (the unit of work, the holder an away analyst's work goes to, a ticket's list row), on both
databases. The use cases themselves are tested in test_tickets.py.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Analyst, TicketEvent
from deskterm.desk import tickets
from deskterm.desk.analysts import set_away
from deskterm.desk.schemas import TicketPublic
from deskterm.desk.tickets import (
    Change,
    add_note,
    holder_for,
    load,
    summary,
    ticket_events,
)
from deskterm.domain import payloads as p
from deskterm.domain.enums import Availability
from deskterm.domain.errors import ConflictError
from deskterm.domain.permissions import Actor
from factories import ADMIN, AGENT, AGENT2, ENGINEER, TECH, KnownDesk

MODULES = ("change", "create", "read", "work", "holders", "status")


def test_every_name_of_the_package_is_the_one_its_module_defines() -> None:
    homes = [importlib.import_module(f"deskterm.desk.tickets.{name}") for name in MODULES]
    for name in tickets.__all__:
        value = getattr(tickets, name)
        owners = [m for m in homes if getattr(m, name, None) is value]
        assert owners, name
        # A use case is a function, never the module of the same name (``tickets.assign``).
        assert not inspect.ismodule(value), name
    for module in homes:
        doc = inspect.getdoc(module) or ""
        assert len(doc.splitlines()) >= 2, f"{module.__name__} says what it holds and why"


def test_the_use_cases_every_face_imports_are_there() -> None:
    faces_use = (
        "create_ticket get_ticket list_tickets ticket_events summary add_note log_call link "
        "assign escalate change_status resolve reopen close set_priority"
    )
    for name in faces_use.split():
        assert callable(getattr(tickets, name)), name


def _away(known: KnownDesk, login: str, backup: str) -> None:
    known.as_(ADMIN).write(set_away, login=login, backup=backup, reason="holiday")


def _holder(session: Session, actor: Actor, *, login: str) -> str:
    target = session.scalars(select(Analyst).where(col(Analyst.login) == login)).one()
    return holder_for(session, target).login


def test_work_for_someone_away_follows_their_backups_to_someone_here(known: KnownDesk) -> None:
    assert known.as_(ADMIN).read(_holder, login=TECH) == TECH
    _away(known, TECH, ENGINEER)
    _away(known, ENGINEER, AGENT2)

    assert known.as_(ADMIN).read(_holder, login=TECH) == AGENT2


def _away_for_each_other(session: Session, actor: Actor, *, logins: tuple[str, str]) -> None:
    # set_away refuses a backup who is away: two supervisors at once can still make this.
    rows = [session.scalars(select(Analyst).where(col(Analyst.login) == x)).one() for x in logins]
    for row, other in zip(rows, reversed(rows), strict=True):
        row.availability, row.backup_id = Availability.AWAY, other.id


def test_backups_away_for_each_other_stop_at_the_last_one_not_seen(known: KnownDesk) -> None:
    known.as_(ADMIN).write(_away_for_each_other, logins=(TECH, ENGINEER))

    assert known.as_(ADMIN).read(_holder, login=TECH) == ENGINEER
    assert known.as_(ADMIN).read(_holder, login=ENGINEER) == TECH


def _two_notes(session: Session, actor: Actor, *, ref: int) -> TicketPublic:
    ticket = load(session, ref)
    change = Change(session, actor, ticket)
    change.log(p.Note(text="first"))
    change.log(p.Note(text="second"), visible=True)
    change.save()
    return summary(session, ticket)


def test_one_change_is_one_version_whatever_it_logs(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)

    after = known.as_(AGENT).write(_two_notes, ref=ticket.id)

    assert after.version == ticket.version + 1
    latest = [e for e in known.events(ticket.id) if e.ticket_version == after.version]
    assert [(e.data["text"], e.visibility) for e in latest] == [
        ("first", "internal"),
        ("second", "public"),
    ]


def _both_summaries(session: Session, actor: Actor, *, ref: int) -> tuple[TicketPublic, ...]:
    return summary(session, ref), summary(session, load(session, ref))


def test_a_tickets_list_row_is_read_by_its_id_or_from_the_ticket(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)

    # load() locks the row (FOR UPDATE): a write unit of work, refused in a read-only one.
    by_id, by_row = known.as_(AGENT).write(_both_summaries, ref=ticket.id)

    assert by_id == by_row
    assert (by_id.id, by_id.subject, by_id.version) == (ticket.id, ticket.subject, 1)


def _stored_by_an_older_and_a_newer_desk(session: Session, actor: Actor, *, ref: int) -> None:
    ticket = load(session, ref)
    ticket.version += 1
    rows = (
        # A handover to a group alone, as it was logged before ``unassigned`` was said.
        ("assigned", {"from": AGENT, "to": "Infrastructure", "to_group": "Infrastructure"}),
        # A kind this version does not know.
        ("quantum_leap", {"to": "1985"}),
    )
    for kind, data in rows:
        session.add(
            TicketEvent(
                ticket_id=ref,
                ticket_version=ticket.version,
                at=ticket.updated_at,
                actor_id=None,
                kind=kind,
                visibility="internal",
                data=data,
            )
        )


def test_the_log_and_a_conflict_read_every_stored_shape_as_its_payload(
    known: KnownDesk,
) -> None:
    ticket = known.ticket(AGENT)
    known.as_(None).write(_stored_by_an_older_and_a_newer_desk, ref=ticket.id)

    with known.db.read() as session:
        log = ticket_events(session, ticket.id)
    older, newer = log[-2:]
    assert isinstance(older.payload, p.Assigned) and older.payload.unassigned is True
    assert isinstance(newer.payload, p.UnknownEvent)
    assert newer.summary == "quantum leap"

    with pytest.raises(ConflictError) as caught:
        known.as_(AGENT).write(add_note, ref=ticket.id, text="late", expected_version=1)
    said = [(c.actor, c.what) for c in caught.value.changes]
    assert said == [("system", older.summary), ("system", "quantum leap")]
