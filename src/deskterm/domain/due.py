"""An SLA clock in words: "met", "missed by 2h", "paused", "due in 3h05m", "breached by 1d2h".

One wording for every face: the app's ticket screen and queue, and ``deskterm ticket show``,
so an analyst reading either sees the same thing. Faces add only colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from deskterm.domain.enums import OPEN_STATUSES
from deskterm.i18n import _, pgettext


class DueState(StrEnum):
    #: The ticket's priority has no target.
    NONE = "none"
    #: Finished (answered, resolved, or the ticket closed) by its due time.
    MET = "met"
    #: Finished after its due time.
    MISSED = "missed"
    #: Standing still while the ticket waits on the customer.
    PAUSED = "paused"
    RUNNING = "running"
    #: Running and past its warning time (data/sla.toml's warning share).
    WARNING = "warning"
    #: Running and past its due time.
    BREACHED = "breached"


@dataclass(frozen=True)
class DueWords:
    state: DueState
    #: For a sentence: "due in 3h05m".
    text: str
    #: For a narrow table cell: "3h05m", "-2h".
    short: str

    @property
    def running(self) -> bool:
        """Its words say how long to (or past) the due time, not how it ended."""
        return self.state in (DueState.RUNNING, DueState.WARNING, DueState.BREACHED)


def span(delta: timedelta) -> str:
    """A duration in its largest unit or two: ``45s``, ``12m``, ``3h05m``, ``2d4h``."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 60:
        return f"{minutes}m"
    if hours < 24:
        return f"{hours}h{minutes % 60:02d}m" if hours < 10 else f"{hours}h"
    return f"{days}d{hours % 24}h" if days < 10 else f"{days}d"


def clock_words(
    due: datetime | None,
    now: datetime,
    *,
    warn_at: datetime | None = None,
    paused: bool = False,
    done: bool = False,
    finished: datetime | None = None,
) -> DueWords:
    """One clock: finished (``done``, at ``finished`` if known), paused, or running to ``due``."""
    if due is None:
        return DueWords(DueState.NONE, "—", "—")
    if done:
        if finished is not None and finished > due:
            return DueWords(
                DueState.MISSED,
                # Translators: an SLA clock finished after its due time; {span} is like 2h05m.
                _("missed by {span}").format(span=span(finished - due)),
                # Translators: an SLA clock finished late, in a narrow table cell.
                pgettext("sla clock", "late"),
            )
        # Translators: an SLA clock finished by its due time.
        met = pgettext("sla clock", "met")
        return DueWords(DueState.MET, met, met)
    if paused:
        # Translators: an SLA clock standing still while the ticket waits on the customer.
        still = pgettext("sla clock", "paused")
        return DueWords(DueState.PAUSED, still, still)
    left = due - now
    if left.total_seconds() <= 0:
        return DueWords(
            DueState.BREACHED,
            # Translators: an SLA clock past its due time; {span} is like 1d2h.
            _("breached by {span}").format(span=span(left)),
            f"-{span(left)}",
        )
    state = DueState.WARNING if warn_at is not None and now >= warn_at else DueState.RUNNING
    # Translators: an SLA clock running; {span} is like 3h05m.
    return DueWords(state, _("due in {span}").format(span=span(left)), span(left))


class Clocked(Protocol):
    """What a ticket tells about its clocks (``TicketDetail`` has it all)."""

    @property
    def status(self) -> str: ...
    @property
    def response_due_at(self) -> datetime | None: ...
    @property
    def response_warn_at(self) -> datetime | None: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def resolve_due_at(self) -> datetime | None: ...
    @property
    def resolve_warn_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def sla_paused_at(self) -> datetime | None: ...
    @property
    def sla_left_seconds(self) -> int | None: ...


@dataclass(frozen=True)
class TicketDue:
    response: DueWords
    resolve: DueWords
    #: While paused: the working time left ("3h left", "1h over"), which does not run down.
    left: str | None


def ticket_due(ticket: Clocked, now: datetime) -> TicketDue:
    """A ticket's two clocks: the response is finished once someone answered the customer,
    the resolution once it is resolved; a ticket no longer open finishes both."""
    is_open = ticket.status in OPEN_STATUSES
    paused = ticket.sla_paused_at is not None and is_open
    left = None
    if paused and ticket.sla_left_seconds is not None:
        amount = span(timedelta(seconds=ticket.sla_left_seconds))
        if ticket.sla_left_seconds > 0:
            # Translators: working time left on a paused SLA clock; {span} is like 3h05m.
            left = _("{span} left").format(span=amount)
        else:
            # Translators: working time overrun on a paused SLA clock; {span} is like 1h.
            left = _("{span} over").format(span=amount)
    return TicketDue(
        response=clock_words(
            ticket.response_due_at,
            now,
            warn_at=ticket.response_warn_at,
            paused=paused,
            done=ticket.first_response_at is not None or not is_open,
            finished=ticket.first_response_at,
        ),
        resolve=clock_words(
            ticket.resolve_due_at,
            now,
            warn_at=ticket.resolve_warn_at,
            paused=paused,
            done=ticket.resolved_at is not None or not is_open,
            finished=ticket.resolved_at,
        ),
        left=left,
    )
