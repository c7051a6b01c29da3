"""App-wide messages, named for what happened. Posted from worker threads, handled on the
event loop.

The app hears the database (``DeskChanged``, ``PresenceNoticed``, ``DeskReached``) and tells
the screens of the current mode (``DeskUpdated``, ``PresenceChanged``): a screen that shows
something of the desk handles them (``@on(DeskUpdated)``), any other lets them pass. They
are messages rather than Textual signals because the app picks who hears: the screens of the
current mode, while the ones of other modes refresh when shown again; a signal reaches every
subscriber, whatever mode it is in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from deskterm.desk.callbacks import DueCallback
    from deskterm.desk.context import Desk
    from deskterm.desk.cti import CallPop, CallPublic
    from deskterm.desk.schemas import TicketDetail
    from deskterm.desk.sla_check import CheckResult
    from deskterm.domain.permissions import Actor


@dataclass
class DeskOpened(Message):
    """The database is open and the analyst is known."""

    desk: Desk
    actor: Actor
    keymap: dict[str, str] = field(default_factory=dict)
    """The keys the analyst moved (``deskterm keys set``), by binding id."""


@dataclass
class DeskLost(Message):
    """The database stopped answering; ``reason`` is the one line that says why."""

    reason: str


@dataclass
class DeskReached(Message):
    """The database answers again after it was lost."""


@dataclass
class DeskChanged(Message):
    """Someone (anyone) changed a ticket: the newest event id moved.

    ``recheck``: a notification said something changed that the newest id may not show (a
    transaction that took its id earlier committed later), so screens look even if it did
    not move.
    """

    latest_event_id: int
    recheck: bool = False


@dataclass
class DeskUpdated(Message, bubble=False):
    """Told to each screen of the current mode: the desk changed since it last read (or it
    answers again after an outage): read again what is shown. It stays with that screen."""


@dataclass
class PresenceChanged(Message, bubble=False):
    """Told to each screen of the current mode: someone arrived at, left, or started or
    stopped editing one of these tickets (None: any of them)."""

    ticket_ids: frozenset[int] | None


@dataclass
class Listening(Message):
    """The app hears the database's change notifications (PostgreSQL): polling can rest."""

    backend_pid: int | None


@dataclass
class PresenceNoticed(Message):
    """Someone arrived at, left, or started or stopped editing one of these tickets (None:
    any of them, after a reconnection lost what was said meanwhile)."""

    ticket_ids: frozenset[int] | None


@dataclass
class SlaChecked(Message):
    """The background SLA check ran; ``callbacks`` are this analyst's callbacks now due."""

    result: CheckResult
    callbacks: list[DueCallback]
    #: Missed phone calls nobody called back within the alert's minutes.
    missed: list[CallPublic] | None = None


@dataclass
class TicketSaved(Message):
    """A change to a ticket was written; ``result`` is what the desk returned."""

    ticket_id: int
    what: str
    result: Any = None


@dataclass
class TicketLoaded(Message):
    ticket: TicketDetail
    extra: dict[str, Any]


@dataclass
class CallsNoticed(Message):
    """The phone system told the desk of a call (PostgreSQL's notice): read this analyst's
    calls now, not at the live queue's pace."""


@dataclass
class CallsRead(Message):
    """This analyst's calls now: ringing for them, or answered by them and not saved yet."""

    pops: list[CallPop]
    newest: int


@dataclass
class CallsChanged(Message, bubble=False):
    """Told to each screen of the current mode: the calls in the header changed."""
