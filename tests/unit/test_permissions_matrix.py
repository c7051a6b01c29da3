"""Who may do what, role by action by ticket situation, on both databases.

The expected answers are written out here by hand (they are the README's table), not derived
from ``domain.permissions``: a rule that drifts from the table fails a cell. Every allowed cell
must really change the ticket and log the actor; every refused cell must raise
``PermissionDenied`` with a readable reason and leave the whole desk exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from deskterm.db.models import (
    Analyst,
    AnalystGroup,
    Callback,
    Notification,
    SupportGroup,
    Ticket,
    TicketEvent,
    TicketLink,
)
from deskterm.desk.analysts import add_analyst, add_group, set_away, set_back
from deskterm.desk.dashboard import dashboard
from deskterm.desk.handover import hand_over
from deskterm.desk.outbox import retry
from deskterm.desk.queue import claim_next
from deskterm.desk.tickets import (
    add_note,
    assign,
    change_status,
    escalate,
    log_call,
    resolve,
    set_priority,
)
from deskterm.desk.views import queue_page
from deskterm.domain.errors import DeskError, PermissionDenied
from deskterm.domain.refs import format_ref
from factories import (
    ADMIN,
    AGENT,
    AGENT2,
    DESKTOP,
    ENGINEER,
    INFRA,
    SUPERVISOR,
    TECH,
    KnownDesk,
)

#: Who receives tickets in the matrix; never an actor, so "already with them" never happens.
ZOE = "zoe"

# Ticket situations. Tom (L2, Desktop Support) is also made a member of Infrastructure (L3)
# so that "in his groups but above his level" is one of them.
HELD_BY_AGENT = "held by alice (Service Desk, L1)"
SD_QUEUE = "unassigned in Service Desk (L1)"
DESKTOP_QUEUE = "unassigned in Desktop Support (L2)"
HELD_BY_TECH = "held by tom (Desktop Support, L2)"
INFRA_QUEUE = "unassigned in Infrastructure (L3)"
SITUATIONS = (HELD_BY_AGENT, SD_QUEUE, DESKTOP_QUEUE, HELD_BY_TECH, INFRA_QUEUE)
ACTORS = (AGENT, AGENT2, TECH, ENGINEER, SUPERVISOR, ADMIN)

Y, N, NA = True, False, None

#: Working a ticket: status, priority, resolve, escalate, hand it to someone.
WORK = {
    #            alice bob  tom  ines  sam  ada
    HELD_BY_AGENT: (Y, N, N, N, Y, Y),
    SD_QUEUE: (Y, Y, N, N, Y, Y),
    DESKTOP_QUEUE: (N, N, Y, N, N, Y),
    HELD_BY_TECH: (N, N, Y, N, N, Y),
    INFRA_QUEUE: (N, N, N, Y, N, Y),
}
#: Taking it for oneself ("already yours" is not a permission question).
TAKE = {
    HELD_BY_AGENT: (NA, N, N, N, Y, Y),
    SD_QUEUE: (Y, Y, N, N, Y, Y),
    DESKTOP_QUEUE: (N, N, Y, N, N, Y),
    HELD_BY_TECH: (N, N, NA, N, N, Y),
    INFRA_QUEUE: (N, N, N, Y, N, Y),
}
#: Bulk handover: supervisors for their groups, admins for all.
HANDOVER = {
    HELD_BY_AGENT: (N, N, N, N, Y, Y),
    SD_QUEUE: (N, N, N, N, Y, Y),
    DESKTOP_QUEUE: (N, N, N, N, N, Y),
    HELD_BY_TECH: (N, N, N, N, N, Y),
    INFRA_QUEUE: (N, N, N, N, N, Y),
}
#: Adding to the story (notes, calls) is open to every analyst on every ticket: that is how
#: anyone picks up any case.
EVERYONE = {situation: (Y,) * len(ACTORS) for situation in SITUATIONS}


ACTIONS: dict[str, tuple[dict[str, tuple[bool | None, ...]], Callable[..., Any], Any]] = {
    "priority": (WORK, set_priority, {"urgency": "high"}),
    "status": (WORK, change_status, {"status": "waiting_third_party", "reason": "vendor"}),
    "resolve": (WORK, resolve, {"code": "fixed", "text": "Replaced the cable"}),
    "escalate": (WORK, escalate, {"group": INFRA, "reason": "needs the server team"}),
    "give": (WORK, assign, {"to": ZOE, "reason": "Zoe knows this printer"}),
    "take": (TAKE, assign, {"to": "me", "reason": "covering"}),
    "note": (EVERYONE, add_note, {"text": "Customer called again"}),
    "call": (EVERYONE, log_call, {"duration_seconds": 60, "outcome": "left a message"}),
    "handover": (HANDOVER, hand_over, None),
}


def _situation(known: KnownDesk, situation: str) -> int:
    """A fresh ticket in ``situation``, made through the desk as analysts would."""
    if situation == HELD_BY_AGENT:
        ticket = known.ticket(AGENT)
    elif situation == SD_QUEUE:
        ticket = known.ticket(AGENT, assignee="none")
    elif situation == DESKTOP_QUEUE:
        ticket = known.ticket(AGENT, group=DESKTOP)
    elif situation == HELD_BY_TECH:
        ticket = known.ticket(TECH, group=DESKTOP)
    else:
        ticket = known.ticket(AGENT, group=INFRA)
    return ticket.id


def _desk_state(known: KnownDesk) -> tuple[Any, ...]:
    """Everything a refused action must leave alone, across the whole desk."""
    with known.db.read() as session:
        tickets = session.execute(
            select(
                Ticket.id,
                Ticket.version,
                Ticket.status,
                Ticket.assignee_id,
                Ticket.group_id,
                Ticket.level,
                Ticket.priority,
                Ticket.urgency,
                Ticket.resolution_code,
            ).order_by(Ticket.id)
        ).all()
        counts = tuple(
            session.scalar(select(func.count()).select_from(table))
            for table in (TicketEvent, Notification, Callback, TicketLink)
        )
    return tuple(tickets), counts


@pytest.fixture
def matrix(known: KnownDesk) -> KnownDesk:
    known.as_(ADMIN).write(add_analyst, login=ZOE, name="Zoe Agent", groups=["Service Desk"])
    with known.db.write() as session:
        infra = session.scalar(select(SupportGroup.id).where(SupportGroup.name == INFRA))
        session.add(AnalystGroup(analyst_id=known.analyst_id(TECH), group_id=infra))
    return known


@pytest.mark.parametrize("action", list(ACTIONS))
def test_who_may_do_what_to_which_ticket(matrix: KnownDesk, action: str) -> None:
    table, fn, kwargs = ACTIONS[action]
    wrong: list[str] = []
    for situation in SITUATIONS:
        for login, allowed in zip(ACTORS, table[situation], strict=True):
            if allowed is None:
                continue
            if action == "escalate" and situation == INFRA_QUEUE:
                continue  # already at the top: no higher group to send it to
            ticket_id = _situation(matrix, situation)
            version = matrix.row(ticket_id).version
            call = (
                {"versions": {ticket_id: version}, "to": ZOE, "note": "covering the queue"}
                if action == "handover"
                else {"ref": ticket_id, **kwargs}
            )
            before = _desk_state(matrix)
            try:
                matrix.as_(login).write(fn, **call)
            except PermissionDenied as refusal:
                if allowed:
                    wrong.append(f"{login} was refused to {action} a ticket {situation}: {refusal}")
                elif _desk_state(matrix) != before:
                    wrong.append(f"{login}'s refused {action} ({situation}) changed the desk")
                elif format_ref(ticket_id) not in str(refusal) and action != "handover":
                    wrong.append(f"the refusal does not name the ticket: {refusal}")
                continue
            except DeskError as other:
                wrong.append(f"{login} {action} ({situation}) failed otherwise: {other!r}")
                continue
            if not allowed:
                wrong.append(f"{login} was allowed to {action} a ticket {situation}")
                continue
            after = matrix.row(ticket_id)
            last = matrix.events(ticket_id)[-1]
            if after.version != version + 1 or last.actor_id != matrix.analyst_id(login):
                wrong.append(f"{login}'s {action} ({situation}) left no change by them")
    assert not wrong, "\n".join(wrong)


def test_a_handover_with_one_ticket_outside_the_supervisors_groups_moves_none(
    matrix: KnownDesk,
) -> None:
    mine = _situation(matrix, HELD_BY_AGENT)
    foreign = _situation(matrix, HELD_BY_TECH)
    before = _desk_state(matrix)
    versions = {t: matrix.row(t).version for t in (mine, foreign)}
    with pytest.raises(PermissionDenied, match=f"{format_ref(foreign)} is in {DESKTOP}"):
        matrix.as_(SUPERVISOR).write(hand_over, versions=versions, to=ZOE, note="cover")
    assert _desk_state(matrix) == before


def test_pulling_the_next_ticket_stays_within_groups_and_level(matrix: KnownDesk) -> None:
    infra = _situation(matrix, INFRA_QUEUE)
    desktop = _situation(matrix, DESKTOP_QUEUE)
    # Tom is in Infrastructure too, but its level-3 work is not his to pull.
    assert matrix.as_(TECH).write(claim_next).ticket.id == desktop
    assert matrix.as_(TECH).write(claim_next).ticket is None
    before = _desk_state(matrix)
    with pytest.raises(PermissionDenied, match=f"{AGENT} is not in {INFRA}"):
        matrix.as_(AGENT).write(claim_next, group=INFRA)
    with pytest.raises(PermissionDenied, match=f"{SUPERVISOR} is not in {INFRA}"):
        matrix.as_(SUPERVISOR).write(claim_next, group=INFRA)
    assert _desk_state(matrix) == before
    assert matrix.as_(ENGINEER).write(claim_next).ticket.id == infra


# --------------------------------------------------------------------------- the desk itself

DESK_ACTIONS: dict[str, tuple[tuple[bool, ...], Callable[..., Any], dict[str, Any]]] = {
    #                      alice bob  tom  ines  sam  ada
    "add an analyst": (
        (N, N, N, N, N, Y),
        add_analyst,
        {"login": "newbie", "name": "New Analyst"},
    ),
    "add a group": ((N, N, N, N, N, Y), add_group, {"name": "Field Service", "level": 2}),
    "mark someone away": ((N, N, N, N, Y, Y), set_away, {"login": ZOE, "reason": "training"}),
    "mark someone back": ((N, N, N, N, Y, Y), set_back, {"login": ZOE}),
    "see every queue": ((N, N, N, N, Y, Y), queue_page, {"view": "all"}),
    "open the dashboard": ((N, N, N, N, Y, Y), dashboard, {}),
    "retry customer messages": ((N, N, N, N, Y, Y), retry, {"all_dead": True}),
}


def _people_state(known: KnownDesk) -> tuple[Any, ...]:
    with known.db.read() as session:
        analysts = session.execute(
            select(Analyst.login, Analyst.role, Analyst.availability, Analyst.backup_id).order_by(
                Analyst.id
            )
        ).all()
        groups = session.execute(select(SupportGroup.name).order_by(SupportGroup.id)).all()
        memberships = session.scalar(select(func.count()).select_from(AnalystGroup))
        dead = session.execute(select(Notification.id, Notification.status)).all()
    return tuple(analysts), tuple(groups), memberships, tuple(dead)


@pytest.mark.parametrize("action", list(DESK_ACTIONS))
def test_who_manages_the_desk(matrix: KnownDesk, action: str) -> None:
    expected, fn, kwargs = DESK_ACTIONS[action]
    wrong: list[str] = []
    for login, allowed in zip(ACTORS, expected, strict=True):
        before = _people_state(matrix)
        try:
            matrix.as_(login).write(fn, **kwargs)
        except PermissionDenied as refusal:
            if allowed:
                wrong.append(f"{login} may not {action}: {refusal}")
            elif _people_state(matrix) != before:
                wrong.append(f"{login}'s refused {action} changed the desk")
            continue
        if not allowed:
            wrong.append(f"{login} was allowed to {action}")
    assert not wrong, "\n".join(wrong)
