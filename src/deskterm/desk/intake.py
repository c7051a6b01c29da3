"""A phone call becomes tickets: one per problem the caller raised, all in one transaction.

The first ticket carries the call (its duration is logged there); every other ticket of the
call is linked to it as split from the same call, so whoever opens any of them sees the rest.
A problem the caller raises after the call was saved ("another problem from this call") is
linked to that same first ticket, and its ticket logs the time the call ran on since the last
save: the durations logged on a call's tickets add up to the whole call.

A save hands back each ticket as a list shows it (``TicketPublic``), not its whole story:
the screen that saved the call paints the new ticket's head from that at once and reads the
story after, as it does for any ticket it opens.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from deskterm.db.models import Ticket
from deskterm.desk.rows import _public, _rows_by_ids
from deskterm.desk.schemas import Public, TicketPublic
from deskterm.desk.tickets import open_ticket, summary
from deskterm.domain.enums import Channel, Impact, Urgency
from deskterm.domain.errors import InvalidInput, NotFound
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.i18n import _

MAX_PROBLEMS = 20


class SavedTicket(TicketPublic):
    """A ticket a call opened, as a list shows it, and the rest of its clocks, which its
    screen's head shows at once (a phone call answers the caller at once): all of
    ``domain.due.Clocked``."""

    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    #: As ``TicketDetail`` has it, so the head reads one shape; the story read after a save
    #: brings the figure.
    minutes_worked: int = 0


class Problem(Public):
    """One problem the caller raised, as the intake form holds it."""

    subject: str = ""
    description: str = ""
    category: str | None = None
    asset_id: int | None = None
    impact: str = Impact.MEDIUM.value
    urgency: str = Urgency.MEDIUM.value
    #: The knowledge-base article that solved it (id or key), linked to its ticket ("solved
    #: with") in the same transaction.
    article: int | str | None = None


def record_call(
    session: Session,
    actor: Actor,
    *,
    problems: Sequence[Problem],
    contact_id: int | None = None,
    contact: str | None = None,
    call_seconds: int | None = None,
    minutes: int | None = None,
    channel: str = Channel.PHONE,
) -> list[SavedTicket]:
    """Open one ticket per problem; all are created or none.

    The caller: ``contact_id`` (a form that found them), or ``contact`` as the CLI names
    them (``#12``, a phone number or 4+ of its digits, an email, an exact name); neither for
    a caller who gave no name. A refusal names the problem: ``InvalidInput.field`` is
    ``"<n>.<field>"`` with ``n`` counted from 1, so a form can show the message beside the
    right input. ``minutes`` worked on the call go on the first ticket's call event (else
    the call's length, rounded up to the minute).
    """
    if contact is not None:
        from deskterm.desk.lookups import contact_by_key

        if contact_id is not None:
            raise InvalidInput(_("name the caller once: by id or by key"), field="contact")
        contact_id = contact_by_key(session, contact).id
    return _open_problems(
        session,
        actor,
        problems=problems,
        contact_id=contact_id,
        call_seconds=call_seconds,
        minutes=minutes,
        channel=channel,
        call_ref=None,
    )


def add_to_call(
    session: Session,
    actor: Actor,
    *,
    call: str | int,
    problems: Sequence[Problem],
    call_seconds: int | None = None,
    minutes: int | None = None,
) -> list[SavedTicket]:
    """Another problem from a call already saved: the caller of ``call`` (the call's first
    ticket), each ticket linked to it as split from the same call.

    ``call_seconds``: how long the call ran on since it was last saved; logged on the first
    new ticket, so the call's tickets together log the whole call. The CLI does the same with
    ``ticket new --split-from REF --contact '#ID' --call-seconds N``.
    """
    ticket_id = call if isinstance(call, int) else parse_ref(call)
    try:
        first = summary(session, ticket_id)
    except NoResultFound:
        raise NotFound(_("no ticket {ref}").format(ref=format_ref(ticket_id))) from None
    return _open_problems(
        session,
        actor,
        problems=problems,
        contact_id=first.contact_id,
        call_seconds=call_seconds,
        minutes=minutes,
        channel=first.channel,
        call_ref=first.ref,
    )


def _open_problems(
    session: Session,
    actor: Actor,
    *,
    problems: Sequence[Problem],
    contact_id: int | None,
    call_seconds: int | None,
    channel: str,
    call_ref: str | None,
    minutes: int | None = None,
) -> list[SavedTicket]:
    from deskterm.desk.kb import link_article

    if not problems:
        raise InvalidInput(_("a call needs at least one problem"), field="1.subject")
    if len(problems) > MAX_PROBLEMS:
        raise InvalidInput(
            _("at most {limit} problems in one call").format(limit=MAX_PROBLEMS),
            field="1.subject",
        )
    opened: list[Ticket] = []
    for number, problem in enumerate(problems, start=1):
        try:
            ticket = open_ticket(
                session,
                actor,
                subject=problem.subject,
                description=problem.description,
                contact_id=contact_id,
                asset_id=problem.asset_id,
                category=problem.category,
                impact=problem.impact,
                urgency=problem.urgency,
                channel=channel,
                call_seconds=call_seconds if number == 1 else None,
                minutes=minutes if number == 1 else None,
                split_from=call_ref or (format_ref(opened[0].id or 0) if opened else None),
            )
        except InvalidInput as exc:
            field = f"{number}.{exc.field}" if exc.field else f"{number}.subject"
            said = (
                _("problem {number}: {exc}").format(number=number, exc=exc)
                if len(problems) > 1
                else str(exc)
            )
            raise InvalidInput(said, field=field) from None
        opened.append(ticket)
    for number, (problem, made) in enumerate(zip(problems, opened, strict=True), start=1):
        if problem.article is None:
            continue
        assert made.id is not None
        try:
            link_article(session, actor, ref=made.id, key=problem.article)
        except InvalidInput as exc:
            raise InvalidInput(
                _("problem {number}: {exc}").format(number=number, exc=exc),
                field=f"{number}.article",
            ) from None
    # The list rows, not the cards, and all of them in one statement once everything is
    # written (splits gave the first ticket new versions, an article its "solved with"):
    # a row read after each ticket, and the first one's again at the end, were a third of
    # an intake's statements. The clocks a row lacks come from the live tickets.
    rows = _rows(session, [t.id for t in opened if t.id is not None])
    return [_row(rows[t.id], t) for t in opened if t.id is not None]


def _rows(session: Session, ticket_ids: list[int]) -> dict[int, TicketPublic]:
    # Pending changes first: the read goes to the session's connection directly, past the
    # ORM, whose autoflush it would not trigger.
    session.flush()
    found = session.connection().execute(_rows_by_ids(), {"ids": ticket_ids}).all()
    return {row.id: _public(row) for row in found}


def _row(ticket: TicketPublic, clocks: Any = None) -> SavedTicket:
    """What a save hands back of a ticket; ``clocks``: where the fields a list row lacks
    come from (the saved row or an earlier answer), if not from ``ticket``."""
    fields = {name: getattr(ticket, name) for name in TicketPublic.model_fields}
    source: Any = ticket if clocks is None else clocks
    return SavedTicket.model_construct(
        **fields,
        first_response_at=source.first_response_at,
        resolved_at=source.resolved_at,
    )
