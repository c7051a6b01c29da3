"""Every ticket use case on both databases, and the log entry each change writes.

A change bumps the ticket's version once and writes its events at that version, in the same
transaction; a refusal leaves both the ticket and its log exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from deskterm.db.models import Ticket, TicketEvent, TicketLink
from deskterm.desk import tickets
from deskterm.desk.analysts import add_group, set_away
from deskterm.desk.clock import use_clock
from deskterm.desk.contacts import add_asset, add_contact
from deskterm.desk.queue import claim_next
from deskterm.desk.tickets import (
    add_note,
    assign,
    change_status,
    close,
    escalate,
    get_ticket,
    link,
    list_tickets,
    log_call,
    reopen,
    resolve,
    set_priority,
)
from deskterm.domain.errors import (
    ConflictError,
    DeskError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    UnknownAnalyst,
)
from factories import (
    ADMIN,
    AGENT,
    AGENT2,
    CONTACT_NAME,
    DESKTOP,
    ENGINEER,
    INFRA,
    SERVICE_DESK,
    SUPERVISOR,
    TECH,
    KnownDesk,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def latest_change(known: KnownDesk, ticket_id: int, *kinds: str) -> list[TicketEvent]:
    """The events of the ticket's latest change, checked to be exactly ``kinds``, in order."""
    version = known.row(ticket_id).version
    events = [e for e in known.events(ticket_id) if e.ticket_version == version]
    assert [e.kind for e in events] == list(kinds)
    return events


def refused(
    known: KnownDesk,
    ticket_id: int,
    error: type[DeskError],
    login: str | None,
    fn: Callable[..., Any],
    **kwargs: Any,
) -> DeskError:
    """Run a change that must be refused with ``error``; nothing about the ticket may move."""
    before = known.snapshot(ticket_id)
    with pytest.raises(error) as caught:
        known.as_(login).write(fn, **kwargs)
    assert known.snapshot(ticket_id) == before
    return caught.value


def count(known: KnownDesk, model: Any) -> int:
    with known.db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def queued(known: KnownDesk, group: str = SERVICE_DESK, **fields: Any) -> int:
    """A ticket waiting unassigned in ``group``'s queue."""
    return known.ticket(SUPERVISOR, group=group, assignee="none", **fields).id


# --------------------------------------------------------------------------- creating


def test_a_new_ticket_stays_with_its_creator_and_says_so(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT, description="Black screen\nafter update", asset_id=known.asset_id)

    assert ticket.ref == f"DT-{ticket.id:06d}"
    assert (ticket.status, ticket.assignee, ticket.group, ticket.level) == (
        "assigned",
        AGENT,
        SERVICE_DESK,
        1,
    )
    assert (ticket.priority, ticket.impact, ticket.urgency) == ("P3", "medium", "medium")
    assert ticket.contact == CONTACT_NAME and ticket.asset and ticket.asset.product
    assert ticket.description == "Black screen\nafter update"
    assert ticket.created_by == AGENT and ticket.version == 1
    (created,) = latest_change(known, ticket.id, "created")
    assert created.actor_id == known.analyst_id(AGENT)
    assert created.visibility == "public"
    assert created.ticket_version == 1
    assert created.data["subject"] == "Laptop will not boot"
    assert created.data["priority"] == "P3" and created.data["assignee"] == AGENT
    assert created.data["group"] == SERVICE_DESK and created.data["contact"] == CONTACT_NAME


def test_due_times_follow_the_priority_and_phone_counts_as_first_response(
    known: KnownDesk,
) -> None:
    with use_clock(lambda: T0):
        phone = known.ticket(impact="high", urgency="high")
        mail = known.ticket(channel="email")

    assert phone.priority == "P1"
    assert phone.response_due_at == T0 + timedelta(minutes=15)
    assert phone.resolve_due_at == T0 + timedelta(hours=4)
    assert phone.first_response_at == T0
    # P3 counts office hours (08:00-18:00 London): Monday 9, Tuesday 10, Wednesday 5.
    assert mail.priority == "P3" and mail.resolve_due_at == T0 + timedelta(days=2, hours=4)
    assert mail.first_response_at is None


def test_a_call_length_is_logged_with_the_new_ticket(known: KnownDesk) -> None:
    ticket = known.ticket(call_seconds=185)

    created, call = latest_change(known, ticket.id, "created", "call_logged")
    assert call.data == {"direction": "inbound", "duration_seconds": 185}
    assert call.actor_id == created.actor_id and call.ticket_version == 1


def test_the_category_routes_a_ticket_only_when_the_creator_has_no_group(
    known: KnownDesk,
) -> None:
    kept = known.ticket(AGENT, category="Printer")
    routed = known.ticket(ADMIN, category="Hardware > Printer")

    assert (kept.group, kept.assignee, kept.category) == (SERVICE_DESK, AGENT, "Hardware > Printer")
    assert (routed.group, routed.assignee, routed.status, routed.level) == (DESKTOP, None, "new", 2)


def test_a_ticket_sent_to_another_group_waits_in_its_queue(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT, group="desktop support")

    assert (ticket.group, ticket.assignee, ticket.status, ticket.level) == (DESKTOP, None, "new", 2)
    (created,) = latest_change(known, ticket.id, "created")
    assert "assignee" not in created.data and created.data["status"] == "new"


def test_a_ticket_can_be_given_to_someone_at_once(known: KnownDesk) -> None:
    to_tom = known.ticket(AGENT, group=DESKTOP, assignee=TECH)
    to_nobody = known.ticket(AGENT, assignee="none")

    assert (to_tom.assignee, to_tom.status) == (TECH, "assigned")
    assert (to_nobody.assignee, to_nobody.status, to_nobody.group) == (None, "new", SERVICE_DESK)


def test_a_ticket_for_someone_away_goes_to_their_backup(known: KnownDesk) -> None:
    known.as_(ADMIN).write(set_away, login=TECH, backup=ENGINEER, reason="holiday")

    ticket = known.ticket(AGENT, group=DESKTOP, assignee=TECH)

    assert ticket.assignee == ENGINEER
    (created,) = latest_change(known, ticket.id, "created")
    assert (created.data["assignee"], created.data["requested"]) == (ENGINEER, TECH)
    assert created.data["reason"] == "away"


def test_a_priority_override_keeps_its_reason(known: KnownDesk) -> None:
    ticket = known.ticket(priority="p1", priority_reason="CEO's laptop")

    assert ticket.priority == "P1" and ticket.priority_reason == "CEO's laptop"
    (created,) = latest_change(known, ticket.id, "created")
    assert created.data["priority"] == "P1"
    assert created.data["priority_reason"] == "CEO's laptop"


def test_a_ticket_split_from_another_is_linked_in_both_logs(known: KnownDesk) -> None:
    first = known.ticket()
    second = known.ticket(subject="Printer jams too", split_from=first.ref)

    _, split = latest_change(known, second.id, "created", "split")
    assert split.data == {"link": "split_from", "other": first.ref}
    (back,) = latest_change(known, first.id, "split")
    assert back.data == {"link": "split_from", "other": second.ref}
    assert known.row(first.id).version == 2
    detail = known.as_(AGENT).read(get_ticket, ref=first.ref)
    assert [(lk.ref, lk.kind) for lk in detail.links] == [(second.ref, "split_from")]


def _second_carol(known: KnownDesk) -> None:
    known.as_(AGENT).write(add_contact, name=CONTACT_NAME, email="carol@elsewhere.example")


@pytest.mark.parametrize(
    ("fields", "error", "field", "words"),
    [
        ({"subject": "  \t "}, InvalidInput, "subject", "must not be empty"),
        ({"subject": "\x1b[0m\x00"}, InvalidInput, "subject", "must not be empty"),
        ({"subject": "x" * 201}, InvalidInput, "subject", "too long"),
        ({"description": "x" * 65_537}, InvalidInput, "description", "too long"),
        ({"contact": "Nobody Known", "contact_id": None}, NotFound, None, "no contact matches"),
        ({"contact_id": 9999}, NotFound, None, "no contact with id 9999"),
        ({"contact": CONTACT_NAME, "contact_id": None}, InvalidInput, "contact", "several"),
        ({"assignee": "ghost"}, UnknownAnalyst, None, "no analyst with login 'ghost'"),
        ({"priority": "P7", "priority_reason": "x"}, InvalidInput, "priority", "P1 to P5"),
        ({"priority": "P1"}, InvalidInput, "priority_reason", "needs a reason"),
        ({"impact": "huge"}, InvalidInput, "impact", "unknown impact 'huge'"),
        ({"channel": "pigeon"}, InvalidInput, "channel", "unknown channel"),
        ({"group": "Nowhere"}, NotFound, None, "no group named 'Nowhere'"),
        ({"category": "Plumbing"}, NotFound, None, "no category 'Plumbing'"),
        ({"call_seconds": 90_000}, InvalidInput, "call_seconds", "24 hours"),
        ({"split_from": "DT-000999"}, NotFound, None, "no ticket DT-000999"),
    ],
)
def test_bad_input_opens_no_ticket(
    known: KnownDesk, fields: dict[str, Any], error: type[DeskError], field: str, words: str
) -> None:
    _second_carol(known)

    with pytest.raises(error, match=words) as caught:
        known.ticket(AGENT, **fields)

    if field is not None:
        assert getattr(caught.value, "field", None) == field
    assert count(known, Ticket) == 0 and count(known, TicketEvent) == 0


def test_an_asset_of_another_caller_is_refused(known: KnownDesk) -> None:
    other = known.as_(AGENT).write(add_contact, name="Dan Other", email="dan@acme.example")
    known.as_(AGENT).write(add_asset, contact=f"#{other.id}", kind="hardware", product="iPhone")

    with pytest.raises(InvalidInput, match="belongs to another contact"):
        known.ticket(AGENT, asset_id=known.asset_id + 1)
    assert count(known, Ticket) == 0


HOSTILE_LINE = "[bold red]URGENT[/] \x1b[31mred\x1b[0m \x1b]0;pwned\x07title\x00 \u202eevil"
HOSTILE_LONG = (
    "line [link=http://x]one[/link]\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\\r\n\ttwo\x00\x1b[2J"
)


def test_hostile_text_is_stored_without_control_sequences_and_markup_literally(
    known: KnownDesk,
) -> None:
    contact = known.as_(AGENT).write(add_contact, name=HOSTILE_LINE)
    ticket = known.ticket(
        AGENT, subject=HOSTILE_LINE, description=HOSTILE_LONG, contact_id=contact.id
    )
    known.as_(AGENT).write(add_note, ref=ticket.id, text=HOSTILE_LONG)

    stored = known.as_(AGENT).read(get_ticket, ref=ticket.id)
    assert stored.subject == "[bold red]URGENT[/] red title evil"
    assert stored.contact == "[bold red]URGENT[/] red title evil"
    assert stored.description == "line [link=http://x]one[/link]click\n\ttwo"
    note = stored.events[-1]
    assert note.data["text"] == stored.description
    created = stored.events[0]
    assert created.data["subject"] == stored.subject
    everything = repr(stored.model_dump())
    for bad in ("\\x1b", "\\x00", "\\x07", "\\u202e", "\\r"):
        assert bad not in everything


# --------------------------------------------------------------------------- reading


def test_lists_filter_and_sort(known: KnownDesk) -> None:
    low = known.ticket(AGENT, impact="low", urgency="low")
    urgent = known.ticket(AGENT2, impact="high", urgency="high")
    waiting = queued(known)
    done = known.ticket(AGENT)
    known.as_(AGENT).write(resolve, ref=done.id, code="fixed", text="ok")

    def ids(**kw: Any) -> list[int]:
        return [t.id for t in known.as_(AGENT).read(list_tickets, **kw)]

    assert ids() == [urgent.id, waiting, low.id]
    assert ids(sort="newest") == [waiting, urgent.id, low.id]
    assert ids(assignee="me") == [low.id]
    assert ids(assignee=AGENT2) == [urgent.id]
    assert ids(assignee="none") == [waiting]
    assert ids(priority="P1") == [urgent.id]
    assert ids(statuses=["resolved"]) == [done.id]
    assert set(ids(statuses=["all"])) == {low.id, urgent.id, waiting, done.id}
    assert ids(group=DESKTOP) == []
    assert ids(contact_id=known.contact_id, limit=1) == [urgent.id]
    with pytest.raises(InvalidInput, match="unknown status 'bogus'"):
        ids(statuses=["bogus"])
    with pytest.raises(InvalidInput, match="limit"):
        ids(limit=0)
    with pytest.raises(InvalidInput, match="unknown sort"):
        ids(sort="random")
    with pytest.raises(UnknownAnalyst):
        ids(assignee="ghost")


def test_a_ticket_tells_its_whole_story(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT, asset_id=known.asset_id)
    known.as_(AGENT2).write(add_note, ref=ticket.ref, text="Tried a hard reset")

    detail = known.as_(TECH).read(get_ticket, ref=ticket.ref.lower())

    assert detail.contact_detail is not None and detail.contact_detail.open_tickets == 1
    assert detail.asset is not None and detail.asset.serial_number == "PF-3XK9"
    assert [(e.kind, e.actor, e.ticket_version) for e in detail.events] == [
        ("created", AGENT, 1),
        ("note", AGENT2, 2),
    ]
    assert detail.events[1].summary == "noted: Tried a hard reset"
    assert detail.events[1].actor_name == "Bob Agent"
    with known.db.read() as session:
        public = tickets.ticket_events(session, ticket.id, public_only=True)
    assert [e.kind for e in public] == ["created"]  # what the customer may see


def test_unknown_and_malformed_references(known: KnownDesk) -> None:
    with pytest.raises(NotFound, match="no ticket DT-000042"):
        known.as_(AGENT).read(get_ticket, ref="DT-000042")
    with pytest.raises(InvalidInput, match="not a ticket reference"):
        known.as_(AGENT).read(get_ticket, ref="INC-1")
    with pytest.raises(NotFound, match="no ticket DT-000042"):
        known.as_(AGENT).write(add_note, ref=42, text="hello")


# --------------------------------------------------------------------------- notes and calls


def test_anyone_may_add_to_the_story(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)

    after = known.as_(TECH).write(add_note, ref=ticket.id, text="  Seen this before:\n  BIOS  ")

    assert after.version == 2
    (note,) = latest_change(known, ticket.id, "note")
    assert note.actor_id == known.analyst_id(TECH)
    assert note.visibility == "internal"
    assert note.data == {"text": "Seen this before:\n  BIOS"}
    assert note.ticket_version == 2


def test_a_public_note_is_the_first_response_to_a_mail(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT, channel="email")
    known.as_(AGENT).write(add_note, ref=ticket.id, text="internal musing")
    assert known.row(ticket.id).first_response_at is None

    with use_clock(lambda: T0):
        known.as_(AGENT).write(add_note, ref=ticket.id, text="We are on it", public=True)

    (note,) = latest_change(known, ticket.id, "note")
    assert note.visibility == "public"
    assert known.row(ticket.id).first_response_at == T0


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "note must not be empty"), (" \n\x1b[0m ", "must not be empty"), ("x" * 65_537, "long")],
)
def test_empty_or_huge_notes_are_refused(known: KnownDesk, text: str, words: str) -> None:
    ticket = known.ticket()
    err = refused(known, ticket.id, InvalidInput, AGENT, add_note, ref=ticket.id, text=text)
    assert words in str(err) and err.field == "note"  # type: ignore[attr-defined]


def test_a_call_is_logged(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)

    known.as_(AGENT2).write(
        log_call, ref=ticket.id, direction="Outbound", duration_seconds=95, outcome="Left voicemail"
    )

    (call,) = latest_change(known, ticket.id, "call_logged")
    assert call.visibility == "public" and call.actor_id == known.analyst_id(AGENT2)
    assert call.data == {
        "direction": "outbound",
        "duration_seconds": 95,
        "outcome": "Left voicemail",
    }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"duration_seconds": -1}, "duration"),
        ({"duration_seconds": 86_401}, "duration"),
        ({"outcome": "x" * 4001}, "outcome"),
    ],
)
def test_bad_calls_are_refused(known: KnownDesk, kwargs: dict[str, Any], field: str) -> None:
    ticket = known.ticket()
    err = refused(known, ticket.id, InvalidInput, AGENT, log_call, ref=ticket.id, **kwargs)
    assert err.field == field  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- assigning


def test_an_agent_takes_a_ticket_from_the_queue(known: KnownDesk) -> None:
    ticket_id = queued(known)

    taken = known.as_(AGENT).write(assign, ref=ticket_id, to="me")

    assert (taken.assignee, taken.status, taken.version) == (AGENT, "assigned", 2)
    (event,) = latest_change(known, ticket_id, "assigned")
    assert event.actor_id == known.analyst_id(AGENT) and event.visibility == "public"
    assert event.data == {"to": AGENT, "status": "assigned"}
    assert event.ticket_version == 2


def test_handing_on_ones_own_ticket_needs_a_reason(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    err = refused(known, ticket.id, InvalidInput, AGENT, assign, ref=ticket.id, to=AGENT2)
    assert "needs a reason" in str(err)

    known.as_(AGENT).write(assign, ref=ticket.id, to=AGENT2, reason="end of shift")

    note, event = latest_change(known, ticket.id, "note", "reassigned")
    assert event.data == {
        "from": AGENT,
        "to": AGENT2,
        "because": "colleague",
        "status": "assigned",
    }
    assert event.visibility == "public" and event.actor_id == known.analyst_id(AGENT)
    # The reason is for colleagues: an internal line of the same change.
    assert (note.visibility, note.data) == ("internal", {"text": "end of shift", "about": "reason"})


def test_an_agent_may_not_reassign_another_analysts_ticket(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    for to in (AGENT2, "me", "none"):
        err = refused(
            known, ticket.id, PermissionDenied, AGENT2, assign, ref=ticket.id, to=to, reason="x"
        )
        assert f"held by {AGENT}" in str(err)


def test_a_supervisor_may_reassign_with_a_reason(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    err = refused(known, ticket.id, InvalidInput, SUPERVISOR, assign, ref=ticket.id, to=AGENT2)
    assert "needs a reason" in str(err)

    moved = known.as_(SUPERVISOR).write(
        assign, ref=ticket.id, to=AGENT2, reason="Alice is overloaded"
    )

    assert moved.assignee == AGENT2
    note, event = latest_change(known, ticket.id, "note", "reassigned")
    assert event.actor_id == known.analyst_id(SUPERVISOR)
    assert (event.data["from"], event.data["to"]) == (AGENT, AGENT2)
    assert "reason" not in event.data
    assert (note.visibility, note.data["text"]) == ("internal", "Alice is overloaded")


def test_giving_a_ticket_back_to_the_queue(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(change_status, ref=ticket.id, status="in progress")

    back = known.as_(AGENT).write(assign, ref=ticket.id, to="none")

    assert (back.assignee, back.status) == (None, "new")
    (event,) = latest_change(known, ticket.id, "unassigned")
    assert event.data == {"from": AGENT, "status": "new"}


def test_a_ticket_for_an_away_analyst_goes_to_their_backup_saying_why(known: KnownDesk) -> None:
    known.as_(ADMIN).write(set_away, login=TECH, backup=ENGINEER, reason="holiday")
    ticket_id = queued(known, DESKTOP)

    given = known.as_(ADMIN).write(assign, ref=ticket_id, to=TECH)

    assert given.assignee == ENGINEER
    (event,) = latest_change(known, ticket_id, "assigned")
    assert event.data == {
        "to": ENGINEER,
        "reason": "away",
        "requested": TECH,
        "status": "assigned",
    }


def test_bad_assignments_are_refused(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    err = refused(known, ticket.id, UnknownAnalyst, AGENT, assign, ref=ticket.id, to="ghost")
    assert "ghost" in str(err)
    err = refused(known, ticket.id, InvalidInput, AGENT, assign, ref=ticket.id, to=AGENT)
    assert f"already with {AGENT}" in str(err)
    err = refused(known, ticket.id, InvalidInput, None, assign, ref=ticket.id, to="me")
    assert "system cannot hold" in str(err)
    known.as_(AGENT).write(resolve, ref=ticket.id, code="fixed", text="done")
    err = refused(known, ticket.id, InvalidTransition, AGENT, assign, ref=ticket.id, to=AGENT2)
    assert "reopen it first" in str(err)


# --------------------------------------------------------------------------- escalating


def test_escalation_follows_the_path_and_lands_in_the_next_queue(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(change_status, ref=ticket.id, status="in_progress")

    up = known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Needs a new disk")

    assert (up.group, up.level, up.assignee, up.status) == (DESKTOP, 2, None, "new")
    note, event = latest_change(known, ticket.id, "note", "escalated")
    assert event.visibility == "public" and event.actor_id == known.analyst_id(AGENT)
    assert event.data == {
        "from_group": SERVICE_DESK,
        "to_group": DESKTOP,
        "from_level": 1,
        "to_level": 2,
        "from_assignee": AGENT,
        "status": "new",
    }
    assert (note.visibility, note.data["text"]) == ("internal", "Needs a new disk")

    known.as_(TECH).write(assign, ref=ticket.id, to="me")
    higher = known.as_(TECH).write(escalate, ref=ticket.id, level=3, reason="Disk array fault")
    assert (higher.group, higher.level, higher.assignee) == (INFRA, 3, None)


def test_an_escalated_waiting_ticket_lands_in_the_next_queue_as_new(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(
        change_status, ref=ticket.id, status="waiting_third_party", reason="vendor"
    )

    up = known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Vendor blames disk")

    assert (up.status, up.assignee, up.group) == ("new", None, DESKTOP)
    pulled = known.as_(TECH).write(claim_next)
    assert pulled.ticket is not None and pulled.ticket.id == ticket.id


def test_escalation_to_a_named_group(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)

    up = known.as_(AGENT).write(escalate, ref=ticket.id, group="network", reason="Wi-Fi dead")

    assert (up.group, up.level) == ("Network", 2)
    _note, event = latest_change(known, ticket.id, "note", "escalated")
    assert event.data["to_group"] == "Network"


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"level": 2, "reason": "  "}, InvalidInput, "reason must not be empty"),
        ({"reason": "why"}, InvalidInput, "a level or to a group"),
        ({"level": 2, "group": DESKTOP, "reason": "why"}, InvalidInput, "a level or to a group"),
        ({"level": 1, "reason": "why"}, InvalidInput, "escalate to a higher level"),
        ({"level": 4, "reason": "why"}, InvalidInput, "level must be 1, 2 or 3"),
        ({"group": SERVICE_DESK, "reason": "why"}, InvalidInput, "already with Service Desk"),
        ({"group": "Nowhere", "reason": "why"}, NotFound, "no group named"),
    ],
)
def test_bad_escalations_are_refused(
    known: KnownDesk, kwargs: dict[str, Any], error: type[DeskError], words: str
) -> None:
    ticket = known.ticket(AGENT)
    err = refused(known, ticket.id, error, AGENT, escalate, ref=ticket.id, **kwargs)
    assert words in str(err)


def test_escalation_without_a_path_is_refused(known: KnownDesk) -> None:
    known.as_(ADMIN).write(add_group, name="Front Door", level=1)
    ticket_id = known.ticket(SUPERVISOR, group="Front Door", assignee="none").id
    err = refused(
        known, ticket_id, InvalidInput, ADMIN, escalate, ref=ticket_id, level=2, reason="x"
    )
    assert "Front Door has no escalation path to level 2: name a group instead" in str(err)

    loose = known.ticket(None).id  # the system files it with no group at all
    err = refused(known, loose, InvalidInput, ADMIN, escalate, ref=loose, level=2, reason="x")
    assert "no group has no escalation path" in str(err)


def test_escalation_down_to_a_lower_group_is_refused(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=3, reason="server")
    err = refused(
        known,
        ticket.id,
        InvalidInput,
        ADMIN,
        escalate,
        ref=ticket.id,
        group=DESKTOP,
        reason="x",
    )
    assert "below the ticket's level 3" in str(err)


def test_only_the_holder_or_a_supervisor_escalates(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    refused(
        known, ticket.id, PermissionDenied, AGENT2, escalate, ref=ticket.id, level=2, reason="x"
    )
    known.as_(SUPERVISOR).write(escalate, ref=ticket.id, level=2, reason="x")


# --------------------------------------------------------------------------- status


def test_status_changes_are_logged_from_and_to(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)

    known.as_(AGENT).write(change_status, ref=ticket.id, status="waiting-customer", reason="asked")

    (event,) = latest_change(known, ticket.id, "status_changed")
    assert event.data == {"from": "assigned", "to": "waiting_customer", "reason": "asked"}
    assert event.visibility == "public" and event.ticket_version == 2


def test_starting_work_on_a_queued_ticket_takes_it(known: KnownDesk) -> None:
    ticket_id = queued(known)

    started = known.as_(AGENT).write(change_status, ref=ticket_id, status="in_progress")

    assert (started.assignee, started.status) == (AGENT, "in_progress")
    assigned, status = latest_change(known, ticket_id, "assigned", "status_changed")
    assert assigned.data == {"to": AGENT, "status": "in_progress"}
    assert status.data == {"from": "new", "to": "in_progress"}


def test_setting_a_held_ticket_back_to_new_frees_it(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)

    freed = known.as_(AGENT).write(change_status, ref=ticket.id, status="new")

    assert (freed.assignee, freed.status) == (None, "new")
    latest_change(known, ticket.id, "unassigned", "status_changed")


def test_a_refusal_midway_through_a_change_writes_nothing(known: KnownDesk) -> None:
    # The system actor gets past the transition and permission checks and fails only after
    # the change has begun: the version bump must not survive.
    ticket_id = queued(known)
    err = refused(
        known, ticket_id, InvalidInput, None, change_status, ref=ticket_id, status="in_progress"
    )
    assert "system cannot start work" in str(err)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("resolved", "resolve it with a resolution code"),
        ("closed", "close it instead"),
        ("assigned", "already assigned"),
        ("bogus", "unknown status 'bogus'"),
    ],
)
def test_impossible_status_changes_are_refused(known: KnownDesk, status: str, words: str) -> None:
    ticket = known.ticket(AGENT)
    err = refused(known, ticket.id, DeskError, AGENT, change_status, ref=ticket.id, status=status)
    assert isinstance(err, (InvalidTransition, InvalidInput)) and words in str(err)


def test_cancelling_needs_a_reason_and_is_final(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    err = refused(
        known, ticket.id, InvalidInput, AGENT, change_status, ref=ticket.id, status="cancelled"
    )
    assert "needs a reason" in str(err)

    with use_clock(lambda: T0):
        known.as_(AGENT).write(change_status, ref=ticket.id, status="cancelled", reason="dup call")

    assert known.row(ticket.id).closed_at == T0
    for status in ("new", "in_progress"):
        refused(
            known, ticket.id, InvalidTransition, AGENT, change_status, ref=ticket.id, status=status
        )


def test_only_the_holder_or_a_supervisor_changes_status(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    err = refused(
        known,
        ticket.id,
        PermissionDenied,
        AGENT2,
        change_status,
        ref=ticket.id,
        status="in_progress",
    )
    assert "held by someone else" in str(err)
    known.as_(SUPERVISOR).write(change_status, ref=ticket.id, status="in_progress")


# --------------------------------------------------------------------------- resolve, reopen, close


def test_resolving_records_how(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)

    with use_clock(lambda: T0):
        done = known.as_(AGENT).write(
            resolve, ref=ticket.id, code="Hardware-Replaced", text="New SSD fitted"
        )

    assert done.status == "resolved"
    row = known.row(ticket.id)
    assert (row.resolution_code, row.resolution_text, row.resolved_at) == (
        "hardware-replaced",
        "New SSD fitted",
        T0,
    )
    (event,) = latest_change(known, ticket.id, "resolved")
    assert event.visibility == "public" and event.actor_id == known.analyst_id(AGENT)
    assert event.data == {
        "from": "assigned",
        "to": "resolved",
        "code": "hardware-replaced",
        "text": "New SSD fitted",
        "assignee": AGENT,
    }


def test_resolving_a_queued_ticket_gives_it_to_the_resolver(known: KnownDesk) -> None:
    ticket_id = queued(known)
    done = known.as_(AGENT2).write(resolve, ref=ticket_id, code="fixed", text="rebooted")
    assert (done.assignee, done.status) == (AGENT2, "resolved")


@pytest.mark.parametrize(
    ("login", "kwargs", "error", "words"),
    [
        (AGENT, {"code": "magic", "text": "x"}, InvalidInput, "unknown resolution code 'magic'"),
        (AGENT, {"code": "fixed", "text": "  "}, InvalidInput, "resolution must not be empty"),
        (AGENT, {"code": "fixed", "text": "x" * 16_001}, InvalidInput, "too long"),
        (AGENT2, {"code": "fixed", "text": "x"}, PermissionDenied, "held by someone else"),
        (TECH, {"code": "fixed", "text": "x"}, PermissionDenied, "held by someone else"),
    ],
)
def test_bad_resolutions_are_refused(
    known: KnownDesk, login: str, kwargs: dict[str, Any], error: type[DeskError], words: str
) -> None:
    ticket = known.ticket(AGENT)
    err = refused(known, ticket.id, error, login, resolve, ref=ticket.id, **kwargs)
    assert words in str(err)


def test_a_resolved_ticket_is_reopened_with_a_reason(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(resolve, ref=ticket.id, code="fixed", text="done")
    err = refused(
        known,
        ticket.id,
        InvalidTransition,
        AGENT,
        resolve,
        ref=ticket.id,
        code="fixed",
        text="again",
    )
    assert "already resolved" in str(err)
    refused(known, ticket.id, InvalidInput, AGENT2, reopen, ref=ticket.id, reason=" ")

    back = known.as_(AGENT2).write(reopen, ref=ticket.id, reason="Still black screen")

    assert (back.status, back.assignee) == ("in_progress", AGENT)
    row = known.row(ticket.id)
    assert row.resolution_code is None and row.resolved_at is None
    (event,) = latest_change(known, ticket.id, "reopened")
    assert event.data == {"from": "resolved", "to": "in_progress", "reason": "Still black screen"}
    assert event.actor_id == known.analyst_id(AGENT2) and event.visibility == "public"
    err = refused(known, ticket.id, InvalidTransition, AGENT, reopen, ref=ticket.id, reason="x")
    assert "only a resolved ticket can be reopened" in str(err)


def test_only_a_resolved_ticket_closes_and_closed_is_final(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    refused(known, ticket.id, InvalidTransition, AGENT, close, ref=ticket.id)
    known.as_(AGENT).write(resolve, ref=ticket.id, code="fixed", text="done")

    known.as_(AGENT).write(close, ref=ticket.id)

    (event,) = latest_change(known, ticket.id, "closed")
    assert event.data == {"from": "resolved", "to": "closed"}
    assert known.row(ticket.id).closed_at is not None
    for fn, kwargs in [
        (change_status, {"status": "in_progress"}),
        (reopen, {"reason": "again"}),
        (resolve, {"code": "fixed", "text": "again"}),
        (close, {}),
        (assign, {"to": AGENT2, "reason": "x"}),
        (escalate, {"level": 2, "reason": "x"}),
        (set_priority, {"urgency": "high"}),
    ]:
        refused(known, ticket.id, InvalidTransition, SUPERVISOR, fn, ref=ticket.id, **kwargs)


# --------------------------------------------------------------------------- priority


def test_changing_urgency_moves_the_priority_and_its_due_times(known: KnownDesk) -> None:
    with use_clock(lambda: T0):
        ticket = known.ticket(AGENT)
    with use_clock(lambda: T0 + timedelta(hours=1)):
        known.as_(AGENT).write(set_priority, ref=ticket.id, urgency="HIGH")

    row = known.row(ticket.id)
    assert (row.urgency, row.priority) == ("high", 2)
    assert row.resolve_due_at == T0 + timedelta(hours=8)  # P2, counted from when it was opened
    urgency, priority = latest_change(known, ticket.id, "field_changed", "field_changed")
    assert urgency.data == {"field": "urgency", "from": "medium", "to": "high"}
    assert priority.data == {"field": "priority", "from": "P3", "to": "P2"}
    assert urgency.visibility == "internal"


def test_overriding_the_priority_needs_a_reason(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    err = refused(known, ticket.id, InvalidInput, AGENT, set_priority, ref=ticket.id, priority="P1")
    assert "overriding to P1 needs a reason" in str(err)

    known.as_(AGENT).write(set_priority, ref=ticket.id, priority="P1", reason="board meeting")

    assert known.row(ticket.id).priority_reason == "board meeting"
    (event,) = latest_change(known, ticket.id, "field_changed")
    assert event.data == {
        "field": "priority",
        "from": "P3",
        "to": "P1",
        "reason": "board meeting",
        "override": True,
    }


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"priority": "P9", "reason": "x"}, InvalidInput, "unknown priority 'P9'"),
        ({"impact": "galactic"}, InvalidInput, "unknown impact"),
        ({"urgency": "medium"}, InvalidInput, "nothing to change"),
    ],
)
def test_bad_priorities_are_refused(
    known: KnownDesk, kwargs: dict[str, Any], error: type[DeskError], words: str
) -> None:
    ticket = known.ticket(AGENT)
    err = refused(known, ticket.id, error, AGENT, set_priority, ref=ticket.id, **kwargs)
    assert words in str(err)


def test_only_the_holder_or_a_supervisor_reprioritises(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    refused(known, ticket.id, PermissionDenied, AGENT2, set_priority, ref=ticket.id, urgency="high")


# --------------------------------------------------------------------------- links


def test_a_link_is_written_into_both_logs(known: KnownDesk) -> None:
    first, second = known.ticket(AGENT), known.ticket(AGENT2)

    known.as_(AGENT).write(link, ref=second.ref, other=first.id, kind="duplicate")

    (here,) = latest_change(known, second.id, "linked")
    assert here.data == {"link": "duplicate_of", "other": first.ref}
    (there,) = latest_change(known, first.id, "linked")
    assert there.data == {"link": "related", "other": second.ref}
    assert known.row(first.id).version == 2 and known.row(second.id).version == 2
    assert count(known, TicketLink) == 2


def test_bad_links_are_refused(known: KnownDesk) -> None:
    first, second = known.ticket(AGENT), known.ticket(AGENT2)
    refused(known, first.id, InvalidInput, AGENT, link, ref=first.id, other=first.id)
    refused(
        known, first.id, InvalidInput, AGENT, link, ref=first.id, other=second.id, kind="cousin"
    )
    refused(known, first.id, NotFound, AGENT, link, ref=first.id, other="DT-000404")
    known.as_(AGENT).write(link, ref=first.id, other=second.id, kind="parent")
    err = refused(known, second.id, InvalidInput, AGENT, link, ref=second.id, other=first.id)
    assert "linked already" in str(err)


# --------------------------------------------------------------------------- optimistic locking

STALE_CHANGES: list[tuple[Callable[..., Any], dict[str, Any]]] = [
    (add_note, {"text": "my note"}),
    (log_call, {"duration_seconds": 30}),
    (assign, {"to": AGENT2, "reason": "shift"}),
    (escalate, {"level": 2, "reason": "disk"}),
    (change_status, {"status": "in_progress"}),
    (resolve, {"code": "fixed", "text": "done"}),
    (set_priority, {"urgency": "high"}),
]


@pytest.mark.parametrize(("fn", "kwargs"), STALE_CHANGES, ids=lambda v: getattr(v, "__name__", ""))
def test_a_stale_change_is_refused_naming_who_changed_what(
    known: KnownDesk, fn: Callable[..., Any], kwargs: dict[str, Any]
) -> None:
    ticket = known.ticket(AGENT)
    seen = ticket.version
    known.as_(TECH).write(add_note, ref=ticket.id, text="Checked the BIOS", expected_version=seen)

    err = refused(
        known, ticket.id, ConflictError, AGENT, fn, ref=ticket.id, expected_version=seen, **kwargs
    )

    message = str(err)
    assert message.startswith(f"{ticket.ref} was changed meanwhile: {TECH} noted: Checked the BIOS")
    assert "Nothing was saved" in message
    assert [c.actor for c in err.changes] == [TECH]  # type: ignore[attr-defined]
    # With the version the analyst now sees, the same change goes through.
    known.as_(AGENT).write(fn, ref=ticket.id, expected_version=seen + 1, **kwargs)
    assert known.row(ticket.id).version == seen + 2


def test_a_conflict_lists_every_unseen_change(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(SUPERVISOR).write(assign, ref=ticket.id, to=AGENT2, reason="rebalancing")
    known.as_(AGENT2).write(change_status, ref=ticket.id, status="in_progress")

    err = refused(
        known,
        ticket.id,
        ConflictError,
        AGENT,
        add_note,
        ref=ticket.id,
        text="x",
        expected_version=1,
    )

    said = [(c.actor, c.what) for c in err.changes]  # type: ignore[attr-defined]
    assert said == [
        (SUPERVISOR, "noted: rebalancing"),
        (SUPERVISOR, f"handed it from {AGENT} to {AGENT2}"),
        (AGENT2, "set status assigned → in progress"),
    ]
