"""SLA clocks on real tickets, the SLA check with its escalation rules, and the compliance
report, on SQLite and PostgreSQL, under a clock the tests move by hand.

The known desk works office hours in London (``data/sla.toml``): P1 counts around the clock,
P2-P5 count 08:00-18:00 on weekdays. T0 is a Monday 09:00 London time (= UTC in March).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from deskterm.db.models import Analyst, Notification, TicketEvent
from deskterm.desk import clock
from deskterm.desk.mail import import_message
from deskterm.desk.outbox import Senders, deliver_due
from deskterm.desk.queue import claim_next
from deskterm.desk.sla_check import SUPERVISOR_ALERT, run_check, sla_report
from deskterm.desk.tickets import (
    add_note,
    change_status,
    get_ticket,
    reopen,
    resolve,
    set_priority,
)
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.domain.refs import format_ref
from factories import AGENT, CONTACT_EMAIL, SUPERVISOR, TECH, KnownDesk

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """The desk's time, moved by the test."""

    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at

    def to(self, at: datetime) -> None:
        self.at = at

    def forward(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def now() -> Iterator[Clock]:
    moving = Clock()
    with clock.use_clock(moving):
        yield moving


def _kinds(known: KnownDesk, ticket_id: int, *kinds: str) -> list[TicketEvent]:
    return [e for e in known.events(ticket_id) if e.kind in kinds]


def _supervisor_email(known: KnownDesk, address: str = "sam@desk.example") -> None:
    with known.db.write() as session:
        sam = session.scalars(select(Analyst).where(Analyst.login == SUPERVISOR)).one()
        sam.email = address


# --------------------------------------------------------------------------- the clock


def test_waiting_on_the_customer_pauses_the_clock_and_their_answer_resumes_it(
    known: KnownDesk, now: Clock
) -> None:
    ticket = known.ticket(AGENT)  # P3: 24 office hours, due Wednesday 13:00
    assert known.row(ticket.id).resolve_due_at == datetime(2026, 3, 4, 13, 0, tzinfo=UTC)

    now.forward(hours=2)
    known.as_(AGENT).write(
        change_status, ref=ticket.id, status="waiting_customer", reason="Send the error code"
    )
    paused = known.row(ticket.id)
    assert paused.sla_paused_at == now.at and paused.sla_used_seconds == 2 * 3600
    assert paused.sla_next_at is None  # nothing can fall due while the customer has it

    # The customer answers by mail the next morning at 10:00: 2 office hours were waited.
    now.to(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    reply = EmailMessage()
    reply["From"] = f"Carol Jones <{CONTACT_EMAIL}>"
    reply["To"] = "help@desk.example"
    reply["Subject"] = f"RE: [{format_ref(ticket.id)}] We need something from you"
    reply.set_content("The code is 0xC000021A.")
    import_message(known.db, reply.as_bytes(), source="reply.eml")

    resumed = known.row(ticket.id)
    assert resumed.status == "in_progress"
    assert resumed.sla_running_since == now.at and resumed.sla_paused_at is None
    # 22 office hours left from Tuesday 10:00: 8 on Tuesday, 10 on Wednesday, 4 on Thursday.
    assert resumed.resolve_due_at == datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    assert resumed.sla_next_at == resumed.resolve_warn_at


def test_a_new_priority_keeps_the_time_already_used(known: KnownDesk, now: Clock) -> None:
    ticket = known.ticket(AGENT, urgency="low")  # P4: 72 office hours
    now.forward(hours=3)
    known.as_(AGENT).write(set_priority, ref=ticket.id, impact="high", urgency="high")

    row = known.row(ticket.id)
    assert row.priority == 1  # around the clock: 4 hours, 3 of them used already
    assert row.resolve_due_at == T0 + timedelta(hours=4)
    assert row.sla_used_seconds == 3 * 3600


def test_resolving_stops_the_clock_and_reopening_restarts_it_where_it_stood(
    known: KnownDesk, now: Clock
) -> None:
    ticket = known.ticket(AGENT)
    now.forward(hours=1)
    known.as_(AGENT).write(resolve, ref=ticket.id, code="fixed", text="Reseated the RAM")
    assert known.row(ticket.id).sla_next_at is None

    now.to(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))  # a week later
    known.as_(AGENT).write(reopen, ref=ticket.id, reason="Blue screen again")
    row = known.row(ticket.id)
    # 23 of 24 office hours left: Monday 9, Tuesday 10, Wednesday 4.
    assert row.resolve_due_at == datetime(2026, 3, 11, 12, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- the check


def test_a_warning_and_a_breach_are_each_logged_once_by_system(
    known: KnownDesk, now: Clock
) -> None:
    ticket = known.ticket(AGENT, impact="high", urgency="medium")  # P2: 8 office hours
    assert run_check(known.db).alarms == []

    version = known.row(ticket.id).version
    now.to(T0 + timedelta(hours=6))  # 75% of 8 hours
    first = run_check(known.db)
    assert [(a.ref, a.clock, a.breach) for a in first.alarms] == [
        (format_ref(ticket.id), "resolution", False)
    ]
    # A warning changes nothing an analyst could overwrite: the version stands.
    assert known.row(ticket.id).version == version
    again = run_check(known.db)
    assert again.alarms == [] and again.firings == [] and again.looked_at == 0

    now.to(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    run_check(known.db)
    run_check(known.db)
    warnings = _kinds(known, ticket.id, "sla_warning")
    breaches = _kinds(known, ticket.id, "sla_breached")
    assert len(warnings) == 1 and len(breaches) == 1
    assert all(e.actor_id is None and e.visibility == "internal" for e in warnings + breaches)
    assert breaches[0].data["clock"] == "resolution"
    assert breaches[0].data["due_at"] == "2026-03-02 17:00 UTC"
    shown = known.as_(AGENT).read(get_ticket, ref=ticket.id)
    assert "recorded a resolution SLA breach" in [e.summary for e in shown.events]


def test_an_analyst_saving_during_the_check_is_not_refused(known: KnownDesk, now: Clock) -> None:
    ticket = known.ticket(AGENT, impact="high", urgency="medium")
    seen = known.row(ticket.id).version
    now.to(T0 + timedelta(hours=6, minutes=1))
    assert run_check(known.db).alarms

    known.as_(AGENT).write(add_note, ref=ticket.id, text="On it", expected_version=seen)


def test_a_paused_ticket_raises_nothing_however_long_it_waits(known: KnownDesk, now: Clock) -> None:
    ticket = known.ticket(AGENT, impact="high", urgency="medium")
    known.as_(AGENT).write(
        change_status, ref=ticket.id, status="waiting_customer", reason="Which printer?"
    )
    now.forward(days=30)
    assert run_check(known.db).alarms == []
    assert _kinds(known, ticket.id, "sla_warning", "sla_breached") == []


def test_a_p1_nobody_takes_goes_to_level_2_and_its_supervisor_is_told(
    known: KnownDesk, now: Clock
) -> None:
    _supervisor_email(known)
    ticket = known.ticket(AGENT, impact="high", urgency="high", assignee="none")

    now.forward(minutes=9)
    assert run_check(known.db).firings == []
    now.forward(minutes=2)
    result = run_check(known.db)

    assert [(f.ref, f.rule) for f in result.firings] == [
        (format_ref(ticket.id), "P1 waiting for a taker")
    ]
    row = known.row(ticket.id)
    assert row.level == 2 and row.assignee_id is None
    escalated, fired = _kinds(known, ticket.id, "escalated", "escalation_rule")
    assert escalated.actor_id is None
    (why,) = [e for e in known.events(ticket.id) if e.ticket_version == escalated.ticket_version][
        :1
    ]
    assert why.kind == "note" and why.visibility == "internal"
    assert why.data["text"].startswith("P1 unassigned for 10 minutes")
    assert escalated.data["to_group"] == "Desktop Support"
    assert fired.data["told"] == [SUPERVISOR]
    with known.db.read() as session:
        told = session.scalars(
            select(Notification).where(Notification.kind == SUPERVISOR_ALERT)
        ).all()
        assert [(n.recipient, n.context["ref"]) for n in told] == [
            ("sam@desk.example", format_ref(ticket.id))
        ]
    # Twice changes nothing the second time.
    assert run_check(known.db).firings == []
    assert len(_kinds(known, ticket.id, "escalated")) == 1


class _Outgoing:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage, *, to_addrs: object) -> None:
        self.sent.append(message)

    def close(self) -> None:
        pass


def test_the_supervisors_email_goes_out_with_the_outbox(known: KnownDesk, now: Clock) -> None:
    _supervisor_email(known)
    ticket = known.ticket(AGENT, impact="high", urgency="high", assignee="none", channel="email")
    now.forward(minutes=11)
    run_check(known.db)
    mail = _Outgoing()

    deliver_due(known.db, Senders(email=mail))

    to_sam = [m for m in mail.sent if m["To"] == "sam@desk.example"]
    assert len(to_sam) == 1
    assert to_sam[0]["Subject"].startswith(f"[{format_ref(ticket.id)}] P1 needs you")
    assert "escalated to Desktop Support (L2)" in to_sam[0].get_content()
    shown = known.as_(SUPERVISOR).read(get_ticket, ref=ticket.id)
    assert "told a supervisor by email" in [e.summary for e in shown.events]


def test_a_taken_p1_is_left_alone(known: KnownDesk, now: Clock) -> None:
    ticket = known.ticket(AGENT, impact="high", urgency="high", assignee="none")
    now.forward(minutes=5)
    known.as_(AGENT).write(claim_next)
    now.forward(minutes=10)
    assert run_check(known.db).firings == []
    assert known.row(ticket.id).level == 1


def test_an_overdue_p2_goes_up_one_level_once(known: KnownDesk, now: Clock) -> None:
    ticket = known.ticket(AGENT, impact="high", urgency="medium")
    now.to(T0 + timedelta(hours=8, minutes=1))

    result = run_check(known.db)

    assert {a.clock for a in result.alarms if a.breach} == {"resolution"}
    assert [f.outcome for f in result.firings] == ["escalated to Desktop Support (L2)"]
    assert known.row(ticket.id).level == 2
    # Nobody of Desktop Support took it: the next pass still escalates nothing twice.
    now.forward(hours=1)
    assert run_check(known.db).firings == []


def test_a_rule_that_cannot_escalate_says_why_and_fires_once_per_wait(
    known: KnownDesk, now: Clock
) -> None:
    ticket = known.ticket(AGENT, impact="high", urgency="high", group="Infrastructure")
    assert known.row(ticket.id).assignee_id is None
    # Already at level 3: the P1 rule wants level 2, so it has nothing to do at all.
    now.forward(minutes=30)
    assert run_check(known.db).firings == []
    # The breach rule wants one level up, from level 3: it says so instead.
    now.forward(hours=4)
    result = run_check(known.db)
    assert [f.outcome for f in result.firings] == ["already at level 3: nowhere higher to go"]
    assert run_check(known.db).firings == []


def test_the_check_reads_only_what_is_due(known: KnownDesk, now: Clock) -> None:
    for _ in range(5):
        known.ticket(AGENT)
    now.forward(minutes=30)
    assert run_check(known.db).looked_at == 0


def test_batches_cover_every_ticket_due(known: KnownDesk, now: Clock) -> None:
    made = [known.ticket(AGENT, impact="high", urgency="medium").id for _ in range(5)]
    now.to(T0 + timedelta(hours=6, minutes=30))
    result = run_check(known.db, batch=2)
    assert sorted(a.ref for a in result.alarms) == [format_ref(t) for t in made]


# --------------------------------------------------------------------------- the report


def test_the_report_counts_met_and_breached_by_priority_and_group(
    known: KnownDesk, now: Clock
) -> None:
    quick = known.ticket(AGENT, channel="email")  # P3, answered and solved in time
    known.ticket(AGENT, impact="high", urgency="medium", channel="email")  # P2, late
    known.ticket(TECH, channel="email", group="Desktop Support")  # P3, still open
    now.forward(minutes=30)
    known.as_(AGENT).write(add_note, ref=quick.id, text="Try a restart", public=True)
    known.as_(AGENT).write(resolve, ref=quick.id, code="fixed", text="Restarted")
    now.to(datetime(2026, 3, 3, 12, 0, tzinfo=UTC))
    run_check(known.db)

    report = known.as_(SUPERVISOR).read(
        sla_report, since=T0 - timedelta(days=1), until=T0 + timedelta(days=1)
    )

    rows = {(r.priority, r.group): r for r in report.rows}
    p3 = rows[("P3", "Service Desk")]
    assert (p3.tickets, p3.response_met, p3.resolution_met, p3.resolution_breached) == (1, 1, 1, 0)
    # Overdue, it went up to Desktop Support (rows go by the group that has the ticket now).
    p2 = rows[("P2", "Desktop Support")]
    assert (p2.response_breached, p2.resolution_breached) == (1, 1)
    desktop = rows[("P3", "Desktop Support")]
    assert (desktop.resolution_open, desktop.response_breached) == (1, 1)
    assert report.total.tickets == 3 and report.total.resolution_share == 0.5
    assert report.to_json()["total"]["resolution_compliance"] == 0.5

    only = known.as_(SUPERVISOR).read(
        sla_report,
        since=T0 - timedelta(days=1),
        until=T0 + timedelta(days=1),
        group="desktop support",
    )
    assert [(r.priority, r.group) for r in only.rows] == [
        ("P2", "Desktop Support"),
        ("P3", "Desktop Support"),
    ]


def test_the_report_is_for_supervisors_and_needs_a_sensible_period(known: KnownDesk) -> None:
    with pytest.raises(PermissionDenied):
        known.as_(AGENT).read(sla_report, since=T0 - timedelta(days=1), until=T0)
    with pytest.raises(InvalidInput, match="ends before it starts"):
        known.as_(SUPERVISOR).read(sla_report, since=T0, until=T0 - timedelta(days=1))


# --------------------------------------------------------------------------- the migration


def _migrate(known: KnownDesk, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from deskterm.db.migrate import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with known.db.engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, direction)(config, revision)


def test_upgrading_an_older_desk_gives_its_tickets_a_clock(known: KnownDesk, now: Clock) -> None:
    running = known.ticket(AGENT, impact="high", urgency="medium", channel="email")
    waiting = known.ticket(AGENT)
    done = known.ticket(AGENT)
    now.forward(hours=1)
    known.as_(AGENT).write(change_status, ref=waiting.id, status="waiting_customer", reason="?")
    known.as_(AGENT).write(resolve, ref=done.id, code="fixed", text="Fixed")

    _migrate(known, "downgrade", "0003_outbox")
    _migrate(known, "upgrade", "head")

    kept = known.row(running.id)
    assert kept.sla_running_since == T0 and kept.sla_paused_at is None
    assert kept.resolve_due_at == T0 + timedelta(hours=8)  # due times stay as they were
    assert kept.resolve_warn_at == T0 + timedelta(hours=6)
    assert kept.sla_next_at == T0  # the next check records whatever is already late
    paused = known.row(waiting.id)
    assert paused.sla_paused_at == T0 + timedelta(hours=1) and paused.sla_used_seconds == 3600
    assert known.row(done.id).sla_paused_at == T0 + timedelta(hours=1)

    now.to(T0 + timedelta(hours=9))
    result = run_check(known.db)
    assert {(a.ref, a.clock) for a in result.alarms if a.breach} == {
        (format_ref(running.id), "first_response"),
        (format_ref(running.id), "resolution"),
    }
