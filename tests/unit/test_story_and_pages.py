"""What the ticket screen and the queue screen read in one transaction each (desk/story.py,
desk/pages.py), on both databases: the same answers, and the same statements, as the
desk functions they gather."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from deskterm.db.engine import Database
from deskterm.desk import clock
from deskterm.desk.callbacks import pending_callbacks, schedule_callback
from deskterm.desk.pages import CountedPage, page_and_counts
from deskterm.desk.setup import list_resolution_codes
from deskterm.desk.story import OTHERS, TicketStory, ticket_story
from deskterm.desk.tickets import get_ticket
from deskterm.desk.views import QueueView, queue_counts, queue_page
from factories import AGENT, KnownDesk

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run on ``db`` meanwhile (transaction control left out)."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        seen.append(sql)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_the_story_holds_the_ticket_its_callers_other_tickets_callbacks_and_codes(
    known: KnownDesk,
) -> None:
    made = []
    for n in range(OTHERS + 3):
        with clock.use_clock(lambda n=n: T0 + timedelta(minutes=n)):
            made.append(known.ticket(AGENT, subject=f"problem {n}"))
    ticket = made[3]
    desk = known.as_(AGENT)
    with clock.use_clock(lambda: T0 + timedelta(hours=1)):
        desk.write(
            schedule_callback,
            ref=ticket.id,
            due_at=T0 + timedelta(hours=3),
            reason="after the reboot",
            expected_version=ticket.version,
        )
        story = desk.read(ticket_story, ref=ticket.id)

    assert isinstance(story, TicketStory)
    assert story.ticket == desk.read(get_ticket, ref=ticket.id)
    # The caller's others, newest first, this one left out, as many as the screen shows.
    newest_first = [t.id for t in reversed(made) if t.id != ticket.id]
    assert [t.id for t in story.others] == newest_first[:OTHERS]
    assert [c.reason for c in story.callbacks] == ["after the reboot"]
    assert story.callbacks == desk.read(pending_callbacks, ref=ticket.id)
    assert story.codes == desk.read(list_resolution_codes)
    assert story.codes


def test_a_ticket_without_a_caller_has_no_other_tickets(known: KnownDesk) -> None:
    known.ticket(AGENT, subject="the caller's")
    lone = known.ticket(AGENT, subject="nobody's", contact_id=None)
    story = known.as_(AGENT).read(ticket_story, ref=lone.id)
    assert story.ticket.id == lone.id
    assert story.others == []
    assert story.callbacks == []


def test_a_page_with_counts_is_the_page_and_the_counts_in_one_read(known: KnownDesk) -> None:
    for n in range(7):
        with clock.use_clock(lambda n=n: T0 + timedelta(minutes=n)):
            known.ticket(AGENT, subject=f"printer {n}" if n % 2 else f"laptop {n}")
    desk = known.as_(AGENT)
    first = desk.read(page_and_counts, view=QueueView.MINE, limit=3)
    assert isinstance(first, CountedPage)
    assert first.page == desk.read(queue_page, view=QueueView.MINE, limit=3)
    assert first.counts == desk.read(queue_counts)
    assert first.counts[QueueView.MINE] == 7

    second = desk.read(
        page_and_counts, view=QueueView.MINE, after=first.page.next_after, limit=3, counted=False
    )
    assert second.counts is None
    assert second.page == desk.read(
        queue_page, view=QueueView.MINE, after=first.page.next_after, limit=3
    )

    filtered = desk.read(page_and_counts, view=QueueView.MINE, text="printer", limit=10)
    assert sorted(r.subject for r in filtered.page.rows) == [f"printer {n}" for n in (1, 3, 5)]
    # An empty filter is no filter, as the screen's empty field always meant.
    assert desk.read(page_and_counts, view=QueueView.MINE, text="", limit=10).page == (
        desk.read(queue_page, view=QueueView.MINE, limit=10)
    )


def test_a_page_with_counts_runs_no_statement_more_than_its_parts(known: KnownDesk) -> None:
    known.ticket(AGENT, subject="one")
    desk = known.as_(AGENT)
    desk.read(page_and_counts, view=QueueView.MINE, limit=5)  # caches warmed alike

    with statements(known.db) as apart:
        desk.read(queue_page, view=QueueView.MINE, limit=5)
    with statements(known.db) as counted_apart:
        desk.read(queue_counts)
    with statements(known.db) as together:
        desk.read(page_and_counts, view=QueueView.MINE, limit=5)
    # Each read loads the analyst once: together, once for both.
    assert len(together) <= len(apart) + len(counted_apart)
    assert set(together) <= set(apart) | set(counted_apart)
