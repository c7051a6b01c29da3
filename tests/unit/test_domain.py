"""The pure rules: references, priorities, transitions, outside text, permissions, event words."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from deskterm.domain.enums import EventKind, Impact, LinkKind, Role, Status, Urgency
from deskterm.domain.errors import ChangeSeen, ConflictError, InvalidInput, InvalidTransition
from deskterm.domain.events import describe
from deskterm.domain.permissions import (
    SYSTEM,
    Actor,
    TicketHold,
    in_groups,
    may_assign,
    may_manage_analysts,
    may_set_away,
    may_work,
    works_on,
)
from deskterm.domain.priority import DEFAULT_MATRIX, PriorityMatrix, parse_priority
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.domain.text import (
    SUBJECT_MAX,
    clean_line,
    clean_long,
    email_address,
    long_text,
    optional_line,
    phone_digits,
    required_line,
)
from deskterm.domain.transitions import ALLOWED, check_transition, is_open, status_for_holder
from deskterm.paths import shipped_data_dir

# --------------------------------------------------------------------------- references


@given(st.integers(min_value=1, max_value=10**12 - 1))
def test_a_reference_reads_back_as_its_ticket(ticket_id: int) -> None:
    ref = format_ref(ticket_id)
    assert ref.startswith("DT-")
    assert parse_ref(ref) == ticket_id
    assert parse_ref(ref.lower()) == ticket_id


def test_references_are_padded_to_six_digits() -> None:
    assert format_ref(123) == "DT-000123"
    assert format_ref(1234567) == "DT-1234567"


@pytest.mark.parametrize("text", ["DT-000123", "dt-123", "DT123", "#123", "123", " DT-123 "])
def test_the_ways_people_write_a_reference(text: str) -> None:
    assert parse_ref(text) == 123


@pytest.mark.parametrize(
    "text",
    ["", "   ", "DT-", "#", "XX-000123", "INC-123", "DT-0", "#0", "0", "-5", "DT-12a", "12 34"],
)
def test_what_is_not_a_reference_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_ref(text)
    assert err.value.field == "ref"
    assert "ticket reference" in str(err.value)


# --------------------------------------------------------------------------- priority


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [
        ("high", "high", 1),
        ("high", "medium", 2),
        ("medium", "high", 2),
        ("high", "low", 3),
        ("medium", "medium", 3),
        ("low", "high", 3),
        ("medium", "low", 4),
        ("low", "medium", 4),
        ("low", "low", 5),
    ],
)
def test_default_matrix(impact: str, urgency: str, expected: int) -> None:
    assert DEFAULT_MATRIX.priority(impact, urgency) == expected
    assert DEFAULT_MATRIX.priority(Impact(impact), Urgency(urgency)) == expected


def test_every_priority_has_a_level_with_a_code() -> None:
    assert [DEFAULT_MATRIX.level(n).code for n in range(1, 6)] == ["P1", "P2", "P3", "P4", "P5"]
    assert DEFAULT_MATRIX.level(1).label == "Critical"


def _shipped_priority_toml() -> dict[str, Any]:
    with (shipped_data_dir() / "priority.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_the_shipped_matrix_file_gives_the_default_matrix() -> None:
    matrix = PriorityMatrix.from_mapping(_shipped_priority_toml())
    assert dict(matrix.cells) == dict(DEFAULT_MATRIX.cells)
    assert [matrix.level(n).label for n in range(1, 6)] == [
        DEFAULT_MATRIX.level(n).label for n in range(1, 6)
    ]


def _bad(change: Any) -> dict[str, Any]:
    raw = _shipped_priority_toml()
    change(raw)
    return raw


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda r: r.pop("priorities"), "no definition for P1, P2, P3, P4, P5"),
        (lambda r: r["priorities"].pop("P4"), "no definition for P4"),
        (lambda r: r["priorities"]["P2"].pop("label"), "priority P2 needs a label"),
        (lambda r: r["priorities"].update(P3="Medium"), "priority P3 needs a label"),
        (lambda r: r["priorities"].update(P9={"label": "Extra"}), "unknown priority 'P9'"),
        (lambda r: r["matrix"].pop("medium"), "no row for impact 'medium'"),
        (lambda r: r["matrix"].update(low="P5"), "no row for impact 'low'"),
        (lambda r: r["matrix"]["high"].pop("low"), "impact 'high' has no urgency 'low'"),
        (lambda r: r["matrix"]["low"].update(low="P0"), "unknown priority 'P0'"),
        (lambda r: r["matrix"]["low"].update(low="urgent"), "unknown priority 'urgent'"),
        (lambda r: r.pop("matrix"), "no row for impact 'high'"),
        (lambda r: r.update(priorities=["P1", "P2"]), "[priorities] must be a table"),
        (lambda r: r.update(matrix="P1"), "[matrix] must be a table"),
        (lambda r: r.update(priorities={"P1": {"label": ""}}), "priority P1 needs a label"),
    ],
)
def test_a_badly_shaped_matrix_file_is_refused_clearly(mangle: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        PriorityMatrix.from_mapping(_bad(mangle))


@pytest.mark.parametrize(("text", "number"), [("P1", 1), ("p2", 2), (" 3 ", 3), (4, 4), ("P5", 5)])
def test_priorities_as_people_write_them(text: Any, number: int) -> None:
    assert parse_priority(text) == number


@pytest.mark.parametrize("text", ["P0", "P6", "0", "6", "", "high", "PP1", "1.5", "-1", "P 1"])
def test_unknown_priorities_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="use P1 to P5") as err:
        parse_priority(text)
    assert err.value.field == "priority"


# --------------------------------------------------------------------------- transitions

OPEN = [Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS]
WAITING = [Status.WAITING_CUSTOMER, Status.WAITING_THIRD_PARTY]
WORKING = OPEN + WAITING
FINAL = [Status.CLOSED, Status.CANCELLED]


@pytest.mark.parametrize("current", WORKING)
@pytest.mark.parametrize("target", WORKING + [Status.CANCELLED])
def test_open_tickets_move_freely_between_open_statuses(current: Status, target: Status) -> None:
    if current == target:
        with pytest.raises(InvalidTransition, match=f"already {target.label}"):
            check_transition(current, target)
    else:
        check_transition(current, target)


@pytest.mark.parametrize("current", WORKING)
def test_resolved_is_reached_only_by_resolving(current: Status) -> None:
    with pytest.raises(InvalidTransition, match="resolve it with a resolution code"):
        check_transition(current, Status.RESOLVED)
    check_transition(current, Status.RESOLVED, plain=False)


@pytest.mark.parametrize("current", WORKING)
def test_closed_only_from_resolved(current: Status) -> None:
    with pytest.raises(InvalidTransition, match="close it instead"):
        check_transition(current, Status.CLOSED)
    with pytest.raises(InvalidTransition, match=f"a {current.label} ticket cannot become closed"):
        check_transition(current, Status.CLOSED, plain=False)


def test_a_resolved_ticket_is_closed_or_reopened_never_changed_plainly() -> None:
    check_transition(Status.RESOLVED, Status.CLOSED, plain=False)
    for target in (Status.IN_PROGRESS, Status.NEW, Status.ASSIGNED):
        check_transition(Status.RESOLVED, target, plain=False)
        with pytest.raises(InvalidTransition, match="reopened .* or closed"):
            check_transition(Status.RESOLVED, target)
    with pytest.raises(InvalidTransition):
        check_transition(Status.RESOLVED, Status.CANCELLED, plain=False)
    with pytest.raises(InvalidTransition, match="already resolved"):
        check_transition(Status.RESOLVED, Status.RESOLVED, plain=False)


@pytest.mark.parametrize("current", FINAL)
@pytest.mark.parametrize("target", list(Status))
@pytest.mark.parametrize("plain", [True, False])
def test_closed_and_cancelled_are_final(current: Status, target: Status, plain: bool) -> None:
    with pytest.raises(InvalidTransition):
        check_transition(current, target, plain=plain)
    assert not ALLOWED[current]


def test_transitions_accept_stored_strings_and_refuse_unknown_ones() -> None:
    check_transition("new", "in_progress")
    with pytest.raises(ValueError):
        check_transition("new", "bogus")


def test_open_statuses() -> None:
    assert all(is_open(s) for s in WORKING)
    assert not any(is_open(s) for s in (Status.RESOLVED, *FINAL))


@pytest.mark.parametrize(
    ("status", "held", "expected"),
    [
        (Status.NEW, True, Status.ASSIGNED),
        (Status.NEW, False, Status.NEW),
        (Status.ASSIGNED, False, Status.NEW),
        (Status.IN_PROGRESS, False, Status.NEW),
        (Status.ASSIGNED, True, Status.ASSIGNED),
        (Status.IN_PROGRESS, True, Status.IN_PROGRESS),
        (Status.WAITING_CUSTOMER, False, Status.WAITING_CUSTOMER),
        (Status.WAITING_THIRD_PARTY, True, Status.WAITING_THIRD_PARTY),
    ],
)
def test_status_follows_whether_someone_holds_the_ticket(
    status: Status, held: bool, expected: Status
) -> None:
    assert status_for_holder(status, held) == expected


# --------------------------------------------------------------------------- outside text

C0_C1 = {chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]}
BIDI = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}

# Text as it arrives from outside: mostly ordinary, with the nasty parts mixed in often.
nasty = st.lists(
    st.one_of(
        st.text(st.characters(codec="utf-8"), max_size=6),
        st.sampled_from(sorted(C0_C1 | BIDI)),
        st.sampled_from(
            ["\x1b[", "\x1b]", "\x1b]8;;", "\x07", "\x1b\\", "\x9b", "\x9d", "[bold]", "\r\n", "m"]
        ),
    ),
    max_size=30,
).map("".join)


@given(nasty)
@example("\x1b[31mred\x1b[0m")
@example("\x1b]0;title\x07after")
@example("\x1b\x00[31m")
@example("a\x9b2Jb")
def test_a_cleaned_line_holds_no_control_or_bidi_character(text: str) -> None:
    cleaned = clean_line(text)
    assert not set(cleaned) & (C0_C1 | BIDI)
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned


@given(nasty)
@example("line one\r\nline two\ttabbed\x00\x1b[2J")
def test_cleaned_long_text_keeps_only_newlines_and_tabs(text: str) -> None:
    cleaned = clean_long(text)
    assert not set(cleaned) & ((C0_C1 - {"\n", "\t"}) | BIDI)


@given(nasty)
def test_cleaning_twice_changes_nothing(text: str) -> None:
    assert clean_line(clean_line(text)) == clean_line(text)
    assert clean_long(clean_long(text)) == clean_long(text)


# Ordinary writing, including everything Rich would read as markup or an emoji code.
ordinary_char = st.characters(
    categories=["L", "M", "N", "P", "S"], exclude_characters=sorted(BIDI), codec="utf-8"
)
ordinary_words = st.lists(st.text(ordinary_char, min_size=1, max_size=12), max_size=8).map(" ".join)


@given(ordinary_words)
@example("[bold red]Help[/] me :smile: [link=http://x]click[/link] \\[escaped]")
@example("Café — naïve résumé 日本語 ✓")
def test_ordinary_text_and_markup_characters_are_kept_literally(text: str) -> None:
    assert clean_line(text) == text
    assert clean_long(text) == unicodedata.normalize("NFC", text).strip()


def test_long_text_keeps_its_lines_and_tabs() -> None:
    assert clean_long("one\r\ntwo\rthree\n\tfour\n") == "one\ntwo\nthree\n\tfour"


def test_line_text_folds_breaks_and_tabs_to_single_spaces() -> None:
    assert clean_line("  one\r\ntwo\t three  ") == "one two three"


def test_escape_sequences_vanish_whole() -> None:
    assert clean_line("a\x1b]0;pwned\x07b") == "ab"
    assert clean_line("a\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\b") == "alinkb"
    assert clean_line("\x1b[1;31mred\x1b[0m") == "red"
    assert clean_line("\u202egnp.exe") == "gnp.exe"


def test_required_and_limited_text() -> None:
    with pytest.raises(InvalidInput, match="subject must not be empty") as err:
        required_line(" \x1b[0m\t ", field="subject")
    assert err.value.field == "subject"
    assert required_line("x" * SUBJECT_MAX, field="subject") == "x" * SUBJECT_MAX
    with pytest.raises(InvalidInput, match=r"subject is too long \(201 characters; at most 200\)"):
        required_line("x" * (SUBJECT_MAX + 1), field="subject")
    assert optional_line("  ", field="reason") is None
    with pytest.raises(InvalidInput, match="note must not be empty"):
        long_text("\n\n", field="note", required=True)
    assert long_text(None, field="note") == ""


def test_phone_digits_and_emails() -> None:
    assert phone_digits("+44 (20) 7946-0958") == "442079460958"
    assert phone_digits(None) == ""
    assert email_address("  Carol@Example.COM ") == "carol@example.com"
    assert email_address("") is None
    for bad in ("carol", "carol@", "a b@c.d", "x@y"):
        with pytest.raises(InvalidInput, match="is not an email address"):
            email_address(bad)


# --------------------------------------------------------------------------- permissions

AGENT = Actor(
    id=1, login="alice", name="Alice", role=Role.AGENT, level=1, group_ids=frozenset({10})
)
TECH = Actor(
    id=2, login="tom", name="Tom", role=Role.TECHNICIAN, level=2, group_ids=frozenset({20})
)
SUPER = Actor(id=3, login="sam", name="Sam", role=Role.SUPERVISOR, level=2)
#: A supervisor of group 10 (Alice's group).
BOSS = Actor(
    id=5, login="bea", name="Bea", role=Role.SUPERVISOR, level=1, group_ids=frozenset({10})
)
ADMIN = Actor(id=4, login="ada", name="Ada", role=Role.ADMIN, level=3)


def test_roles() -> None:
    assert not AGENT.is_supervisor and not AGENT.is_admin and not AGENT.is_system
    assert SUPER.is_supervisor and not SUPER.is_admin
    assert ADMIN.is_supervisor and ADMIN.is_admin
    assert SYSTEM.is_system and SYSTEM.is_supervisor and SYSTEM.is_admin and SYSTEM.id is None


def test_who_works_on_a_ticket() -> None:
    mine = TicketHold(assignee_id=AGENT.id, group_id=20)
    theirs = TicketHold(assignee_id=TECH.id, group_id=10)
    in_my_queue = TicketHold(assignee_id=None, group_id=10)
    elsewhere = TicketHold(assignee_id=None, group_id=20)
    nowhere = TicketHold(assignee_id=None, group_id=None)
    assert works_on(AGENT, mine) and works_on(AGENT, in_my_queue) and works_on(AGENT, nowhere)
    assert not works_on(AGENT, theirs) and not works_on(AGENT, elsewhere)
    assert may_work(AGENT, mine) and not may_work(AGENT, theirs)
    assert may_work(BOSS, theirs) and may_work(SYSTEM, theirs) and may_work(ADMIN, theirs)
    # A supervisor of other groups is an analyst like any other here.
    assert not may_work(SUPER, theirs) and not may_work(BOSS, elsewhere)
    # Likewise at their level: an L2 technician takes L2 work of their group, not L3.
    assert works_on(TECH, TicketHold(assignee_id=None, group_id=20, level=2))
    assert not works_on(TECH, TicketHold(assignee_id=None, group_id=20, level=3))
    assert works_on(TECH, TicketHold(assignee_id=TECH.id, group_id=20, level=3))


def test_who_may_assign() -> None:
    mine = TicketHold(assignee_id=AGENT.id, group_id=10)
    theirs = TicketHold(assignee_id=TECH.id, group_id=10)
    in_my_queue = TicketHold(assignee_id=None, group_id=10)
    elsewhere = TicketHold(assignee_id=None, group_id=20)
    assert may_assign(AGENT, mine, TECH.id)
    assert not may_assign(AGENT, theirs, AGENT.id)
    assert not may_assign(AGENT, theirs, None)
    assert may_assign(AGENT, in_my_queue, TECH.id)
    assert not may_assign(AGENT, elsewhere, AGENT.id)
    assert not may_assign(AGENT, elsewhere, TECH.id)
    assert may_assign(BOSS, theirs, AGENT.id) and not may_assign(BOSS, elsewhere, None)
    assert not may_assign(SUPER, theirs, AGENT.id) and may_assign(ADMIN, elsewhere, None)


def test_who_manages_analysts_and_availability() -> None:
    assert may_manage_analysts(ADMIN) and may_manage_analysts(SYSTEM)
    assert not may_manage_analysts(SUPER) and not may_manage_analysts(AGENT)
    assert may_set_away(AGENT, AGENT.id or 0) and not may_set_away(AGENT, TECH.id or 0)
    # A supervisor: the analysts of their groups; an admin: anyone.
    boss = Actor(
        id=3, login="sam", name="Sam", role=Role.SUPERVISOR, level=2, group_ids=frozenset({20})
    )
    assert may_set_away(boss, TECH.id or 0, {20, 30})
    assert not may_set_away(boss, TECH.id or 0, {10}) and not may_set_away(boss, TECH.id or 0)
    assert may_set_away(ADMIN, TECH.id or 0)
    assert in_groups(AGENT, [10, 30]) and not in_groups(AGENT, [20]) and not in_groups(SUPER, [10])


# --------------------------------------------------------------------------- event words

SAMPLES: dict[EventKind, tuple[dict[str, Any], str]] = {
    EventKind.CREATED: ({"channel": "email"}, "opened the ticket by email"),
    EventKind.CALL_LOGGED: (
        {"direction": "inbound", "duration_seconds": 125, "outcome": "rebooted"},
        "took a call from the customer (2m05s): rebooted",
    ),
    EventKind.NOTE: ({"text": "printer\n  jammed"}, "noted: printer jammed"),
    EventKind.FIELD_CHANGED: (
        {"field": "priority", "from": "P3", "to": "P1", "reason": "CEO"},
        "changed priority from P3 to P1 (CEO)",
    ),
    EventKind.ASSIGNED: ({"to": "bob", "reason": "away"}, "assigned it to bob (away)"),
    EventKind.REASSIGNED: ({"from": "alice", "to": "bob"}, "handed it from alice to bob"),
    EventKind.UNASSIGNED: ({"from": "alice"}, "took it from alice back to the queue"),
    EventKind.ESCALATED: (
        {
            "from_group": "Service Desk",
            "from_level": 1,
            "to_group": "Desktop Support",
            "to_level": 2,
            "reason": "needs hands",
        },
        "escalated it from Service Desk (L1) to Desktop Support (L2) (needs hands)",
    ),
    EventKind.STATUS_CHANGED: (
        {"from": "in_progress", "to": "waiting_customer"},
        "set status in progress → waiting customer",
    ),
    EventKind.CALLBACK_SCHEDULED: (
        {"due_at": "2026-01-02 10:00"},
        "scheduled a callback for 2026-01-02 10:00",
    ),
    EventKind.NOTIFICATION_QUEUED: ({"channel": "email"}, "queued a email message to the customer"),
    EventKind.NOTIFICATION_SENT: ({}, "told the customer"),
    EventKind.CUSTOMER_MESSAGE: (
        {"channel": "email", "text": "It works\n again", "attachments": [{"name": "a.png"}]},
        "the customer wrote by email: It works again [attached: a.png]",
    ),
    EventKind.NOTIFICATION_FAILED: ({"reason": "bounced"}, "could not tell the customer (bounced)"),
    EventKind.LINKED: (
        {"link": "duplicate_of", "other": "DT-000002"},
        "linked it as duplicate of DT-000002",
    ),
    EventKind.SPLIT: ({"other": "DT-000001"}, "split it from the same call as DT-000001"),
    EventKind.RESOLVED: ({"code": "fixed"}, "resolved it: fixed"),
    EventKind.REOPENED: ({"reason": "still broken"}, "reopened it (still broken)"),
    EventKind.CLOSED: ({}, "closed it"),
    EventKind.SLA_WARNING: ({"clock": "resolution"}, "warned: resolution SLA nearly used up"),
    EventKind.ESCALATION_RULE: (
        {
            "rule": "P1 waiting",
            "reason": "P1 unassigned for 10 minutes",
            "outcome": "escalated to Desktop Support (L2)",
            "told": ["sam"],
        },
        "applied escalation rule 'P1 waiting' (P1 unassigned for 10 minutes): escalated to "
        "Desktop Support (L2); told sam",
    ),
    EventKind.SLA_BREACHED: ({"clock": "first_response"}, "recorded a first response SLA breach"),
    EventKind.KB_LINKED: (
        {"article": "KB-12", "title": "Reset a VPN token"},
        "solved it with KB-12 (Reset a VPN token)",
    ),
    EventKind.KB_NEEDED: ({"topic": "VPN token"}, "flagged that an article is needed: VPN token"),
    EventKind.SURVEY_RECORDED: (
        {"csat": 4, "nps": 9},
        "recorded the customer's survey: CSAT 4, NPS 9",
    ),
}


def test_every_event_kind_has_words() -> None:
    assert set(SAMPLES) == set(EventKind)


@pytest.mark.parametrize("kind", list(EventKind))
def test_describe_each_kind(kind: EventKind) -> None:
    data, expected = SAMPLES[kind]
    assert describe(kind, data) == expected
    # Kinds read back from the database are plain strings.
    assert describe(kind.value, data) == expected


@pytest.mark.parametrize("kind", list(EventKind))
def test_describe_survives_missing_data(kind: EventKind) -> None:
    said = describe(kind, {})
    assert said and said != kind.value.replace("_", " ")


def test_describe_shortens_long_notes_and_says_outbound_calls() -> None:
    said = describe(EventKind.NOTE, {"text": "word " * 40})
    assert said.endswith("…") and len(said) == len("noted: ") + 78
    assert describe(EventKind.CALL_LOGGED, {"direction": "outbound"}) == "called the customer"
    assert describe(EventKind.ASSIGNED, {"to": None}) == "assigned it to nobody"
    assert describe("something_new", {}) == "something new"


def test_link_kinds_have_inverses() -> None:
    assert LinkKind.PARENT_OF.inverse == LinkKind.CHILD_OF
    assert LinkKind.CHILD_OF.inverse == LinkKind.PARENT_OF
    assert LinkKind.RELATED.inverse == LinkKind.RELATED


# --------------------------------------------------------------------------- conflict words


def test_a_conflict_names_who_changed_what() -> None:
    changes = [
        ChangeSeen(actor=f"user{n}", at=f"10:0{n}:00 UTC", what=f"did {n}") for n in range(5)
    ]
    err = ConflictError("DT-000007", changes)
    message = str(err)
    assert message.startswith("DT-000007 was changed meanwhile: user2 did 2 at 10:02:00 UTC")
    assert "user4 did 4" in message and "user1" not in message
    assert "(and 2 earlier changes)" in message and "Nothing was saved" in message
    assert err.exit_code == 5
    one = str(ConflictError("DT-000007", changes[:4]))
    assert "(and 1 earlier change)" in one
    assert "by someone else" in str(ConflictError("DT-000007"))
