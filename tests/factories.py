"""A small known desk for tests, and helpers to act on it as one analyst or another.

The desk: an admin (``ada``), a supervisor (``sam``), two first-line agents in Service Desk
(``alice``, ``bob``), a level-2 technician in Desktop Support (``tom``), a level-3 engineer in
Infrastructure (``ines``), and one caller (Carol Jones of Acme Corp) with a laptop.

Also the bodies of the concurrency tests' worker processes: they live here, in a module that
imports nothing heavier than deskterm, because a ``spawn`` child re-imports the module of the
function it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskterm.db.engine import Database
from deskterm.db.models import Analyst, Ticket, TicketEvent
from deskterm.desk.analysts import add_analyst
from deskterm.desk.contacts import add_asset, add_contact
from deskterm.desk.context import Desk
from deskterm.desk.schemas import TicketDetail
from deskterm.desk.tickets import create_ticket
from deskterm.domain.enums import Role

ADMIN = "ada"
SUPERVISOR = "sam"
AGENT = "alice"
AGENT2 = "bob"
TECH = "tom"
ENGINEER = "ines"

SERVICE_DESK = "Service Desk"
DESKTOP = "Desktop Support"
INFRA = "Infrastructure"

#: login, name, role, level, groups
STAFF: tuple[tuple[str, str, Role, int, tuple[str, ...]], ...] = (
    (SUPERVISOR, "Sam Supervisor", Role.SUPERVISOR, 2, (SERVICE_DESK,)),
    (AGENT, "Alice Agent", Role.AGENT, 1, (SERVICE_DESK,)),
    (AGENT2, "Bob Agent", Role.AGENT, 1, (SERVICE_DESK,)),
    (TECH, "Tom Technician", Role.TECHNICIAN, 2, (DESKTOP,)),
    (ENGINEER, "Ines Engineer", Role.TECHNICIAN, 3, (INFRA,)),
)

CONTACT_NAME = "Carol Jones"
CONTACT_EMAIL = "carol.jones@acme.example"
CONTACT_PHONE = "+44 (20) 7946-0958"
CONTACT_ORG = "Acme Corp"


@dataclass
class KnownDesk:
    db: Database
    contact_id: int
    asset_id: int

    def as_(self, login: str | None) -> Desk:
        """The desk as ``login`` sees it (``None``: the system actor)."""
        return Desk(self.db, login)

    def ticket(self, login: str = AGENT, **fields: Any) -> TicketDetail:
        """A ticket opened by ``login`` for the known caller; ``fields`` override the defaults."""
        values: dict[str, Any] = {"subject": "Laptop will not boot", "contact_id": self.contact_id}
        values.update(fields)
        return self.as_(login).write(create_ticket, **values)

    def analyst_id(self, login: str) -> int:
        with self.db.read() as session:
            analyst_id = session.scalar(select(Analyst.id).where(Analyst.login == login))
        assert analyst_id is not None, login
        return analyst_id

    def row(self, ticket_id: int) -> Ticket:
        """The ticket row as stored now, read in a transaction of its own."""
        with self.db.read() as session:
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
            # Detached before the read session's rollback would expire it.
            session.expunge(ticket)
            return ticket

    def events(self, ticket_id: int) -> list[TicketEvent]:
        with self.db.read() as session:
            rows = events_of(session, ticket_id)
            session.expunge_all()
            return rows

    def snapshot(self, ticket_id: int) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
        """Everything about a ticket that a refused change must leave alone."""
        ticket = self.row(ticket_id)
        fields = ticket.model_dump()
        log = [(e.id, e.kind, e.ticket_version, e.data) for e in self.events(ticket_id)]
        return fields, log


def build_known_desk(db: Database) -> KnownDesk:
    """Fill an empty (migrated, seeded) desk with the known staff and caller."""
    Desk(db, ADMIN).bootstrap(add_analyst, login=ADMIN, name="Ada Admin")
    admin = Desk(db, ADMIN)
    for login, name, role, level, groups in STAFF:
        admin.write(add_analyst, login=login, name=name, role=role, level=level, groups=groups)
    contact = admin.write(
        add_contact,
        name=CONTACT_NAME,
        email=CONTACT_EMAIL,
        phone=CONTACT_PHONE,
        organization=CONTACT_ORG,
    )
    asset = admin.write(
        add_asset,
        contact=f"#{contact.id}",
        kind="hardware",
        product="ThinkPad T14",
        serial_number="PF-3XK9",
    )
    return KnownDesk(db=db, contact_id=contact.id, asset_id=asset.id)


def events_of(session: Session, ticket_id: int) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
    )


# --------------------------------------------------------------------------- worker processes
#
# Each runs in a process of its own (``spawn``), opens its own ``Database`` on the same URL,
# waits at the ``start`` barrier so that all of them begin together, and puts
# ``(login, result)`` on ``out``; a failure is reported as its ``repr`` rather than lost in
# the child.


def claim_until_empty(url: str, login: str, group: str, start: Any, out: Any) -> None:
    """Claim from ``group`` as ``login`` until the queue is empty; report the ids claimed."""
    from deskterm.desk.queue import claim_next

    _report(out, login, _claim_loop, url, login, group, start, claim_next)


def _claim_loop(url: str, login: str, group: str, start: Any, claim_next: Any) -> list[int]:
    db = Database(url)
    try:
        desk = Desk(db, login)
        start.wait(60)
        claimed: list[int] = []
        while True:
            result = desk.write(claim_next, group=group)
            if result.ticket is None:
                return claimed
            claimed.append(result.ticket.id)
    finally:
        db.dispose()


def add_notes(url: str, login: str, ticket_id: int, count: int, start: Any, out: Any) -> None:
    """Add ``count`` notes to one ticket without ``expected_version``; report their texts."""
    _report(out, login, _note_loop, url, login, ticket_id, count, start)


def _note_loop(url: str, login: str, ticket_id: int, count: int, start: Any) -> list[str]:
    from deskterm.desk.tickets import add_note

    db = Database(url)
    try:
        desk = Desk(db, login)
        start.wait(60)
        written: list[str] = []
        for n in range(count):
            text = f"{login} note {n}"
            desk.write(add_note, ref=ticket_id, text=text)
            written.append(text)
        return written
    finally:
        db.dispose()


def _report(out: Any, login: str, fn: Any, *args: Any) -> None:
    try:
        out.put((login, fn(*args)))
    except BaseException as exc:
        out.put((login, f"{type(exc).__name__}: {exc}"))
        raise
