"""One call, several problems: tickets split from the same call, all or none."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from deskterm.db.models import Ticket
from deskterm.desk.intake import Problem, record_call
from deskterm.domain.errors import InvalidInput
from factories import AGENT, KnownDesk


def test_one_call_two_problems(known: KnownDesk) -> None:
    made = known.as_(AGENT).write(
        record_call,
        contact_id=known.contact_id,
        call_seconds=125,
        problems=[
            Problem(subject="Laptop will not boot", asset_id=known.asset_id, impact="high"),
            Problem(subject="Printer jams", category="Hardware > Printer", urgency="low"),
        ],
    )
    first, second = made
    assert first.priority == "P2" and second.priority == "P4"
    assert [(link.ref, link.kind) for link in first.links] == [(second.ref, "split_from")]
    assert [(link.ref, link.kind) for link in second.links] == [(first.ref, "split_from")]
    calls = [e for e in first.events if e.kind == "call_logged"]
    assert calls[0].data["duration_seconds"] == 125
    assert not [e for e in second.events if e.kind == "call_logged"]


def test_a_bad_problem_saves_nothing_and_names_itself(known: KnownDesk) -> None:
    with known.db.read() as session:
        before = session.scalar(select(func.count()).select_from(Ticket))
    with pytest.raises(InvalidInput) as caught:
        known.as_(AGENT).write(
            record_call,
            contact_id=known.contact_id,
            problems=[Problem(subject="fine"), Problem(subject="  ")],
        )
    assert caught.value.field == "2.subject"
    assert str(caught.value).startswith("problem 2:")
    with known.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == before
