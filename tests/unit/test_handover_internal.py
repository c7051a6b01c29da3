"""Internal by default, on SQLite and PostgreSQL: what an analyst or a supervisor types as the
reason for a handover, a reassignment or an escalation is an internal line of the ticket's
log and never reaches a customer's message; the customer reads who has the case now and why
in fixed words, plus only what the analyst chose to tell them. Also: an escalated ticket
waiting on its customer keeps waiting (its SLA clock stays paused) and its callbacks move
with it; a supervisor marks away only the analysts of their groups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from clirun import run_deskterm
from deskterm.db.models import Callback, Notification
from deskterm.desk import clock
from deskterm.desk.analysts import get_analyst, set_away, set_back
from deskterm.desk.away import go_away
from deskterm.desk.callbacks import schedule_callback
from deskterm.desk.contacts import add_contact
from deskterm.desk.customer import customer_view
from deskterm.desk.handover import hand_over
from deskterm.desk.outbox import preview
from deskterm.desk.queue import claim_next
from deskterm.desk.templates import render_notice
from deskterm.desk.tickets import assign, change_status, escalate
from deskterm.domain.errors import PermissionDenied
from factories import ADMIN, AGENT, AGENT2, DESKTOP, SUPERVISOR, TECH, KnownDesk

SECRET = "off sick: migraine"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def now() -> Iterator[list[datetime]]:
    moment = [T0]
    with clock.use_clock(lambda: moment[0]):
        yield moment


def outbox(known: KnownDesk) -> list[tuple[str, dict, str]]:
    """Every queued customer message: its kind, context and the body as it would go out."""
    with known.db.read() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id)).all()
        return [
            (r.kind, dict(r.context), render_notice(r.kind, "en", dict(r.context)).body)
            for r in rows
        ]


def assert_nothing_internal(known: KnownDesk, *secrets: str) -> None:
    for kind, context, body in outbox(known):
        for secret in secrets:
            assert secret not in json.dumps(context), (kind, context)
            assert secret not in body, (kind, body)


def internal_notes(known: KnownDesk, ticket_id: int) -> list[str]:
    return [
        e.data["text"]
        for e in known.events(ticket_id)
        if e.kind == "note" and e.visibility == "internal"
    ]


def test_a_handover_note_is_internal_and_the_customer_reads_fixed_words(
    known: KnownDesk,
) -> None:
    first, second = known.ticket(AGENT), known.ticket(AGENT)
    boss = known.as_(SUPERVISOR)
    boss.write(set_away, login=AGENT, reason="sick")
    before = len(outbox(known))

    boss.write(
        hand_over, versions={t.id: t.version for t in (first, second)}, to=AGENT2, note=SECRET
    )

    sent = outbox(known)[before:]
    assert [kind for kind, _, _ in sent] == ["assigned", "assigned"]
    for _, context, body in sent:
        assert context["because"] == "away" and context["away"] == "Alice Agent"
        assert "Bob Agent is now looking after your case" in body
        assert "Alice Agent is away at the moment, so Bob Agent is covering." in body
    assert_nothing_internal(known, SECRET)
    for ticket in (first, second):
        assert internal_notes(known, ticket.id) == [SECRET]
        # Nor in the customer's own view of the case.
        view = known.as_(AGENT2).read(customer_view, ref=ticket.id)
        assert SECRET not in json.dumps(view.to_json())


def test_telling_the_customer_is_a_separate_choice(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(SUPERVISOR).write(
        hand_over,
        versions={ticket.id: ticket.version},
        group=DESKTOP,
        note=SECRET,
        public_reason="Our desktop team will call you today.",
    )
    (_, context, body) = outbox(known)[-1]
    assert context["because"] == "team"
    assert "moved to the team that handles this kind of request" in body
    assert "Our desktop team will call you today." in body
    assert_nothing_internal(known, SECRET)


def test_a_reassignment_reason_is_internal(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(SUPERVISOR).write(assign, ref=ticket.id, to=AGENT2, reason=SECRET)
    (_, context, body) = outbox(known)[-1]
    assert context["because"] == "colleague" and context["reason"] is None
    assert "A colleague is taking over" in body
    assert_nothing_internal(known, SECRET)
    assert internal_notes(known, ticket.id) == [SECRET]


def test_an_escalation_reason_is_internal(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason=SECRET)
    (kind, context, body) = outbox(known)[-1]
    assert kind == "escalated" and context["because"] == "specialist"
    assert "Desktop Support" in body
    assert_nothing_internal(known, SECRET)
    assert internal_notes(known, ticket.id) == [SECRET]


def test_going_away_with_a_handover_tells_only_that_they_are_away(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(SUPERVISOR).write(go_away, login=AGENT, backup=AGENT2, reason=SECRET, handover=True)
    (_, context, body) = outbox(known)[-1]
    assert context["away"] == "Alice Agent" and "is away at the moment" in body
    assert_nothing_internal(known, SECRET)
    assert known.row(ticket.id).assignee_id == known.analyst_id(AGENT2)


def test_the_cli_reason_is_internal_and_tell_customer_is_told(
    known: KnownDesk, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DESKTERM_DATABASE_URL", known.db.url.render_as_string(hide_password=False))
    ticket = known.ticket(AGENT)
    ref = f"#{ticket.id}"
    code, _, err = run_deskterm(
        monkeypatch,
        capsys,
        "--as",
        SUPERVISOR,
        "ticket",
        "assign",
        ref,
        "--to",
        AGENT2,
        "--reason",
        SECRET,
        "--tell-customer",
        "Bob knows your model well.",
    )
    assert code == 0, err
    code, _, err = run_deskterm(
        monkeypatch,
        capsys,
        "--as",
        AGENT2,
        "ticket",
        "escalate",
        ref,
        "--level",
        "2",
        "--reason",
        SECRET + " again",
    )
    assert code == 0, err
    bodies = [body for _, _, body in outbox(known)]
    assert any("Bob knows your model well." in b for b in bodies)
    assert_nothing_internal(known, SECRET)


def test_old_queued_rows_never_show_their_reason(known: KnownDesk) -> None:
    """A message queued before "because" existed carried the analyst's reason as "reason"."""
    old = {
        "ref": "DT-000001",
        "subject": "x",
        "name": "Carol",
        "holder": "Bob Agent",
        "group": "Service Desk",
        "level": 1,
        "status": "assigned",
        "channel": "email",
        "reason": SECRET,
        "away": None,
        "resolution": None,
        "callback_at": None,
    }
    for language in ("en", "de"):
        assert SECRET not in render_notice("assigned", language, old).body


def test_the_german_words_say_the_same_and_add_only_what_is_told() -> None:
    body = preview(
        "assigned",
        holder="Bob Agent",
        group=None,
        because="away",
        told="Wir rufen Sie heute an.",
        away="Alice Agent",
        language="de",
    )
    assert "Alice Agent ist gerade nicht im Haus" in body and "Wir rufen Sie heute an." in body
    team = preview("assigned", holder=None, group="Netz", because="team", told=None, language="de")
    assert "das solche Anfragen bearbeitet" in team


# --------------------------------------------------------------------------- escalation


def test_escalating_a_ticket_waiting_on_its_customer_keeps_it_waiting(
    known: KnownDesk, now: list[datetime]
) -> None:
    ticket = known.ticket(AGENT)
    alice = known.as_(AGENT)
    alice.write(
        schedule_callback, ref=ticket.id, due_at=T0 + timedelta(hours=3), reason="check the fan"
    )
    now[0] = T0 + timedelta(hours=1)
    alice.write(change_status, ref=ticket.id, status="waiting_customer", reason="photo please")
    paused = known.row(ticket.id)
    now[0] = T0 + timedelta(hours=2)

    up = alice.write(escalate, ref=ticket.id, level=2, reason="fan needs replacing")

    after = known.row(ticket.id)
    assert (up.status, up.assignee, up.group) == ("waiting_customer", None, DESKTOP)
    # The SLA clock stands still, as it did: no restart, no new due times.
    assert after.sla_paused_at == paused.sla_paused_at and after.sla_running_since is None
    assert after.sla_used_seconds == paused.sla_used_seconds
    assert after.resolve_due_at == paused.resolve_due_at
    # The promised callback goes with the ticket: no longer alice's reminder; logged.
    with known.db.read() as session:
        (callback,) = session.scalars(select(Callback).where(Callback.ticket_id == ticket.id))
        assert callback.done_at is None and callback.scheduled_by_id is None
    assert any(
        "moves with the ticket to Desktop Support" in n for n in internal_notes(known, ticket.id)
    )
    # Not in anyone's "pull next" until the customer answers.
    assert known.as_(TECH).write(claim_next).ticket is None


def test_escalating_a_running_ticket_does_not_restart_its_clock(
    known: KnownDesk, now: list[datetime]
) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(change_status, ref=ticket.id, status="in_progress")
    before = known.row(ticket.id)
    now[0] = T0 + timedelta(hours=2)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="disk")
    after = known.row(ticket.id)
    assert after.status == "new"
    assert after.sla_running_since == before.sla_running_since
    assert after.resolve_due_at == before.resolve_due_at


# --------------------------------------------------------------------------- away rule


def test_a_supervisor_marks_away_only_the_analysts_of_their_groups(known: KnownDesk) -> None:
    boss = known.as_(SUPERVISOR)  # Service Desk
    boss.write(set_away, login=AGENT, backup=AGENT2)
    boss.write(set_back, login=AGENT)
    with pytest.raises(PermissionDenied, match=f"only a supervisor may mark {TECH} away"):
        boss.write(set_away, login=TECH)
    with pytest.raises(PermissionDenied):
        boss.write(go_away, login=TECH, backup=AGENT, handover=True)
    assert known.as_(TECH).read(get_analyst, login=TECH).availability == "available"
    known.as_(ADMIN).write(set_away, login=TECH)
    with pytest.raises(PermissionDenied):
        boss.write(set_back, login=TECH)
    with pytest.raises(PermissionDenied):
        known.as_(AGENT2).write(set_away, login=AGENT)
    known.as_(AGENT2).write(set_away)


def test_a_german_customer_gets_the_german_words(known: KnownDesk) -> None:
    contact = known.as_(ADMIN).write(
        add_contact, name="Klaus Schmitt", email="klaus@example.de", language="de"
    )
    ticket = known.ticket(AGENT, contact_id=contact.id)
    known.as_(SUPERVISOR).write(set_away, login=AGENT, reason="krank")
    known.as_(SUPERVISOR).write(
        hand_over, versions={ticket.id: ticket.version}, to=AGENT2, note=SECRET
    )
    with known.db.read() as session:
        row = session.scalars(select(Notification).order_by(Notification.id.desc())).first()
        assert row is not None
        body = render_notice(row.kind, "de", dict(row.context)).body
    assert "ist gerade nicht im Haus" in body and SECRET not in body
