"""A small, fixed desk for the terminal's tests and snapshots, built with the desk's own use
cases under a stepping clock, so every row and every time is the same on every run.

Run as a script to fill a database for a look in a real terminal:
``python tests/tui/seed.py /tmp/desk.db`` (times are then relative to now).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deskterm.db.engine import Database  # noqa: E402
from deskterm.desk import clock  # noqa: E402
from deskterm.desk.callbacks import schedule_callback  # noqa: E402
from deskterm.desk.contacts import add_asset, add_contact  # noqa: E402
from deskterm.desk.tickets import (  # noqa: E402
    add_note,
    change_status,
    log_call,  # noqa: E402
    resolve,
)
from factories import AGENT, AGENT2, SUPERVISOR, TECH, KnownDesk, build_known_desk  # noqa: E402

#: The moment the snapshots are taken at.
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@dataclass
class Seeded:
    known: KnownDesk
    refs: dict[str, int] = field(default_factory=dict)


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    with clock.use_clock(lambda: moment):
        yield


def seed(db: Database, now: datetime = NOW) -> Seeded:
    """The known desk (see tests/factories.py) plus a morning's worth of tickets."""
    with at(now - timedelta(days=3)):
        known = build_known_desk(db)
        admin = known.as_("ada")
        dan = admin.write(
            add_contact,
            name="Dan Okafor",
            phone="+44 161 496 0321",
            email="dan@globex.example",
            organization="Globex",
        )
        admin.write(
            add_asset,
            contact=f"#{dan.id}",
            kind="account",
            product="VPN licence",
            account_number="GX-4471",
        )
        # A caller whose name holds markup and an escape sequence: shown literally, never run.
        eve = admin.write(
            add_contact,
            name="Eve [bold]Mallory[/bold] \x1b[31m",
            phone="+1 555 0100",
            organization="Initech",
        )
    seeded = Seeded(known=known)

    def ticket(name: str, hours_ago: float, login: str, **fields: object) -> int:
        with at(now - timedelta(hours=hours_ago)):
            made = known.ticket(login, **fields)
        seeded.refs[name] = made.id
        return made.id

    alice, bob = known.as_(AGENT), known.as_(AGENT2)
    laptop = ticket(
        "laptop",
        5,
        AGENT,
        subject="Laptop will not boot after update",
        description="Black screen after the BIOS logo.\nTried: power cycle, no dock.",
        asset_id=known.asset_id,
        impact="high",
        urgency="medium",
        call_seconds=184,
    )
    ticket(
        "outlook",
        26,
        AGENT,
        subject="Outlook asks for the password again and again",
        impact="medium",
        urgency="medium",
    )
    ticket(
        "vpn",
        6.5,
        AGENT,
        subject="VPN drops every ten minutes",
        contact_id=dan.id,
        impact="medium",
        urgency="high",
        assignee=None,
    )
    ticket(
        "payroll",
        3.5,
        AGENT2,
        subject="Payroll server unreachable",
        contact_id=dan.id,
        impact="high",
        urgency="high",
        assignee=None,
    )
    ticket(
        "printer",
        30,
        AGENT2,
        subject="Printer on 3rd floor jams [bold]again[/bold]",
        contact_id=eve.id,
        impact="low",
        urgency="medium",
    )
    starter = ticket(
        "starter",
        48,
        AGENT,
        subject="Account for a new starter on Monday",
        impact="low",
        urgency="high",
    )
    ticket(
        "dock",
        20,
        TECH,
        subject="Docking station screen flickers",
        contact_id=None,
        impact="low",
        urgency="low",
    )
    old = ticket("old", 70, AGENT, subject="Keyboard missing keys", impact="low", urgency="low")
    with at(now - timedelta(hours=4, minutes=30)):
        alice.write(add_note, ref=laptop, text="Asked Carol to hold F12 at start: no boot menu.")
        alice.write(
            add_note,
            ref=laptop,
            text="We are ordering a replacement SSD; you will hear from us today.",
            public=True,
        )
    with at(now - timedelta(hours=4)):
        alice.write(
            schedule_callback,
            ref=laptop,
            due_at=now + timedelta(minutes=45),
            reason="confirm the SSD arrived",
        )
    with at(now - timedelta(hours=40)):
        alice.write(
            change_status, ref=starter, status="waiting_customer", reason="need a start date"
        )
    with at(now - timedelta(hours=60)):
        alice.write(
            log_call, ref=old, direction="outbound", duration_seconds=95, outcome="spare sent"
        )
        alice.write(resolve, ref=old, code="hardware-replaced", text="Sent a spare keyboard.")
    with at(now - timedelta(hours=25)):
        bob.write(add_note, ref=seeded.refs["printer"], text="Vendor visit booked.")
    # The supervisor exists to see "all" and hand over; nothing more to seed for them.
    assert SUPERVISOR
    return seeded


if __name__ == "__main__":
    from deskterm.desk.setup import open_database

    target = Path(sys.argv[1]).resolve()
    target.unlink(missing_ok=True)
    database = open_database(f"sqlite:///{target}")
    seed(database, datetime.now(UTC))
    database.dispose()
    print(f"seeded {target}")
