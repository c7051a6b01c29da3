"""The vocabularies of the desk.

StrEnum values compare equal to their strings, so rows read back from the database (plain
strings) and enum members can be mixed freely.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    TECHNICIAN = "technician"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Availability(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"


class Channel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    SMS = "sms"
    WALK_IN = "walk-in"
    PORTAL = "portal"


#: Channels where the customer is talking to us while the ticket is written: the first
#: response has happened by the time the ticket exists.
LIVE_CHANNELS = frozenset({Channel.PHONE, Channel.CHAT, Channel.WALK_IN})


class Impact(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Urgency(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    WAITING_THIRD_PARTY = "waiting_third_party"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


OPEN_STATUSES = frozenset(
    {
        Status.NEW,
        Status.ASSIGNED,
        Status.IN_PROGRESS,
        Status.WAITING_CUSTOMER,
        Status.WAITING_THIRD_PARTY,
    }
)
WAITING_STATUSES = frozenset({Status.WAITING_CUSTOMER, Status.WAITING_THIRD_PARTY})


class Visibility(StrEnum):
    INTERNAL = "internal"
    PUBLIC = "public"


class EventKind(StrEnum):
    CREATED = "created"
    CALL_LOGGED = "call_logged"
    NOTE = "note"
    FIELD_CHANGED = "field_changed"
    ASSIGNED = "assigned"
    REASSIGNED = "reassigned"
    UNASSIGNED = "unassigned"
    ESCALATED = "escalated"
    STATUS_CHANGED = "status_changed"
    CALLBACK_SCHEDULED = "callback_scheduled"
    NOTIFICATION_QUEUED = "notification_queued"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"
    CUSTOMER_MESSAGE = "customer_message"
    LINKED = "linked"
    SPLIT = "split"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    ESCALATION_RULE = "escalation_rule"
    KB_LINKED = "kb_linked"
    KB_NEEDED = "kb_needed"
    SURVEY_RECORDED = "survey_recorded"


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class LinkKind(StrEnum):
    """How two tickets relate. Each kind reads from the ticket that holds the link."""

    RELATED = "related"
    DUPLICATE_OF = "duplicate_of"
    PARENT_OF = "parent_of"
    CHILD_OF = "child_of"
    SPLIT_FROM = "split_from"

    @property
    def inverse(self) -> LinkKind:
        return _INVERSE_LINK[self]


_INVERSE_LINK = {
    LinkKind.RELATED: LinkKind.RELATED,
    LinkKind.DUPLICATE_OF: LinkKind.RELATED,
    LinkKind.PARENT_OF: LinkKind.CHILD_OF,
    LinkKind.CHILD_OF: LinkKind.PARENT_OF,
    LinkKind.SPLIT_FROM: LinkKind.SPLIT_FROM,
}


class AssetKind(StrEnum):
    HARDWARE = "hardware"
    SOFTWARE = "software"
    LICENCE = "licence"
    ACCOUNT = "account"
    SERVICE = "service"


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
