"""A ticket's whole story for one screen: the ticket with its log, the caller's other
tickets, the callbacks still owed and the resolution codes, read as one moment's truth.

The ticket screen shows it and ``deskterm bench`` times it; both call ``ticket_story``.
"""

from __future__ import annotations

from pydantic import Field
from sqlalchemy.orm import Session

from deskterm.desk.callbacks import CallbackPublic, pending_callbacks
from deskterm.desk.rows import list_tickets
from deskterm.desk.schemas import Public, TicketDetail, TicketPublic
from deskterm.domain.permissions import Actor

#: How many of the caller's other tickets the story names, newest first.
OTHERS = 8


class TicketStory(Public):
    """Everything the ticket screen shows of one ticket."""

    ticket: TicketDetail
    #: The caller's other tickets, open or not, newest first.
    others: list[TicketPublic] = Field(default_factory=list)
    #: The callbacks still owed on this ticket, soonest first.
    callbacks: list[CallbackPublic] = Field(default_factory=list)
    #: Resolution codes and their labels, for the resolve dialog.
    codes: dict[str, str] = Field(default_factory=dict)


def ticket_story(session: Session, actor: Actor, *, ref: int) -> TicketStory:
    """One ticket and what its screen shows beside it, in one transaction."""
    # Imported here, as the ticket screen always did: the change log's machinery and the
    # schema tools load when a ticket is first opened, not with the queue.
    from deskterm.desk.setup import list_resolution_codes
    from deskterm.desk.tickets import get_ticket

    ticket = get_ticket(session, actor, ref=ref)
    others: list[TicketPublic] = []
    if ticket.contact_id is not None:
        # One more than shown: the ticket itself is among them.
        others = [
            t
            for t in list_tickets(
                session,
                actor,
                contact_id=ticket.contact_id,
                statuses=("all",),
                sort="newest",
                limit=OTHERS + 1,
            )
            if t.id != ticket.id
        ][:OTHERS]
    return TicketStory(
        ticket=ticket,
        others=others,
        callbacks=pending_callbacks(session, actor, ref=ticket.id),
        codes=list_resolution_codes(session, actor),
    )
