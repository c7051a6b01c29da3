"""Command palette: jump to a ticket by its reference."""

from __future__ import annotations

from functools import partial

from textual.command import Hit, Hits, Provider

from deskterm.domain.errors import InvalidInput
from deskterm.domain.refs import format_ref, parse_ref


class TicketJumpProvider(Provider):
    """Typing ``DT-000123``, ``dt-123``, ``#123`` or ``123`` offers to open that ticket."""

    async def search(self, query: str) -> Hits:
        try:
            ticket_id = parse_ref(query)
        except InvalidInput:
            return
        app = self.app
        opener = getattr(app, "open_ticket", None)
        if opener is None:
            return
        ref = format_ref(ticket_id)
        yield Hit(
            100,
            f"Open ticket {ref}",
            partial(opener, ticket_id),
            text=f"Open ticket {ref}",
            help="Jump to the ticket with this reference",
        )
