"""Callbacks: promising the customer a call at a given time, and keeping the promise.

A callback is scheduled on a ticket (when, why, by whom) and logged there as
``callback_scheduled``; it waits in the "callbacks due" queue until someone logs an outbound
call on that ticket, which keeps the ticket's pending promises.

The outbox opens one more kind (``tell_by_phone``): for a contact who prefers the phone, a
task due now to tell them what a change means for them, instead of a message.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm import defaults
from deskterm.db.models import Analyst, Callback, Contact, Ticket
from deskterm.desk import clock, ledger, tickets
from deskterm.desk.schemas import Public, TicketPublic
from deskterm.domain.errors import InvalidInput, NotFound
from deskterm.domain.payloads import CallbackScheduled, Note
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.domain.text import required_line
from deskterm.i18n import N_, _

#: How far ahead a callback may be promised.
HORIZON = timedelta(days=90)
#: ``callback.reason``'s length.
REASON_MAX = 300
#: Between the notices one open task to tell the customer gathers.
_THEN = " | "


class CallbackPublic(Public):
    id: int
    due_at: datetime
    reason: str
    scheduled_by: str | None
    scheduled_at: datetime


# The words of a time as analysts say it in each language deskterm speaks, accents folded:
# a German analyst types "morgen 9:00" or "in 2 Std.", a Czech one "zitra 9:00" or "za 2 h".
# Accepted in any language, whatever the app speaks: the words do not collide.
_IN = r"(?:in|em|daqui a|za)"
_UNITS = {
    "m": r"m|min|mins|minutes?|minuten?|minutos?|minut[ay]?",
    "h": r"h|hr|hrs|hours?|std|stunden?|horas?|hod|hodin[ay]?",
    "d": r"d|days?|tage?n?|dias?|dn[iy]|den",
}
_RELATIVE = re.compile(
    rf"(?:{_IN} )?(\d{{1,4}}) ?(?:{'|'.join(f'(?P<{k}>{v})' for k, v in _UNITS.items())})\.?"
)
_TODAY = {"today": 0, "heute": 0, "hoje": 0, "dnes": 0, "tomorrow": 1, "morgen": 1, "amanha": 1}
_TODAY["zitra"] = 1
_AT = r"(?:at|um|as|v|ve)"
_CLOCK = re.compile(
    rf"(?:({'|'.join(_TODAY)}),? )?(?:{_AT} )?(\d{{1,2}})(?:[:.h](\d{{2}}))?(?: ?uhr| ?h)?"
)
#: A day first, as these languages write it: 26.11.2026 10:00, 26/11 10:00, 26. 11. 10:00.
_DAY_FIRST = re.compile(
    r"(\d{1,2})[./] ?(\d{1,2})[./]? ?(\d{4})?,? (?:" + _AT + r" )?(\d{1,2})[:.h](\d{2})(?: ?uhr)?"
)


def parse_when(text: str, now: datetime) -> datetime:
    """A time as an analyst types it, in ``now``'s zone, in any language deskterm speaks.

    ``in 30m``, ``2h``, ``1d``, ``15:30`` (today, or tomorrow once past), ``tomorrow 9:00``,
    ``2026-11-26 10:00``; ``morgen 9:00``, ``in 2 Std.``, ``26.11.2026 10:00``; ``amanhã
    9:00``, ``em 2 horas``, ``26/11 10:00``; ``zítra 9:00``, ``za 2 hodiny``.
    """
    from deskterm.domain.names import fold

    raw = " ".join(fold(text or "").split())
    if not raw:
        raise InvalidInput(_("say when: 15:30, in 2h, tomorrow 9:00"), field="when")
    relative = _RELATIVE.fullmatch(raw)
    if relative:
        amount = int(relative[1])
        unit = next(k for k in _UNITS if relative[k])
        step = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}[unit]
        return now + amount * step
    clock_time = _CLOCK.fullmatch(raw)
    if clock_time and (clock_time[1] or clock_time[3] is not None):
        hour, minute = int(clock_time[2]), int(clock_time[3] or 0)
        if hour > 23 or minute > 59:
            raise InvalidInput(_("{text!r} is not a time of day").format(text=text), field="when")
        at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        days = _TODAY.get(clock_time[1] or "")
        if days:
            at += timedelta(days=days)
        elif days is None and at <= now:
            at += timedelta(days=1)
        return at
    day_first = _DAY_FIRST.fullmatch(raw)
    if day_first:
        d, mo, y, h, mi = day_first.groups()
        try:
            return now.replace(
                year=int(y) if y else now.year,
                month=int(mo),
                day=int(d),
                hour=int(h),
                minute=int(mi),
                second=0,
                microsecond=0,
            )
        except ValueError:
            pass
    try:
        stamp = datetime.fromisoformat(raw.replace(" ", "T", 1))
    except ValueError:
        raise InvalidInput(
            _("{text!r} is not a time: try 15:30, in 2h, tomorrow 9:00 or 2026-11-26 10:00").format(
                text=text
            ),
            field="when",
        ) from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=now.tzinfo)


def schedule_callback(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    due_at: datetime,
    reason: str,
    expected_version: int | None = None,
) -> TicketPublic:
    """Promise the customer a call at ``due_at``; the promise is in the ticket's log."""
    why = required_line(reason, field="reason", limit=300)
    if due_at.tzinfo is None:
        raise InvalidInput(_("the callback time needs a time zone"), field="when")
    now = clock.now()
    if due_at < now - timedelta(minutes=1):
        raise InvalidInput(_("that time has passed: a callback is promised ahead"), field="when")
    if due_at > now + HORIZON:
        raise InvalidInput(_("a callback more than 90 days ahead is not a callback"), field="when")
    ticket = tickets.load(session, ref, expected_version)
    tickets.ensure_open(
        ticket, N_("{ref} is {status} and cannot be given a callback; reopen it first")
    )
    change = tickets.Change(session, actor, ticket)
    assert ticket.id is not None
    session.add(
        Callback(
            ticket_id=ticket.id,
            due_at=due_at,
            reason=why,
            scheduled_by_id=actor.id,
            scheduled_at=change.at,
        )
    )
    change.log(
        CallbackScheduled(
            due_at=due_at.astimezone(now.tzinfo).strftime("%Y-%m-%d %H:%M UTC"), reason=why
        )
    )
    change.save()
    return tickets.summary(session, ticket)


def tell_by_phone(
    session: Session,
    *,
    ticket_id: int,
    version: int,
    at: datetime,
    actor_id: int | None,
    what: str,
    name: str,
) -> Callback:
    """A call due now to tell ``name`` (who prefers the phone) ``what``, in place of a message.

    Written with the change it tells about: at its version, its time ``at`` and by its actor
    (none: the system), so the log reads them as one change (``domain.replay``). A ticket has
    one such task open at most: while it waits, a later notice adds its words to it (the
    oldest give way when they no longer fit), so the analyst makes one call that says it all.
    The log says no message went out, and why.
    """
    now = at
    told = " ".join(what.split())
    task = session.scalars(
        select(Callback)
        .where(
            col(Callback.ticket_id) == ticket_id,
            col(Callback.notice).is_(True),
            col(Callback.done_at).is_(None),
        )
        .order_by(col(Callback.id))
        .limit(1)
    ).first()
    if task is None:
        task = Callback(
            ticket_id=ticket_id,
            due_at=now,
            reason=_fit(_("Tell the customer: {what}").format(what=told)),
            scheduled_by_id=actor_id,
            scheduled_at=now,
            notice=True,
        )
        session.add(task)
        # Internal: the customer's case page must not show the desk's own instructions.
        _record(
            session,
            CallbackScheduled(due_at=now.strftime("%Y-%m-%d %H:%M UTC"), reason=task.reason),
            ticket_id=ticket_id,
            version=version,
            at=at,
            actor_id=actor_id,
        )
        said = _("no message sent: {name} prefers the phone, so a call to tell them is due now")
    else:
        longer = f"{task.reason}{_THEN}{told}"
        if len(longer) > REASON_MAX:
            longer = _("Tell the customer: {what}").format(what=f"…{_THEN}{told}")
        task.reason = _fit(longer)
        said = _(
            "no message sent: {name} prefers the phone; the call already due tells them this too"
        )
    _record(
        session,
        Note(text=said.format(name=name), about="notify"),
        ticket_id=ticket_id,
        version=version,
        at=at,
        actor_id=actor_id,
    )
    session.flush()
    return task


def _fit(text: str) -> str:
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def _record(
    session: Session,
    payload: Any,
    *,
    ticket_id: int,
    version: int,
    at: datetime,
    actor_id: int | None,
) -> None:
    ledger.record(
        session,
        payload,
        ticket_id=ticket_id,
        version=version,
        at=at,
        actor_id=actor_id,
        visible=False,
    )


@cache
def _pending_query() -> Select[Any]:
    # Built once, as plain columns: the ticket screen reads this at every load, and an
    # aliased entity built per call cost more than the statement.
    callback: Table = Callback.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
    analyst: Table = Analyst.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
    cb, by = callback.c, analyst.alias("scheduled_by")
    return (
        select(cb.id, cb.due_at, cb.reason, by.c.login, cb.scheduled_at)
        .select_from(callback)
        .outerjoin(by, by.c.id == cb.scheduled_by_id)
        .where(cb.ticket_id == bindparam("ticket_id"), cb.done_at.is_(None))
        .order_by(cb.due_at, cb.id)
    )


def pending_callbacks(session: Session, actor: Actor, *, ref: int) -> list[CallbackPublic]:
    """The promises still open on one ticket, soonest first."""
    rows = session.execute(_pending_query(), {"ticket_id": ref}).all()
    return [
        CallbackPublic(
            id=callback_id,
            due_at=due_at,
            reason=reason,
            scheduled_by=login,
            scheduled_at=scheduled_at,
        )
        for callback_id, due_at, reason, login, scheduled_at in rows
    ]


class CallbackProposal(Public):
    """When to call the customer next by the follow-up cadence of the ticket's priority."""

    due_at: datetime
    priority: str
    every_hours: float
    calendar: str
    reason: str


def propose_callback(session: Session, actor: Actor, *, ref: str | int) -> CallbackProposal | None:
    """The next callback by the cadence (``callback_every_hours`` in sla.toml), counted in the
    priority's working hours from now; None when the priority has no cadence."""
    ticket_id = ref if isinstance(ref, int) else parse_ref(ref)
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(_("no ticket {ref}").format(ref=format_ref(ticket_id)))
    policy = defaults.sla_policy()
    target = policy.for_priority(ticket.priority)
    due = policy.propose_callback(clock.now(), ticket.priority)
    if due is None or target is None or target.callback_every is None:
        return None
    hours = target.callback_every.total_seconds() / 3600
    return CallbackProposal(
        due_at=due,
        priority=f"P{ticket.priority}",
        every_hours=hours,
        calendar=target.calendar.name,
        reason=_("Follow-up on your case: where it stands and what comes next"),
    )


class DueCallback(Public):
    id: int
    ticket_id: int
    ref: str
    due_at: datetime
    reason: str
    contact: str | None = None


def due_callbacks(session: Session, actor: Actor, *, limit: int = 20) -> list[DueCallback]:
    """Promises that have come due and are this analyst's to keep: promised by them or on a
    ticket they hold. Soonest first (the oldest promise is the most urgent)."""
    if actor.id is None:
        return []
    query = (
        select(
            col(Callback.id),
            col(Callback.ticket_id),
            col(Callback.due_at),
            col(Callback.reason),
            col(Contact.name),
        )
        .join(Ticket, col(Ticket.id) == col(Callback.ticket_id))
        .outerjoin(Contact, col(Contact.id) == col(Ticket.contact_id))
        .where(
            col(Callback.done_at).is_(None),
            col(Callback.due_at) <= clock.now(),
            or_(col(Callback.scheduled_by_id) == actor.id, col(Ticket.assignee_id) == actor.id),
        )
        .order_by(col(Callback.due_at), col(Callback.id))
        .limit(limit)
    )
    return [
        DueCallback(
            id=row.id,
            ticket_id=row.ticket_id,
            ref=format_ref(row.ticket_id),
            due_at=row.due_at,
            reason=row.reason,
            contact=row.name,
        )
        for row in session.execute(query)
    ]
