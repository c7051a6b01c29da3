"""Callbacks: scheduled in the log, listed while due, kept by an outbound call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from deskterm.desk import clock
from deskterm.desk.callbacks import parse_when, pending_callbacks, schedule_callback
from deskterm.desk.tickets import add_note, log_call
from deskterm.desk.views import QueueView, queue_page
from deskterm.domain.errors import ConflictError, InvalidInput
from factories import AGENT, AGENT2, TECH, KnownDesk

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with clock.use_clock(lambda: NOW):
        yield


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in 30m", NOW + timedelta(minutes=30)),
        ("2h", NOW + timedelta(hours=2)),
        ("1 day", NOW + timedelta(days=1)),
        ("15:30", NOW.replace(hour=15, minute=30)),
        ("9:00", NOW.replace(hour=9) + timedelta(days=1)),
        ("tomorrow 9:00", NOW.replace(hour=9) + timedelta(days=1)),
        ("2026-11-26 10:00", datetime(2026, 11, 26, 10, tzinfo=UTC)),
        # As German, Portuguese and Czech analysts say it (issue 19).
        ("morgen 9:00", NOW.replace(hour=9) + timedelta(days=1)),
        ("morgen um 9 Uhr", NOW.replace(hour=9) + timedelta(days=1)),
        ("in 2 Std.", NOW + timedelta(hours=2)),
        ("26.11.2026 10:00", datetime(2026, 11, 26, 10, tzinfo=UTC)),
        ("amanhã às 9h", NOW.replace(hour=9) + timedelta(days=1)),
        ("em 2 horas", NOW + timedelta(hours=2)),
        ("26/11 10:00", datetime(2026, 11, 26, 10, tzinfo=UTC)),
        ("zítra 9:00", NOW.replace(hour=9) + timedelta(days=1)),
        ("za 30 minut", NOW + timedelta(minutes=30)),
        ("dnes v 16:00", NOW.replace(hour=16)),
        ("26. 11. 2026 10:00", datetime(2026, 11, 26, 10, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


def test_parse_when_keeps_the_analysts_zone() -> None:
    paris = timezone(timedelta(hours=1))
    assert parse_when("16:00", NOW.astimezone(paris)) == datetime(2026, 11, 25, 15, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "soon", "25:00", "yesterday"])
def test_parse_when_refuses(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_when(text, NOW)
    assert caught.value.field == "when"


def test_schedule_list_and_keep(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    desk = known.as_(AGENT)
    desk.write(
        schedule_callback,
        ref=ticket.id,
        due_at=NOW + timedelta(hours=1),
        reason="after the reboot",
        expected_version=ticket.version,
    )
    events = known.events(ticket.id)
    assert events[-1].kind == "callback_scheduled"
    assert events[-1].data["reason"] == "after the reboot"
    page = desk.read(queue_page, view=QueueView.CALLBACKS)
    assert [(r.id, r.callback_reason, r.callback_by) for r in page.rows] == [
        (ticket.id, "after the reboot", AGENT)
    ]
    # Bob is in the same group, but the ticket is Alice's; Tom is elsewhere.
    assert known.as_(AGENT2).read(queue_page, view=QueueView.CALLBACKS).rows == []
    assert known.as_(TECH).read(queue_page, view=QueueView.CALLBACKS).rows == []

    desk.write(log_call, ref=ticket.id, direction="inbound", duration_seconds=30)
    assert len(desk.read(pending_callbacks, ref=ticket.id)) == 1
    desk.write(log_call, ref=ticket.id, direction="outbound", duration_seconds=90, outcome="ok")
    assert desk.read(pending_callbacks, ref=ticket.id) == []
    assert desk.read(queue_page, view=QueueView.CALLBACKS).rows == []


def test_schedule_refusals(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    desk = known.as_(AGENT)
    with pytest.raises(InvalidInput) as caught:
        desk.write(schedule_callback, ref=ticket.id, due_at=NOW + timedelta(hours=1), reason=" ")
    assert caught.value.field == "reason"
    with pytest.raises(InvalidInput) as caught:
        desk.write(schedule_callback, ref=ticket.id, due_at=NOW - timedelta(hours=1), reason="x")
    assert caught.value.field == "when"
    known.as_(AGENT2).write(add_note, ref=ticket.id, text="meanwhile")
    with pytest.raises(ConflictError):
        desk.write(
            schedule_callback,
            ref=ticket.id,
            due_at=NOW + timedelta(hours=1),
            reason="x",
            expected_version=ticket.version,
        )
    assert desk.read(pending_callbacks, ref=ticket.id) == []
