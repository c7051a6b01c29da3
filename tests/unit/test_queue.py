"""Pulling the next ticket, alone and with several analysts pulling at once."""

from __future__ import annotations

import multiprocessing
import queue as stdlib_queue
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from deskterm.db.models import Analyst, Ticket, TicketEvent
from deskterm.desk.clock import use_clock
from deskterm.desk.queue import claim_next
from deskterm.desk.tickets import change_status, create_ticket
from deskterm.domain.errors import InvalidInput, NotFound, PermissionDenied
from deskterm.domain.permissions import Actor
from factories import (
    ADMIN,
    AGENT,
    AGENT2,
    DESKTOP,
    SERVICE_DESK,
    SUPERVISOR,
    TECH,
    KnownDesk,
    add_notes,
    claim_until_empty,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _queued(known: KnownDesk, at: datetime, group: str = SERVICE_DESK, **fields: Any) -> int:
    """A ticket the system files, unassigned, in ``group``'s queue at time ``at``."""
    with use_clock(lambda: at):
        return known.ticket(None, group=group, assignee="none", **fields).id


def _claim(known: KnownDesk, login: str, group: str | None = None) -> int | None:
    result = known.as_(login).write(claim_next, group=group)
    return result.ticket.id if result.ticket else None


def test_the_most_urgent_ticket_comes_first(known: KnownDesk) -> None:
    later = _queued(known, T0 + timedelta(hours=1))
    earlier_due = _queued(known, T0)
    critical = _queued(known, T0 + timedelta(hours=2), impact="high", urgency="high")
    same_due = _queued(known, T0 + timedelta(hours=1))
    _queued(known, T0, group=DESKTOP, impact="high", urgency="high")
    waiting = _queued(known, T0, impact="high", urgency="high")
    known.as_(None).write(change_status, ref=waiting, status="waiting_customer")
    known.ticket(AGENT2, impact="high", urgency="high")  # someone holds it already

    order = [_claim(known, AGENT) for _ in range(5)]

    # Priority, then resolution due time, then id; other groups, waiting and held tickets
    # never come up.
    assert order == [critical, earlier_due, later, same_due, None]


def test_a_claim_takes_the_ticket_and_logs_it(known: KnownDesk) -> None:
    ticket_id = _queued(known, T0)

    with use_clock(lambda: T0 + timedelta(minutes=5)):
        result = known.as_(AGENT).write(claim_next)

    assert result.groups == [SERVICE_DESK]
    assert result.ticket is not None and result.ticket.id == ticket_id
    assert (result.ticket.assignee, result.ticket.status, result.ticket.version) == (
        AGENT,
        "assigned",
        2,
    )
    row = known.row(ticket_id)
    assert (row.assignee_id, row.status, row.version) == (known.analyst_id(AGENT), "assigned", 2)
    assert row.updated_at == T0 + timedelta(minutes=5)
    event = known.events(ticket_id)[-1]
    assert event.kind == "assigned" and event.actor_id == known.analyst_id(AGENT)
    assert event.visibility == "public" and event.ticket_version == 2
    assert event.data == {"to": AGENT, "via": "queue next", "status": "assigned"}
    assert event.at == T0 + timedelta(minutes=5)


def test_a_claim_is_the_first_response_like_any_assignment(known: KnownDesk) -> None:
    mail = _queued(known, T0, channel="email")
    phone = _queued(known, T0)

    with use_clock(lambda: T0 + timedelta(minutes=5)):
        _claim(known, AGENT)
        _claim(known, AGENT)

    assert known.row(mail).first_response_at == T0 + timedelta(minutes=5)
    assert known.row(phone).first_response_at == T0  # the call itself was the first response


def test_an_empty_queue_gives_nothing(known: KnownDesk) -> None:
    result = known.as_(AGENT).write(claim_next)
    assert result.ticket is None and result.groups == [SERVICE_DESK]
    # An analyst in no group has no queue at all.
    nothing = known.as_(ADMIN).write(claim_next)
    assert nothing.ticket is None and nothing.groups == []


def test_claiming_from_a_group_one_is_not_in_is_refused(known: KnownDesk) -> None:
    ticket_id = _queued(known, T0, group=DESKTOP)
    before = known.snapshot(ticket_id)

    with pytest.raises(PermissionDenied, match=f"{AGENT} is not in {DESKTOP}"):
        known.as_(AGENT).write(claim_next, group=DESKTOP)

    assert known.snapshot(ticket_id) == before
    assert _claim(known, TECH, "desktop support") == ticket_id


def test_a_supervisor_pulls_from_their_groups_and_an_admin_from_any(known: KnownDesk) -> None:
    ticket_id = _queued(known, T0, group=DESKTOP)
    assert _claim(known, SUPERVISOR) is None  # their own groups hold nothing
    with pytest.raises(PermissionDenied, match=f"{SUPERVISOR} is not in {DESKTOP}"):
        _claim(known, SUPERVISOR, DESKTOP)
    assert _claim(known, ADMIN, DESKTOP) == ticket_id


def test_bad_claims_are_refused(known: KnownDesk) -> None:
    with pytest.raises(NotFound, match="no group named 'Helpdesk'"):
        known.as_(AGENT).write(claim_next, group="Helpdesk")
    with pytest.raises(InvalidInput, match="system cannot pull"):
        known.as_(None).write(claim_next)


# --------------------------------------------------------------------------- concurrency


def _run_workers(
    target: Callable[..., None], jobs: list[tuple[Any, ...]], timeout: float = 120
) -> dict[str, Any]:
    """Run ``target(*job, start, out)`` in a spawned process per job, started together."""
    ctx = multiprocessing.get_context("spawn")
    # A barrier, not an event: a child takes a second to import, and the first one ready
    # must not empty the queue before the last has connected.
    start, out = ctx.Barrier(len(jobs) + 1), ctx.Queue()
    processes = [ctx.Process(target=target, args=(*job, start, out)) for job in jobs]
    for process in processes:
        process.start()
    results: dict[str, Any] = {}
    try:
        start.wait(timeout)
        for _ in processes:
            login, result = out.get(timeout=timeout)
            results[login] = result
    except (stdlib_queue.Empty, threading.BrokenBarrierError):
        pytest.fail(f"workers did not all report; got {sorted(results)}")
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
    failures = {login: r for login, r in results.items() if isinstance(r, str)}
    assert not failures, failures
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return results


def _fill_queue(session: Session, actor: Actor, *, count: int) -> list[int]:
    return [
        create_ticket(
            session,
            actor,
            subject=f"Queued problem {n}",
            group=SERVICE_DESK,
            assignee="none",
            impact=("high", "medium", "low")[n % 3],
        ).id
        for n in range(count)
    ]


@pytest.mark.slow
def test_four_processes_never_claim_the_same_ticket(known: KnownDesk, db_url: str) -> None:
    ticket_ids = known.as_(None).write(_fill_queue, count=200)
    claimers = [ADMIN, SUPERVISOR, AGENT, AGENT2]

    results = _run_workers(claim_until_empty, [(db_url, login, SERVICE_DESK) for login in claimers])

    claims = Counter(tid for ids in results.values() for tid in ids)
    assert [tid for tid, n in claims.items() if n > 1] == []
    assert sorted(claims) == sorted(ticket_ids)
    with known.db.read() as session:
        holders = dict(session.execute(select(Analyst.id, Analyst.login)).all())
        tickets = {
            t.id: (holders.get(t.assignee_id), t.status, t.version)
            for t in session.scalars(select(Ticket))
        }
        assigned = [
            (e.ticket_id, holders.get(e.actor_id), e.data["to"], e.ticket_version)
            for e in session.scalars(select(TicketEvent).where(TicketEvent.kind == "assigned"))
        ]
    by_ticket = Counter(tid for tid, *_ in assigned)
    assert set(by_ticket.values()) == {1} and set(by_ticket) == set(ticket_ids)
    for login, ids in results.items():
        assert all(tickets[tid] == (login, "assigned", 2) for tid in ids), login
    for tid, actor, to, version in assigned:
        assert actor == to == tickets[tid][0] and version == tickets[tid][2]


@pytest.mark.slow
def test_concurrent_notes_lose_no_update(known: KnownDesk, db_url: str) -> None:
    ticket = known.ticket(AGENT)
    per_writer = 40

    results = _run_workers(
        add_notes, [(db_url, login, ticket.id, per_writer) for login in (AGENT, TECH)]
    )

    notes = [e for e in known.events(ticket.id) if e.kind == "note"]
    assert sorted(e.data["text"] for e in notes) == sorted(results[AGENT] + results[TECH])
    assert len(notes) == 2 * per_writer
    assert known.row(ticket.id).version == 1 + len(notes)
    # Each note is its own change: one version each, none shared, none skipped.
    assert sorted(e.ticket_version for e in notes) == list(range(2, 2 + len(notes)))
