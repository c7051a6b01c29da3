"""The ticket log's one writer: every event of every ticket is written here.

A change to a ticket (``tickets.Change``), the claim of "pull next", an SLA alarm, an
escalation rule, a message sent or bounced: each hands this module a typed payload
(``domain.payloads``), and the row it writes holds exactly ``payloads.dump`` of it. A payload
with facts its model does not name is refused: a misspelt key would otherwise be a fact no
reader ever sees.

The demo (``desk/demo.py``) writes millions of events past the ORM, as rows for
``executemany`` or ``COPY``: a session's unit of work would cost it many times the
generation itself. It still takes each event's data from ``encode`` here, so what it
stores is what this module would have written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from deskterm.db.models import TicketEvent
from deskterm.domain import payloads
from deskterm.domain.enums import Visibility
from deskterm.domain.payloads import PUBLIC_KINDS, Payload, UnknownEvent


def stored(payload: Payload) -> dict[str, Any]:
    """What the log stores for ``payload``, once it is known to be one the desk may write."""
    if isinstance(payload, UnknownEvent):
        raise ValueError("an event of an unknown kind is read, never written")
    if payload.model_extra:
        raise ValueError(
            f"{payload.kind.value} has no facts named {', '.join(sorted(payload.model_extra))}"
        )
    return payloads.dump(payload)


def visibility(payload: Payload, visible: bool | None = None) -> Visibility:
    """Who may read the event: ``visible`` when the writer says, else the kind's default."""
    shown = payload.kind in PUBLIC_KINDS if visible is None else visible
    return Visibility.PUBLIC if shown else Visibility.INTERNAL


def record(
    session: Session,
    payload: Payload,
    *,
    ticket_id: int,
    version: int,
    at: datetime,
    actor_id: int | None,
    visible: bool | None = None,
    minutes: int | None = None,
) -> TicketEvent:
    """Add one event to ``session`` (flushed with the caller's change, not here);
    ``minutes`` worked, already checked (``domain.worked``)."""
    event = TicketEvent(
        ticket_id=ticket_id,
        ticket_version=version,
        at=at,
        actor_id=actor_id,
        kind=payload.kind.value,
        visibility=visibility(payload, visible).value,
        data=stored(payload),
        minutes=minutes,
    )
    session.add(event)
    return event


def _fast_json() -> Callable[[Any], str]:
    """``json.dumps`` with its defaults (what SQLAlchemy stores for a JSON column), minus the
    layers of Python wrapping that cost more than the encoding itself: the demo encodes
    millions of events."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C encoder
        return json.dumps
    encoder = make(
        None, None, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )

    def fast(value: Any) -> str:
        return "".join(encoder(value, 0))

    return fast


_json = _fast_json()


def encode(payload: Payload) -> str:
    """The event's data as JSON text, for a bulk load past the ORM."""
    return _json(stored(payload))
