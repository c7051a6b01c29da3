"""Fixed data for the report and dashboard tests, with the figures worked out by hand.

Five tickets on Monday 2 November 2026 (T0 = 09:00 UTC), looked at two days later (NOW):

=====  ======  =======  =========================  ===============  ====================
ticket  opener  channel  what happened              response (due)   resolution (due)
=====  ======  =======  =========================  ===============  ====================
t1     alice   phone    resolved at T0+30m          T0 (T0+1h) met   T0+30m (T0+1h) met
t2     alice   email    called back T0+2h,          T0+2h (T0+1h30)  T0+5h (T0+9h) met
                        resolved T0+5h              missed
t3     bob     phone    resolved at T0+4h           T0+2h met        T0+4h (T0+3h) missed
t4     alice   phone    open                        met              due T0+1d: missed
t5     bob     phone    open                        met              due NOW+1d: pending
=====  ======  =======  =========================  ===============  ====================

First contact: t1 and t3 (t2 needed a second call). Surveys: t1 CSAT 5 NPS 10, t2 CSAT 3
NPS 6, t3 CSAT 4 NPS 9. t1 is in Hardware > Printer; t2 is flagged "article needed".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from deskterm.db.models import Ticket
from deskterm.desk import kb
from deskterm.desk.clock import use_clock
from deskterm.desk.reports import record_survey
from deskterm.desk.tickets import log_call, resolve
from factories import AGENT, AGENT2, KnownDesk

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=2)
H = timedelta(hours=1)


@dataclass
class Fixed:
    ids: list[int]


def build(known: KnownDesk) -> Fixed:
    alice, bob = known.as_(AGENT), known.as_(AGENT2)

    def at(moment: datetime):  # noqa: ANN202 - a context manager
        return use_clock(lambda: moment)

    with at(T0):
        t1 = known.ticket(AGENT, subject="Printer jams", category="Hardware > Printer")
    with at(T0 + 30 * timedelta(minutes=1)):
        alice.write(resolve, ref=t1.id, code="fixed", text="Cleared the jam")
    with at(T0 + H):
        t2 = known.ticket(AGENT, subject="Mail bounces", channel="email")
    with at(T0 + 2 * H):
        alice.write(log_call, ref=t2.id, direction="outbound", duration_seconds=60)
        t3 = known.ticket(AGENT2, subject="Screen flickers")
    with at(T0 + 3 * H):
        t4 = known.ticket(AGENT, subject="VPN slow")
    with at(T0 + 4 * H):
        bob.write(resolve, ref=t3.id, code="fixed", text="New cable")
        t5 = known.ticket(AGENT2, subject="Keyboard sticks")
    with at(T0 + 5 * H):
        alice.write(resolve, ref=t2.id, code="fixed", text="Mailbox was full")
    with at(T0 + 6 * H):
        alice.write(record_survey, ref=t1.id, csat=5, nps=10)
        alice.write(record_survey, ref=t2.id, csat=3, nps=6, via="email")
        bob.write(record_survey, ref=t3.id, csat=4, nps=9)
        alice.write(kb.flag_article_needed, ref=t2.id, topic="Full mailbox")

    # The due times the SLA engine would give depend on calendars and matrices; the reports
    # only compare them, so the test fixes them.
    due = {
        t1.id: (T0 + H, T0 + H),
        t2.id: (T0 + 90 * timedelta(minutes=1), T0 + 9 * H),
        t3.id: (T0 + 3 * H, T0 + 3 * H),
        t4.id: (T0 + 4 * H, T0 + 24 * H),
        t5.id: (T0 + 5 * H, NOW + 24 * H),
    }
    with known.db.write() as session:
        for ticket_id, (response, resolution) in due.items():
            session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id)
                .values(response_due_at=response, resolve_due_at=resolution)
            )
    return Fixed(ids=[t1.id, t2.id, t3.id, t4.id, t5.id])
