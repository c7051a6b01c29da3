"""Bulk handover: all or nothing, one note in every ticket's log."""

from __future__ import annotations

import pytest

from deskterm.desk.analysts import set_away
from deskterm.desk.handover import hand_over
from deskterm.desk.tickets import add_note, get_ticket
from deskterm.domain.errors import ConflictError, InvalidInput, PermissionDenied
from factories import AGENT, AGENT2, DESKTOP, SUPERVISOR, KnownDesk


def test_supervisor_hands_an_away_analysts_tickets_to_another(known: KnownDesk) -> None:
    first, second = known.ticket(AGENT, subject="one"), known.ticket(AGENT, subject="two")
    boss = known.as_(SUPERVISOR)
    boss.write(set_away, login=AGENT, reason="sick")
    moved = boss.write(
        hand_over,
        versions={first.id: first.version, second.id: second.version},
        to=AGENT2,
        note="Alice is off sick today",
    )
    assert [t.assignee for t in moved] == [AGENT2, AGENT2]
    for ticket in (first, second):
        note, last = known.events(ticket.id)[-2:]
        assert last.kind == "reassigned"
        assert "reason" not in last.data and last.data["because"] == "away"
        assert last.data["from"] == AGENT and last.data["to"] == AGENT2
        assert last.visibility == "public"
        # The supervisor's note is for colleagues: an internal line, never the customer's.
        assert (note.kind, note.visibility) == ("note", "internal")
        assert note.data["text"] == "Alice is off sick today"


def test_hand_to_a_group_queue(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    moved = known.as_(SUPERVISOR).write(
        hand_over, versions={ticket.id: ticket.version}, group=DESKTOP, note="hardware"
    )
    assert moved[0].group == DESKTOP and moved[0].assignee is None
    assert moved[0].status == "new" and moved[0].level == 2


def test_refusals_change_nothing(known: KnownDesk) -> None:
    first, second = known.ticket(AGENT, subject="one"), known.ticket(AGENT, subject="two")
    before = [known.snapshot(t.id) for t in (first, second)]
    with pytest.raises(PermissionDenied):
        known.as_(AGENT2).write(
            hand_over, versions={first.id: first.version}, to=AGENT2, note="mine now"
        )
    with pytest.raises(InvalidInput) as caught:
        known.as_(SUPERVISOR).write(
            hand_over, versions={first.id: first.version}, to=AGENT2, note=""
        )
    assert caught.value.field == "note"
    assert [known.snapshot(t.id) for t in (first, second)] == before

    known.as_(AGENT).write(add_note, ref=second.id, text="meanwhile")
    before = [known.snapshot(t.id) for t in (first, second)]
    with pytest.raises(ConflictError) as conflict:
        known.as_(SUPERVISOR).write(
            hand_over,
            versions={first.id: first.version, second.id: second.version},
            to=AGENT2,
            note="cover",
        )
    assert conflict.value.changes[0].actor == AGENT
    assert [known.snapshot(t.id) for t in (first, second)] == before
    assert known.as_(AGENT).read(get_ticket, ref=first.id).assignee == AGENT
