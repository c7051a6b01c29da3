"""What the desk hands to faces: plain, detached data, never live ORM rows.

JSON keys are part of the CLI's contract (``--json``); add keys, never rename them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from deskterm.domain.payloads import Payload


class Public(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class GroupPublic(Public):
    id: int
    name: str
    level: int
    description: str | None = None
    escalates_to: str | None = None
    members: int = 0


class AnalystPublic(Public):
    id: int
    login: str
    name: str
    email: str | None
    role: str
    level: int
    groups: list[str]
    availability: str
    away_reason: str | None = None
    backup: str | None = None
    active: bool = True
    open_tickets: int = 0
    #: The language they read deskterm in (``de``, ``pt-BR``); none: their locale's.
    language: str | None = None


class KeyPublic(Public):
    """An SSH public key that signs an analyst in to ``deskterm serve ssh``."""

    id: int
    login: str
    name: str
    algorithm: str
    #: OpenSSH's ``SHA256:...`` form, as ``ssh-keygen -lf`` and ``ssh -v`` print it.
    fingerprint: str
    comment: str
    public_key: str
    added_at: datetime
    added_by: str | None = None
    last_used_at: datetime | None = None


class AssetPublic(Public):
    id: int
    kind: str
    product: str
    model_number: str | None = None
    serial_number: str | None = None
    account_number: str | None = None


class ContactPublic(Public):
    id: int
    name: str
    email: str | None
    phone: str | None
    mobile: str | None
    organization: str | None
    location: str | None
    language: str | None = None
    vip: bool = False
    #: How they want to hear about their cases: email, sms or phone (none: email).
    preferred_channel: str | None = None
    #: The channels every message goes out on (``--notify email,sms``); none: as preferred.
    notify: list[str] | None = None
    assets: list[AssetPublic] = []
    open_tickets: int = 0
    #: What a lookup found the contact by (``phone``, ``name``, ``similar name``...).
    matched: str | None = None


class CategoryPublic(Public):
    id: int
    path: str
    group: str | None


class TicketPublic(Public):
    """One ticket as a list shows it."""

    id: int
    ref: str
    subject: str
    status: str
    priority: str
    impact: str
    urgency: str
    level: int
    group: str | None
    assignee: str | None
    assignee_name: str | None = None
    contact: str | None
    contact_id: int | None = None
    channel: str
    category: str | None = None
    created_at: datetime
    updated_at: datetime
    response_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    #: When each SLA clock reaches the warning share (see data/sla.toml).
    response_warn_at: datetime | None = None
    resolve_warn_at: datetime | None = None
    #: Set while the SLA clock stands still (waiting on the customer, or finished).
    sla_paused_at: datetime | None = None
    #: Working time left to resolve, while paused (it does not run down meanwhile).
    sla_left_seconds: int | None = None
    version: int


class EventPublic(Public):
    id: int
    kind: str
    actor: str
    actor_name: str
    at: datetime
    visibility: str
    data: dict[str, Any]
    ticket_version: int
    summary: str
    #: Minutes worked on it (a note, call or status change); None when not recorded.
    minutes: int | None = None

    @property
    def payload(self) -> Payload:
        """``data`` typed, an older shape upgraded; not part of the JSON, which is ``data``."""
        # Imported here: building the 25 payload models costs 14 ms (python -X importtime),
        # which a queue page or `ticket list` never needs.
        from deskterm.domain import payloads

        return payloads.parse(self.kind, self.data)


class LinkPublic(Public):
    ref: str
    kind: str
    subject: str
    status: str


class TicketDetail(TicketPublic):
    description: str
    priority_reason: str | None = None
    contact_detail: ContactPublic | None = None
    asset: AssetPublic | None = None
    resolution_code: str | None = None
    resolution_text: str | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    created_by: str | None = None
    links: list[LinkPublic] = []
    events: list[EventPublic] = []
    #: The minutes worked on the ticket, all its events' minutes summed.
    minutes_worked: int = 0


class ClaimResult(Public):
    ticket: TicketPublic | None
    groups: list[str]
