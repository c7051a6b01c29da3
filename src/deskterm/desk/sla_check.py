"""The SLA check (warnings, breaches, automatic escalation) and the compliance report.

``run_check`` is what ``deskterm sla check`` and the app's background worker run. It reads
only tickets whose next alarm has come (``sla_next_at``, indexed; see ``sla_clock``) and the few
that match an "unassigned for N minutes" rule, in short write transactions of at most
``BATCH`` tickets, so it stays fast on a desk of any size and never holds the write lock for
long. It is idempotent: a warning or a breach is written to a ticket's log once (flags on
the ticket), a rule fires at most once for each thing that triggers it (a breach happens once;
an "unassigned" rule once per stretch a ticket waits unassigned in a queue, found in its log).

Warnings and breaches are written by ``system`` without a new ticket version, as delivery
reports are: they change nothing an analyst could overwrite, so an analyst typing a note at
that moment is not refused over them. An escalation does change the ticket, and goes through
``tickets.escalate`` like any other.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, case, func, not_, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm import defaults
from deskterm.db.engine import Database
from deskterm.db.models import (
    Analyst,
    AnalystGroup,
    Notification,
    SupportGroup,
    Ticket,
    TicketEvent,
)
from deskterm.desk import clock, ledger, sla_clock, tickets
from deskterm.desk.lookups import group_by_name
from deskterm.desk.outbox import OutboxStatus
from deskterm.desk.schemas import Public
from deskterm.domain import payloads as p
from deskterm.domain.enums import Channel, EventKind, Role, Status
from deskterm.domain.errors import DeskError, InvalidInput, PermissionDenied
from deskterm.domain.permissions import SYSTEM, Actor
from deskterm.domain.refs import format_ref
from deskterm.domain.sla import (
    Alert,
    EscalationRule,
    Raised,
    SlaPolicy,
    Trigger,
    alarms_due,
    next_alarm,
)
from deskterm.i18n import _

BATCH = 200
_Row = TypeVarTuple("_Row")
_STOPPED = sorted(s.value for s in sla_clock.PAUSED)
#: The outbox message a supervisor gets when a rule says to tell them.
SUPERVISOR_ALERT = "supervisor_alert"


class AlarmPublic(Public):
    ref: str
    clock: str
    breach: bool
    #: When the warning share was reached or the target passed (not when it was noticed).
    at: datetime


class FiringPublic(Public):
    ref: str
    rule: str
    reason: str
    outcome: str | None = None
    told: list[str] = []
    #: Supervisors the rule meant to tell who have no email address.
    no_email: list[str] = []

    @property
    def summary(self) -> str:
        """What the rule did, in the analyst's words: ``escalated to X (L2); told sam``."""
        parts = [self.outcome] if self.outcome else []
        if self.told:
            parts.append(_("told {names}").format(names=", ".join(self.told)))
        if self.no_email:
            parts.append(_("no email address for {names}").format(names=", ".join(self.no_email)))
        return "; ".join(parts) or _("nobody to tell: no supervisor in the group")


class CheckResult(Public):
    at: datetime
    looked_at: int = 0
    alarms: list[AlarmPublic] = []
    firings: list[FiringPublic] = []

    @property
    def warnings(self) -> int:
        return sum(1 for a in self.alarms if not a.breach)

    @property
    def breaches(self) -> int:
        return sum(1 for a in self.alarms if a.breach)


@dataclass
class _Run:
    now: datetime
    policy: SlaPolicy
    looked_at: int = 0
    alarms: list[AlarmPublic] = field(default_factory=list)
    firings: list[FiringPublic] = field(default_factory=list)
    # Read once per run: a catch-up after hours without a check fires thousands of rules.
    group_names: dict[int, str] | None = None
    supervisors: dict[int, list[tuple[str, str, str | None]]] | None = None

    def load_people(self, session: Session) -> None:
        if self.group_names is not None:
            return
        self.group_names = _group_names(session)
        self.supervisors = {}
        rows = session.execute(
            select(
                col(AnalystGroup.group_id),
                col(Analyst.login),
                col(Analyst.name),
                col(Analyst.email),
            )
            .join(Analyst, col(Analyst.id) == col(AnalystGroup.analyst_id))
            .where(col(Analyst.role) == Role.SUPERVISOR.value, col(Analyst.active))
            .order_by(col(Analyst.login))
        )
        for group_id, login, name, email in rows:
            self.supervisors.setdefault(group_id, []).append((login, name, email))


def _group_names(session: Session) -> dict[int, str]:
    names: dict[int, str] = {}
    for group_id, name in session.execute(select(col(SupportGroup.id), col(SupportGroup.name))):
        assert group_id is not None
        names[group_id] = name
    return names


# --------------------------------------------------------------------------- the check


def run_check(db: Database, *, batch: int = BATCH) -> CheckResult:
    """Everything that is due now: warnings, breaches and the escalation rules."""
    run = _Run(now=clock.now(), policy=defaults.sla_policy())
    # A read first: most runs find nothing due, and then take no write lock at all (on
    # SQLite every open app runs this each minute beside the analysts' own writes).
    if _anything(db, select(col(Ticket.id)).where(col(Ticket.sla_next_at) <= run.now)):
        after: tuple[datetime, int] | None = None
        more = True
        while more:
            with db.write() as session:
                after, more = _alarm_batch(session, run, after, batch)
    for rule in run.policy.rules:
        if rule.when != Trigger.UNASSIGNED:
            continue
        if not _anything(db, select(col(Ticket.id)).where(*_unassigned_conditions(rule, run.now))):
            continue
        last, more = 0, True
        while more:
            with db.write() as session:
                last, more = _unassigned_batch(session, run, rule, last, batch)
    return CheckResult(at=run.now, looked_at=run.looked_at, alarms=run.alarms, firings=run.firings)


def _anything(db: Database, query: Select[*_Row]) -> bool:
    with db.read() as session:
        return session.execute(query.limit(1)).first() is not None


def _locked(session: Session, query: Select[*_Row]) -> Select[*_Row]:
    # PostgreSQL: two checks at once (cron and an open app) pass over each other's rows.
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def _alarm_batch(
    session: Session, run: _Run, after: tuple[datetime, int] | None, limit: int
) -> tuple[tuple[datetime, int] | None, bool]:
    query = select(col(Ticket.id), col(Ticket.sla_next_at)).where(
        col(Ticket.sla_next_at) <= run.now
    )
    if after is not None:
        moment, last_id = after
        query = query.where(
            or_(
                col(Ticket.sla_next_at) > moment,
                and_(col(Ticket.sla_next_at) == moment, col(Ticket.id) > last_id),
            )
        )
    keys = session.execute(
        _locked(session, query.order_by(col(Ticket.sla_next_at), col(Ticket.id)).limit(limit))
    ).all()
    if not keys:
        return after, False
    rows = session.scalars(
        select(Ticket)
        .where(col(Ticket.id).in_([k.id for k in keys]))
        .order_by(col(Ticket.id))
        .execution_options(populate_existing=True)
    ).all()
    for ticket in rows:
        _alarms_of(session, run, ticket)
    session.flush()
    end_id, end_at = keys[-1]
    # The query asked for sla_next_at <= now: neither is NULL.
    assert end_id is not None and end_at is not None
    return (end_at, end_id), len(keys) == limit


def _alarms_of(session: Session, run: _Run, ticket: Ticket) -> None:
    assert ticket.id is not None
    run.looked_at += 1
    answered = ticket.first_response_at is not None
    running = ticket.sla_running_since is not None and sla_clock.runs(ticket.status)
    plan = sla_clock.stored_plan(ticket)
    raised, alerts = alarms_due(
        plan, Alert(ticket.sla_alerts or 0), answered=answered, running=running, now=run.now
    )
    for alarm in raised:
        kind: type[p.SlaAlarm] = p.SlaBreached if alarm.breach else p.SlaWarning
        _log(
            session,
            ticket,
            kind(
                clock=alarm.clock,
                due_at=_stamp(plan.due(alarm.clock)),
                warn_at=None if alarm.breach else _stamp(alarm.at),
                priority=f"P{ticket.priority}",
            ),
        )
        run.alarms.append(
            AlarmPublic(
                ref=format_ref(ticket.id),
                clock=alarm.clock.value,
                breach=alarm.breach,
                at=alarm.at,
            )
        )
    ticket.sla_alerts = int(alerts)
    ticket.sla_next_at = next_alarm(plan, alerts, answered=answered, running=running)
    for alarm in raised:
        for rule in run.policy.rules_for(Trigger.for_alarm(alarm), ticket.priority):
            _fire(session, run, ticket, rule, alarm)


def _unassigned_batch(
    session: Session, run: _Run, rule: EscalationRule, after_id: int, limit: int
) -> tuple[int, bool]:
    assert rule.after is not None
    conditions = _unassigned_conditions(rule, run.now)
    keys = session.scalars(
        _locked(
            session,
            select(col(Ticket.id))
            .where(*conditions, col(Ticket.id) > after_id)
            .order_by(col(Ticket.id))
            .limit(limit),
        )
    ).all()
    if not keys:
        return after_id, False
    rows = session.scalars(
        select(Ticket)
        .where(col(Ticket.id).in_(keys), *conditions)
        .order_by(col(Ticket.id))
        .execution_options(populate_existing=True)
    ).all()
    for ticket in rows:
        run.looked_at += 1
        if not _fired_while_unassigned(session, ticket, rule):
            _fire(session, run, ticket, rule, None)
    session.flush()
    last = keys[-1]
    assert last is not None
    return last, len(keys) == limit


def _unassigned_conditions(rule: EscalationRule, now: datetime) -> list[ColumnElement[bool]]:
    assert rule.after is not None
    conditions: list[ColumnElement[bool]] = [
        # The queue index (assignee, status, priority, ...) finds these few rows.
        col(Ticket.assignee_id).is_(None),
        col(Ticket.status) == Status.NEW.value,
        col(Ticket.unassigned_since) <= now - rule.after,
    ]
    if rule.priorities:
        conditions.append(col(Ticket.priority).in_(sorted(rule.priorities)))
    if rule.to_level is not None:
        conditions.append(col(Ticket.level) < rule.to_level)
    elif rule.up:
        conditions.append(col(Ticket.level) < 3)
    return conditions


def _fired_while_unassigned(session: Session, ticket: Ticket, rule: EscalationRule) -> bool:
    """This rule already fired since the ticket last became unassigned in its queue."""
    since = ticket.unassigned_since
    assert since is not None
    found = session.scalars(
        select(col(TicketEvent.data)).where(
            col(TicketEvent.ticket_id) == ticket.id,
            col(TicketEvent.kind) == EventKind.ESCALATION_RULE.value,
            col(TicketEvent.at) >= since,
        )
    ).all()
    return any(
        isinstance(fired := p.parse(EventKind.ESCALATION_RULE, data), p.EscalationRuleFired)
        and fired.rule == rule.name
        for data in found
    )


# --------------------------------------------------------------------------- firing a rule


def _fire(
    session: Session, run: _Run, ticket: Ticket, rule: EscalationRule, alarm: Raised | None
) -> None:
    assert ticket.id is not None
    # The log keeps the reason and the outcome in English, as data; the run reports them to
    # the analyst who ran it in their words (``said``).
    reason = rule.reason_for(ticket.priority)
    outcome: str | None = None
    said: str | None = None
    groups = {ticket.group_id}
    if rule.to_level is not None or rule.up:
        target = rule.target_level(ticket.level)
        if target is None:
            outcome = f"already at level {ticket.level}: nowhere higher to go"
            said = _("already at level {level}: nowhere higher to go").format(level=ticket.level)
        else:
            try:
                moved = tickets.escalate(
                    session, SYSTEM, ref=ticket.id, reason=reason, level=target
                )
            except DeskError as exc:
                outcome = f"could not escalate: {exc}"
                said = _("could not escalate: {error}").format(error=exc)
            else:
                outcome = f"escalated to {moved.group} (L{moved.level})"
                said = _("escalated to {group} (L{level})").format(
                    group=moved.group, level=moved.level
                )
                groups.add(ticket.group_id)
    told: list[str] = []
    unreachable: list[str] = []
    if rule.tell_supervisor:
        told, unreachable = _tell_supervisors(session, run, ticket, groups, rule, outcome, alarm)
    _log(
        session,
        ticket,
        p.EscalationRuleFired(
            rule=rule.name,
            trigger=rule.when.value,
            reason=rule.condition(f"P{ticket.priority}"),
            outcome=outcome,
            told=told or None,
            no_email=unreachable or None,
            no_supervisor=True if rule.tell_supervisor and not (told or unreachable) else None,
        ),
    )
    run.firings.append(
        FiringPublic(
            ref=format_ref(ticket.id),
            rule=rule.name,
            reason=rule.reason_words(ticket.priority),
            outcome=said,
            told=told,
            no_email=unreachable,
        )
    )


def _tell_supervisors(
    session: Session,
    run: _Run,
    ticket: Ticket,
    group_ids: set[int | None],
    rule: EscalationRule,
    outcome: str | None,
    alarm: Raised | None,
) -> tuple[list[str], list[str]]:
    """Queue an email to each supervisor of the ticket's group(s); (told, without email)."""
    assert ticket.id is not None
    run.load_people(session)
    assert run.supervisors is not None and run.group_names is not None
    people: dict[str, tuple[str, str | None]] = {}
    for group_id in sorted(g for g in group_ids if g is not None):
        for login, name, email in run.supervisors.get(group_id, []):
            people[login] = (name, email)
    group_name = run.group_names.get(ticket.group_id) if ticket.group_id else None
    now = clock.now()
    told, unreachable = [], []
    for login in sorted(people):
        name, email = people[login]
        if not email:
            unreachable.append(login)
            continue
        session.add(
            Notification(
                ticket_id=ticket.id,
                contact_id=None,
                kind=SUPERVISOR_ALERT,
                channel=Channel.EMAIL.value,
                recipient=email,
                context={
                    "ref": format_ref(ticket.id),
                    "subject": ticket.subject,
                    "priority": f"P{ticket.priority}",
                    "supervisor": name,
                    "group": group_name,
                    "level": ticket.level,
                    "reason": rule.reason_for(ticket.priority),
                    "outcome": outcome,
                    "due_at": _stamp(ticket.resolve_due_at),
                    "breach": alarm.clock.label if alarm and alarm.breach else None,
                },
                token=secrets.token_hex(8),
                status=OutboxStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        told.append(login)
    return told, unreachable


def _log(session: Session, ticket: Ticket, payload: p.Payload) -> None:
    assert ticket.id is not None
    ledger.record(
        session,
        payload,
        ticket_id=ticket.id,
        version=ticket.version,
        at=clock.now(),
        actor_id=None,
        visible=False,
    )


def _stamp(at: datetime | None) -> str | None:
    return None if at is None else at.strftime("%Y-%m-%d %H:%M UTC")


# --------------------------------------------------------------------------- the report


class ComplianceRow(Public):
    """SLA results of the tickets opened in a period, for one priority and group (``None``:
    all of them). ``open`` clocks are still running and not yet late."""

    priority: str
    group: str | None
    tickets: int
    response_met: int
    response_breached: int
    response_open: int
    resolution_met: int
    resolution_breached: int
    resolution_open: int

    @property
    def response_share(self) -> float | None:
        return _share(self.response_met, self.response_breached)

    @property
    def resolution_share(self) -> float | None:
        return _share(self.resolution_met, self.resolution_breached)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["response_compliance"] = self.response_share
        data["resolution_compliance"] = self.resolution_share
        return data


class SlaReport(Public):
    since: datetime
    until: datetime
    at: datetime
    group: str | None = None
    rows: list[ComplianceRow]
    by_priority: list[ComplianceRow]
    total: ComplianceRow

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "at": self.at.isoformat(),
            "group": self.group,
            "rows": [r.to_json() for r in self.rows],
            "by_priority": [r.to_json() for r in self.by_priority],
            "total": self.total.to_json(),
        }


def _share(met: int, breached: int) -> float | None:
    decided = met + breached
    return None if not decided else round(met / decided, 4)


_COUNTS = (
    "response_met",
    "response_breached",
    "response_open",
    "resolution_met",
    "resolution_breached",
    "resolution_open",
)


def sla_report(
    session: Session,
    actor: Actor,
    *,
    since: datetime,
    until: datetime,
    group: str | None = None,
) -> SlaReport:
    """Compliance of the tickets opened in [since, until), by priority and group.

    A clock is *met* when the response (or resolution) came by its due time, *breached* when
    it came late, or has not come and the due time has passed, or the check logged a breach;
    otherwise still *open*. Cancelled tickets are left out.
    """
    if not actor.is_supervisor:
        raise PermissionDenied(_("only supervisors and admins read SLA reports"))
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidInput(_("report periods need a time zone"), field="since")
    if until <= since:
        raise InvalidInput(_("the period ends before it starts"), field="until")
    now = clock.now()
    group_row = group_by_name(session, group) if group else None
    one, zero = 1, 0

    answered = col(Ticket.first_response_at).is_not(None)
    response_late = or_(
        col(Ticket.sla_alerts).op("&")(int(Alert.RESPONSE_BREACHED)) != 0,
        and_(answered, col(Ticket.first_response_at) > col(Ticket.response_due_at)),
        and_(not_(answered), col(Ticket.response_due_at) <= now),
    )
    resolved = col(Ticket.resolved_at).is_not(None)
    running = and_(col(Ticket.sla_running_since).is_not(None), col(Ticket.status).not_in(_STOPPED))
    resolution_late = or_(
        col(Ticket.sla_alerts).op("&")(int(Alert.RESOLUTION_BREACHED)) != 0,
        and_(resolved, col(Ticket.resolved_at) > col(Ticket.resolve_due_at)),
        and_(not_(resolved), running, col(Ticket.resolve_due_at) <= now),
    )

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, one), else_=zero))

    query = (
        select(
            col(Ticket.priority),
            col(Ticket.group_id),
            func.count(),
            count(and_(answered, not_(response_late))),
            count(response_late),
            count(and_(not_(answered), not_(response_late))),
            count(and_(resolved, not_(resolution_late))),
            count(resolution_late),
            count(and_(not_(resolved), not_(resolution_late))),
        )
        .where(
            col(Ticket.created_at) >= since,
            col(Ticket.created_at) < until,
            col(Ticket.status) != Status.CANCELLED.value,
        )
        .group_by(col(Ticket.priority), col(Ticket.group_id))
    )
    if group_row is not None:
        query = query.where(col(Ticket.group_id) == group_row.id)
    names = _group_names(session)
    rows = []
    for priority, group_id, total, *counts in session.execute(query):
        rows.append(
            ComplianceRow(
                priority=f"P{priority}",
                group=names.get(group_id) if group_id is not None else None,
                tickets=total,
                **dict(zip(_COUNTS, (int(c or 0) for c in counts), strict=True)),
            )
        )
    rows.sort(key=lambda r: (r.priority, r.group or ""))
    by_priority = [_sum(f"P{p}", [r for r in rows if r.priority == f"P{p}"]) for p in range(1, 6)]
    return SlaReport(
        since=since,
        until=until,
        at=now,
        group=group_row.name if group_row else None,
        rows=rows,
        by_priority=[r for r in by_priority if r.tickets],
        total=_sum("all", rows),
    )


def _sum(priority: str, rows: Sequence[ComplianceRow]) -> ComplianceRow:
    return ComplianceRow(
        priority=priority,
        group=None,
        tickets=sum(r.tickets for r in rows),
        **{name: sum(getattr(r, name) for r in rows) for name in _COUNTS},
    )
