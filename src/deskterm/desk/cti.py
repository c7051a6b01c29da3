"""The phone system's side of a call (CTI): the events a PBX posts, the call log they make,
and the tokens it posts with.

The protocol is the generic CTI push that Zammad documents and sipgate.io, Placetel and an
Asterisk dial plan's ``CURL()`` speak: ``event=newCall|answer|hangup`` with ``callId``,
``from``, ``to``, ``direction``, ``user[]``, ``answeringNumber`` and ``cause``. A PBX retries
and its events may cross on the wire, so each event is applied idempotently to the call
it names: the same event twice changes nothing, a hangup before its answer or an answer for
a call never announced still leaves one sensible row, never an error.

Times are the desk's clock when an event arrives (a PBX sends none). Nothing a PBX sends is
trusted as text: a field with a control character or an escape sequence is refused, every
field has a length limit, and what is stored is data (``[b]`` in a name stays ``[b]``).

Faces use :func:`calls_ringing` (the screen-pop), :func:`missed_calls` (the queue view),
:func:`call_back`, :func:`attach_ticket` and :func:`newest_call_id` (SQLite's cheap poll); on
PostgreSQL each change is announced on :data:`CALLS_CHANNEL` with the call's id as payload.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import (
    Analyst,
    AnalystExtension,
    Contact,
    CtiToken,
    Organization,
    PhoneCall,
    PhoneCallRing,
)
from deskterm.desk import clock
from deskterm.desk.schemas import Public
from deskterm.domain.errors import DeskError, InvalidInput, NotFound, PermissionDenied
from deskterm.domain.permissions import Actor
from deskterm.domain.phone import e164, looks_like_phone
from deskterm.i18n import _

#: The PostgreSQL channel a call's changes are announced on; the payload is its id.
CALLS_CHANNEL = "deskterm_calls"
EVENTS = ("newCall", "answer", "hangup")
#: Zammad's hangup causes, and what each means for the caller (its generic CTI docs).
#: ``forwarded``: someone else took it; ``busy``: the line was busy; any other unanswered
#: end (``cancel``, ``noAnswer``, ``congestion``, ``notFound``, none given) is a missed call.
ANSWERED_ELSEWHERE_CAUSES = frozenset({"forwarded"})
BUSY_CAUSES = frozenset({"busy"})
#: A call still "ringing" after this long lost its hangup: it pops up nobody's screen.
RINGING_AT_MOST = timedelta(minutes=10)
#: A token's last use is written at most this often (every post would be a hot row).
_TOUCH_EVERY = timedelta(minutes=1)

_LIMITS = {
    "event": 16,
    "callId": 250,
    "from": 64,
    "to": 64,
    "direction": 8,
    "answeringNumber": 100,
    "cause": 32,
    "queue": 100,
}
_USER_MAX = 100
_USERS_MAX = 20
# Control characters (C0, DEL, C1) and bidi overrides: an escape sequence starts with one.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@dataclass(frozen=True)
class CallEvent:
    """One event as the PBX posted it, checked: every field is one safe line."""

    event: str
    call_id: str
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    users: tuple[str, ...] = ()
    answering: str | None = None
    cause: str | None = None
    queue: str | None = None


def _field(name: str, value: object, limit: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(_("{name} must be text").format(name=name), field=name)
    said = str(value)
    if _UNSAFE.search(said):
        raise InvalidInput(_("{name} holds a control character").format(name=name), field=name)
    said = said.strip()
    if len(said) > limit:
        raise InvalidInput(
            _("{name} is longer than {limit} characters").format(name=name, limit=limit), field=name
        )
    return said or None


#: Placetel's notify API says the same in its own words: its event, and what its hangup's
#: ``type`` means as a generic cause.
_PLACETEL_EVENTS = {
    "IncomingCall": ("newCall", "in"),
    "OutgoingCall": ("newCall", "out"),
    "CallAccepted": ("answer", None),
    "HungUp": ("hangup", None),
}
_PLACETEL_CAUSES = {
    "accepted": "normalClearing",
    "busy": "busy",
    "canceled": "cancel",
    "missed": "noAnswer",
    "voicemail": "noAnswer",
    "blocked": "cancel",
    "unavailable": "notFound",
    "congestion": "congestion",
}


def _generic(fields: Mapping[str, object]) -> Mapping[str, object]:
    """Placetel's fields as the generic protocol names them; any other post as it is."""
    said = fields.get("event")
    if not isinstance(said, str) or said not in _PLACETEL_EVENTS:
        return fields
    event, direction = _PLACETEL_EVENTS[said]
    kind = fields.get("type")
    generic = {
        **fields,
        "event": event,
        "callId": fields.get("call_id", fields.get("callId")),
        "answeringNumber": fields.get("peer"),
        "cause": _PLACETEL_CAUSES.get(kind, kind) if isinstance(kind, str) else None,
    }
    if direction is not None:
        generic["direction"] = direction
    return generic


def parse_event(fields: Mapping[str, object]) -> CallEvent:
    """The event a posted body holds (form fields or a JSON object), or InvalidInput
    saying what is wrong with it: nothing is written for a refused event. Placetel's
    notify events (``IncomingCall``, ``CallAccepted``, ``HungUp``) are read as theirs."""
    fields = _generic(fields)
    event = _field("event", fields.get("event"), _LIMITS["event"])
    if event is None:
        raise InvalidInput(_("no event given (newCall, answer or hangup)"), field="event")
    if event not in EVENTS:
        raise InvalidInput(
            _("unknown event {event!r} (newCall, answer or hangup)").format(event=event),
            field="event",
        )
    call_id = _field("callId", fields.get("callId"), _LIMITS["callId"])
    if call_id is None:
        raise InvalidInput(_("no callId given"), field="callId")
    said = {
        key: _field(key, fields.get(key), _LIMITS[key])
        for key in ("from", "to", "direction", "answeringNumber", "cause", "queue")
    }
    direction = said["direction"]
    if direction is not None and direction not in ("in", "out"):
        raise InvalidInput(
            _("direction must be in or out, not {direction!r}").format(direction=direction),
            field="direction",
        )
    if event == "newCall":
        missing = [key for key in ("from", "to", "direction") if said[key] is None]
        if missing:
            raise InvalidInput(
                _("newCall needs {names}").format(names=", ".join(missing)), field=missing[0]
            )
    raw_users: object = fields.get("user[]", fields.get("user"))
    listed = raw_users if isinstance(raw_users, list) else [] if raw_users is None else [raw_users]
    if len(listed) > _USERS_MAX:
        raise InvalidInput(
            _("more than {limit} user[] given").format(limit=_USERS_MAX), field="user"
        )
    users = tuple(u for u in (_field("user[]", u, _USER_MAX) for u in listed) if u)
    return CallEvent(
        event=event,
        call_id=call_id,
        direction=direction,
        from_number=said["from"],
        to_number=said["to"],
        users=users,
        answering=said["answeringNumber"],
        cause=said["cause"],
        queue=said["queue"],
    )


class CallPublic(Public):
    """A call of the log, as a face shows it. ``to_json`` names the numbers ``from``/``to``
    as the PBX does (``call list --json``)."""

    id: int
    call_id: str
    direction: str
    from_number: str
    to_number: str
    #: The caller's number: ``from`` of a call in, ``to`` of a call out.
    caller_number: str
    contact_id: int | None
    contact: str | None
    analyst: str | None
    ringing: list[str]
    users: str
    state: str
    outcome: str | None
    cause: str | None
    missed: bool
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    called_back_at: datetime | None
    called_back_by: str | None
    ticket_id: int | None

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["from"] = data.pop("from_number")
        data["to"] = data.pop("to_number")
        return data


@dataclass(frozen=True)
class Ingested:
    #: The call's id in the log, and the PBX's.
    id: int
    call_id: str
    #: False when the event changed nothing (a repeat, or later news already known).
    changed: bool
    #: The call as a face shows it; None when not asked for (the server needs only the id).
    call: CallPublic | None = None


# --------------------------------------------------------------------------- events


def ingest_event(
    session: Session,
    actor: Actor | None,
    *,
    event: CallEvent,
    region: str | None = None,
    public: bool = True,
) -> Ingested:
    """Apply one PBX event to its call (made if this is the first news of it)."""
    now = clock.now()
    call = _call_for_update(session, event.call_id)
    changed = fresh = False
    if call is None:
        call = _new_call(session, event, now, region)
        changed = fresh = call.call_id == event.call_id and call.state == "ringing"
    elif event.event == "newCall" and not call.from_number and event.from_number:
        # An answer or hangup came first and made the row: the newCall fills in who called.
        _fill_numbers(session, call, event, region)
        changed = True
    if event.event == "answer":
        changed = _answer(session, call, event, now) or changed
    elif event.event == "hangup":
        changed = _hang_up(session, call, event, now) or changed
    elif event.event == "newCall" and changed:
        _ring(session, call, event, fresh=fresh)
    session.flush()
    assert call.id is not None
    if changed and session.get_bind().dialect.name == "postgresql":
        # Sent at commit: the app reads the call only once it can see it.
        session.execute(
            text("SELECT pg_notify(:channel, :id)"),
            {
                "channel": CALLS_CHANNEL,
                "id": str(call.id),
            },
        )
    return Ingested(call.id, call.call_id, changed, _public(session, [call])[0] if public else None)


def _call_for_update(session: Session, call_id: str) -> PhoneCall | None:
    query = select(PhoneCall).where(col(PhoneCall.call_id) == call_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def _new_call(session: Session, event: CallEvent, now: datetime, region: str | None) -> PhoneCall:
    call = PhoneCall(
        call_id=event.call_id,
        direction=event.direction or "in",
        from_number="",
        to_number="",
        users="",
        state="ringing",
        missed=False,
        started_at=now,
    )
    _fill_numbers(session, call, event, region)
    try:
        # Two posts of one new call at once: the second finds the first's row.
        with session.begin_nested():
            session.add(call)
            session.flush()
    except IntegrityError:
        found = _call_for_update(session, event.call_id)
        if found is None:
            raise
        return found
    return call


def _fill_numbers(session: Session, call: PhoneCall, event: CallEvent, region: str | None) -> None:
    call.direction = event.direction or call.direction
    call.from_number = event.from_number or call.from_number
    call.to_number = event.to_number or call.to_number
    call.from_e164 = e164(call.from_number, region) if call.from_number else None
    call.to_e164 = e164(call.to_number, region) if call.to_number else None
    if event.users or event.answering:
        call.users = ", ".join((*event.users, *([event.answering] if event.answering else [])))[
            :300
        ]
    if event.queue:
        call.queue = event.queue
    caller = call.to_number if call.direction == "out" else call.from_number
    call.contact_id = _caller(session, caller, region)


def _caller(session: Session, number: str, region: str | None) -> int | None:
    """The contact whose number this is, by the new-call screen's own lookup; none when the
    number is anonymous or several contacts share it (the analyst asks)."""
    from deskterm.desk.lookups import contact_by_key
    from deskterm.domain.errors import DeskError

    if not number or not looks_like_phone(number):
        return None
    try:
        return contact_by_key(session, number, region=region).id
    except DeskError:
        return None


def _analysts(session: Session, names: Sequence[str], fallback: Sequence[str] = ()) -> list[int]:
    """The analysts ``answeringNumber`` or ``user[]`` name, by extension, login or name,
    in their order; when none is found, those ``fallback`` names (one query for both)."""
    wanted = [n for n in (*names, *fallback) if n]
    if not wanted:
        return []
    lowered = [n.lower() for n in wanted]
    rows = session.execute(
        select(
            col(Analyst.id),
            col(AnalystExtension.extension),
            col(Analyst.login),
            col(Analyst.name),
        )
        .outerjoin(AnalystExtension, col(AnalystExtension.analyst_id) == col(Analyst.id))
        .where(col(Analyst.active))
        .where(
            col(AnalystExtension.extension).in_(wanted)
            | col(Analyst.login).in_(lowered)
            | func.lower(col(Analyst.name)).in_(lowered)
        )
    ).all()

    def found(among: Sequence[str]) -> list[int]:
        ids: list[int] = []
        for name in among:
            low = name.lower()
            for analyst_id, extension, login, full in rows:
                if name == extension or low == login or low == (full or "").lower():
                    if analyst_id not in ids:
                        ids.append(cast(int, analyst_id))
                    break
        return ids

    return found([n for n in names if n]) or found([n for n in fallback if n])


def _ring(session: Session, call: PhoneCall, event: CallEvent, *, fresh: bool) -> None:
    # A PBX that names nobody rang the extension it was called on.
    fallback = [event.to_number] if call.direction == "in" and event.to_number else []
    ids = _analysts(
        session, [*([event.answering] if event.answering else []), *event.users], fallback
    )
    assert call.id is not None
    rung = (
        set(
            session.scalars(
                select(col(PhoneCallRing.analyst_id)).where(col(PhoneCallRing.call_pk) == call.id)
            )
        )
        if ids and not fresh
        else set()
    )
    for analyst_id in ids:
        if analyst_id not in rung:
            session.add(PhoneCallRing(call_pk=call.id, analyst_id=analyst_id))
    if ids and call.analyst_id is None:
        call.analyst_id = ids[0]


def _answer(session: Session, call: PhoneCall, event: CallEvent, now: datetime) -> bool:
    if call.answered_at is not None:
        return False
    who = _analysts(session, [*([event.answering] if event.answering else []), *event.users])
    if who:
        call.analyst_id = who[0]
    if call.ended_at is not None:
        # The hangup overtook its answer: it was a call taken, of unknown length.
        call.answered_at = call.ended_at
        call.duration_seconds = 0
        call.outcome, call.missed = "answered", False
        return True
    call.answered_at = now
    call.state = "answered"
    return True


def _hang_up(session: Session, call: PhoneCall, event: CallEvent, now: datetime) -> bool:
    if call.ended_at is not None:
        return False
    call.ended_at = now
    call.state = "ended"
    call.cause = event.cause
    if call.answered_at is not None:
        call.duration_seconds = max(0, int((now - call.answered_at).total_seconds()))
        call.outcome = "answered"
        if call.ticket_id is not None:
            # Saved while it ran: the save logged no call time (see save_phone_call), so
            # the ticket's call event is this one, with the PBX's own length.
            _log_duration(session, call)
        return True
    call.duration_seconds = 0
    # Compared without case: an Asterisk dial plan sends its ${DIALSTATUS} (BUSY, NOANSWER).
    cause = (event.cause or "").lower()
    if cause in ANSWERED_ELSEWHERE_CAUSES:
        call.outcome = "answered_elsewhere"
    elif cause in BUSY_CAUSES:
        call.outcome = "busy"
    else:
        call.outcome = "missed" if call.direction == "in" else "not_reached"
    call.missed = call.direction == "in" and call.outcome in ("missed", "busy")
    return True


# --------------------------------------------------------------------------- reading


def _public(session: Session, calls: Sequence[PhoneCall]) -> list[CallPublic]:
    ids = [c.id for c in calls if c.id is not None]
    analyst_ids = {a for c in calls for a in (c.analyst_id, c.called_back_by_id) if a}
    logins: dict[int, str] = {}
    ringing: dict[int, list[str]] = {}
    if ids:
        for call_pk, analyst_id, login in session.execute(
            select(col(PhoneCallRing.call_pk), col(Analyst.id), col(Analyst.login))
            .join(Analyst, col(Analyst.id) == col(PhoneCallRing.analyst_id))
            .where(col(PhoneCallRing.call_pk).in_(ids))
            .order_by(col(Analyst.login))
        ):
            ringing.setdefault(call_pk, []).append(login)
            logins[cast(int, analyst_id)] = login
    missing = analyst_ids - set(logins)
    if missing:
        for analyst_id, login in session.execute(
            select(col(Analyst.id), col(Analyst.login)).where(col(Analyst.id).in_(missing))
        ):
            logins[cast(int, analyst_id)] = login
    names = _by_id(session, col(Contact.id), col(Contact.name), {c.contact_id for c in calls})
    return [
        CallPublic(
            id=c.id,
            call_id=c.call_id,
            direction=c.direction,
            from_number=c.from_number,
            to_number=c.to_number,
            caller_number=c.to_number if c.direction == "out" else c.from_number,
            contact_id=c.contact_id,
            contact=names.get(c.contact_id) if c.contact_id else None,
            analyst=logins.get(c.analyst_id) if c.analyst_id else None,
            ringing=ringing.get(c.id, []),
            users=c.users,
            state=c.state,
            outcome=c.outcome,
            cause=c.cause,
            missed=c.missed,
            started_at=c.started_at,
            answered_at=c.answered_at,
            ended_at=c.ended_at,
            duration_seconds=c.duration_seconds,
            called_back_at=c.called_back_at,
            called_back_by=logins.get(c.called_back_by_id) if c.called_back_by_id else None,
            ticket_id=c.ticket_id,
        )
        for c in calls
        if c.id is not None
    ]


def get_call(session: Session, actor: Actor, *, call: int) -> CallPublic:
    row = session.get(PhoneCall, call)
    if row is None:
        raise NotFound(_("no call with id {call}").format(call=call))
    return _public(session, [row])[0]


def list_calls(
    session: Session,
    actor: Actor,
    *,
    missed: bool = False,
    limit: int = 100,
    before: tuple[datetime, int] | None = None,
    include_called_back: bool = True,
) -> list[CallPublic]:
    """The call log, newest first, a page at a time (``before``: the last row's
    ``(started_at, id)``). ``missed``: only calls nobody answered."""
    if not 1 <= limit <= 1000:
        raise InvalidInput(_("limit must be between 1 and 1000"), field="limit")
    query = select(PhoneCall).order_by(col(PhoneCall.started_at).desc(), col(PhoneCall.id).desc())
    if missed:
        query = query.where(col(PhoneCall.missed))
        if not include_called_back:
            query = query.where(col(PhoneCall.called_back_at).is_(None))
    if before is not None:
        at, last = before
        query = query.where(
            (col(PhoneCall.started_at) < at)
            | ((col(PhoneCall.started_at) == at) & (col(PhoneCall.id) < last))
        )
    return _public(session, session.scalars(query.limit(limit)).all())


def missed_calls(
    session: Session,
    actor: Actor,
    *,
    limit: int = 100,
    before: tuple[datetime, int] | None = None,
) -> list[CallPublic]:
    """Callers who rang and nobody answered, not yet called back: newest first, a page."""
    return list_calls(
        session, actor, missed=True, limit=limit, before=before, include_called_back=False
    )


def calls_ringing(session: Session, actor: Actor, *, login: str | None = None) -> list[CallPublic]:
    """The calls ringing for an analyst now (the actor by default): the screen-pop."""
    from deskterm.desk.lookups import analyst_by_login

    analyst_id = analyst_by_login(session, login).id if login else actor.id
    if analyst_id is None:
        return []
    since = clock.now() - RINGING_AT_MOST
    rows = session.scalars(
        select(PhoneCall)
        .join(PhoneCallRing, col(PhoneCallRing.call_pk) == col(PhoneCall.id))
        .where(
            col(PhoneCallRing.analyst_id) == analyst_id,
            col(PhoneCall.state) == "ringing",
            col(PhoneCall.started_at) >= since,
        )
        .order_by(col(PhoneCall.started_at).desc(), col(PhoneCall.id).desc())
        .limit(20)
    ).all()
    return _public(session, rows)


def count_calls(session: Session, actor: Actor | None, *, call_id_prefix: str = "") -> int:
    """How many calls the log holds (whose PBX id starts so): the bench's proof of none lost."""
    query = select(func.count()).select_from(PhoneCall)
    if call_id_prefix:
        query = query.where(col(PhoneCall.call_id).startswith(call_id_prefix, autoescape=True))
    return int(session.scalar(query) or 0)


def newest_call_id(session: Session, actor: Actor | None) -> int:
    """The highest call id (0 for none): SQLite's poll compares it, one index read. A change
    to an older call (answer, hangup) is read by :func:`calls_ringing` itself."""
    return int(session.scalar(select(func.max(col(PhoneCall.id)))) or 0)


# --------------------------------------------------------------------------- after a call


def attach_ticket(session: Session, actor: Actor, *, call: int, ticket_id: int) -> CallPublic:
    """Note the ticket a call was saved to; returns the call with its PBX duration (the
    length a ticket's call event should record once the call has ended)."""
    row = session.get(PhoneCall, call)
    if row is None:
        raise NotFound(_("no call with id {call}").format(call=call))
    row.ticket_id = ticket_id
    session.flush()
    return _public(session, [row])[0]


def call_back(
    session: Session,
    actor: Actor,
    *,
    call: int,
    ticket: str | int | None = None,
    seconds: int = 0,
    outcome: str | None = None,
) -> CallPublic:
    """The analyst called a missed caller back: the call leaves the missed view, and with
    ``ticket`` an outbound call is logged on it (keeping its promised callbacks)."""
    from deskterm.desk.tickets.work import log_call

    row = session.get(PhoneCall, call)
    if row is None:
        raise NotFound(_("no call with id {call}").format(call=call))
    if row.called_back_at is not None:
        # Two analysts on the same missed call: the first call back counts.
        return _public(session, [row])[0]
    if ticket is not None:
        logged = log_call(
            session,
            actor,
            ref=ticket,
            direction="outbound",
            duration_seconds=seconds,
            outcome=outcome,
        )
        row.ticket_id = logged.id
    row.called_back_at = clock.now()
    row.called_back_by_id = actor.id
    session.flush()
    return _public(session, [row])[0]


def _log_duration(session: Session, call: PhoneCall) -> None:
    """The ended call's length, logged on the ticket it was saved to, by whoever took it
    (the desk itself when that analyst is gone): through the ticket's one writer."""
    from deskterm.desk.context import load_actor
    from deskterm.desk.tickets.work import log_call
    from deskterm.domain.permissions import SYSTEM

    assert call.ticket_id is not None
    actor = SYSTEM
    if call.analyst_id is not None:
        login = session.scalar(select(col(Analyst.login)).where(col(Analyst.id) == call.analyst_id))
        if login:
            try:
                actor = load_actor(session, login)
            except DeskError:
                actor = SYSTEM
    log_call(
        session,
        actor,
        ref=call.ticket_id,
        direction="outbound" if call.direction == "out" else "inbound",
        duration_seconds=min(call.duration_seconds or 0, 24 * 3600),
    )


def save_phone_call(
    session: Session,
    actor: Actor,
    *,
    phone_call: int,
    key: str,
    problems: Sequence[Any],
    contact_id: int | None = None,
    contact: str | None = None,
    call: str | int | None = None,
) -> Any:
    """Save the new-call screen's call that the PBX announced (``saved_calls.save_call``)
    and note its ticket on the PBX's call, so its length is the PBX's, logged once:

    - ended already: the save logs the PBX's duration;
    - still running: the save logs none, and the hangup logs it (``_hang_up``);
    - another problem from it (``call``), or its length logged on a ticket before: none.

    The call's row is locked first, so a hangup arriving meanwhile waits for this save and
    then finds the ticket (or this save finds the call ended), never both or neither.
    """
    from deskterm.desk.saved_calls import save_call

    query = select(PhoneCall).where(col(PhoneCall.id) == phone_call)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(_("no call with id {call}").format(call=phone_call))
    seconds: int | None = None
    first = row.ticket_id is None and call is None
    if first and row.ended_at is not None and row.answered_at is not None:
        seconds = min(row.duration_seconds or 0, 24 * 3600)
    saved = save_call(
        session,
        actor,
        key=key,
        problems=problems,
        contact_id=contact_id,
        contact=contact,
        call=call,
        call_seconds=seconds,
    )
    if first and saved.tickets and not saved.earlier:
        row.ticket_id = saved.tickets[0].id
        session.flush()
    return saved


def add_phone_call(
    session: Session,
    actor: Actor,
    *,
    phone_call: int,
    ref: str | int,
    outcome: str | None = None,
    expected_version: int | None = None,
) -> Any:
    """The PBX's call added to a ticket the caller already has (the new-call screen's
    ctrl+g): ended, its call event has the PBX's length now; still running, the analyst's
    words go in as a note and the hangup writes the call event (``_hang_up``). A call whose
    length a ticket has already (or will have) gets the words only, logged as no time."""
    from deskterm.desk.tickets.change import load
    from deskterm.desk.tickets.work import add_note, log_call

    query = select(PhoneCall).where(col(PhoneCall.id) == phone_call)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(_("no call with id {call}").format(call=phone_call))
    ticket_id = load(session, ref, expected_version).id
    assert ticket_id is not None
    if row.ticket_id is not None or row.ended_at is not None:
        seconds = 0
        if row.ticket_id is None and row.answered_at is not None:
            seconds = min(row.duration_seconds or 0, 24 * 3600)
            row.ticket_id = ticket_id
        return log_call(
            session,
            actor,
            ref=ticket_id,
            direction="outbound" if row.direction == "out" else "inbound",
            duration_seconds=seconds,
            outcome=outcome,
            expected_version=expected_version,
        )
    row.ticket_id = ticket_id
    session.flush()
    if outcome and outcome.strip():
        return add_note(session, actor, ref=ticket_id, text=outcome)
    from deskterm.desk.tickets import summary

    return summary(session, ticket_id)


class CallerTicket(Public):
    """One of the caller's open tickets, as the screen-pop shows it."""

    id: int
    ref: str
    subject: str
    priority: str
    status: str
    resolve_due_at: datetime | None
    resolve_warn_at: datetime | None
    sla_paused_at: datetime | None


class CallPop(Public):
    """A call of this analyst's to show: who is calling and what they have open."""

    call: CallPublic
    organization: str | None = None
    vip: bool = False
    tickets: list[CallerTicket] = []


#: An answered call is brought to its analyst this long after its answer at most.
ANSWERED_AT_MOST = timedelta(hours=4)


def my_calls(session: Session, actor: Actor) -> list[CallPop]:
    """The calls ringing for the actor, and those they answered that are still on the line
    and in no ticket yet (the new-call screen opens on them): newest first, with the caller
    and their open tickets (the same lookup and list as the new-call screen's)."""
    from deskterm.desk.tickets import list_tickets

    if actor.id is None:
        return []
    ringing = calls_ringing(session, actor)
    answered = _public(
        session,
        session.scalars(
            select(PhoneCall)
            .where(
                col(PhoneCall.analyst_id) == actor.id,
                col(PhoneCall.state) == "answered",
                col(PhoneCall.ticket_id).is_(None),
                col(PhoneCall.answered_at) >= clock.now() - ANSWERED_AT_MOST,
            )
            .order_by(col(PhoneCall.answered_at).desc(), col(PhoneCall.id).desc())
            .limit(5)
        ).all(),
    )
    pops: list[CallPop] = []
    for call in (*answered, *ringing):
        if call.contact_id is None:
            pops.append(CallPop(call=call))
            continue
        person = session.get(Contact, call.contact_id)
        tickets = list_tickets(session, actor, contact_id=call.contact_id, limit=5)
        organization = None
        if person is not None and person.organization_id is not None:
            org = session.get(Organization, person.organization_id)
            organization = org.name if org is not None else None
        pops.append(
            CallPop(
                call=call,
                organization=organization,
                vip=person is not None and person.vip,
                tickets=[
                    CallerTicket(
                        id=t.id,
                        ref=t.ref,
                        subject=t.subject,
                        priority=t.priority,
                        status=t.status,
                        resolve_due_at=t.resolve_due_at,
                        resolve_warn_at=t.resolve_warn_at,
                        sla_paused_at=t.sla_paused_at,
                    )
                    for t in tickets
                ],
            )
        )
    return pops


def missed_unreturned(
    session: Session, actor: Actor, *, minutes: int, within: timedelta = timedelta(days=1)
) -> list[CallPublic]:
    """Missed calls nobody has called back ``minutes`` after they rang (those of the last
    day: older ones are the missed-calls view's, not an alert's)."""
    now = clock.now()
    rows = session.scalars(
        select(PhoneCall)
        .where(
            col(PhoneCall.missed),
            col(PhoneCall.called_back_at).is_(None),
            col(PhoneCall.started_at) <= now - timedelta(minutes=minutes),
            col(PhoneCall.started_at) >= now - within,
        )
        .order_by(col(PhoneCall.started_at).desc(), col(PhoneCall.id).desc())
        .limit(50)
    ).all()
    return _public(session, rows)


def rang_before(session: Session, actor: Actor, *, calls: Sequence[int]) -> dict[int, int]:
    """How many times each call's number rang and was missed, counting it (the missed view's
    "rang N times"), over the numbers of ``calls``."""
    rows = session.execute(
        select(col(PhoneCall.id), col(PhoneCall.from_e164), col(PhoneCall.from_number)).where(
            col(PhoneCall.id).in_(list(calls))
        )
    ).all()
    numbers = {cast(int, r[0]): r[1] or r[2] for r in rows}
    wanted = {n for n in numbers.values() if n}
    if not wanted:
        return {}
    counted = dict(
        session.execute(
            select(func.coalesce(PhoneCall.from_e164, PhoneCall.from_number), func.count())
            .where(col(PhoneCall.missed))
            .where(func.coalesce(PhoneCall.from_e164, PhoneCall.from_number).in_(wanted))
            .group_by(func.coalesce(PhoneCall.from_e164, PhoneCall.from_number))
        ).all()
    )
    return {call_id: int(counted.get(number, 1)) for call_id, number in numbers.items()}


class MissedPage(Public):
    """A page of the missed-calls view: the calls, how often each number rang unanswered,
    and where the next page starts (``(started_at, id)`` of the last row; None: the last)."""

    calls: list[CallPublic]
    rang: dict[int, int]
    next_before: tuple[datetime, int] | None = None


def missed_page(
    session: Session,
    actor: Actor,
    *,
    limit: int,
    before: tuple[datetime, int] | None = None,
) -> MissedPage:
    """The missed-calls view's page: callers nobody answered and nobody called back yet,
    newest first, keyset-paged like the queue."""
    calls = missed_calls(session, actor, limit=limit + 1, before=before)
    more = len(calls) > limit
    calls = calls[:limit]
    last = calls[-1] if calls and more else None
    return MissedPage(
        calls=calls,
        rang=rang_before(session, actor, calls=[c.id for c in calls]) if calls else {},
        next_before=(last.started_at, last.id) if last is not None else None,
    )


def count_missed(session: Session, actor: Actor, *, cap: int = 1000) -> int:
    """Missed calls waiting for a call back (the tab's count), counted up to ``cap``."""
    waiting = (
        select(col(PhoneCall.id))
        .where(col(PhoneCall.missed), col(PhoneCall.called_back_at).is_(None))
        .limit(cap)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(waiting)) or 0)


class CalledBack(Public):
    """What calling a missed caller back did: the call, and the ticket its outbound call was
    logged on (None: the caller has no open ticket; the face opens a new call for them)."""

    call: CallPublic
    ticket_ref: str | None = None


def call_back_caller(session: Session, actor: Actor, *, call: int) -> CalledBack:
    """The missed-calls view's key: the caller's open ticket most recently changed gets the
    outbound call (``call_back``); with none, the call is only marked called back."""
    from deskterm.desk.tickets import list_tickets

    row = session.get(PhoneCall, call)
    if row is None:
        raise NotFound(_("no call with id {call}").format(call=call))
    ticket = None
    if row.contact_id is not None:
        open_ = list_tickets(session, actor, contact_id=row.contact_id, limit=20)
        if open_:
            ticket = max(open_, key=lambda t: (t.updated_at, t.id))
    done = call_back(session, actor, call=call, ticket=ticket.id if ticket else None)
    return CalledBack(call=done, ticket_ref=ticket.ref if ticket else None)


# --------------------------------------------------------------------------- tokens


class TokenPublic(Public):
    id: int
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class NewToken:
    token: TokenPublic
    #: The secret itself: shown once, never stored.
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _may_manage(actor: Actor | None) -> None:
    # Fails closed: only an actor read as a supervisor or admin passes.
    if actor is None or not actor.is_supervisor:
        raise PermissionDenied(_("only a supervisor may manage phone-system tokens and extensions"))


def add_token(session: Session, actor: Actor) -> NewToken:
    _may_manage(actor)
    secret = secrets.token_urlsafe(32)
    row = CtiToken(token_hash=_hash(secret), created_at=clock.now(), created_by_id=actor.id)
    session.add(row)
    session.flush()
    return NewToken(_tokens(session, [row])[0], secret)


def list_tokens(session: Session, actor: Actor) -> list[TokenPublic]:
    _may_manage(actor)
    return _tokens(session, session.scalars(select(CtiToken).order_by(col(CtiToken.id))).all())


def remove_token(session: Session, actor: Actor, *, token_id: int) -> TokenPublic:
    _may_manage(actor)
    row = session.get(CtiToken, token_id)
    if row is None:
        raise NotFound(
            _("no phone-system token with id {token_id} (see `deskterm cti token list`)").format(
                token_id=token_id
            )
        )
    public = _tokens(session, [row])[0]
    session.delete(row)
    session.flush()
    return public


def _by_id(session: Session, key: Any, value: Any, ids: set[int | None]) -> dict[Any, Any]:
    """``value`` by ``key`` for the rows whose key is among ``ids`` (``None`` left out)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict(session.execute(select(key, value).where(key.in_(wanted))).all())


def _tokens(session: Session, rows: Sequence[CtiToken]) -> list[TokenPublic]:
    logins = _by_id(session, col(Analyst.id), col(Analyst.login), {r.created_by_id for r in rows})
    return [
        TokenPublic(
            id=r.id,
            created_at=r.created_at,
            created_by=logins.get(r.created_by_id) if r.created_by_id else None,
            last_used_at=r.last_used_at,
        )
        for r in rows
        if r.id is not None
    ]


class UnknownToken(NotFound):
    """The URL's token is none of the desk's (or was removed)."""


def receive(
    session: Session,
    actor: Actor | None,
    *,
    secret: str,
    fields: Mapping[str, object],
    region: str | None = None,
) -> Ingested:
    """One post of the PBX: its token checked first (a stranger learns nothing of what a
    good event looks like), then its event; a refused post writes nothing."""
    (result,) = receive_many(session, actor, posts=[(secret, fields)], region=region, raise_=True)
    assert isinstance(result, Ingested)
    return result


def receive_many(
    session: Session,
    actor: Actor | None,
    *,
    posts: Sequence[tuple[str, Mapping[str, object]]],
    region: str | None = None,
    raise_: bool = False,
) -> list[Ingested | DeskError]:
    """Several posts in one transaction, each in a savepoint of its own: what one post is
    refused for (its token, its event) leaves the others alone, and is its result (raised
    instead with ``raise_``). The server gathers the posts that arrive while the database
    works into one of these, so a burst of calls costs a few commits, not one each."""
    tokens = _tokens_now(session)
    used: dict[int, datetime | None] = {}
    results: list[Ingested | DeskError] = []
    for secret, fields in posts:
        try:
            token = _match(tokens, secret)
            if token is None:
                raise UnknownToken(_("unknown token"))
            event = parse_event(fields)
            with session.begin_nested():
                results.append(
                    ingest_event(session, actor, event=event, region=region, public=False)
                )
            used[token[0]] = token[1]
        except DeskError as exc:
            if raise_:
                raise
            results.append(exc)
    now = clock.now()
    for token_id, last_used in used.items():
        if last_used is None or now - last_used >= _TOUCH_EVERY:
            session.execute(
                update(CtiToken).where(col(CtiToken.id) == token_id).values(last_used_at=now)
            )
    return results


def _tokens_now(session: Session) -> list[tuple[int, str, datetime | None]]:
    return [
        (cast(int, token_id), stored, last_used)
        for token_id, stored, last_used in session.execute(
            select(col(CtiToken.id), col(CtiToken.token_hash), col(CtiToken.last_used_at))
        )
    ]


def _match(
    tokens: Sequence[tuple[int, str, datetime | None]], secret: str
) -> tuple[int, datetime | None] | None:
    """The token ``secret`` is. Every stored hash is compared in constant time, so how long
    a refusal takes says nothing of how close a guess was."""
    wanted = _hash(secret)
    found = None
    for token_id, stored, last_used in tokens:
        if hmac.compare_digest(stored, wanted):
            found = (token_id, last_used)
    return found


def check_token(session: Session, actor: Actor | None, *, secret: str) -> int | None:
    """The id of the token ``secret`` is, or None (nothing written)."""
    found = _match(_tokens_now(session), secret)
    return None if found is None else found[0]


# --------------------------------------------------------------------------- extensions

_EXTENSION = re.compile(r"^[A-Za-z0-9*#+._-]{1,32}$")


def check_extension(extension: str) -> str:
    """An extension is what a PBX sends as ``answeringNumber``: digits or short text."""
    said = extension.strip()
    if not _EXTENSION.match(said):
        raise InvalidInput(
            _("extension {extension!r} must be 1-32 digits or letters (201, sip-jane)").format(
                extension=extension
            ),
            field="extension",
        )
    return said


def set_extension(
    session: Session, actor: Actor | None, *, login: str, extension: str | None
) -> str | None:
    """Give an analyst the extension the PBX rings them on (``""``/None: none); one each."""
    from deskterm.desk.lookups import analyst_by_login

    _may_manage(actor)
    analyst = analyst_by_login(session, login)
    value = check_extension(extension) if extension else None
    assert analyst.id is not None
    row = session.get(AnalystExtension, analyst.id)
    if value is None:
        if row is not None:
            session.delete(row)
            session.flush()
        return None
    holder = session.scalars(
        select(col(Analyst.login))
        .join(AnalystExtension, col(AnalystExtension.analyst_id) == col(Analyst.id))
        .where(col(AnalystExtension.extension) == value, col(Analyst.id) != analyst.id)
    ).first()
    if holder is not None:
        raise InvalidInput(
            _("extension {extension} is {holder}'s already").format(extension=value, holder=holder),
            field="extension",
        )
    if row is None:
        session.add(AnalystExtension(analyst_id=analyst.id, extension=value))
    else:
        row.extension = value
    session.flush()
    return value


def extensions(session: Session, actor: Actor | None, *, ids: Sequence[int]) -> dict[int, str]:
    """The analysts' extensions, for listings."""
    if not ids:
        return {}
    return {
        row.analyst_id: row.extension
        for row in session.scalars(
            select(AnalystExtension).where(col(AnalystExtension.analyst_id).in_(list(ids)))
        )
    }
