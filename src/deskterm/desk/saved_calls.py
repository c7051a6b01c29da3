"""A call is saved once, whatever happens between the desk's commit and the analyst's screen.

The intake form keeps the call being logged as a draft on disk, and forgets it once the save
is through. Between the two lies a window: the app stopped (a crash, a power cut, the SSH
session dropped) after the desk committed but before the draft was forgotten, or the
database's answer to the commit was lost with the network, so the app says "not saved" of a
call that was. Saved again, such a call would open its tickets twice.

So every draft carries a key from its first keystroke, and a save writes that key beside
the tickets, in the same transaction (table ``saved_call``, migration 0013). A second save
of the same key opens nothing and hands back the tickets the first one made; a draft found
on start can be asked whether it is in the desk already (``saved_call``), so the analyst is
told "this call was saved as DT-..." instead of being shown it as unsaved.

The key is inserted before the tickets are opened: on PostgreSQL a second transaction with
the same key then waits on the first at that insert and, once the first commits, finds its
tickets, instead of both opening tickets and one failing at the end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deskterm.db.models import SavedCall
from deskterm.desk import clock
from deskterm.desk.intake import Problem, SavedTicket, add_to_call, record_call
from deskterm.desk.schemas import Public, TicketPublic
from deskterm.desk.tickets import summary
from deskterm.domain.errors import InvalidInput
from deskterm.domain.permissions import Actor
from deskterm.i18n import _

_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


class CallSave(Public):
    """What saving a call gave: its tickets, first one first, and whether an earlier save of
    the same call had opened them (nothing was opened now)."""

    tickets: list[TicketPublic]
    earlier: bool = False


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidInput(_("a call's key is 8 to 64 letters, digits, '-' or '_'"), field="key")
    return key


def saved_call(session: Session, _actor: Actor | None, *, key: str) -> list[TicketPublic] | None:
    """The tickets a call saved under ``key`` opened, or ``None`` if it was never saved."""
    row = session.get(SavedCall, check_key(key))
    if row is None or not row.ticket_ids:
        return None
    return [summary(session, int(ticket_id)) for ticket_id in row.ticket_ids]


def save_call(
    session: Session,
    actor: Actor,
    *,
    key: str,
    problems: Sequence[Problem],
    contact_id: int | None = None,
    contact: str | None = None,
    call: str | int | None = None,
    call_seconds: int | None = None,
    minutes: int | None = None,
) -> CallSave:
    """Open the call's tickets (``record_call``, or ``add_to_call`` for another problem from
    the saved ``call``), once: a key saved before hands back what it opened."""
    check_key(key)
    earlier = saved_call(session, actor, key=key)
    if earlier is not None:
        return CallSave(tickets=earlier, earlier=True)
    mark = SavedCall(key=key, ticket_ids=[], analyst_id=actor.id, saved_at=clock.now())
    try:
        # A savepoint: a key another transaction committed meanwhile fails this insert
        # alone, and what it saved is read instead.
        with session.begin_nested():
            session.add(mark)
    except IntegrityError:
        session.expire_all()
        earlier = saved_call(session, actor, key=key)
        if earlier is None:
            raise
        return CallSave(tickets=earlier, earlier=True)
    made: list[SavedTicket]
    if call is not None:
        if contact_id is not None or contact is not None:
            raise InvalidInput(
                _("another problem from a saved call keeps that call's caller"), field="contact"
            )
        made = add_to_call(
            session,
            actor,
            call=call,
            problems=problems,
            call_seconds=call_seconds,
            minutes=minutes,
        )
    else:
        made = record_call(
            session,
            actor,
            problems=problems,
            contact_id=contact_id,
            contact=contact,
            call_seconds=call_seconds,
            minutes=minutes,
        )
    mark.ticket_ids = [ticket.id for ticket in made]
    session.flush()
    return CallSave(tickets=list(made))
