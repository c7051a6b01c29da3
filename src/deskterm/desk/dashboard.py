"""The supervisor's dashboard: one read of every figure, each aggregated by the database.

Backlog, ageing and the analysts' table are the reports of ``desk/reports.py``; the rest
(SLA compliance today and over 30 days, tickets opened and resolved per day, escalation
rate by level, satisfaction) are small aggregates of their own.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Survey, Ticket
from deskterm.desk import clock
from deskterm.desk.lookups import analyst_by_login, group_by_name
from deskterm.desk.reports import (
    AGE_BUCKETS,
    Report,
    analysts_report,
    backlog_report,
    day_of,
    percent,
    satisfaction_columns,
    sla_conditions,
    sla_counts,
    without_jit,
)
from deskterm.desk.rows import _public, _rows_query
from deskterm.desk.schemas import Public, TicketPublic
from deskterm.domain.enums import OPEN_STATUSES, Status
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.domain.permissions import Actor
from deskterm.i18n import _

#: How far back the "last 30 days" figures and the daily chart reach.
PERIOD_DAYS = 30


class Compliance(Public):
    """SLA compliance of the tickets opened in a period (``None``: nothing due yet)."""

    tickets: int
    response_met: int
    response_missed: int
    resolution_met: int
    resolution_missed: int

    @property
    def response_pct(self) -> float | None:
        return percent(self.response_met, self.response_met + self.response_missed)

    @property
    def resolution_pct(self) -> float | None:
        return percent(self.resolution_met, self.resolution_met + self.resolution_missed)


class DayFlow(Public):
    day: date
    opened: int
    resolved: int


class LevelShare(Public):
    """Tickets opened in the period that reached ``level`` (or beyond)."""

    level: int
    tickets: int
    pct: float | None


class Satisfaction(Public):
    surveys: int
    csat_answers: int
    csat_mean: float | None
    csat_pct: float | None
    nps_answers: int
    nps: float | None


class Dashboard(Public):
    at: datetime
    since: datetime
    today: datetime
    backlog: Report
    sla_today: Compliance
    sla_period: Compliance
    flow: list[DayFlow]
    analysts: Report
    escalation: list[LevelShare]
    opened: int
    satisfaction: Satisfaction


class Period(Public):
    """The moment the figures are read, and the days they look back over."""

    at: datetime
    #: Midnight of today (the clock's time zone).
    today: datetime
    #: Midnight of the period's first day.
    since: datetime


class SlaPanel(Public):
    period: Period
    today: Compliance
    over_period: Compliance


class EscalationPanel(Public):
    period: Period
    levels: list[LevelShare]
    #: Tickets opened in the period (not cancelled): what the shares are of.
    opened: int


class SatisfactionPanel(Public):
    period: Period
    satisfaction: Satisfaction


class FlowPanel(Public):
    period: Period
    days: list[DayFlow]


class ReportPanel(Public):
    period: Period
    report: Report


def period(days: int = PERIOD_DAYS) -> Period:
    now = clock.now()
    today = datetime(now.year, now.month, now.day, tzinfo=now.tzinfo)
    return Period(at=now, today=today, since=today - timedelta(days=days - 1))


def _may_see(session: Session, actor: Actor) -> None:
    if not actor.is_supervisor:
        raise PermissionDenied(_("only a supervisor may open the dashboard"))
    without_jit(session)


def _compliance(session: Session, since: datetime, now: datetime) -> Compliance:
    tickets, r_met, r_miss, s_met, s_miss = session.execute(
        select(func.count(), *sla_counts(now)).where(
            col(Ticket.created_at) >= since, col(Ticket.status) != Status.CANCELLED
        )
    ).one()
    return Compliance(
        tickets=tickets,
        response_met=int(r_met),
        response_missed=int(r_miss),
        resolution_met=int(s_met),
        resolution_missed=int(s_miss),
    )


def _per_day(session: Session, column: Any, since: datetime) -> dict[str, int]:
    day = day_of(session, column)
    # Grouped in a subquery: PostgreSQL will not match two bound copies of the same format.
    days = select(day.label("day")).where(column >= since).subquery()
    return dict(session.execute(select(days.c.day, func.count()).group_by(days.c.day)).all())


# Each panel of the dashboard is a read of its own, so that the screen reads them side by
# side and shows each as it comes (the slowest, the analysts' table, no longer holds the
# others back); ``dashboard`` reads them all at once.


def sla_panel(session: Session, actor: Actor, *, days: int = PERIOD_DAYS) -> SlaPanel:
    _may_see(session, actor)
    when = period(days)
    return SlaPanel(
        period=when,
        today=_compliance(session, when.today, when.at),
        over_period=_compliance(session, when.since, when.at),
    )


def escalation_panel(session: Session, actor: Actor, *, days: int = PERIOD_DAYS) -> EscalationPanel:
    _may_see(session, actor)
    when = period(days)
    levels = dict(
        session.execute(
            select(col(Ticket.level), func.count())
            .where(col(Ticket.created_at) >= when.since, col(Ticket.status) != Status.CANCELLED)
            .group_by(col(Ticket.level))
        ).all()
    )
    total = sum(levels.values())
    return EscalationPanel(
        period=when,
        levels=[
            LevelShare(
                level=level,
                tickets=(reached := sum(n for lv, n in levels.items() if lv >= level)),
                pct=percent(reached, total),
            )
            for level in (2, 3)
        ],
        opened=total,
    )


def satisfaction_panel(
    session: Session, actor: Actor, *, days: int = PERIOD_DAYS
) -> SatisfactionPanel:
    _may_see(session, actor)
    when = period(days)
    surveys, csat_n, csat_sum, satisfied, nps_n, promoters, detractors = (
        int(v or 0)
        for v in session.execute(
            select(*satisfaction_columns()).where(col(Survey.recorded_at) >= when.since)
        ).one()
    )
    return SatisfactionPanel(
        period=when,
        satisfaction=Satisfaction(
            surveys=surveys,
            csat_answers=csat_n,
            csat_mean=round(csat_sum / csat_n, 2) if csat_n else None,
            csat_pct=percent(satisfied, csat_n),
            nps_answers=nps_n,
            nps=round(100.0 * (promoters - detractors) / nps_n, 1) if nps_n else None,
        ),
    )


def flow_panel(session: Session, actor: Actor, *, days: int = PERIOD_DAYS) -> FlowPanel:
    _may_see(session, actor)
    when = period(days)
    opened = _per_day(session, col(Ticket.created_at), when.since)
    resolved = _per_day(session, col(Ticket.resolved_at), when.since)
    flow = []
    for offset in range(days):
        day = (when.since + timedelta(days=offset)).date()
        key = day.isoformat()
        flow.append(DayFlow(day=day, opened=opened.get(key, 0), resolved=resolved.get(key, 0)))
    return FlowPanel(period=when, days=flow)


def backlog_panel(session: Session, actor: Actor, *, days: int = PERIOD_DAYS) -> ReportPanel:
    _may_see(session, actor)
    return ReportPanel(period=period(days), report=backlog_report(session, actor))


def analysts_panel(session: Session, actor: Actor, *, days: int = PERIOD_DAYS) -> ReportPanel:
    _may_see(session, actor)
    when = period(days)
    return ReportPanel(period=when, report=analysts_report(session, actor, since=when.since))


def dashboard(session: Session, actor: Actor, *, days: int = PERIOD_DAYS) -> Dashboard:
    """Every panel in one read (one transaction: one moment's figures)."""
    return from_panels(
        sla=sla_panel(session, actor, days=days),
        escalation=escalation_panel(session, actor, days=days),
        satisfaction=satisfaction_panel(session, actor, days=days),
        flow=flow_panel(session, actor, days=days),
        backlog=backlog_panel(session, actor, days=days),
        analysts=analysts_panel(session, actor, days=days),
    )


def from_panels(
    *,
    sla: SlaPanel,
    escalation: EscalationPanel,
    satisfaction: SatisfactionPanel,
    flow: FlowPanel,
    backlog: ReportPanel,
    analysts: ReportPanel,
) -> Dashboard:
    """The whole dashboard from its panels, read together or one by one."""
    when = sla.period
    return Dashboard(
        at=when.at,
        since=when.since,
        today=when.today,
        backlog=backlog.report,
        sla_today=sla.today,
        sla_period=sla.over_period,
        flow=flow.days,
        analysts=analysts.report,
        escalation=escalation.levels,
        opened=escalation.opened,
        satisfaction=satisfaction.satisfaction,
    )


# --------------------------------------------------------------------------- drilling down


class Figure(Public):
    """What one number on the dashboard counts, so that selecting it lists those tickets.

    ``kind``: ``backlog`` (open; ``group``, ``priority`` and ``age`` narrow it), ``response_missed``
    and ``resolution_missed`` (opened since ``since``), ``opened`` and ``resolved`` (on
    ``day``), ``analyst_open``, ``analyst_resolved`` (since ``since``), ``escalated`` (reached
    ``level`` since ``since``)."""

    kind: str
    label: str = ""
    group: str | None = None
    priority: int | None = None
    age: int | None = None
    login: str | None = None
    level: int | None = None
    day: date | None = None
    since: datetime | None = None


NO_GROUP = "(no group)"
DRILL_LIMIT = 200


def drill(
    session: Session, actor: Actor, *, figure: Figure, limit: int = DRILL_LIMIT
) -> list[TicketPublic]:
    """The tickets behind a figure, newest first (at most ``limit``)."""
    if not actor.is_supervisor:
        raise PermissionDenied(_("only a supervisor may open the dashboard"))
    without_jit(session)
    now = clock.now()
    query, _holder, _contact = _rows_query()
    where: list[Any] = []
    open_now = col(Ticket.status).in_([s.value for s in OPEN_STATUSES])
    since = figure.since
    match figure.kind:
        case "backlog":
            where.append(open_now)
            if figure.group == NO_GROUP:
                where.append(col(Ticket.group_id).is_(None))
            elif figure.group:
                where.append(col(Ticket.group_id) == group_by_name(session, figure.group).id)
            if figure.priority is not None:
                where.append(col(Ticket.priority) == figure.priority)
            if figure.age is not None:
                where.extend(_age(figure.age, now))
        case "response_missed" | "resolution_missed":
            index = 1 if figure.kind == "response_missed" else 3
            where.append(sla_conditions(now)[index])
            where.append(col(Ticket.status) != Status.CANCELLED)
            if since is not None:
                where.append(col(Ticket.created_at) >= since)
        case "opened" | "resolved":
            if figure.day is None:
                raise InvalidInput(_("which day?"), field="day")
            start = datetime(figure.day.year, figure.day.month, figure.day.day, tzinfo=now.tzinfo)
            column = col(Ticket.created_at) if figure.kind == "opened" else col(Ticket.resolved_at)
            where += [column >= start, column < start + timedelta(days=1)]
        case "analyst_open" | "analyst_resolved":
            who = analyst_by_login(session, figure.login or "")
            where.append(col(Ticket.assignee_id) == who.id)
            if figure.kind == "analyst_open":
                where.append(open_now)
            else:
                where.append(col(Ticket.resolved_at).is_not(None))
                if since is not None:
                    where.append(col(Ticket.resolved_at) >= since)
        case "escalated":
            where += [
                col(Ticket.level) >= (figure.level or 2),
                col(Ticket.status) != Status.CANCELLED,
            ]
            if since is not None:
                where.append(col(Ticket.created_at) >= since)
        case _:
            raise InvalidInput(
                _("unknown figure {kind!r}").format(kind=figure.kind), field="figure"
            )
    rows = session.execute(
        query.where(*where)
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(limit)
    )
    return [_public(row) for row in rows]


def _age(bucket: int, now: datetime) -> list[Any]:
    """Open tickets of one ageing column of the backlog report."""
    bounds = [days for days, _label in AGE_BUCKETS]
    newer = bounds[bucket]
    older = bounds[bucket - 1] if bucket > 0 else None
    where = []
    if newer is not None:
        where.append(col(Ticket.created_at) >= now - timedelta(days=newer))
    if older is not None:
        where.append(col(Ticket.created_at) < now - timedelta(days=older))
    return where
