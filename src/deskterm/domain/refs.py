"""Ticket references: DT-000123 for ticket id 123. Numbers typed by people or found in mail."""

from __future__ import annotations

import re

from deskterm.domain.errors import InvalidInput
from deskterm.i18n import _

PREFIX = "DT"
# [0-9], not \d: Python's \d and int() take any Unicode digit, so "٤٢" read as 42 and
# "[DT-١]" in a stranger's subject pointed at DT-000001.
_REF = re.compile(r"^\s*(?:#|(?P<prefix>[A-Za-z]+)-?)?(?P<num>[0-9]{1,12})\s*$")

#: The largest id an ``INTEGER`` column holds on PostgreSQL (int4); a larger one names no row.
INT_ID_MAX = 2**31 - 1
#: The largest id a ``BIGINT`` column holds (int8; SQLite's integers are as wide).
BIG_ID_MAX = 2**63 - 1


def format_ref(ticket_id: int) -> str:
    return f"{PREFIX}-{ticket_id:06d}"


def parse_ref(text: str) -> int:
    """The ticket id in ``DT-000123``, ``dt-123``, ``#123`` or ``123``."""
    match = _REF.match(text or "")
    if match is None or (match["prefix"] and match["prefix"].upper() != PREFIX):
        raise InvalidInput(
            _("{text!r} is not a ticket reference (like {prefix}-000123)").format(
                text=text, prefix=PREFIX
            ),
            field="ref",
        )
    number = int(match["num"])
    if number <= 0:
        raise InvalidInput(_("{text!r} is not a ticket reference").format(text=text), field="ref")
    return number


def ascii_number(text: str) -> int | None:
    """``text`` as a whole number when it is nothing but ASCII digits, else None.

    ``str.isdigit()`` is true for "²" (which ``int()`` refuses) and for "٣" (which it reads
    as 3): an id typed or received is only ever 0-9.
    """
    if text and text.isascii() and text.isdigit():
        return int(text)
    return None
