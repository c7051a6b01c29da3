"""Tickets and their log.

Every function that changes a ticket goes through ``Change``: it bumps the ticket's version
once and writes each event with that version, in the caller's transaction. A stale
``expected_version`` (the version the analyst was looking at) is refused with the changes
the analyst has not seen.

By what analysts do: ``create`` opens a ticket, ``read`` reads one, ``work`` notes, logs calls
and links, ``holders`` assigns and escalates, ``status`` moves it through its lifecycle and
re-prioritises it; ``change`` holds the unit of work and the checks they all share. Import
from here: the package's names are the desk's API for tickets.
"""

from __future__ import annotations

from deskterm.desk.tickets.change import (
    Change,
    ensure_open,
    group_name,
    hold,
    load,
    login_of,
    refusal,
    require_work,
)
from deskterm.desk.tickets.create import create_ticket, open_ticket
from deskterm.desk.tickets.holders import assign, escalate, holder_for, log_internal_reason
from deskterm.desk.tickets.read import (
    detail,
    get_ticket,
    list_tickets,
    minutes_worked,
    summary,
    ticket_events,
)
from deskterm.desk.tickets.status import change_status, close, reopen, resolve, set_priority
from deskterm.desk.tickets.work import MAX_CALL_SECONDS, add_note, link, link_pair, log_call

__all__ = [
    "MAX_CALL_SECONDS",
    "Change",
    "add_note",
    "assign",
    "change_status",
    "close",
    "create_ticket",
    "detail",
    "ensure_open",
    "escalate",
    "get_ticket",
    "group_name",
    "hold",
    "holder_for",
    "link",
    "link_pair",
    "list_tickets",
    "load",
    "log_call",
    "minutes_worked",
    "log_internal_reason",
    "login_of",
    "open_ticket",
    "refusal",
    "reopen",
    "require_work",
    "resolve",
    "set_priority",
    "summary",
    "ticket_events",
]
