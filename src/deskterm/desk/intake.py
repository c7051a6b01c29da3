"""A phone call becomes tickets: one per problem the caller raised, all in one transaction.

The first ticket carries the call (its duration is logged there); every other ticket of the
call is linked to it as split from the same call, so whoever opens any of them sees the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from deskterm.desk.schemas import Public, TicketDetail
from deskterm.desk.tickets import create_ticket, get_ticket
from deskterm.domain.enums import Channel, Impact, Urgency
from deskterm.domain.errors import InvalidInput
from deskterm.domain.permissions import Actor

MAX_PROBLEMS = 20


class Problem(Public):
    """One problem the caller raised, as the intake form holds it."""

    subject: str = ""
    description: str = ""
    category: str | None = None
    asset_id: int | None = None
    impact: str = Impact.MEDIUM.value
    urgency: str = Urgency.MEDIUM.value


def record_call(
    session: Session,
    actor: Actor,
    *,
    problems: Sequence[Problem],
    contact_id: int | None = None,
    call_seconds: int | None = None,
    channel: str = Channel.PHONE,
) -> list[TicketDetail]:
    """Open one ticket per problem; all are created or none.

    A refusal names the problem: ``InvalidInput.field`` is ``"<n>.<field>"`` with ``n``
    counted from 1, so a form can show the message beside the right input.
    """
    if not problems:
        raise InvalidInput("a call needs at least one problem", field="1.subject")
    if len(problems) > MAX_PROBLEMS:
        raise InvalidInput(f"at most {MAX_PROBLEMS} problems in one call", field="1.subject")
    created: list[TicketDetail] = []
    for number, problem in enumerate(problems, start=1):
        try:
            ticket = create_ticket(
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
                split_from=created[0].ref if created else None,
            )
        except InvalidInput as exc:
            field = f"{number}.{exc.field}" if exc.field else f"{number}.subject"
            raise InvalidInput(
                f"problem {number}: {exc}" if len(problems) > 1 else str(exc), field=field
            ) from None
        created.append(ticket)
    # The first ticket gained a link for every split; read it again so the caller sees them.
    if len(created) > 1:
        created[0] = get_ticket(session, actor, ref=created[0].id)
    return created
