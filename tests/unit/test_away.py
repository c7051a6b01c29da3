"""Out of office in one step, and the callback cadence, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from deskterm.db.models import Notification
from deskterm.desk import clock
from deskterm.desk.analysts import get_analyst, set_away
from deskterm.desk.away import go_away, hand_to_backup
from deskterm.desk.callbacks import due_callbacks, propose_callback, schedule_callback
from deskterm.desk.outbox import list_outbox
from deskterm.desk.tickets import assign, change_status, log_call, resolve
from deskterm.domain.errors import InvalidInput, PermissionDenied
from factories import AGENT, AGENT2, SUPERVISOR, TECH, KnownDesk

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def now() -> Iterator[list[datetime]]:
    moment = [T0]
    with clock.use_clock(lambda: moment[0]):
        yield moment


# --------------------------------------------------------------------------- away


def test_going_away_hands_every_open_ticket_to_the_backup_and_tells_the_customers(
    known: KnownDesk, now: list[datetime]
) -> None:
    working = known.ticket(AGENT)
    waiting = known.ticket(AGENT)
    known.as_(AGENT).write(
        change_status, ref=waiting.id, status="waiting_customer", reason="Send a photo"
    )
    finished = known.ticket(AGENT)
    known.as_(AGENT).write(resolve, ref=finished.id, code="fixed", text="Done")
    before = len(known.as_(SUPERVISOR).read(list_outbox, statuses=["all"]))

    result = known.as_(AGENT).write(
        go_away, backup=AGENT2, reason="dentist until 14:00", handover=True
    )

    assert result.analyst.availability == "away" and result.analyst.backup == AGENT2
    assert sorted(t.id for t in result.handed_over) == sorted([working.id, waiting.id])
    assert known.row(working.id).assignee_id == known.analyst_id(AGENT2)
    # Still waiting on the customer: the backup holds it in the same state.
    assert known.row(waiting.id).status == "waiting_customer"
    assert known.row(finished.id).assignee_id == known.analyst_id(AGENT)
    moved = [e for e in known.events(working.id) if e.kind == "reassigned"][-1]
    assert moved.data["reason"] == "away" and moved.data["requested"] == AGENT
    assert (moved.data["from"], moved.data["to"]) == (AGENT, AGENT2)
    # The customer hears who has the case now, and that the usual analyst is away.
    notes = known.as_(SUPERVISOR).read(list_outbox, statuses=["all"])
    assert len(notes) == before + 2
    with known.db.read() as session:
        told = session.scalars(
            select(Notification).where(Notification.ticket_id == working.id)
        ).all()[-1]
        assert told.kind == "assigned"
        assert told.context["holder"] == "Bob Agent" and told.context["away"] == "Alice Agent"


def test_without_handover_only_new_work_goes_to_the_backup(known: KnownDesk) -> None:
    mine = known.ticket(AGENT)
    known.as_(AGENT).write(go_away, backup=AGENT2)
    assert known.row(mine.id).assignee_id == known.analyst_id(AGENT)

    meant = known.ticket(SUPERVISOR, assignee=AGENT)
    assert known.row(meant.id).assignee_id == known.analyst_id(AGENT2)

    # Later, in one step: what they hold goes too.
    handed = known.as_(AGENT).write(hand_to_backup)
    assert [t.id for t in handed] == [mine.id]


def test_a_supervisor_may_send_someone_away_with_their_tickets(known: KnownDesk) -> None:
    mine = known.ticket(AGENT)
    result = known.as_(SUPERVISOR).write(
        go_away, login=AGENT, backup=AGENT2, reason="off sick", handover=True
    )
    assert [t.id for t in result.handed_over] == [mine.id]
    assert known.as_(AGENT2).read(get_analyst, login=AGENT).away_reason == "off sick"


def test_an_agent_may_not_send_a_colleague_away(known: KnownDesk) -> None:
    mine = known.ticket(AGENT)
    before = known.snapshot(mine.id)
    with pytest.raises(PermissionDenied):
        known.as_(AGENT2).write(go_away, login=AGENT, backup=AGENT2, handover=True)
    assert known.snapshot(mine.id) == before
    assert known.as_(AGENT).read(get_analyst, login=AGENT).availability == "available"


def test_handing_over_needs_a_backup_and_refusals_change_nothing(known: KnownDesk) -> None:
    mine = known.ticket(AGENT)
    before = known.snapshot(mine.id)
    with pytest.raises(InvalidInput) as err:
        known.as_(AGENT).write(go_away, handover=True)
    assert err.value.field == "backup"
    with pytest.raises(InvalidInput, match="not away"):
        known.as_(AGENT).write(hand_to_backup)
    known.as_(AGENT).write(set_away)
    with pytest.raises(InvalidInput, match="no backup"):
        known.as_(AGENT).write(hand_to_backup)
    assert known.snapshot(mine.id) == before


def test_a_ticket_that_is_not_theirs_to_move_refuses_the_whole_handover(
    known: KnownDesk,
) -> None:
    own = known.ticket(AGENT)
    # Tom (Desktop Support) holds a ticket assigned to him there: the Service Desk
    # supervisor may not move it.
    theirs = known.ticket(TECH)
    before = known.snapshot(own.id), known.snapshot(theirs.id)
    with pytest.raises(PermissionDenied):
        known.as_(SUPERVISOR).write(go_away, login=TECH, backup=AGENT2, handover=True)
    assert (known.snapshot(own.id), known.snapshot(theirs.id)) == before
    assert known.as_(TECH).read(get_analyst, login=TECH).availability == "available"


# --------------------------------------------------------------------------- callbacks


def test_the_cadence_of_the_priority_proposes_the_next_callback(
    known: KnownDesk, now: list[datetime]
) -> None:
    now[0] = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # Friday 16:00
    ticket = known.ticket(AGENT)  # P3: every 10 office hours

    proposal = known.as_(AGENT).read(propose_callback, ref=ticket.id)

    assert proposal is not None
    # 2 hours on Friday, 8 on Monday from 08:00.
    assert proposal.due_at == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    assert (proposal.priority, proposal.every_hours, proposal.calendar) == ("P3", 10, "office")
    planning = known.ticket(AGENT, impact="low", urgency="low")
    assert known.as_(AGENT).read(propose_callback, ref=planning.id) is None


def test_due_callbacks_are_the_analysts_own_and_go_once_kept(
    known: KnownDesk, now: list[datetime]
) -> None:
    mine = known.ticket(AGENT)
    other = known.ticket(AGENT2)
    known.as_(AGENT).write(
        schedule_callback, ref=mine.id, due_at=T0 + timedelta(hours=1), reason="Check the fix"
    )
    known.as_(AGENT2).write(
        schedule_callback, ref=other.id, due_at=T0 + timedelta(hours=1), reason="Theirs"
    )
    assert known.as_(AGENT).read(due_callbacks) == []

    now[0] = T0 + timedelta(hours=2)
    due = known.as_(AGENT).read(due_callbacks)
    assert [(c.ticket_id, c.reason, c.contact) for c in due] == [
        (mine.id, "Check the fix", "Carol Jones")
    ]

    known.as_(AGENT).write(log_call, ref=mine.id, direction="outbound", duration_seconds=60)
    assert known.as_(AGENT).read(due_callbacks) == []


def test_a_callback_follows_a_ticket_handed_to_a_backup(
    known: KnownDesk, now: list[datetime]
) -> None:
    ticket = known.ticket(AGENT2)
    known.as_(SUPERVISOR).write(
        schedule_callback, ref=ticket.id, due_at=T0 + timedelta(hours=1), reason="Promised"
    )
    known.as_(AGENT2).write(assign, ref=ticket.id, to=AGENT, reason="I am off at noon")
    now[0] = T0 + timedelta(hours=2)
    assert [c.ticket_id for c in known.as_(AGENT).read(due_callbacks)] == [ticket.id]
    assert known.as_(AGENT2).read(due_callbacks) == []
