"""Rows a careless script wrote straight into the database, control sequences and all: the
terminal shows their text, markup literally, and sends none of the sequences to the screen."""

from __future__ import annotations

import re

from helpers import opened, until
from sqlalchemy import update

from deskterm.db.models import Contact, Ticket, TicketEvent
from deskterm.tui.screens.ticket import TicketScreen
from factories import AGENT

NASTY = (
    "\x1b]0;pwned\x07[bold]Boss[/bold] \x1b[2J\x1b[31mred\u202eevil \x9b31m"
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\ \x00nul [@click=app.quit]x[/]"
)
# Anything a terminal would act on: C0 controls but line breaks, DEL, C1, bidi overrides.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def poison(seeded) -> int:
    ticket_id = seeded.refs["laptop"]
    db = seeded.known.db
    with db.write() as session:
        session.execute(update(Ticket).where(Ticket.id == ticket_id).values(subject=NASTY))
        session.execute(
            update(Contact).where(Contact.id == seeded.known.contact_id).values(name=NASTY)
        )
        last = seeded.known.events(ticket_id)[-1]
        session.add(
            TicketEvent(
                ticket_id=ticket_id,
                ticket_version=last.ticket_version,
                at=last.at,
                actor_id=last.actor_id,
                kind="note",
                visibility="public",
                data={"text": NASTY},
            )
        )
    return ticket_id


def screen_text(app) -> str:
    # The screenshot holds exactly the characters the terminal would be sent to draw.
    return app.export_screenshot()


async def test_stored_escape_sequences_never_reach_the_screen(make_app, seeded) -> None:
    ticket_id = poison(seeded)
    app = make_app(AGENT)
    async with app.run_test(size=(160, 40)) as pilot:
        await opened(pilot)
        queue = screen_text(app)
        app.open_ticket(ticket_id)
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        ticket = screen_text(app)
        assert app.is_running, "markup in a row must not run an action"
    for shown in (queue, ticket):
        assert not UNSAFE.search(shown), repr(UNSAFE.findall(shown))
        assert "pwned" not in shown and "evil.example" not in shown
    # Markup is shown as typed (the SVG escapes nothing but <, > and &; spaces are &#160;).
    assert "[bold]Boss[/bold]" in ticket.replace("&#160;", " ")
