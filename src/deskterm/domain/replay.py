"""A ticket as its log tells it: a pure fold of its events, and the rules the log keeps.

The ``ticket`` row is the current state, kept in step with the log in the same transaction;
replaying the events must give the row back. What the log is the record of:

- who holds it, where and at which level (``created``, ``assigned``, ``reassigned``,
  ``unassigned``, ``escalated``, and ``resolved`` taking an unheld ticket);
- its status and the times it was resolved and closed;
- impact, urgency, priority and a priority override's reason (``created``,
  ``field_changed``);
- what it was opened with (subject, channel, caller, category, who opened it, when);
- the resolution; when it was last changed and its version (the ``ticket_version`` of its
  newest event); when the customer first heard from us; since when it waits unassigned.

The SLA clock's columns (due and warning times, time used, the next alarm) are left out: they
are computed from the SLA calendars and targets in force when each change happened, which the
log does not hold. ``sla_alerts`` is left out too: a demo desk counts alarms that passed
before it was made as recorded without writing them to the log.

Some events annotate a ticket without changing it (a notification sent or failed, an SLA
warning or breach, an escalation rule firing): they carry the version of the change before
them and move nothing. Every other event belongs to a change, which bumps the version once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from deskterm.domain import payloads as p
from deskterm.domain.enums import LIVE_CHANNELS, EventKind, Status
from deskterm.domain.transitions import status_for_holder
from deskterm.i18n import _, ngettext

#: Events written beside a change, carrying the version it produced and changing nothing.
ANNOTATIONS = frozenset(
    {
        EventKind.NOTIFICATION_QUEUED,
        EventKind.NOTIFICATION_SENT,
        EventKind.NOTIFICATION_FAILED,
        EventKind.SLA_WARNING,
        EventKind.SLA_BREACHED,
        EventKind.ESCALATION_RULE,
    }
)


#: How a "pull next" claim marks its ``assigned`` event.
CLAIM_VIA = "queue next"


@dataclass(frozen=True)
class Event:
    """One event of a ticket's log, with analysts named by login (``None``: the system);
    ``payload`` is ``data`` typed, an older shape upgraded."""

    id: int
    version: int
    at: datetime
    actor: str | None
    kind: str
    public: bool
    data: Mapping[str, Any]
    payload: p.Payload = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", p.parse(self.kind, self.data))


@dataclass
class TicketState:
    """The fields of a ticket the log is the record of, with people, groups and categories
    by name, so that a row and a replay compare directly."""

    version: int | None = None
    status: str | None = None
    assignee: str | None = None
    group: str | None = None
    level: int | None = None
    impact: str | None = None
    urgency: str | None = None
    priority: int | None = None
    priority_reason: str | None = None
    subject: str | None = None
    channel: str | None = None
    contact_id: int | None = None
    category: str | None = None
    resolution_code: str | None = None
    resolution_text: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    unassigned_since: datetime | None = None


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TicketState))


@dataclass
class Replay:
    """What the log says: the state, how often the ticket was reopened, the fields an old
    log cannot tell (skipped when comparing), the log's own faults and its double claims."""

    state: TicketState
    reopened: int = 0
    unknown: set[str] = field(default_factory=set)
    faults: list[str] = field(default_factory=list)
    #: "Pull next" claims that took a ticket someone held: the atomic claim failed.
    double_claims: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Difference:
    field: str
    row: str
    log: str


def replay(events: Sequence[Event], *, group_levels: Mapping[str, int] | None = None) -> Replay:
    """Fold ``events`` (one ticket's, in id order) into the state they describe.

    ``group_levels`` gives a group's level by name, for handovers logged before the event
    said the level itself.
    """
    levels = group_levels or {}
    result = Replay(state=TicketState())
    state = result.state
    result.faults.extend(log_faults(events))
    for change in _changes(events):
        first = change[0]
        held_before, group_before = state.assignee, state.group
        changed = False
        for event in change:
            if event.kind in ANNOTATIONS:
                continue
            changed = True
            _apply(result, event, levels)
            if (
                event.public
                and event.actor is not None
                and event.kind != EventKind.CREATED
                and state.first_response_at is None
            ):
                state.first_response_at = event.at
        if not changed:
            continue
        state.version = first.version
        state.updated_at = first.at
        # As desk/sla_clock.py ``follow``: the "unassigned for N minutes" rules count from the
        # moment a ticket lands unassigned in a queue, afresh in each new queue.
        if state.assignee is not None:
            state.unassigned_since = None
        elif (
            held_before is not None or group_before != state.group or state.unassigned_since is None
        ):
            state.unassigned_since = first.at
    return result


def _changes(events: Sequence[Event]) -> Iterable[list[Event]]:
    """The events grouped by the version they carry, in log order."""
    batch: list[Event] = []
    for event in events:
        if batch and event.version != batch[0].version:
            yield batch
            batch = []
        batch.append(event)
    if batch:
        yield batch


def _apply(result: Replay, event: Event, levels: Mapping[str, int]) -> None:
    state, payload = result.state, event.payload
    match payload:
        case p.Created():
            state.subject = payload.subject
            state.channel = payload.channel
            state.contact_id = payload.contact_id
            state.category = payload.category
            state.impact = payload.impact
            state.urgency = payload.urgency
            state.priority = _priority(payload.priority)
            state.priority_reason = payload.priority_reason
            state.status = payload.status
            state.level = payload.level
            state.group = payload.group
            state.assignee = payload.assignee
            state.created_by = event.actor
            state.created_at = event.at
            if state.channel in LIVE_CHANNELS:
                state.first_response_at = event.at
        case p.Assigned() | p.Reassigned():
            if payload.via == CLAIM_VIA and state.assignee is not None:
                # "Pull next" takes only a ticket nobody holds: this one was claimed twice.
                result.double_claims.append(
                    _("log: event #{event} claims it for {login} while {holder} held it").format(
                        event=event.id, login=payload.to, holder=state.assignee
                    )
                )
            state.assignee = None if payload.unassigned else payload.to
            if payload.to_group is not None:
                state.group = payload.to_group
                level = payload.to_level
                if level is None:
                    # Handovers logged before the event said the level: the group's own.
                    level = levels.get(payload.to_group)
                if level is None:
                    result.unknown.add("level")
                state.level = level
            state.status = payload.status or status_for_holder(
                state.status or Status.NEW, state.assignee is not None
            )
        case p.Unassigned():
            state.assignee = None
            state.status = payload.status or status_for_holder(state.status or Status.NEW, False)
        case p.Escalated():
            state.group = payload.to_group
            state.level = payload.to_level
            state.assignee = None
            state.status = payload.status or Status.NEW
        case p.StatusChanged():
            state.status = payload.to
            if state.status == Status.CANCELLED:
                state.closed_at = event.at
        case p.Resolved():
            state.status = Status.RESOLVED
            if payload.assignee is not None:
                state.assignee = payload.assignee
            state.resolution_code = payload.code
            state.resolution_text = payload.text
            state.resolved_at = event.at
        case p.Reopened():
            state.status = payload.to
            state.resolution_code = state.resolution_text = None
            state.resolved_at = None
            result.reopened += 1
        case p.Closed():
            state.status = Status.CLOSED
            state.closed_at = event.at
        case p.FieldChanged(field=name, to=value):
            if name == "impact":
                state.impact = value
            elif name == "urgency":
                state.urgency = value
            elif name == "priority":
                state.priority = _priority(value)
            if name in ("impact", "urgency", "priority"):
                # Each event of a priority change says whether the result overrides the
                # matrix; without an override the reason explains the change, not the value.
                state.priority_reason = payload.reason if payload.override else None


def _priority(value: Any) -> int | None:
    if value is None:
        return None
    text = str(value).strip().upper().removeprefix("P")
    return int(text) if text.isdigit() else None


def log_faults(events: Sequence[Event]) -> list[str]:
    """What is wrong with the log itself: it must open with the creation at version 1, and
    its versions must rise one change at a time, in the order the events were written."""
    if not events:
        return [_("log: no events at all (the creation is missing)")]
    faults: list[str] = []
    opening = events[0]
    if opening.kind != EventKind.CREATED:
        faults.append(
            _("log: first event #{event} is {kind}, not created").format(
                event=opening.id, kind=opening.kind
            )
        )
    if opening.version != 1:
        faults.append(
            _("log: first event #{event} has version {version}, not 1").format(
                event=opening.id, version=opening.version
            )
        )
    previous = opening
    for event in events[1:]:
        if event.version < previous.version:
            faults.append(
                _(
                    "log: event #{event} (version {version}) was written after event "
                    "#{previous} (version {previous_version})"
                ).format(
                    event=event.id,
                    version=event.version,
                    previous=previous.id,
                    previous_version=previous.version,
                )
            )
        elif event.version > previous.version + 1:
            missing = (
                str(previous.version + 1)
                if event.version == previous.version + 2
                else f"{previous.version + 1}-{event.version - 1}"
            )
            faults.append(
                _(
                    "log: version {missing} missing (no event between #{previous} and #{event})"
                ).format(missing=missing, previous=previous.id, event=event.id)
            )
        if event.kind == EventKind.CREATED and event.id != opening.id:
            faults.append(
                _("log: event #{event} opens the ticket a second time").format(event=event.id)
            )
        previous = event
    for change in _changes(events):
        makers = {(e.actor, e.at) for e in change if e.kind not in ANNOTATIONS}
        if len(makers) > 1:
            said = ", ".join(
                _("{actor} at {time}").format(actor=actor or "system", time=_text(at))
                for actor, at in sorted(makers, key=lambda m: m[1])
            )
            faults.append(
                ngettext(
                    "log: version {version} was written by {n} change ({changes})",
                    "log: version {version} was written by {n} changes ({changes})",
                    len(makers),
                ).format(version=change[0].version, n=len(makers), changes=said)
            )
    return faults


def compare(row: TicketState, told: Replay) -> list[Difference]:
    """Each field where the row and the log disagree."""
    return [
        Difference(name, _text(getattr(row, name), name), _text(getattr(told.state, name), name))
        for name in FIELDS
        if name not in told.unknown and getattr(row, name) != getattr(told.state, name)
    ]


def _text(value: Any, name: str = "") -> str:
    if value is None:
        return "none"
    if name == "priority":
        return f"P{value}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)
