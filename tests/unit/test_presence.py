"""Who else has a ticket open, on both databases; and, on PostgreSQL, that a listener hears
the desk change the moment the writer commits."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from deskterm.db.models import Presence
from deskterm.db.notify import EVENTS_CHANNEL, PRESENCE_CHANNEL, Listener, Notice
from deskterm.desk import clock
from deskterm.desk.presence import (
    STALE_AFTER,
    leave_all,
    leave_ticket,
    open_elsewhere,
    see_ticket,
    viewers,
)
from deskterm.desk.tickets import add_note, get_ticket
from deskterm.domain.errors import NotFound
from factories import AGENT, AGENT2, TECH, KnownDesk

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def at(moment: datetime):
    return clock.use_clock(lambda: moment)


def who(found) -> list[tuple[str, bool]]:
    return [(v.login, v.editing) for v in found]


def test_each_sees_the_others_on_a_ticket_and_never_themselves(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    alice, bob, tom = known.as_(AGENT), known.as_(AGENT2), known.as_(TECH)
    with at(T0):
        assert alice.write(see_ticket, ticket_id=ticket.id, app_session="a") == []
    with at(T0 + timedelta(seconds=2)):
        seen_by_bob = bob.write(see_ticket, ticket_id=ticket.id, app_session="b")
    assert who(seen_by_bob) == [("alice", False)]
    assert seen_by_bob[0].name == "Alice Agent"
    assert seen_by_bob[0].since == T0
    with at(T0 + timedelta(seconds=3)):
        # Tom opens a note on it; the heartbeat says so, and keeps when he arrived.
        tom.write(see_ticket, ticket_id=ticket.id, app_session="t")
        tom.write(see_ticket, ticket_id=ticket.id, app_session="t", editing=True)
        seen_by_alice = alice.write(see_ticket, ticket_id=ticket.id, app_session="a")
    assert who(seen_by_alice) == [("bob", False), ("tom", True)]
    assert seen_by_alice[1].since == T0 + timedelta(seconds=3)
    # The same analyst in a second terminal is someone else there too.
    with at(T0 + timedelta(seconds=4)):
        assert who(alice.read(viewers, ticket_id=ticket.id, app_session="a2")) == [
            ("alice", False),
            ("bob", False),
            ("tom", True),
        ]


def test_presence_is_no_ticket_action(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    before = known.snapshot(ticket.id)
    with at(T0):
        known.as_(AGENT).write(see_ticket, ticket_id=ticket.id, app_session="a", editing=True)
        known.as_(AGENT2).write(see_ticket, ticket_id=ticket.id, app_session="b")
        known.as_(AGENT2).write(leave_ticket, ticket_id=ticket.id, app_session="b")
    assert known.snapshot(ticket.id) == before
    # And a note written meanwhile is not refused because someone is looking.
    known.as_(AGENT2).write(
        add_note, ref=ticket.id, text="seen", expected_version=before[0]["version"]
    )


def test_leaving_and_closing_the_terminal_take_the_rows_away(known: KnownDesk) -> None:
    first, second = known.ticket(AGENT), known.ticket(AGENT)
    alice, bob = known.as_(AGENT), known.as_(AGENT2)
    with at(T0):
        alice.write(see_ticket, ticket_id=first.id, app_session="a")
        alice.write(see_ticket, ticket_id=second.id, app_session="a")
        bob.write(see_ticket, ticket_id=first.id, app_session="b")
        alice.write(leave_ticket, ticket_id=first.id, app_session="a")
        assert who(bob.read(viewers, ticket_id=first.id, app_session="b")) == []
        assert who(bob.read(viewers, ticket_id=second.id, app_session="b")) == [("alice", False)]
        alice.write(leave_all, app_session="a")
        assert bob.read(viewers, ticket_id=second.id, app_session="b") == []
        elsewhere = alice.read(open_elsewhere, ticket_ids=[first.id, second.id], app_session="a")
    assert {ticket_id: who(found) for ticket_id, found in elsewhere.items()} == {
        first.id: [("bob", False)]
    }


def test_a_terminal_that_went_away_is_ignored_then_forgotten(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    alice, bob = known.as_(AGENT), known.as_(AGENT2)
    with at(T0):
        alice.write(see_ticket, ticket_id=ticket.id, app_session="a")
    just_fresh = T0 + STALE_AFTER
    with at(just_fresh):
        assert who(bob.read(viewers, ticket_id=ticket.id, app_session="b")) == [("alice", False)]
    with at(just_fresh + timedelta(seconds=1)):
        # Alice's terminal crashed: no goodbye, no heartbeat. Bob no longer sees her, and his
        # own heartbeat clears her row away.
        assert bob.read(viewers, ticket_id=ticket.id, app_session="b") == []
        assert bob.write(see_ticket, ticket_id=ticket.id, app_session="b") == []
    with known.db.read() as session:
        sessions = session.scalars(select(Presence.session)).all()
    assert sessions == ["b"]


def test_no_such_ticket_is_refused(known: KnownDesk) -> None:
    with pytest.raises(NotFound, match="DT-"):
        known.as_(AGENT).write(see_ticket, ticket_id=999_999, app_session="a")
    with known.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Presence)) == 0


def test_the_listener_hears_commits_and_presence(known: KnownDesk) -> None:
    if known.db.is_sqlite:
        pytest.skip("SQLite has no LISTEN; the app polls it")
    ticket = known.ticket(AGENT)
    with Listener(known.db) as listener:
        # Nothing yet (other tests' schemas share the channel, so drain what they said) — for
        # half a second at most: another worker committing all the while never lets the
        # channel fall quiet, and the listener gave up waiting on a test that never asked.
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and listener.wait(0.05):
            pass
        known.as_(AGENT).write(add_note, ref=ticket.id, text="heard?")
        newest = known.as_(AGENT).read(get_ticket, ref=ticket.id).events[-1].id
        heard = _until(listener, EVENTS_CHANNEL, str(newest))
        assert heard, "the commit's notification never came"
        known.as_(AGENT2).write(see_ticket, ticket_id=ticket.id, app_session="b")
        assert _until(listener, PRESENCE_CHANNEL, str(ticket.id)), "presence went unheard"
        # A heartbeat that changes nothing says nothing.
        known.as_(AGENT2).write(see_ticket, ticket_id=ticket.id, app_session="b")
        known.as_(AGENT2).write(leave_ticket, ticket_id=ticket.id, app_session="b")
        # Other tests' desks may notify the same ticket id: only this desk's connection counts
        # (the test runs on one thread, so its pool holds one connection).
        with known.db.read() as session:
            pid = session.scalar(text("SELECT pg_backend_pid()"))
        notices = _collect(listener, PRESENCE_CHANNEL, str(ticket.id))
        assert [n.pid for n in notices] == [pid], "one for leaving, none for the idle heartbeat"


def _until(listener: Listener, channel: str, payload: str) -> bool:
    for _ in range(50):
        if any(n.channel == channel and n.payload == payload for n in listener.wait(0.1)):
            return True
    return False


def _collect(listener: Listener, channel: str, payload: str) -> list[Notice]:
    found: list[Notice] = []
    for _ in range(5):
        found += [n for n in listener.wait(0.1) if (n.channel, n.payload) == (channel, payload)]
    return found
