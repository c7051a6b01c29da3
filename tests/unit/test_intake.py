"""One call, several problems: tickets split from the same call, all or none."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from deskterm.db.models import KbTicket, Ticket
from deskterm.desk import kb
from deskterm.desk.intake import Problem, add_to_call, record_call
from deskterm.desk.tickets import get_ticket
from deskterm.domain.errors import InvalidInput, NotFound
from factories import AGENT, SUPERVISOR, KnownDesk


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
    # A save hands back list rows; the stories are read as any ticket's are.
    assert [type(t).__name__ for t in made] == ["SavedTicket", "SavedTicket"]
    assert made[0].first_response_at is not None  # a phone call answers the caller at once
    assert made[0].version == 2  # the split's link is a change of the first ticket
    first, second = (known.as_(AGENT).read(get_ticket, ref=t.id) for t in made)
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


def test_another_problem_from_a_saved_call(known: KnownDesk) -> None:
    desk = known.as_(AGENT)
    (first,) = desk.write(
        record_call,
        contact_id=known.contact_id,
        call_seconds=90,
        problems=[Problem(subject="Laptop will not boot")],
    )
    # The caller remembers a second problem after the save: same caller, same call.
    (second,) = desk.write(
        add_to_call,
        call=first.ref,
        call_seconds=35,
        problems=[Problem(subject="Headset crackles", urgency="high")],
    )
    assert second.contact_id == known.contact_id
    assert second.channel == first.channel
    second = desk.read(get_ticket, ref=second.id)
    assert [(link.ref, link.kind) for link in second.links] == [(first.ref, "split_from")]
    first = desk.read(get_ticket, ref=first.id)
    assert [(link.ref, link.kind) for link in first.links] == [(second.ref, "split_from")]
    # The call's tickets together log the whole call: 90 s, then the 35 s it ran on.
    logged = [
        e.data["duration_seconds"]
        for t in (first, second)
        for e in t.events
        if e.kind == "call_logged"
    ]
    assert logged == [90, 35]


def test_another_problem_needs_a_call_that_exists(known: KnownDesk) -> None:
    with known.db.read() as session:
        before = session.scalar(select(func.count()).select_from(Ticket))
    with pytest.raises(NotFound):
        known.as_(AGENT).write(
            add_to_call, call="DT-999999", problems=[Problem(subject="Orphan problem")]
        )
    with known.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == before


def test_a_problems_article_is_linked_with_its_ticket(known: KnownDesk) -> None:
    article = known.as_(SUPERVISOR).write(
        kb.add_article, title="Printer shows paper jam", body="Open tray 2.", status="published"
    )
    made = known.as_(AGENT).write(
        record_call,
        contact_id=known.contact_id,
        problems=[
            Problem(subject="Laptop will not boot"),
            Problem(subject="Printer jams", article=article.id),
        ],
    )
    first, second = (known.as_(AGENT).read(get_ticket, ref=t.id) for t in made)
    assert not [e for e in first.events if e.kind == "kb_linked"]
    assert [e.data["article"] for e in second.events if e.kind == "kb_linked"] == [article.key]
    assert made[1].version == second.version


def test_a_bad_article_saves_no_ticket(known: KnownDesk) -> None:
    with known.db.read() as session:
        before = session.scalar(select(func.count()).select_from(Ticket))
    with pytest.raises(NotFound):
        known.as_(AGENT).write(
            record_call,
            contact_id=known.contact_id,
            problems=[Problem(subject="Printer jams", article=4242)],
        )
    with known.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == before
        assert session.scalar(select(func.count()).select_from(KbTicket)) == 0
