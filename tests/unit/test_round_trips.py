"""What an analyst's everyday saves cost the database, and that the cheaper paths say what
the full ones said.

On PostgreSQL every statement is a round trip and a parse; twenty analysts on two cores are
bound by them (issue 17). The counts below are budgets: a change that adds a statement to
one of these saves has to raise its budget here, on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from deskterm.db.engine import Database
from deskterm.db.models import Analyst
from deskterm.desk.analysts import add_analyst, set_away
from deskterm.desk.intake import Problem, record_call
from deskterm.desk.queue import claim_next
from deskterm.desk.tickets import add_note, assign, change_status, get_ticket, resolve
from deskterm.desk.tickets import summary as ticket_summary
from deskterm.domain.errors import UnknownActor
from factories import AGENT, AGENT2, DESKTOP, SERVICE_DESK, KnownDesk


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs (transaction control left out)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _queued(known: KnownDesk, **fields: Any) -> int:
    return known.ticket(None, group=SERVICE_DESK, assignee="none", **fields).id


def test_pull_next_answers_with_the_row_in_four_statements(known: KnownDesk) -> None:
    ticket_id = _queued(known, contact_id=None)
    with statements(known.db) as sent:
        result = known.as_(AGENT).write(claim_next, card=False)
    # The actor with its groups, the claim, its event, the row: the groups' names came with
    # the actor, and a ticket without a caller has nobody to send a message to.
    assert len(sent) == 4, sent
    assert result.ticket is not None and result.ticket.id == ticket_id
    assert result.groups == [SERVICE_DESK]
    # The row says what the card says of the ticket.
    card = known.as_(AGENT).read(get_ticket, ref=ticket_id)
    assert result.ticket.model_dump() == {
        name: getattr(card, name) for name in result.ticket.model_dump()
    }
    assert card.assignee == AGENT and card.version == 2


def test_pull_next_with_a_caller_still_queues_their_message(known: KnownDesk) -> None:
    _queued(known)  # for the known caller, by email: they are told who has it
    with statements(known.db) as sent:
        result = known.as_(AGENT).write(claim_next)
    assert result.ticket is not None
    assert any("outbox" in s.lower() and s.lstrip().upper().startswith("INSERT") for s in sent)
    assert result.ticket.assignee == AGENT  # type: ignore[union-attr]
    assert len(result.ticket.events) >= 2  # type: ignore[attr-defined]  # the card, by default


def test_the_groups_are_named_in_the_desks_order_when_nothing_waits(known: KnownDesk) -> None:
    known.as_("ada").write(
        add_analyst,
        login="wanda",
        name="Wanda Two-Groups",
        role="supervisor",
        level=2,
        groups=[SERVICE_DESK, DESKTOP],
    )
    result = known.as_("wanda").write(claim_next)
    assert result.ticket is None
    assert result.groups == sorted([SERVICE_DESK, DESKTOP])


def test_a_note_costs_five_statements(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT, contact_id=None)
    with statements(known.db) as sent:
        saved = known.as_(AGENT2).write(
            add_note, ref=ticket.id, text="Called back", expected_version=ticket.version
        )
    # The actor, the locked ticket, its new version, the event, the row handed back.
    assert len(sent) == 5, sent
    assert saved.version == ticket.version + 1


def test_a_call_of_three_problems_reads_its_rows_once(known: KnownDesk) -> None:
    with statements(known.db) as sent:
        made = known.as_(AGENT).write(
            record_call,
            call_seconds=60,
            problems=[Problem(subject=s) for s in ("Laptop", "Printer", "VPN")],
        )
    selects = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    # The actor (with its groups), the first ticket locked for each split, the rows once:
    # no group or analyst looked up again per ticket, no row read per ticket.
    assert len(selects) == 1 + 2 + 1, selects
    assert "analyst_group" in selects[0] and "IN (" in selects[-1].upper()
    assert [t.version for t in made] == [3, 1, 1]
    assert all(t.assignee == AGENT and t.group == SERVICE_DESK for t in made)
    assert made[0].first_response_at is not None
    first = known.as_(AGENT).read(get_ticket, ref=made[0].id)
    assert {link.ref for link in first.links} == {made[1].ref, made[2].ref}
    with known.db.read() as session:
        again = [ticket_summary(session, t.id) for t in made]
    assert [t.model_dump() for t in again] == [
        {name: getattr(t, name) for name in again[0].model_dump()} for t in made
    ]


def test_resolving_ones_own_ticket_updates_it_once(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT, contact_id=None)
    working = known.as_(AGENT).write(change_status, ref=ticket.id, status="in_progress")
    with statements(known.db) as sent:
        done = known.as_(AGENT).write(
            resolve, ref=ticket.id, code="fixed", text="Rebooted", expected_version=working.version
        )
    updates = [s for s in sent if s.lstrip().upper().startswith("UPDATE TICKET")]
    # Reading the holder's login flushed the row early, and the SLA clock's fields then
    # took a second UPDATE.
    assert len(updates) == 1, sent
    assert done.status == "resolved"
    logged = known.events(ticket.id)[-1]
    assert logged.kind == "resolved" and logged.data["assignee"] == AGENT
    row = known.row(ticket.id)
    assert row.sla_paused_at is not None or row.sla_running_since is None


def test_handing_on_while_away_still_tells_the_customer_so(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(set_away, backup=AGENT2, reason="Training")
    known.as_(AGENT).write(assign, ref=ticket.id, to=AGENT2, reason="I am away")
    moved = known.events(ticket.id)[-1]
    assert moved.kind == "reassigned"
    assert moved.data["away"] == AGENT and moved.data["because"] == "away"


def test_handing_on_costs_no_read_of_ones_own_row(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT, contact_id=None)
    with statements(known.db) as sent:
        known.as_(AGENT).write(
            assign, ref=ticket.id, to=AGENT2, reason="Needs Bob", expected_version=ticket.version
        )
    analyst_reads = [s for s in sent if "FROM analyst" in s and "analyst_group" not in s]
    assert len(analyst_reads) == 1, sent  # the colleague it goes to, nothing else
    moved = known.events(ticket.id)[-1]
    assert moved.kind == "reassigned" and moved.data["from"] == AGENT
    assert moved.data["to"] == AGENT2 and moved.data.get("away") is None


@pytest.mark.parametrize("change", ["deactivate", "regroup"])
def test_who_acts_is_read_afresh_on_every_save(known: KnownDesk, change: str) -> None:
    """Nothing about the actor is kept between saves: a deactivated analyst is refused at
    once, and a change of groups decides the very next pull."""
    desk = known.as_(AGENT)
    desk.write(claim_next)
    with known.db.write() as session:
        alice = session.scalars(select(Analyst).where(Analyst.login == AGENT)).one()
        if change == "deactivate":
            alice.active = False
        else:
            from deskterm.db.models import AnalystGroup, SupportGroup

            desktop = session.scalars(
                select(SupportGroup).where(SupportGroup.name == DESKTOP)
            ).one()
            session.add(AnalystGroup(analyst_id=alice.id, group_id=desktop.id))
    if change == "deactivate":
        with pytest.raises(UnknownActor, match="deactivated"):
            desk.write(claim_next)
    else:
        assert desk.write(claim_next).groups == sorted([SERVICE_DESK, DESKTOP])
