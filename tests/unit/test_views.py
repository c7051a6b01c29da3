"""Queue views: keyset pages in queue order, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deskterm.desk import clock
from deskterm.desk.tickets import add_note, assign, change_status
from deskterm.desk.views import QueueView, latest_event_id, queue_counts, queue_page, views_for
from deskterm.domain.errors import PermissionDenied
from factories import AGENT, AGENT2, SUPERVISOR, TECH, KnownDesk

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _walk(desk, view: str, *, limit: int, text: str | None = None) -> list[int]:
    ids: list[int] = []
    after = None
    while True:
        page = desk.read(queue_page, view=view, after=after, limit=limit, text=text)
        ids += [row.id for row in page.rows]
        if page.next_after is None:
            return ids
        after = page.next_after


def test_pages_follow_priority_then_due_then_id(known: KnownDesk) -> None:
    made = []
    for n, (impact, urgency) in enumerate(
        [("low", "low"), ("high", "high"), ("medium", "medium"), ("high", "high"), ("low", "low")]
        * 3
    ):
        with clock.use_clock(lambda n=n: T0 + timedelta(minutes=n)):
            made.append(known.ticket(AGENT, subject=f"t{n}", impact=impact, urgency=urgency))
    expected = [t.id for t in sorted(made, key=lambda t: (t.priority, t.resolve_due_at, t.id))]
    desk = known.as_(AGENT)
    assert _walk(desk, QueueView.MINE, limit=4) == expected
    assert _walk(desk, QueueView.MINE, limit=100) == expected
    assert _walk(desk, QueueView.GROUPS, limit=3) == expected
    assert desk.read(queue_counts)[QueueView.MINE] == len(made)


def test_views_split_by_holder_group_and_status(known: KnownDesk) -> None:
    mine = known.ticket(AGENT, subject="mine")
    queued = known.ticket(AGENT, subject="queued", assignee=None)
    other = known.ticket(AGENT2, subject="bob's")
    waiting = known.ticket(AGENT, subject="waiting")
    known.as_(AGENT).write(change_status, ref=waiting.id, status="waiting_customer")
    elsewhere = known.ticket(TECH, subject="desktop")
    desk = known.as_(AGENT)

    def ids(view: str) -> set[int]:
        return {row.id for row in desk.read(queue_page, view=view).rows}

    assert ids(QueueView.MINE) == {mine.id, waiting.id}
    assert ids(QueueView.UNASSIGNED) == {queued.id}
    assert ids(QueueView.GROUPS) == {mine.id, queued.id, other.id, waiting.id}
    assert ids(QueueView.WAITING) == {waiting.id}
    assert elsewhere.id not in ids(QueueView.GROUPS)
    with pytest.raises(PermissionDenied):
        desk.read(queue_page, view=QueueView.ALL)
    boss = known.as_(SUPERVISOR)
    every = {row.id for row in boss.read(queue_page, view=QueueView.ALL).rows}
    assert every == {mine.id, queued.id, other.id, waiting.id, elsewhere.id}
    assert QueueView.ALL in boss.read(lambda s, a: views_for(a))
    assert QueueView.ALL not in desk.read(lambda s, a: views_for(a))


def test_filter_by_text_reference_contact_and_holder(known: KnownDesk) -> None:
    printer = known.ticket(AGENT, subject="Printer on fire [bold]")
    laptop = known.ticket(AGENT, subject="Laptop", contact_id=None)
    desk = known.as_(SUPERVISOR)
    assert _walk(desk, QueueView.ALL, limit=10, text="fire [b") == [printer.id]
    assert _walk(desk, QueueView.ALL, limit=10, text=laptop.ref.lower()) == [laptop.id]
    assert _walk(desk, QueueView.ALL, limit=10, text="carol") == [printer.id]
    assert set(_walk(desk, QueueView.ALL, limit=10, text="alic")) == {printer.id, laptop.id}
    assert _walk(desk, QueueView.ALL, limit=10, text="100%_") == []


def test_closed_tickets_leave_the_queue_and_events_move_the_marker(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    desk = known.as_(AGENT)
    before = desk.read(latest_event_id)
    desk.write(add_note, ref=ticket.id, text="hello")
    assert desk.read(latest_event_id) > before
    desk.write(assign, ref=ticket.id, to="none")
    assert [r.id for r in desk.read(queue_page, view=QueueView.UNASSIGNED).rows] == [ticket.id]
    desk.write(change_status, ref=ticket.id, status="cancelled", reason="duplicate call")
    assert desk.read(queue_page, view=QueueView.GROUPS).rows == []


@pytest.mark.parametrize("view", [v for v in QueueView if v != QueueView.CALLBACKS])
def test_pages_read_indexes_in_order_never_sort_the_queue(known: KnownDesk, view: str) -> None:
    """On SQLite, each partition's read walks a queue index: no temporary sort of the table,
    which is what keeps a page instant at a million tickets."""
    if not known.db.is_sqlite:
        pytest.skip("reads SQLite's query plans")
    from sqlalchemy import event

    known.ticket(AGENT)
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT TICKET.PRIORITY"):
            seen.append((statement, parameters))

    event.listen(known.db.engine, "before_cursor_execute", record)
    try:
        known.as_(SUPERVISOR).read(queue_page, view=view, limit=10)
    finally:
        event.remove(known.db.engine, "before_cursor_execute", record)
    assert seen
    with known.db.engine.connect() as conn:
        for statement, parameters in seen:
            plan = " | ".join(
                str(row[-1])
                for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
            assert "INDEX ix_ticket_" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
