"""What each event of the ticket log holds: one typed payload per kind.

The log is the product's record and it is append-only, so a payload is read back from rows
written by every earlier version of deskterm. Hence:

- every field is optional: an older row may lack a fact a newer writer always gives, and a
  reader says less rather than failing (the writers are held to their facts by the tests);
- keys a model does not name are kept (``extra="allow"``): an old or newer row read and
  dumped again loses nothing, and ``--json`` shows what is stored; the ledger refuses a
  payload with such keys, so no writer adds one by a typo;
- an older shape is read through one explicit step, ``upgrade``, before validation, and
  nowhere else.

``dump`` gives the JSON stored before the payloads were typed: the fields in the order the
desk wrote them, without the empty ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from deskterm.domain.enums import (
    CallDirection,
    Channel,
    EventKind,
    Impact,
    LinkKind,
    Status,
    Urgency,
)
from deskterm.domain.sla import Clock

#: Event kinds the customer may see by default (what happened to their case, not our
#: internal talk); a writer may say otherwise for one event (a public note, a mail).
PUBLIC_KINDS = frozenset(
    {
        EventKind.CREATED,
        EventKind.ASSIGNED,
        EventKind.REASSIGNED,
        EventKind.ESCALATED,
        EventKind.STATUS_CHANGED,
        EventKind.RESOLVED,
        EventKind.REOPENED,
        EventKind.CLOSED,
        EventKind.CALL_LOGGED,
        EventKind.CALLBACK_SCHEDULED,
    }
)


class Payload(BaseModel):
    """The facts of one event; ``kind`` says which event the class is for."""

    model_config = ConfigDict(frozen=True, extra="allow", validate_by_name=True)

    kind: ClassVar[EventKind]

    @property
    def event_kind(self) -> str:
        """The kind as stored in the log."""
        return self.kind.value


class Created(Payload):
    kind = EventKind.CREATED
    subject: str | None = None
    channel: Channel | None = None
    contact: str | None = None
    contact_id: int | None = None
    category: str | None = None
    impact: Impact | None = None
    urgency: Urgency | None = None
    #: "P1" to "P5", as the desk writes it.
    priority: str | None = None
    priority_reason: str | None = None
    status: Status | None = None
    level: int | None = None
    group: str | None = None
    assignee: str | None = None
    #: Who the caller asked for, when that analyst was away and someone else took it.
    requested: str | None = None
    reason: str | None = None


class CallLogged(Payload):
    kind = EventKind.CALL_LOGGED
    direction: CallDirection | None = None
    duration_seconds: int | None = None
    outcome: str | None = None
    kept_callbacks: int | None = None


class Note(Payload):
    kind = EventKind.NOTE
    text: str | None = None
    #: What the note is about when the desk wrote it itself ("reason", "callbacks").
    about: str | None = None


class FieldChanged(Payload):
    kind = EventKind.FIELD_CHANGED
    field: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    reason: str | None = None
    #: The new priority overrides the matrix, so the reason stays on the ticket.
    override: bool | None = None


class HolderChange(Payload):
    """Who holds a ticket, and where: the facts of an assignment, a reassignment or a
    handover, and of taking a ticket back to the queue."""

    from_: str | None = Field(default=None, alias="from")
    #: A login; for a handover to a group alone, the group's name (``unassigned`` is set).
    to: str | None = None
    from_group: str | None = None
    to_group: str | None = None
    to_level: int | None = None
    unassigned: bool | None = None
    reason: str | None = None
    requested: str | None = None
    because: str | None = None
    away: str | None = None
    public_reason: str | None = None
    via: str | None = None
    status: Status | None = None


class Assigned(HolderChange):
    kind = EventKind.ASSIGNED


class Reassigned(HolderChange):
    kind = EventKind.REASSIGNED


class Unassigned(HolderChange):
    kind = EventKind.UNASSIGNED


class Escalated(Payload):
    kind = EventKind.ESCALATED
    from_group: str | None = None
    to_group: str | None = None
    from_level: int | None = None
    to_level: int | None = None
    from_assignee: str | None = None
    status: Status | None = None
    reason: str | None = None
    public_reason: str | None = None


class StatusChanged(Payload):
    kind = EventKind.STATUS_CHANGED
    from_: Status | None = Field(default=None, alias="from")
    to: Status | None = None
    reason: str | None = None


class CallbackScheduled(Payload):
    kind = EventKind.CALLBACK_SCHEDULED
    #: "YYYY-MM-DD HH:MM UTC".
    due_at: str | None = None
    reason: str | None = None


class NotificationQueued(Payload):
    """Written by early versions only: the outbox row says it now."""

    kind = EventKind.NOTIFICATION_QUEUED
    channel: str | None = None


class NotificationSent(Payload):
    kind = EventKind.NOTIFICATION_SENT
    channel: str | None = None
    to: str | None = None
    notice: str | None = None
    outbox_id: int | None = None
    message_id: str | None = None


class NotificationFailed(Payload):
    kind = EventKind.NOTIFICATION_FAILED
    channel: str | None = None
    to: str | None = None
    notice: str | None = None
    outbox_id: int | None = None
    attempts: int | None = None
    reason: str | None = None


class MailFile(BaseModel):
    """A file attached to a customer's mail, as the ticket lists it."""

    model_config = ConfigDict(frozen=True, extra="allow")

    id: int | None = None
    name: str | None = None
    type: str | None = None
    size: int | None = None


class CustomerMessage(Payload):
    kind = EventKind.CUSTOMER_MESSAGE
    channel: Channel | None = None
    from_: str | None = Field(default=None, alias="from")
    subject: str | None = None
    #: None for the mail that opened the case: its text is the ticket's description.
    text: str | None = None
    message_id: str | None = None
    mail_id: int | None = None
    attachments: list[MailFile] | None = None
    #: A mail's whole text when ``text`` (or the description, for the first mail) holds only
    #: its new part, quotes and signature folded away (``desk/mailfold.py``).
    full_text: str | None = None
    #: How many lines with words ``full_text`` has beyond the new part.
    folded: int | None = None


class Linked(Payload):
    kind = EventKind.LINKED
    link: LinkKind | None = None
    #: The other ticket's ref.
    other: str | None = None


class Split(Payload):
    kind = EventKind.SPLIT
    link: LinkKind | None = None
    other: str | None = None


class Resolved(Payload):
    kind = EventKind.RESOLVED
    from_: Status | None = Field(default=None, alias="from")
    to: Status | None = None
    code: str | None = None
    text: str | None = None
    #: Who holds it resolved (whoever resolved a ticket nobody held).
    assignee: str | None = None


class Reopened(Payload):
    kind = EventKind.REOPENED
    from_: Status | None = Field(default=None, alias="from")
    to: Status | None = None
    reason: str | None = None


class Closed(Payload):
    kind = EventKind.CLOSED
    from_: Status | None = Field(default=None, alias="from")
    to: Status | None = None


class SlaAlarm(Payload):
    """An SLA clock nearly used up (a warning) or used up (a breach)."""

    clock: Clock | None = None
    due_at: str | None = None
    warn_at: str | None = None
    priority: str | None = None


class SlaWarning(SlaAlarm):
    kind = EventKind.SLA_WARNING


class SlaBreached(SlaAlarm):
    kind = EventKind.SLA_BREACHED


class EscalationRuleFired(Payload):
    kind = EventKind.ESCALATION_RULE
    rule: str | None = None
    trigger: str | None = None
    reason: str | None = None
    outcome: str | None = None
    #: Supervisors told, by login; those without an email address.
    told: list[str] | None = None
    no_email: list[str] | None = None
    no_supervisor: bool | None = None


class KbLinked(Payload):
    kind = EventKind.KB_LINKED
    #: The article's key ("KB-12").
    article: str | None = None
    title: str | None = None


class KbNeeded(Payload):
    kind = EventKind.KB_NEEDED
    topic: str | None = None


class SurveyRecorded(Payload):
    kind = EventKind.SURVEY_RECORDED
    csat: int | None = None
    nps: int | None = None
    via: str | None = None


class UnknownEvent(Payload):
    """An event of a kind this version does not know (a newer desk's): read, kept, shown by
    its name, never written."""

    _name: str = PrivateAttr(default="")

    @property
    def event_kind(self) -> str:
        return self._name


PAYLOADS: Mapping[str, type[Payload]] = {
    model.kind.value: model
    for model in (
        Created,
        CallLogged,
        Note,
        FieldChanged,
        Assigned,
        Reassigned,
        Unassigned,
        Escalated,
        StatusChanged,
        CallbackScheduled,
        NotificationQueued,
        NotificationSent,
        NotificationFailed,
        CustomerMessage,
        Linked,
        Split,
        Resolved,
        Reopened,
        Closed,
        SlaWarning,
        SlaBreached,
        EscalationRuleFired,
        KbLinked,
        KbNeeded,
        SurveyRecorded,
    )
}


def upgrade(kind: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """An older row's facts in today's shape; today's rows come back as they are.

    - A handover to a group alone named the group as ``to`` before it said ``unassigned``.

    (A handover logged before it said the group's level leaves ``to_level`` out: only the
    desk's groups can tell it, so replay asks them.)
    """
    if (
        kind in (EventKind.ASSIGNED, EventKind.REASSIGNED)
        and data.get("unassigned") is None
        and data.get("to_group") is not None
        and data.get("to") == data.get("to_group")
    ):
        return {**data, "unassigned": True}
    return data


def parse(kind: str, data: Mapping[str, Any] | None) -> Payload:
    """The typed payload of a stored event, its older shape upgraded first."""
    model = PAYLOADS.get(kind)
    if model is None:
        unknown = UnknownEvent.model_validate(data or {})
        unknown._name = kind
        return unknown
    return model.model_validate(upgrade(kind, data or {}))


def dump(payload: Payload) -> dict[str, Any]:
    """The payload as the log stores it: plain JSON values, without the empty ones."""
    return payload.model_dump(mode="json", by_alias=True, exclude_none=True)
