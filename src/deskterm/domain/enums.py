"""The vocabularies of the desk.

StrEnum values compare equal to their strings, so rows read back from the database (plain
strings) and enum members can be mixed freely.
"""

from __future__ import annotations

from enum import StrEnum

from deskterm.i18n import pgettext


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


# The words an analyst reads for the values above, in their language. The values themselves
# are data (stored, compared, written to CSV and JSON) and stay as they are.


def status_label(value: Status | str) -> str:
    """A status as an analyst reads it: "in progress", "wartet auf Kunden"."""
    labels: dict[str, str] = {
        Status.NEW: pgettext("ticket status", "new"),
        Status.ASSIGNED: pgettext("ticket status", "assigned"),
        Status.IN_PROGRESS: pgettext("ticket status", "in progress"),
        Status.WAITING_CUSTOMER: pgettext("ticket status", "waiting customer"),
        Status.WAITING_THIRD_PARTY: pgettext("ticket status", "waiting third party"),
        Status.RESOLVED: pgettext("ticket status", "resolved"),
        Status.CLOSED: pgettext("ticket status", "closed"),
        Status.CANCELLED: pgettext("ticket status", "cancelled"),
    }
    return labels.get(value, str(value).replace("_", " "))


def level_label(value: Impact | Urgency | str) -> str:
    """An impact or an urgency as an analyst reads it: "high", "hoch"."""
    labels: dict[str, str] = {
        "high": pgettext("impact or urgency", "high"),
        "medium": pgettext("impact or urgency", "medium"),
        "low": pgettext("impact or urgency", "low"),
    }
    return labels.get(str(value), str(value))


def channel_label(value: Channel | str) -> str:
    """A channel as an analyst reads it: "phone", "Telefon"."""
    labels: dict[str, str] = {
        Channel.PHONE: pgettext("channel", "phone"),
        Channel.EMAIL: pgettext("channel", "email"),
        Channel.CHAT: pgettext("channel", "chat"),
        Channel.SMS: pgettext("channel", "SMS"),
        Channel.WALK_IN: pgettext("channel", "walk-in"),
        Channel.PORTAL: pgettext("channel", "portal"),
    }
    return labels.get(value, str(value))


def role_label(value: Role | str) -> str:
    """A role as an analyst reads it: "technician", "Techniker"."""
    labels: dict[str, str] = {
        Role.AGENT: pgettext("analyst role", "agent"),
        Role.TECHNICIAN: pgettext("analyst role", "technician"),
        Role.SUPERVISOR: pgettext("analyst role", "supervisor"),
        Role.ADMIN: pgettext("analyst role", "admin"),
    }
    return labels.get(value, str(value))


def link_label(value: LinkKind | str) -> str:
    """How two tickets relate, as an analyst reads it: "duplicate of"."""
    labels: dict[str, str] = {
        LinkKind.RELATED: pgettext("ticket link", "related"),
        LinkKind.DUPLICATE_OF: pgettext("ticket link", "duplicate of"),
        LinkKind.PARENT_OF: pgettext("ticket link", "parent of"),
        LinkKind.CHILD_OF: pgettext("ticket link", "child of"),
        LinkKind.SPLIT_FROM: pgettext("ticket link", "split from"),
    }
    return labels.get(value, str(value).replace("_", " "))


def article_status_label(value: ArticleStatus | str) -> str:
    """A knowledge-base article's status as an analyst reads it: "draft", "Entwurf"."""
    labels: dict[str, str] = {
        ArticleStatus.DRAFT: pgettext("article status", "draft"),
        ArticleStatus.PUBLISHED: pgettext("article status", "published"),
    }
    return labels.get(value, str(value))


def availability_label(value: Availability | str) -> str:
    """Whether an analyst takes tickets, as an analyst reads it: "available", "away"."""
    labels: dict[str, str] = {
        Availability.AVAILABLE: pgettext("analyst availability", "available"),
        Availability.AWAY: pgettext("analyst availability", "away"),
    }
    return labels.get(value, str(value))
