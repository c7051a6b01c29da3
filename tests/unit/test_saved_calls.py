"""A call is saved once: the same draft saved again finds its tickets instead of opening more."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from deskterm.db.models import SavedCall, Ticket
from deskterm.desk.intake import Problem
from deskterm.desk.saved_calls import save_call, saved_call
from deskterm.desk.tickets import get_ticket
from deskterm.domain.errors import InvalidInput
from factories import AGENT, KnownDesk

KEY = "0123456789abcdef0123456789abcdef"


def _tickets(known: KnownDesk) -> int:
    with known.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_the_same_call_saved_twice_opens_its_tickets_once(known: KnownDesk) -> None:
    desk = known.as_(AGENT)
    problems = [Problem(subject="VPN drops"), Problem(subject="Printer jams")]
    before = _tickets(known)
    first = desk.write(
        save_call, key=KEY, problems=problems, contact_id=known.contact_id, call_seconds=60
    )
    assert not first.earlier and len(first.tickets) == 2
    # The app stopped before forgetting the draft: the same draft, saved again.
    again = desk.write(
        save_call, key=KEY, problems=problems, contact_id=known.contact_id, call_seconds=75
    )
    assert again.earlier
    assert [t.ref for t in again.tickets] == [t.ref for t in first.tickets]
    assert _tickets(known) == before + 2
    # Only the first save's call was logged.
    story = desk.read(get_ticket, ref=first.tickets[0].id)
    assert [e.data["duration_seconds"] for e in story.events if e.kind == "call_logged"] == [60]
    assert [t.ref for t in desk.read(saved_call, key=KEY) or []] == [t.ref for t in first.tickets]


def test_another_problem_is_a_save_of_its_own(known: KnownDesk) -> None:
    desk = known.as_(AGENT)
    first = desk.write(
        save_call, key=KEY, problems=[Problem(subject="VPN drops")], contact_id=known.contact_id
    )
    call = first.tickets[0].ref
    more = desk.write(
        save_call, key=KEY[::-1], problems=[Problem(subject="Also the printer")], call=call
    )
    assert not more.earlier and more.tickets[0].ref != call
    assert desk.write(
        save_call, key=KEY[::-1], problems=[Problem(subject="Also the printer")], call=call
    ).earlier
    added = desk.read(get_ticket, ref=more.tickets[0].id)
    assert added.contact_id == known.contact_id
    assert [(link.ref, link.kind) for link in added.links] == [(call, "split_from")]


def test_a_refused_save_keeps_no_key(known: KnownDesk) -> None:
    """A save the desk refused leaves the key free: the corrected call saves."""
    desk = known.as_(AGENT)
    with pytest.raises(InvalidInput):
        desk.write(save_call, key=KEY, problems=[Problem(subject=" ")])
    assert desk.read(saved_call, key=KEY) is None
    assert not desk.write(save_call, key=KEY, problems=[Problem(subject="Fixed")]).earlier


@pytest.mark.parametrize(
    "key", ["", "short", "x" * 65, "a b c d e f g h", "../../etc/passwd", "ab\x1b[31mcdefg"]
)
def test_a_bad_key_is_refused_and_saves_nothing(known: KnownDesk, key: str) -> None:
    before = _tickets(known)
    with pytest.raises(InvalidInput) as refused:
        known.as_(AGENT).write(save_call, key=key, problems=[Problem(subject="VPN")])
    assert refused.value.field == "key"
    assert _tickets(known) == before


def test_two_saves_of_one_key_at_once_open_one_call(known: KnownDesk) -> None:
    """Two sessions racing with the same draft (an answer lost, a retry at once): one wins,
    the other finds its tickets."""
    desk = known.as_(AGENT)
    before = _tickets(known)
    results: list[object] = []
    start = threading.Barrier(2)

    def save() -> None:
        start.wait()
        try:
            results.append(desk.write(save_call, key=KEY, problems=[Problem(subject="Race")]))
        except Exception as exc:  # the test says which
            results.append(exc)

    threads = [threading.Thread(target=save) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(r.earlier for r in results) == [False, True]  # type: ignore[attr-defined]
    assert _tickets(known) == before + 1
    with known.db.read() as session:
        assert session.scalar(select(func.count()).select_from(SavedCall)) == 1
