"""The demo desk: a believable team, callers and tickets whose logs replay to their rows."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from deskterm import defaults
from deskterm.db.engine import Database
from deskterm.db.models import (
    Analyst,
    AnalystGroup,
    Asset,
    Contact,
    SupportGroup,
    Ticket,
    TicketEvent,
    TicketLink,
)
from deskterm.desk import clock
from deskterm.desk.analysts import add_analyst
from deskterm.desk.context import Desk
from deskterm.desk.demo import DemoSummary, build_demo
from deskterm.desk.queue import claim_next
from deskterm.desk.setup import open_database
from deskterm.desk.tickets import add_note, create_ticket, get_ticket, link, list_tickets
from deskterm.domain.enums import LIVE_CHANNELS, OPEN_STATUSES, Role, Status
from deskterm.domain.errors import InvalidInput
from deskterm.domain.permissions import SYSTEM, Actor, TicketHold, may_assign, may_work

SIZE = 300
ME = "kim.tester"
FROZEN = datetime(2026, 11, 25, 10, 30, 15, 123456, tzinfo=UTC)


def _demo(db: Database, **options: Any) -> DemoSummary:
    with clock.use_clock(lambda: FROZEN):
        return build_demo(db, **{"tickets": SIZE, "me": ME, **options})


def _count(db: Database, model: Any) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --------------------------------------------------------------------------- refusals


def test_refuses_a_desk_that_has_analysts_and_changes_nothing(db: Database) -> None:
    Desk(db, "ada").bootstrap(add_analyst, login="ada", name="Ada Admin")
    with pytest.raises(InvalidInput, match="empty desk only.*analysts"):
        _demo(db)
    assert _count(db, Analyst) == 1
    assert _count(db, Contact) == 0
    assert _count(db, Ticket) == 0


def test_refuses_a_second_demo(db: Database) -> None:
    _demo(db, tickets=20)
    with pytest.raises(InvalidInput, match="empty desk only"):
        _demo(db, tickets=20)
    assert _count(db, Ticket) == 20


@pytest.mark.parametrize("size", [-1, 5_000_001])
def test_refuses_sizes_out_of_range(db: Database, size: int) -> None:
    with pytest.raises(InvalidInput, match="between 0 and 5,000,000") as caught:
        _demo(db, tickets=size)
    assert caught.value.field == "tickets"
    assert _count(db, Analyst) == 0


def test_refuses_a_login_that_cannot_be_an_analyst(db: Database) -> None:
    with pytest.raises(InvalidInput, match="cannot be an analyst's login") as caught:
        _demo(db, me="John Doe!")
    assert caught.value.field == "me"
    assert _count(db, Analyst) == 0


def test_a_desk_without_tickets_still_has_its_team_and_callers(db: Database) -> None:
    summary = _demo(db, tickets=0)
    assert (summary.tickets, summary.events) == (0, 0)
    assert summary.contacts == _count(db, Contact) == 50
    assert summary.analysts == _count(db, Analyst) > 20


class _Interrupted(Exception):
    pass


def _interrupt(stage: str, done: int, total: int) -> None:
    if stage == "tickets" and done:
        raise _Interrupted


def test_an_interrupted_demo_stops_cleanly(db: Database) -> None:
    """Ctrl-C during the progress display: the writer stops; the desk (one transaction on
    either database) is left empty, with its foreign keys and search index, and the demo
    can simply be run again."""
    writers = {t for t in threading.enumerate() if t.name == "deskterm-demo-writer"}
    with pytest.raises(_Interrupted):
        _demo(db, progress=_interrupt)
    assert {t for t in threading.enumerate() if t.name == "deskterm-demo-writer"} == writers
    assert _count(db, Analyst) == _count(db, Contact) == _count(db, Ticket) == 0
    assert _demo(db).tickets == _count(db, Ticket) == SIZE
    if db.is_sqlite:
        from deskterm.desk.search import search_index_faults

        with db.read() as session:
            assert search_index_faults(session) == []
        return
    with db.read() as session:
        keys = session.scalar(
            text(
                "SELECT count(*) FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid = 'ticket_event'::regclass"
            )
        )
    assert keys == 2


# --------------------------------------------------------------------------- what it holds


def test_every_status_and_the_whole_team(db: Database) -> None:
    summary = _demo(db)
    assert summary.tickets == _count(db, Ticket) == SIZE
    assert summary.events == _count(db, TicketEvent)
    assert summary.me == ME
    with db.read() as session:
        statuses = set(session.scalars(select(Ticket.status).distinct()))
        analysts = list(session.scalars(select(Analyst)))
        languages = set(session.scalars(select(Contact.language).distinct()))
        laptops = session.scalar(
            select(func.count())
            .select_from(Asset)
            .where(Asset.product.contains("ThinkPad"), Asset.serial_number.is_not(None))
        )
        duplicates = session.scalar(
            select(func.count()).select_from(TicketLink).where(TicketLink.kind == "duplicate_of")
        )
        splits = session.scalar(
            select(func.count()).select_from(TicketLink).where(TicketLink.kind == "split_from")
        )
        session.expunge_all()
    assert statuses == {s.value for s in Status}
    assert {a.level for a in analysts} == {1, 2, 3}
    roles = {a.role for a in analysts}
    assert {Role.SUPERVISOR.value, Role.ADMIN.value, Role.AGENT.value} <= roles
    by_id = {a.id: a for a in analysts}
    away = [a for a in analysts if a.availability == "away"]
    assert away and all(a.backup_id is not None and a.away_reason for a in away)
    assert all(by_id[a.backup_id].availability == "available" for a in away if a.backup_id)
    assert "de" in languages
    assert laptops and laptops > 10
    assert duplicates and splits


def test_priorities_follow_the_matrix_and_due_times_the_sla(db: Database) -> None:
    _demo(db)
    matrix, policy = defaults.priority_matrix(), defaults.sla_policy()
    with db.read() as session:
        tickets = list(session.scalars(select(Ticket)))
        session.expunge_all()
    never_paused = 0
    for ticket in tickets:
        assert ticket.priority == matrix.priority(ticket.impact, ticket.urgency), ticket.id
        calendar = policy.calendar(ticket.priority)
        assert ticket.resolve_due_at is not None and calendar.is_working(ticket.resolve_due_at)
        # The clock as desk/sla_clock.py keeps it: the due time follows from the working time
        # used before the current stretch (waits on the customer do not count).
        anchor = ticket.sla_running_since or ticket.sla_paused_at
        assert anchor is not None, ticket.id
        target = policy.targets[ticket.priority].resolution
        left = target - timedelta(seconds=ticket.sla_used_seconds)
        assert ticket.resolve_due_at == calendar.add(anchor, left), ticket.id
        if ticket.sla_running_since == ticket.created_at:
            never_paused += 1
            due = policy.due_times(ticket.created_at, ticket.priority)
            assert ticket.resolve_due_at == due[1], ticket.id
        if ticket.status in OPEN_STATUSES and ticket.status != Status.WAITING_CUSTOMER:
            assert ticket.sla_running_since is not None, ticket.id
    assert never_paused


def test_me_is_a_first_line_agent_with_open_tickets(db: Database) -> None:
    _demo(db)
    me = Desk(db, ME)
    actor = me.whoami()
    assert (actor.role, actor.level) == (Role.AGENT, 1)
    with db.read() as session:
        groups = set(
            session.scalars(
                select(SupportGroup.name)
                .join(AnalystGroup, AnalystGroup.group_id == SupportGroup.id)
                .where(AnalystGroup.analyst_id == actor.id)
            )
        )
    assert groups == {"Service Desk"}
    mine = me.read(list_tickets, assignee="me")
    assert len(mine) >= 4
    assert len({t.status for t in mine}) >= 3
    assert all(t.status in OPEN_STATUSES for t in mine)


def test_a_demo_login_is_not_added_twice(db: Database) -> None:
    summary = _demo(db, me="anna.berg")
    assert summary.me == "anna.berg"
    with db.read() as session:
        assert session.scalar(select(func.count()).where(Analyst.login == "anna.berg")) == 1


# --------------------------------------------------------------------------- the log


@dataclass
class _Replayed:
    status: str | None = None
    assignee: int | None = None
    group: int | None = None
    level: int | None = None
    version: int = 0
    first_response: datetime | None = None
    resolved: datetime | None = None
    closed: datetime | None = None
    code: str | None = None


def _actors(session: Any) -> dict[int | None, Actor]:
    groups: dict[int, set[int]] = defaultdict(set)
    for analyst_id, group_id in session.execute(
        select(AnalystGroup.analyst_id, AnalystGroup.group_id)
    ):
        groups[analyst_id].add(group_id)
    actors: dict[int | None, Actor] = {None: SYSTEM}
    for analyst in session.scalars(select(Analyst)):
        actors[analyst.id] = Actor(
            id=analyst.id,
            login=analyst.login,
            name=analyst.name,
            role=Role(analyst.role),
            level=analyst.level,
            group_ids=frozenset(groups[analyst.id]),
        )
    return actors


def _replay(
    ticket: Ticket,
    events: list[TicketEvent],
    logins: dict[str, int],
    group_ids: dict[str, int],
    actors: dict[int | None, Actor],
) -> _Replayed:
    """Fold the log into the ticket's state the way the desk's use cases built it, checking on
    the way that each change was one the acting analyst was allowed to make."""
    state = _Replayed()
    before = (None, None)
    for event in events:
        data, kind = event.data, event.kind
        if event.ticket_version != state.version:
            assert event.ticket_version == state.version + 1, (ticket.id, event.id)
            state.version = event.ticket_version
            before = (state.assignee, state.group)
        actor = actors[event.actor_id]
        hold = TicketHold(assignee_id=before[0], group_id=before[1])
        if kind == "created":
            state.status, state.level = data["status"], data["level"]
            state.assignee = logins.get(data.get("assignee", ""))
            state.group = group_ids[data["group"]]
        elif kind in ("assigned", "reassigned", "unassigned"):
            state.assignee = logins.get(data.get("to", ""))
            state.status = data["status"]
            if data.get("via") == "queue next":
                assert before == (None, state.group) and state.group in actor.group_ids
            else:
                assert may_assign(actor, hold, state.assignee), (ticket.id, event.id)
        elif kind == "escalated":
            assert may_work(actor, hold), (ticket.id, event.id)
            state.group, state.level = group_ids[data["to_group"]], data["to_level"]
            state.assignee, state.status = None, data["status"]
        elif kind == "status_changed":
            assert may_work(actor, hold), (ticket.id, event.id)
            state.status = data["to"]
            if state.status == Status.CANCELLED:
                state.closed = event.at
        elif kind == "resolved":
            assert may_work(actor, hold), (ticket.id, event.id)
            state.status, state.code, state.resolved = "resolved", data["code"], event.at
            state.assignee = logins[data["assignee"]]
        elif kind == "reopened":
            state.status, state.code, state.resolved = data["to"], None, None
        elif kind == "closed":
            assert may_work(actor, hold), (ticket.id, event.id)
            state.status, state.closed = "closed", event.at
        # The desk's rule for the first response: a public change by an analyst, other than
        # opening the ticket; a claim from the queue is public, so it counts too.
        if (
            state.first_response is None
            and event.visibility == "public"
            and event.actor_id is not None
            and kind != "created"
        ):
            state.first_response = event.at
    if ticket.channel in LIVE_CHANNELS:
        state.first_response = ticket.created_at
    return state


def test_every_log_replays_to_its_ticket(db: Database) -> None:
    _demo(db)
    with db.read() as session:
        logins = {login: i for i, login in session.execute(select(Analyst.id, Analyst.login))}
        group_ids = {
            name: i for i, name in session.execute(select(SupportGroup.id, SupportGroup.name))
        }
        actors = _actors(session)
        tickets = list(session.scalars(select(Ticket).order_by(Ticket.id)))
        log: dict[int, list[TicketEvent]] = defaultdict(list)
        for event in session.scalars(select(TicketEvent).order_by(TicketEvent.id)):
            log[event.ticket_id].append(event)
        session.expunge_all()
    assert [t.id for t in tickets] == list(range(1, SIZE + 1))
    for ticket in tickets:
        events = log[ticket.id]
        assert ticket.id is not None and events, ticket.id
        state = _replay(ticket, events, logins, group_ids, actors)
        replayed = (state.status, state.assignee, state.group, state.level, state.version)
        row = (ticket.status, ticket.assignee_id, ticket.group_id, ticket.level, ticket.version)
        assert replayed == row, ticket.id
        times = [e.at for e in events]
        assert times == sorted(times), ticket.id
        assert (times[0], times[-1]) == (ticket.created_at, ticket.updated_at), ticket.id
        assert times[-1] < FROZEN
        assert state.first_response == ticket.first_response_at, ticket.id
        assert (state.resolved, state.code) == (ticket.resolved_at, ticket.resolution_code)
        assert state.closed == ticket.closed_at, ticket.id
        if ticket.status in (Status.RESOLVED, Status.CLOSED):
            assert ticket.resolution_text, ticket.id


def test_event_ids_follow_time_across_the_desk(db: Database) -> None:
    _demo(db)
    with db.read() as session:
        times = list(session.scalars(select(TicketEvent.at).order_by(TicketEvent.id)))
    assert times == sorted(times)


def test_links_go_both_ways_and_both_logs_say_so(db: Database) -> None:
    _demo(db)
    with db.read() as session:
        pairs = {(lk.ticket_id, lk.other_id): lk.kind for lk in session.scalars(select(TicketLink))}
        said = {
            (e.ticket_id, e.data["other"], e.data["link"])
            for e in session.scalars(
                select(TicketEvent).where(TicketEvent.kind.in_(["linked", "split"]))
            )
        }
    assert pairs
    for (one, other), kind in pairs.items():
        assert (other, one) in pairs
        assert (one, f"DT-{other:06d}", kind) in said


# --------------------------------------------------------------------------- the same desk


def _everything(db: Database) -> tuple[list[Any], ...]:
    with db.read() as session:
        return tuple(
            [tuple(row) for row in session.execute(select(table).order_by(*table.primary_key))]
            for table in (
                Ticket.__table__,
                TicketEvent.__table__,
                TicketLink.__table__,
                Contact.__table__,
                Asset.__table__,
                Analyst.__table__,
            )
        )


def test_the_same_seed_and_clock_give_the_same_desk(db: Database, tmp_path: Any) -> None:
    """Even across databases: the second desk is always an SQLite file."""
    _demo(db)
    other = open_database(f"sqlite:///{tmp_path / 'again.db'}")
    try:
        _demo(other)
        assert _everything(db) == _everything(other)
    finally:
        other.dispose()


def test_another_seed_gives_another_desk(db: Database, tmp_path: Any) -> None:
    _demo(db, tickets=50)
    other = open_database(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        _demo(other, tickets=50, seed=8)
        assert _everything(db)[0] != _everything(other)[0]
    finally:
        other.dispose()


# --------------------------------------------------------------------------- after the demo


def test_the_desk_works_as_usual_afterwards(db: Database) -> None:
    summary = _demo(db)
    me = Desk(db, ME)
    made = me.write(create_ticket, subject="After the demo", contact_id=1, assignee="none")
    assert made.id == SIZE + 1
    claimed = me.write(claim_next)
    assert claimed.ticket is not None
    noted = me.write(add_note, ref=claimed.ticket.id, text="picked up after the demo")
    assert noted.version == claimed.ticket.version + 1
    before = me.read(get_ticket, ref=made.id).version
    linked = me.write(link, ref=made.id, other=1, kind="related")
    assert linked.version == before + 1
    Desk(db, "sophie.laurent").write(add_analyst, login="new.hire", name="New Hire")
    with db.read() as session:
        newest = session.scalar(select(func.max(TicketEvent.id)))
    assert newest is not None and newest > summary.events


def test_the_demo_desk_is_searchable_and_new_tickets_are_indexed_after_it(db: Database) -> None:
    """SQLite's loader builds the search index once, after the rows: it must come back whole,
    triggers included, so what analysts write afterwards is found too."""
    from deskterm.desk.search import search_tickets

    _demo(db)
    with db.read() as session:
        subject, count = session.execute(
            select(Ticket.subject, func.count())
            .group_by(Ticket.subject)
            .order_by(func.count().desc(), Ticket.subject)
        ).first()
    me = Desk(db, ME)
    word = max(subject.split(), key=len)
    hits = me.read(search_tickets, query=word, limit=200)
    assert hits and all(word.lower() in hit.subject.lower() for hit in hits[:count])
    made = me.write(create_ticket, subject="Zebracorn badge reader rejects every card")
    assert [hit.id for hit in me.read(search_tickets, query="zebracorn")] == [made.id]
