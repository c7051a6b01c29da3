"""``deskterm db check``: every ticket row against the replay of its log, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from clirun import run_deskterm
from deskterm.desk import clock
from deskterm.desk.away import go_away
from deskterm.desk.callbacks import schedule_callback
from deskterm.desk.consistency import Finding, check_log
from deskterm.desk.context import Desk
from deskterm.desk.handover import hand_over
from deskterm.desk.intake import Problem, record_call
from deskterm.desk.queue import claim_next
from deskterm.desk.sla_check import run_check
from deskterm.desk.tickets import (
    add_note,
    assign,
    change_status,
    close,
    escalate,
    link,
    log_call,
    reopen,
    resolve,
    set_priority,
)
from deskterm.domain.errors import NotFound
from deskterm.domain.replay import Event, log_faults, replay
from factories import (
    AGENT,
    AGENT2,
    DESKTOP,
    SERVICE_DESK,
    SUPERVISOR,
    TECH,
    KnownDesk,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, in office hours


class _Clock:
    """A clock that moves a minute per reading: every change has a time of its own."""

    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=7)
        return self.at


def _findings(known: KnownDesk, **options: object) -> list[Finding]:
    found: list[Finding] = []
    summary = Desk(known.db, None).read(check_log, on_finding=found.append, **options)
    assert summary.findings == len(found)
    return found


def _worked_desk(known: KnownDesk) -> dict[str, int]:
    """A desk that has been through every kind of change the desk makes."""
    alice, sam, tom = known.as_(AGENT), known.as_(SUPERVISOR), known.as_(TECH)
    made: dict[str, int] = {}
    with clock.use_clock(_Clock()):
        # An intake with three problems: split tickets, links both ways.
        call = alice.write(
            record_call,
            problems=[
                Problem(subject="Laptop will not boot", category="Hardware > Laptop"),
                Problem(subject="VPN drops", impact="high", urgency="high"),
                Problem(subject="Printer jams on tray 2", impact="low", urgency="low"),
            ],
            contact_id=known.contact_id,
            call_seconds=240,
        )
        first, vpn, printer = (t.id for t in call)
        made.update(first=first, vpn=vpn, printer=printer)
        alice.write(add_note, ref=first, text="Tried a hard reset", public=True)
        alice.write(log_call, ref=first, direction="outbound", duration_seconds=60)
        alice.write(set_priority, ref=first, urgency="high", priority="P1", reason="CEO's laptop")
        alice.write(set_priority, ref=first, impact="high")  # back to the matrix: no override
        alice.write(change_status, ref=first, status="waiting_customer", reason="asked for logs")
        alice.write(change_status, ref=first, status="in_progress")
        alice.write(escalate, ref=first, level=2, reason="Board needs replacing")
        tom.write(claim_next)
        tom.write(resolve, ref=first, code="hardware-replaced", text="New board fitted")
        alice.write(reopen, ref=first, reason="Fails again")
        tom.write(resolve, ref=first, code="hardware-replaced", text="Second board fitted")
        tom.write(close, ref=first)

        # Queue work: an unassigned ticket taken with "pull next", handed on with a reason.
        queued = known.ticket(AGENT2, subject="Outlook asks for the password", assignee="none")
        made["queued"] = queued.id
        alice.write(claim_next)
        sam.write(assign, ref=queued.id, to=AGENT2, reason="Bob knows this caller")
        sam.write(assign, ref=queued.id, to="none", reason="Back to the queue")
        # A supervisor's handover to a group alone, then to an analyst in it.
        sam.write(
            hand_over,
            versions={queued.id: _version(known, queued.id)},
            note="Desktop's",
            group=DESKTOP,
        )
        sam.write(
            hand_over, versions={printer: _version(known, printer)}, note="Bob takes it", to=AGENT2
        )
        # Away with a handover to the backup; a callback; a cancellation; a link.
        held = known.ticket(AGENT2, subject="Monitor flickers")
        made["held"] = held.id
        sam.write(go_away, login=AGENT2, backup=AGENT, reason="holiday", handover=True)
        alice.write(
            schedule_callback,
            ref=held.id,
            due_at=T0 + timedelta(hours=4),
            reason="Customer is in a meeting",
        )
        alice.write(link, ref=held.id, other=vpn, kind="related")
        alice.write(change_status, ref=vpn, status="cancelled", reason="Raised twice")
        # A priority override that stays, and a ticket whose last change is "pull next".
        alice.write(set_priority, ref=printer, priority="P2", reason="Their only printer")
        pulled = known.ticket(AGENT, subject="Keyboard misses keys", assignee="none")
        made["pulled"] = pulled.id
        alice.write(claim_next)
        # A P1 nobody takes: the SLA check escalates it as the system and notes its rules.
        urgent = known.ticket(
            AGENT,
            subject="Mail server down",
            impact="high",
            urgency="high",
            assignee="none",
            group=SERVICE_DESK,
        )
        made["urgent"] = urgent.id
    late = _Clock()
    late.at = T0 + timedelta(hours=6)
    with clock.use_clock(late):
        run_check(known.db)
    return made


def _version(known: KnownDesk, ticket_id: int) -> int:
    return known.row(ticket_id).version


def test_a_desk_worked_through_the_desk_functions_checks_clean(
    known: KnownDesk, db_url: str, monkeypatch, capsys
) -> None:
    made = _worked_desk(known)
    urgent = [e.kind for e in known.events(made["urgent"])]
    # The desk really went through what the check must follow: a system escalation with its
    # annotations, handovers, a reopen.
    assert "escalated" in urgent and "escalation_rule" in urgent, urgent
    assert _findings(known) == []

    code, out, err = run_deskterm(monkeypatch, capsys, "--db", db_url, "db", "check")
    assert code == 0, err
    assert "every ticket is what its log says" in out
    assert "Checked 7 tickets" in out


def test_a_row_changed_behind_the_log_is_reported_with_both_values(
    known: KnownDesk, db_url: str, monkeypatch, capsys
) -> None:
    made = _worked_desk(known)
    first = made["first"]
    with known.db.write() as session:
        session.execute(
            text("UPDATE ticket SET status = 'in_progress', priority = 5 WHERE id = :id"),
            {"id": first},
        )

    found = _findings(known)
    assert {(f.ticket_id, f.field, f.row, f.log) for f in found} == {
        (first, "status", "in_progress", "closed"),
        (first, "priority", "P5", "P1"),
    }

    code, out, err = run_deskterm(monkeypatch, capsys, "--db", db_url, "db", "check")
    assert code == 6
    ref = f"DT-{first:06d}"
    assert f"{ref} status: row in_progress, log closed" in out.splitlines()
    assert f"{ref} priority: row P5, log P1" in out.splitlines()
    assert "1 of 7 tickets differ from their log" in err

    code, out, _err = run_deskterm(
        monkeypatch, capsys, "--db", db_url, "db", "check", "--ticket", ref, "--json"
    )
    report = json.loads(out)
    assert code == 6 and report["ok"] is False and report["tickets"] == 1
    assert {"ref": ref, "field": "status", "row": "in_progress", "log": "closed"} in report[
        "findings"
    ]


def test_a_version_without_its_event_is_reported(known: KnownDesk) -> None:
    made = _worked_desk(known)
    held = made["held"]
    before = _version(known, held)
    # The log refuses deletes (triggers), so lose an event the other way: a row ahead of it.
    with known.db.write() as session:
        session.execute(
            text("UPDATE ticket SET version = version + 1 WHERE id = :id"), {"id": held}
        )
    found = _findings(known, ticket_ids=[held, made["queued"]])
    assert [(f.field, f.row, f.log) for f in found] == [("version", str(before + 1), str(before))]


def test_limit_checks_the_newest_tickets_and_an_unknown_ticket_is_not_found(
    known: KnownDesk, db_url: str, monkeypatch, capsys
) -> None:
    made = _worked_desk(known)
    with known.db.write() as session:
        session.execute(
            text("UPDATE ticket SET subject = 'x' WHERE id = :id"), {"id": made["first"]}
        )
    assert _findings(known, limit=2) == []  # the first ticket is not among the two newest
    assert [f.field for f in _findings(known, limit=7)] == ["subject"]
    # Not "1 of 0 tickets differ": a ticket that is not there is not found (exit 1).
    with pytest.raises(NotFound, match="^no ticket DT-009999$"):
        _findings(known, ticket_ids=[9999, made["first"]])

    code, _out, err = run_deskterm(
        monkeypatch, capsys, "--db", db_url, "db", "check", "--limit", "0"
    )
    assert code == 2 and "--limit" in err


def _event(event_id: int, version: int, kind: str = "note", minute: int = 0, **data) -> Event:
    return Event(
        id=event_id,
        version=version,
        at=T0 + timedelta(minutes=minute or event_id),
        actor="alice",
        kind=kind,
        public=False,
        data=data,
    )


def test_the_log_rules_catch_gaps_reordering_and_two_changes_at_one_version() -> None:
    created = _event(1, 1, "created", status="new", subject="s", channel="email")
    assert log_faults([created, _event(2, 2), _event(3, 3)]) == []
    assert log_faults([created, _event(2, 2), _event(3, 4)]) == [
        "log: version 3 missing (no event between #2 and #3)"
    ]
    backwards = log_faults([created, _event(2, 3), _event(3, 2)])
    assert any("#3 (version 2) was written after event #2 (version 3)" in f for f in backwards)
    # Two writers who both produced version 2: a lost update.
    twice = log_faults([created, _event(2, 2, minute=5), _event(3, 2, minute=6)])
    assert twice and "version 2 was written by 2 changes" in twice[0]
    assert log_faults([_event(1, 1)])[0] == "log: first event #1 is note, not created"
    # An annotation carries the version before it and is not a change of its own.
    sent = _event(3, 2, "notification_sent", minute=9)
    assert log_faults([created, _event(2, 2), sent]) == []


def test_replay_follows_holder_status_and_resolution() -> None:
    events = [
        _event(1, 1, "created", status="new", group="Service Desk", level=1, channel="email"),
        _event(2, 2, "assigned", to="alice", status="assigned"),
        _event(3, 3, "resolved", code="fixed", text="done", assignee="alice"),
        _event(4, 4, "reopened", to="in_progress", reason="again"),
        _event(
            5,
            5,
            "reassigned",
            to="Desktop Support",
            to_group="Desktop Support",
            status="new",
            via="handover",
        ),
    ]
    told = replay(events, group_levels={"Desktop Support": 2})
    state = told.state
    assert (state.status, state.assignee, state.group, state.level) == (
        "new",
        None,
        "Desktop Support",
        2,
    )
    assert state.resolution_code is None and state.resolved_at is None
    assert told.reopened == 1 and state.version == 5
    assert state.unassigned_since == events[-1].at
    assert state.first_response_at is None  # nothing public by an analyst


def test_a_pull_next_of_a_held_ticket_is_a_double_claim() -> None:
    created = _event(1, 1, "created", status="new", group="Service Desk", level=1)
    first = _event(2, 2, "assigned", to="alice", via="queue next", status="assigned")
    second = _event(3, 3, "assigned", to="bob", via="queue next", status="assigned")
    assert replay([created, first]).double_claims == []
    assert replay([created, first, second]).double_claims == [
        "log: event #3 claims it for bob while alice held it"
    ]
    # Put back in the queue in between, it may be pulled again.
    back = _event(3, 3, "unassigned", status="new")
    again = _event(4, 4, "assigned", to="bob", via="queue next", status="assigned")
    assert replay([created, first, back, again]).double_claims == []
