"""The dashboard's figures on both databases equal the ones worked out by hand
(``reportdata.py``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from reportdata import NOW, T0, build

from deskterm.desk.clock import use_clock
from deskterm.desk.dashboard import Dashboard, Figure, dashboard, drill
from deskterm.desk.tickets import escalate
from deskterm.domain.errors import PermissionDenied
from factories import AGENT, AGENT2, SUPERVISOR, KnownDesk


def read(known: KnownDesk, moment=NOW) -> Dashboard:  # noqa: ANN001
    with use_clock(lambda: moment):
        return known.as_(SUPERVISOR).read(dashboard)


@pytest.fixture
def board(known: KnownDesk) -> Dashboard:
    build(known)
    return read(known)


def test_sla_compliance_today_and_over_the_period(board: Dashboard) -> None:
    period = board.sla_period
    assert (period.tickets, period.response_pct, period.resolution_pct) == (5, 80.0, 50.0)
    # Nothing was opened on the day the dashboard is read.
    assert board.sla_today.tickets == 0 and board.sla_today.response_pct is None


def test_opened_and_resolved_per_day(board: Dashboard) -> None:
    assert len(board.flow) == 30 and board.flow[-1].day == NOW.date()
    by_day = {d.day: (d.opened, d.resolved) for d in board.flow}
    assert by_day[date(2026, 11, 2)] == (5, 3)
    assert by_day[date(2026, 11, 3)] == (0, 0)
    assert sum(d.opened for d in board.flow) == 5


def test_backlog_analysts_escalation_and_satisfaction(board: Dashboard) -> None:
    total = board.backlog.records()[-1]
    assert total["total"] == 2 and total["1-3d"] == 2
    alice = {r["analyst"]: r for r in board.analysts.records()}["alice"]
    assert (alice["open"], alice["resolved"], alice["fcr_pct"]) == (1, 2, 50.0)
    assert [(e.level, e.tickets, e.pct) for e in board.escalation] == [(2, 0, 0.0), (3, 0, 0.0)]
    s = board.satisfaction
    assert (s.surveys, s.csat_mean, s.csat_pct, s.nps) == (3, 4.0, 66.7, 33.3)


def test_escalation_rate_by_level(known: KnownDesk) -> None:
    fixed = build(known)
    with use_clock(lambda: NOW - timedelta(hours=1)):
        known.as_(AGENT2).write(escalate, ref=fixed.ids[4], reason="needs hands", level=2)
        known.as_(SUPERVISOR).write(escalate, ref=fixed.ids[3], reason="core switch", level=3)
    board = read(known)
    # Of five tickets, two reached level 2 or beyond, one level 3.
    assert [(e.level, e.tickets, e.pct) for e in board.escalation] == [(2, 2, 40.0), (3, 1, 20.0)]
    groups = {r["group"] for r in board.backlog.records()}
    assert "Service Desk" not in groups and "TOTAL" in groups


def test_the_period_moves_with_the_day(known: KnownDesk) -> None:
    build(known)
    later = read(known, T0 + timedelta(days=40))
    assert later.sla_period.tickets == 0 and later.satisfaction.surveys == 0
    # Still open: the backlog does not age out of view.
    assert later.backlog.records()[-1][">7d"] == 2


def test_only_supervisors_see_the_dashboard(known: KnownDesk) -> None:
    with pytest.raises(PermissionDenied):
        known.as_(AGENT).read(dashboard)


def test_each_number_opens_the_tickets_it_counts(known: KnownDesk) -> None:
    t1, t2, t3, t4, t5 = build(known).ids
    board = read(known)

    def tickets(**figure: Any) -> set[int]:
        with use_clock(lambda: NOW):
            rows = known.as_(SUPERVISOR).read(drill, figure=Figure(**figure))
        return {row.id for row in rows}

    period = board.since
    assert tickets(kind="backlog") == {t4, t5}
    assert tickets(kind="backlog", group="Service Desk", age=1) == {t4, t5}
    assert tickets(kind="backlog", age=0) == set()
    assert tickets(kind="response_missed", since=period) == {t2}
    assert tickets(kind="resolution_missed", since=period) == {t3, t4}
    assert tickets(kind="opened", day=date(2026, 11, 2)) == {t1, t2, t3, t4, t5}
    assert tickets(kind="resolved", day=date(2026, 11, 2)) == {t1, t2, t3}
    assert tickets(kind="analyst_open", login="alice") == {t4}
    assert tickets(kind="analyst_resolved", login="alice", since=period) == {t1, t2}
    assert tickets(kind="escalated", level=2, since=period) == set()
    with pytest.raises(PermissionDenied):
        known.as_(AGENT).read(drill, figure=Figure(kind="backlog"))
