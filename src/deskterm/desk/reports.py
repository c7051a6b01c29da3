"""Reports: backlog, SLA compliance, analysts, customer satisfaction, categories; and the
customer surveys that the satisfaction figures come from.

Every figure is aggregated by the database (``GROUP BY``, window functions for medians);
Python only reshapes the few aggregated rows. Each report is one table (``Report``): the
CLI prints it as a Rich table, CSV or JSON, the dashboard shows parts of it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm import defaults
from deskterm.db.models import (
    Analyst,
    Category,
    Contact,
    KbNeed,
    KbTicket,
    Organization,
    SupportGroup,
    Survey,
    Ticket,
    TicketEvent,
)
from deskterm.desk import clock
from deskterm.desk.schemas import Public
from deskterm.desk.tickets import Change, hold, load, refusal
from deskterm.domain.enums import OPEN_STATUSES, EventKind, Status, status_label
from deskterm.domain.errors import InvalidInput, InvalidTransition, PermissionDenied
from deskterm.domain.payloads import SurveyRecorded
from deskterm.domain.permissions import Actor, may_record_survey
from deskterm.domain.refs import format_ref
from deskterm.i18n import N_, _

#: Ageing of open tickets: upper bounds in days, and what the columns are called.
AGE_BUCKETS = ((1, "<1d"), (3, "1-3d"), (7, "3-7d"), (None, ">7d"))
#: Later contact that makes a resolution not "first contact".
_NOT_FIRST_CONTACT = (
    EventKind.ESCALATED,
    EventKind.REASSIGNED,
    EventKind.REOPENED,
    EventKind.CALL_LOGGED,
    EventKind.CUSTOMER_MESSAGE,
)
_OPEN = [s.value for s in OPEN_STATUSES]
#: Stands for "no id" where an id column is grouped by an expression.
_NO_KEY = -1


class Report(Public):
    """One table: ``rows`` hold plain values (text, numbers, ``None`` for "no data")."""

    name: str
    title: str
    since: datetime | None = None
    until: datetime | None = None
    columns: list[str]
    rows: list[list[Any]]
    #: A sum of the rows the table prints under them; not a record (CSV and JSON rows are
    #: one per key, which a spreadsheet sums itself).
    total: list[Any] | None = None

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


# --------------------------------------------------------------------------- periods


#: Days a period may name: a period is kept as midnights in UTC, and 9999-12-31 has no
#: midnight after it (nor 0001-01-01 a month before it) in Python's calendar.
_FIRST_DAY = date(1900, 1, 1)
_LAST_DAY = date(9998, 12, 31)


def _day(text: str, option: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            _("{option} {text!r} is not a day like 2026-11-30").format(option=option, text=text),
            field=option,
        ) from None
    if not _FIRST_DAY <= day <= _LAST_DAY:
        raise InvalidInput(
            _("{option} {text!r} is out of range: give a day from {first} to {last}").format(
                option=option, text=text, first=_FIRST_DAY, last=_LAST_DAY
            ),
            field=option,
        )
    return day


def day_range(
    from_: str | None,
    to: str | None,
    *,
    default_days: int | None = 30,
    zone: tzinfo = UTC,
) -> tuple[datetime | None, datetime | None]:
    """``[since, until)`` for whole days ``from_``..``to`` (both included), each day from
    midnight to midnight in ``zone``.

    Without ``to`` the period ends tonight; without ``from_`` it starts ``default_days``
    before that (or is open when ``default_days`` is ``None``)."""
    end_day = _day(to, "--to") if to else None
    start_day = _day(from_, "--from") if from_ else None
    if start_day and end_day and start_day > end_day:
        raise InvalidInput(_("--from is after --to"), field="--from")
    until = _midnight(end_day + timedelta(days=1), zone) if end_day else None
    since = _midnight(start_day, zone) if start_day else None
    if default_days is not None:
        if until is None:
            today = clock.now().astimezone(zone).date()
            until = _midnight(today + timedelta(days=1), zone)
        if since is None:
            since = _midnight(until.astimezone(zone).date() - timedelta(days=default_days), zone)
    return since, until


def _midnight(day: date, zone: tzinfo = UTC) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def desk_zone() -> tzinfo:
    """The desk's time zone: its SLA calendars' when they agree on one, else UTC. Where a
    billing month begins and ends."""
    zones = {t.calendar.zone for t in defaults.sla_policy().targets.values()}
    return zones.pop() if len(zones) == 1 else UTC


def _within(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


# --------------------------------------------------------------------------- SQL pieces


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def seconds_between(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    if dialect(session) == "postgresql":
        return func.extract("epoch", later - earlier)
    # SQLite keeps times as ISO text; julianday reads it.
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def day_of(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC day of a time as ``YYYY-MM-DD`` text."""
    if dialect(session) == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def medians(
    session: Session, key: Any, value: ColumnElement[Any], where: list[Any]
) -> dict[Any, float]:
    """The median of ``value`` for each ``key`` (an id column; ``None`` is a key too), by
    window functions (portable, one pass)."""
    # Partitioned by an expression, as in analysts_report: SQLite must read the rows the
    # conditions pick, not walk an index on the key over the whole desk.
    group = func.coalesce(key, _NO_KEY)
    ranked = (
        select(
            group.label("k"),
            value.label("v"),
            func.row_number().over(partition_by=group, order_by=value).label("rn"),
            func.count().over(partition_by=group).label("n"),
        )
        .where(*where)
        .subquery()
    )
    # The middle row, or the mean of the middle two.
    query = (
        select(ranked.c.k, func.avg(ranked.c.v))
        .where(ranked.c.rn >= ranked.c.n * 0.5, ranked.c.rn <= ranked.c.n * 0.5 + 1)
        .group_by(ranked.c.k)
    )
    return {
        None if k == _NO_KEY else k: float(v) for k, v in session.execute(query) if v is not None
    }


def first_contact(session: Session) -> ColumnElement[Any]:
    """1 for a ticket its opener resolved with no later contact, escalation, handover or
    reopening; else 0."""
    later = exists().where(
        col(TicketEvent.ticket_id) == col(Ticket.id),
        col(TicketEvent.at) > col(Ticket.created_at),
        col(TicketEvent.kind).in_([k.value for k in _NOT_FIRST_CONTACT]),
    )
    return case(
        (
            and_(
                col(Ticket.resolved_at).is_not(None),
                col(Ticket.assignee_id) == col(Ticket.created_by_id),
                ~later,
            ),
            1,
        ),
        else_=0,
    )


def _count_if(condition: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def sla_conditions(now: datetime) -> tuple[Any, Any, Any, Any]:
    """Response met, response missed, resolution met, resolution missed, as conditions.

    Met: done by the due time. Missed: done late, or not done and already overdue. Tickets
    still inside their time are neither."""
    response_due, responded = col(Ticket.response_due_at), col(Ticket.first_response_at)
    resolve_due, resolved = col(Ticket.resolve_due_at), col(Ticket.resolved_at)
    return (
        and_(response_due.is_not(None), responded <= response_due),
        and_(
            response_due.is_not(None),
            or_(responded > response_due, and_(responded.is_(None), response_due < now)),
        ),
        and_(resolve_due.is_not(None), resolved <= resolve_due),
        and_(
            resolve_due.is_not(None),
            or_(resolved > resolve_due, and_(resolved.is_(None), resolve_due < now)),
        ),
    )


def sla_counts(now: datetime) -> list[ColumnElement[Any]]:
    """How many tickets meet each of ``sla_conditions``."""
    return [_count_if(condition) for condition in sla_conditions(now)]


def percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _hours(seconds: float | None) -> float | None:
    return round(seconds / 3600.0, 2) if seconds is not None else None


def _may_report(actor: Actor) -> None:
    # Reports show every analyst's figures side by side: that is a supervisor's view.
    if not actor.is_supervisor:
        raise PermissionDenied(_("only a supervisor may read reports"))


def without_jit(session: Session) -> None:
    """PostgreSQL compiles these aggregates with its JIT because their row estimates are
    large; on a million tickets compiling took 630 ms of the analysts report's 1.1 s and
    saved nothing. Off for this transaction only."""
    if dialect(session) == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


# --------------------------------------------------------------------------- reports


def backlog_report(
    session: Session,
    actor: Actor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """Open tickets now, by group: per priority and by age (opened in the period, if given)."""
    _may_report(actor)
    without_jit(session)
    now = clock.now()
    bucket = case(
        *[
            (col(Ticket.created_at) >= now - timedelta(days=days), index)
            for index, (days, _label) in enumerate(AGE_BUCKETS)
            if days is not None
        ],
        else_=len(AGE_BUCKETS) - 1,
    )
    # The bucket is worked out in a subquery: PostgreSQL will not group by an expression
    # whose parameters are bound twice.
    open_tickets = (
        select(
            col(Ticket.group_id).label("group_id"),
            col(Ticket.priority).label("priority"),
            bucket.label("bucket"),
            col(Ticket.created_at).label("created_at"),
        )
        .where(col(Ticket.status).in_(_OPEN), *_within(col(Ticket.created_at), since, until))
        .subquery()
    )
    rows = session.execute(
        select(
            col(SupportGroup.name),
            open_tickets.c.priority,
            open_tickets.c.bucket,
            func.count(),
            func.min(open_tickets.c.created_at),
        )
        .select_from(open_tickets)
        .outerjoin(SupportGroup, col(SupportGroup.id) == open_tickets.c.group_id)
        .group_by(col(SupportGroup.name), open_tickets.c.priority, open_tickets.c.bucket)
    ).all()
    columns = [
        "group",
        "P1",
        "P2",
        "P3",
        "P4",
        "P5",
        "total",
        *[label for _d, label in AGE_BUCKETS],
        "oldest_days",
    ]
    table: dict[str, list[Any]] = {}
    oldest: dict[str, datetime] = {}
    for group, priority, age, count, first in rows:
        name = group or "(no group)"
        row = table.setdefault(name, [name] + [0] * (len(columns) - 2) + [None])
        row[priority] += count
        row[6] += count
        row[7 + age] += count
        if name not in oldest or first < oldest[name]:
            oldest[name] = first
    result = []
    for name in sorted(table, key=lambda n: (-table[n][6], n)):
        row = table[name]
        row[-1] = round((now - oldest[name]).total_seconds() / 86400.0, 1)
        result.append(row)
    if result:
        counted = len(columns) - 1  # every column but the name and the oldest age
        total: list[Any] = ["TOTAL"] + [sum(r[i] for r in result) for i in range(1, counted)]
        total.append(max(r[-1] for r in result))
        result.append(total)
    return Report(
        name="backlog",
        title=_("Open tickets by group, priority and age"),
        since=since,
        until=until,
        columns=columns,
        rows=result,
    )


def sla_report(
    session: Session,
    actor: Actor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """SLA compliance of the tickets opened in the period, per priority."""
    _may_report(actor)
    without_jit(session)
    counts = sla_counts(clock.now())
    rows = session.execute(
        select(col(Ticket.priority), func.count(), *counts)
        .where(
            col(Ticket.status) != Status.CANCELLED, *_within(col(Ticket.created_at), since, until)
        )
        .group_by(col(Ticket.priority))
        .order_by(col(Ticket.priority))
    ).all()
    columns = [
        "priority",
        "tickets",
        "response_met",
        "response_missed",
        "response_pct",
        "resolution_met",
        "resolution_missed",
        "resolution_pct",
    ]
    result: list[list[Any]] = []
    sums = [0] * 5
    for priority, tickets, r_met, r_miss, s_met, s_miss in rows:
        values = [tickets, r_met, r_miss, s_met, s_miss]
        sums = [a + b for a, b in zip(sums, values, strict=True)]
        result.append(_sla_row(f"P{priority}", values))
    if result:
        result.append(_sla_row("TOTAL", sums))
    return Report(
        name="sla",
        title=_("SLA compliance of tickets opened in the period"),
        since=since,
        until=until,
        columns=columns,
        rows=result,
    )


def _sla_row(label: str, values: list[int]) -> list[Any]:
    tickets, r_met, r_miss, s_met, s_miss = (int(v) for v in values)
    return [
        label,
        tickets,
        r_met,
        r_miss,
        percent(r_met, r_met + r_miss),
        s_met,
        s_miss,
        percent(s_met, s_met + s_miss),
    ]


def analysts_report(
    session: Session,
    actor: Actor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """Per analyst: open tickets now, and for tickets they resolved in the period how many,
    the first-contact resolution rate, and the median hours to first response and to resolve."""
    _may_report(actor)
    without_jit(session)
    resolved_here = [
        col(Ticket.resolved_at).is_not(None),
        *_within(col(Ticket.resolved_at), since, until),
    ]
    # Grouped by an expression, not the column: SQLite would otherwise walk the whole assignee
    # index to skip a sort, instead of the resolved-time range (4.8 s against 0.3 s on a
    # million tickets). Unassigned tickets (0) match no analyst below.
    holder = func.coalesce(col(Ticket.assignee_id), 0)
    handled = {
        aid: (count, int(fcr or 0))
        for aid, count, fcr in session.execute(
            select(holder, func.count(), func.sum(first_contact(session)))
            .where(*resolved_here)
            .group_by(holder)
        )
    }
    workload = dict(
        session.execute(
            select(col(Ticket.assignee_id), func.count())
            .where(col(Ticket.status).in_(_OPEN), col(Ticket.assignee_id).is_not(None))
            .group_by(col(Ticket.assignee_id))
        ).all()
    )
    to_response = medians(
        session,
        col(Ticket.assignee_id),
        seconds_between(session, col(Ticket.first_response_at), col(Ticket.created_at)),
        [*resolved_here, col(Ticket.first_response_at).is_not(None)],
    )
    to_resolve = medians(
        session,
        col(Ticket.assignee_id),
        seconds_between(session, col(Ticket.resolved_at), col(Ticket.created_at)),
        resolved_here,
    )
    people = session.execute(
        select(
            col(Analyst.id),
            col(Analyst.login),
            col(Analyst.name),
            col(Analyst.level),
            col(Analyst.active),
        ).order_by(col(Analyst.login))
    ).all()
    rows = []
    for aid, login, name, level, active in people:
        count, fcr = handled.get(aid, (0, 0))
        if not active and not count and not workload.get(aid):
            continue
        rows.append(
            [
                login,
                name,
                level,
                workload.get(aid, 0),
                count,
                percent(fcr, count),
                _hours(to_response.get(aid)),
                _hours(to_resolve.get(aid)),
            ]
        )
    return Report(
        name="analysts",
        title=_("Workload and performance per analyst (tickets resolved in the period)"),
        since=since,
        until=until,
        columns=[
            "analyst",
            "name",
            "level",
            "open",
            "resolved",
            "fcr_pct",
            "median_response_h",
            "median_resolve_h",
        ],
        rows=rows,
    )


def _satisfaction(rows: Any) -> list[Any]:
    surveys, csat_n, csat_sum, satisfied, nps_n, promoters, detractors = (int(v or 0) for v in rows)
    return [
        surveys,
        csat_n,
        round(csat_sum / csat_n, 2) if csat_n else None,
        percent(satisfied, csat_n),
        nps_n,
        round(100.0 * (promoters - detractors) / nps_n, 1) if nps_n else None,
        promoters,
        detractors,
    ]


def satisfaction_columns() -> list[Any]:
    return [
        func.count(),
        func.count(col(Survey.csat)),
        func.coalesce(func.sum(col(Survey.csat)), 0),
        _count_if(col(Survey.csat) >= 4),
        func.count(col(Survey.nps)),
        _count_if(col(Survey.nps) >= 9),
        _count_if(col(Survey.nps) <= 6),
    ]


def csat_report(
    session: Session,
    actor: Actor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """Customer satisfaction from the surveys recorded in the period, per analyst who
    resolved the ticket: CSAT (mean of 1-5, share of 4 and 5) and NPS (promoters 9-10 minus
    detractors 0-6, in points)."""
    _may_report(actor)
    without_jit(session)
    window = _within(col(Survey.recorded_at), since, until)
    per_analyst = session.execute(
        select(col(Analyst.login), *satisfaction_columns())
        .select_from(Survey)
        .join(Ticket, col(Ticket.id) == col(Survey.ticket_id))
        .outerjoin(Analyst, col(Analyst.id) == col(Ticket.assignee_id))
        .where(*window)
        .group_by(col(Analyst.login))
        .order_by(col(Analyst.login))
    ).all()
    rows = [[login or "(nobody)", *_satisfaction(values)] for login, *values in per_analyst]
    if rows:
        total = session.execute(select(*satisfaction_columns()).where(*window)).one()
        rows.append(["TOTAL", *_satisfaction(total)])
    return Report(
        name="csat",
        title=_("Customer satisfaction (surveys recorded in the period)"),
        since=since,
        until=until,
        columns=[
            "analyst",
            "surveys",
            "csat_answers",
            "csat_mean",
            "csat_pct",
            "nps_answers",
            "nps",
            "promoters",
            "detractors",
        ],
        rows=rows,
    )


def categories_report(
    session: Session,
    actor: Actor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """Tickets opened in the period per category: resolved, still open, escalated, solved
    with an article, flagged "article needed", and median hours to resolve."""
    _may_report(actor)
    without_jit(session)
    window = _within(col(Ticket.created_at), since, until)
    with_article = exists().where(col(KbTicket.ticket_id) == col(Ticket.id))
    needs_article = exists().where(col(KbNeed.ticket_id) == col(Ticket.id))
    rows = session.execute(
        select(
            col(Ticket.category_id),
            func.count(),
            func.count(col(Ticket.resolved_at)),
            _count_if(col(Ticket.status).in_(_OPEN)),
            _count_if(col(Ticket.level) >= 2),
            _count_if(with_article),
            _count_if(needs_article),
        )
        .where(*window)
        .group_by(col(Ticket.category_id))
    ).all()
    paths = dict(session.execute(select(col(Category.id), col(Category.path))).all())
    to_resolve = medians(
        session,
        col(Ticket.category_id),
        seconds_between(session, col(Ticket.resolved_at), col(Ticket.created_at)),
        [*window, col(Ticket.resolved_at).is_not(None)],
    )
    result = [
        [
            paths.get(cid, "(none)") if cid is not None else "(none)",
            opened,
            resolved,
            still_open,
            escalated,
            percent(escalated, opened),
            articles,
            needed,
            _hours(to_resolve.get(cid)),
        ]
        for cid, opened, resolved, still_open, escalated, articles, needed in rows
    ]
    result.sort(key=lambda r: (-r[1], r[0]))
    return Report(
        name="categories",
        title=_("Tickets opened in the period by category"),
        since=since,
        until=until,
        columns=[
            "category",
            "opened",
            "resolved",
            "open",
            "escalated",
            "escalated_pct",
            "with_article",
            "article_needed",
            "median_resolve_h",
        ],
        rows=result,
    )


# --------------------------------------------------------------------------- time worked

#: What ``report time --by`` groups the minutes worked by.
TIME_KEYS = ("analyst", "contact", "organization")


def time_report(
    session: Session,
    actor: Actor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: str = "analyst",
) -> Report:
    """Minutes worked in the period (by the events' time), per analyst who worked them, per
    contact of the ticket, or per the contact's organization: tickets, events, minutes, and
    hours with two places. Sums are of whole minutes in SQL; hours are worked out from
    them exactly, so a bill adds up to its events to the minute.

    A supervisor sees everyone's time; any other analyst their own only (their timesheet:
    the minutes they logged, by contact or organization too), never a colleague's."""
    own_only = not actor.is_supervisor
    if own_only and actor.id is None:
        raise PermissionDenied(_("only a supervisor may read reports"))
    key = by.strip().lower()
    if key not in TIME_KEYS:
        raise InvalidInput(
            _("unknown --by {by!r}: use {keys}").format(by=by, keys=", ".join(TIME_KEYS)),
            field="by",
        )
    # Reads ix_ticket_event_worked: only the events that carry minutes, in the period.
    worked = [col(TicketEvent.minutes).is_not(None), *_within(col(TicketEvent.at), since, until)]
    if own_only:
        worked.append(col(TicketEvent.actor_id) == actor.id)
    figures = (
        func.count(func.distinct(col(TicketEvent.ticket_id))),
        func.count(),
        func.sum(col(TicketEvent.minutes)),
    )
    query: Any
    if key == "analyst":
        query = (
            select(col(Analyst.login), col(Analyst.name), *figures)
            .select_from(TicketEvent)
            .outerjoin(Analyst, col(Analyst.id) == col(TicketEvent.actor_id))
            .where(*worked)
            .group_by(col(Analyst.login), col(Analyst.name))
        )
        columns = ["analyst", "name"]
    elif key == "contact":
        query = (
            select(col(Contact.id), col(Contact.name), col(Organization.name), *figures)
            .select_from(TicketEvent)
            .join(Ticket, col(Ticket.id) == col(TicketEvent.ticket_id))
            .outerjoin(Contact, col(Contact.id) == col(Ticket.contact_id))
            .outerjoin(Organization, col(Organization.id) == col(Contact.organization_id))
            .where(*worked)
            .group_by(col(Contact.id), col(Contact.name), col(Organization.name))
        )
        columns = ["contact_id", "contact", "organization"]
    else:
        query = (
            select(col(Organization.name), *figures)
            .select_from(TicketEvent)
            .join(Ticket, col(Ticket.id) == col(TicketEvent.ticket_id))
            .outerjoin(Contact, col(Contact.id) == col(Ticket.contact_id))
            .outerjoin(Organization, col(Organization.id) == col(Contact.organization_id))
            .where(*worked)
            .group_by(col(Organization.name))
        )
        columns = ["organization"]
    rows: list[list[Any]] = []
    for row in session.execute(query):
        names = list(row[: len(columns)])
        tickets, events, minutes = (int(v or 0) for v in row[len(columns) :])
        if key == "analyst" and names[0] is None:
            names = ["(system)", None]
        elif names[-1] is None and key == "organization":
            names = ["(none)"]
        elif key == "contact" and names[0] is None:
            names = [None, "(none)", None]
        rows.append([*names, tickets, events, minutes, hours_of(minutes)])
    # Most time first; ties by name (then contact id), the same order on both databases.
    label = 1 if key == "contact" else 0
    rows.sort(key=lambda r: (-r[-2], str(r[label]), (r[0] or 0) if key == "contact" else 0))
    total = None
    if rows:
        minutes_all = sum(r[-2] for r in rows)
        tickets_all = _distinct_tickets(session, worked)
        total = [
            "TOTAL",
            *([None] * (len(columns) - 1)),
            tickets_all,
            sum(r[-3] for r in rows),
            minutes_all,
            hours_of(minutes_all),
        ]
    return Report(
        name="time",
        title=(_("Your time worked by {key}") if own_only else _("Time worked by {key}")).format(
            key=_(_TIME_KEY_WORDS[key])
        ),
        since=since,
        until=until,
        columns=[*columns, "tickets", "events", "minutes", "hours"],
        rows=rows,
        total=total,
    )


_TIME_KEY_WORDS = {
    # Translators: completes "Time worked by ..." (deskterm report time --by).
    "analyst": N_("analyst"),
    "contact": N_("contact"),
    "organization": N_("organization"),
}


def _distinct_tickets(session: Session, worked: list[Any]) -> int:
    # A ticket worked by two analysts counts once in the total, not once per row.
    return int(
        session.scalar(select(func.count(func.distinct(col(TicketEvent.ticket_id)))).where(*worked))
        or 0
    )


def hours_of(minutes: int) -> Decimal:
    """Whole minutes as hours with two places, rounded half up: 85 -> 1.42. From the
    integer sum, never a sum of rounded hours."""
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


REPORTS = {
    "backlog": backlog_report,
    "sla": sla_report,
    "analysts": analysts_report,
    "csat": csat_report,
    "categories": categories_report,
    "time": time_report,
}


# --------------------------------------------------------------------------- surveys


class SurveyPublic(Public):
    ref: str
    csat: int | None
    nps: int | None
    via: str
    recorded_at: datetime


_VIA = ("call", "email")


def record_survey(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    csat: int | None = None,
    nps: int | None = None,
    via: str = "call",
) -> SurveyPublic:
    """The customer's answers for a resolved (or closed) ticket, asked on the closing call
    or by email reply. Recording again replaces the answers; the log keeps both."""
    if csat is None and nps is None:
        raise InvalidInput(_("give a CSAT score (1-5), an NPS score (0-10) or both"), field="csat")
    if csat is not None and not 1 <= csat <= 5:
        raise InvalidInput(_("CSAT is a score from 1 to 5"), field="csat")
    if nps is not None and not 0 <= nps <= 10:
        raise InvalidInput(_("NPS is a score from 0 to 10"), field="nps")
    how = via.strip().lower()
    if how not in _VIA:
        raise InvalidInput(
            _("unknown way {via!r}: use {names}").format(via=via, names=", ".join(_VIA)),
            field="via",
        )
    ticket = load(session, ref)
    assert ticket.id is not None
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        raise InvalidTransition(
            _("{ref} is {status}: surveys are for resolved tickets").format(
                ref=format_ref(ticket.id), status=status_label(ticket.status)
            )
        )
    if not may_record_survey(actor, hold(ticket)):
        # Translators: completes "only its holder or a supervisor may ..."
        raise refusal(session, actor, ticket, N_("record its survey"))
    change = Change(session, actor, ticket)
    survey = session.get(Survey, ticket.id)
    if survey is None:
        survey = Survey(ticket_id=ticket.id, recorded_at=change.at)
        session.add(survey)
    survey.csat, survey.nps, survey.via = csat, nps, how
    survey.recorded_at, survey.recorded_by_id = change.at, actor.id
    change.log(SurveyRecorded(csat=csat, nps=nps, via=how), visible=False)
    change.save()
    return SurveyPublic(
        ref=format_ref(ticket.id), csat=csat, nps=nps, via=how, recorded_at=change.at
    )
