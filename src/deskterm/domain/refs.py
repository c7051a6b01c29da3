"""Ticket references: DT-000123 for ticket id 123."""

from __future__ import annotations

import re

from deskterm.domain.errors import InvalidInput

PREFIX = "DT"
_REF = re.compile(r"^\s*(?:#|(?P<prefix>[A-Za-z]+)-?)?(?P<num>\d{1,12})\s*$")


def format_ref(ticket_id: int) -> str:
    return f"{PREFIX}-{ticket_id:06d}"


def parse_ref(text: str) -> int:
    """The ticket id in ``DT-000123``, ``dt-123``, ``#123`` or ``123``."""
    match = _REF.match(text or "")
    if match is None or (match["prefix"] and match["prefix"].upper() != PREFIX):
        raise InvalidInput(
            f"{text!r} is not a ticket reference (like {PREFIX}-000123)", field="ref"
        )
    number = int(match["num"])
    if number <= 0:
        raise InvalidInput(f"{text!r} is not a ticket reference", field="ref")
    return number
