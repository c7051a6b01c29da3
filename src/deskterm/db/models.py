"""The tables.

Enumerated values are stored as short strings (validated by the desk layer against the
``domain.enums``) rather than native enum types, so one migration serves SQLite and
PostgreSQL and a new value never needs an ``ALTER TYPE``.

The migrations own the schema; these tables say the same, indexes and server defaults
included (``tests/unit/test_schema_models.py`` compares them with a migrated database, and
names what the migrations build on purpose outside them: search indexes, ``db_user``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from deskterm.db.types import JSONData, UTCDateTime

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid; BIGINT elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# The empty string as the migrations' DEFAULT: written as SQL so that Alembic's comparison
# reads it on SQLite as the database gives it back (``''``), not as a Python "".
_EMPTY = text("''")


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Organization(SQLModel, table=True):
    __tablename__ = "organization"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(200), unique=True)
    phone: str | None = Field(default=None, sa_type=String(64))
    email_domain: str | None = Field(default=None, sa_type=String(200))
    notes: str | None = Field(default=None, sa_type=Text)


class Contact(SQLModel, table=True):
    __tablename__ = "contact"
    __table_args__ = (
        Index("ix_contact_name_lower", "name_lower"),
        Index("ix_contact_email", "email"),
        Index("ix_contact_phone_digits", "phone_digits"),
        Index("ix_contact_mobile_digits", "mobile_digits"),
        Index("ix_contact_phone_e164", "phone_e164"),
        Index("ix_contact_mobile_e164", "mobile_e164"),
        # An organization's callers in name order, read a page at a time (caller lookup).
        Index("ix_contact_org_name", "organization_id", "name_lower", "id"),
        # The contact list, in the order people expect names in (``name_key``).
        Index("ix_contact_name_key", "name_key", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(200))
    # Lower-cased copy for prefix lookup as the analyst types; an index on it serves both
    # databases (SQLite's LIKE is case-insensitive only for ASCII and skips plain indexes).
    name_lower: str = Field(sa_type=String(200))
    #: The name as it sorts (``desk/contacts.py``: ``name_key``, migration 0015): folded as
    #: callers are found (lower case, accents off, ``ß`` as ``ss``), so "Čech" sorts beside
    #: "Cech" and not after "Zeman"; compared in code point order on both databases
    #: (PostgreSQL's "C" collation, SQLite's binary one), whatever the database's locale.
    #: Ties (Muller, Müller) go by id. The server default only lets 0015 add the column to
    #: a filled table (and fill it then): the desk writes the key with the name, always.
    name_key: str = Field(
        sa_type=String(200).with_variant(String(200, collation="C"), "postgresql"),
        sa_column_kwargs={"server_default": _EMPTY},
    )
    email: str | None = Field(default=None, sa_type=String(320))
    phone: str | None = Field(default=None, sa_type=String(64))
    phone_digits: str | None = Field(default=None, sa_type=String(32))
    mobile: str | None = Field(default=None, sa_type=String(64))
    mobile_digits: str | None = Field(default=None, sa_type=String(32))
    # Normalised once on write (domain/phone.py): E.164 for an exact match however the
    # number is said, and every spoken form's digits for a match on any run of them.
    phone_e164: str | None = Field(default=None, sa_type=String(32))
    mobile_e164: str | None = Field(default=None, sa_type=String(32))
    dial_digits: str | None = Field(default=None, sa_type=String(200))
    organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    location: str | None = Field(default=None, sa_type=String(200))
    language: str | None = Field(default=None, sa_type=String(16))
    preferred_channel: str | None = Field(default=None, sa_type=String(16))
    #: The channels every message about their cases goes out on, a comma list among
    #: ``email`` and ``sms`` (migration 0017); none: one message as ``preferred_channel``
    #: says, and for one who prefers the phone a callback task instead (desk/outbox.py).
    notify: str | None = Field(default=None, sa_type=String(32))
    vip: bool = Field(default=False)
    created_at: datetime = _ts(nullable=False)


class ContactWord(SQLModel, table=True):
    """Each word of a contact's name (domain/names.py), for finding a caller by any of them.

    Written with the contact (desk/contacts.py, the demo loader, migration 0011). The name
    is copied so that one word's callers are read in name order straight from the index.
    """

    __tablename__ = "contact_word"
    __table_args__ = (Index("ix_contact_word_word", "word", "name_lower", "contact_id"),)

    contact_id: int = Field(foreign_key="contact.id", primary_key=True)
    word: str = Field(sa_type=String(60), primary_key=True)
    name_lower: str = Field(sa_type=String(200))


class Asset(SQLModel, table=True):
    """A device, product, licence or account a contact uses; tickets can name one."""

    __tablename__ = "asset"

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    organization_id: int | None = Field(default=None, foreign_key="organization.id")
    kind: str = Field(sa_type=String(16))
    product: str = Field(sa_type=String(200))
    model_number: str | None = Field(default=None, sa_type=String(100))
    serial_number: str | None = Field(default=None, sa_type=String(100), index=True)
    account_number: str | None = Field(default=None, sa_type=String(100))
    notes: str | None = Field(default=None, sa_type=Text)


class SupportGroup(SQLModel, table=True):
    """A support centre at one level, with the group its tickets escalate to."""

    __tablename__ = "support_group"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 3", name="ck_group_level"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(100), unique=True)
    level: int = Field(default=1)
    description: str | None = Field(default=None, sa_type=String(300))
    email: str | None = Field(default=None, sa_type=String(320))
    escalation_group_id: int | None = Field(default=None, foreign_key="support_group.id")


class Analyst(SQLModel, table=True):
    __tablename__ = "analyst"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 3", name="ck_analyst_level"),)

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(sa_type=String(64), unique=True)
    name: str = Field(sa_type=String(200))
    email: str | None = Field(default=None, sa_type=String(320))
    role: str = Field(sa_type=String(16))
    level: int = Field(default=1)
    availability: str = Field(default="available", sa_type=String(16))
    away_reason: str | None = Field(default=None, sa_type=String(300))
    away_until: datetime | None = _ts()
    backup_id: int | None = Field(default=None, foreign_key="analyst.id")
    active: bool = Field(default=True)
    #: The analyst's language for the app and the CLI (``de``, ``pt-BR``); none: the locale's.
    language: str | None = Field(default=None, sa_type=String(16))
    created_at: datetime = _ts(nullable=False)


class AnalystGroup(SQLModel, table=True):
    __tablename__ = "analyst_group"

    analyst_id: int = Field(foreign_key="analyst.id", primary_key=True)
    group_id: int = Field(foreign_key="support_group.id", primary_key=True, index=True)


class Category(SQLModel, table=True):
    """A node of the category tree; ``path`` is the full name, e.g. ``Hardware > Printer``."""

    __tablename__ = "category"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(100))
    path: str = Field(sa_type=String(400), unique=True)
    parent_id: int | None = Field(default=None, foreign_key="category.id")
    default_group_id: int | None = Field(default=None, foreign_key="support_group.id")


class ResolutionCode(SQLModel, table=True):
    __tablename__ = "resolution_code"

    code: str = Field(sa_type=String(40), primary_key=True)
    label: str = Field(sa_type=String(200))
    active: bool = Field(default=True)


# The version column is shared with the mapper so SQLAlchemy adds "AND version = :old" to
# every UPDATE of a ticket; the desk sets the new value itself (version_id_generator=False)
# so that the events of one change carry the version that change produced.
_ticket_version = Column("version", Integer, nullable=False, default=1)


class Ticket(SQLModel, table=True):
    __tablename__ = "ticket"
    __table_args__ = (
        # Queue views: open tickets by priority then due time, per group, per assignee.
        Index("ix_ticket_queue", "status", "priority", "resolve_due_at", "id"),
        Index("ix_ticket_group_queue", "group_id", "status", "priority", "resolve_due_at", "id"),
        Index(
            "ix_ticket_assignee_queue", "assignee_id", "status", "priority", "resolve_due_at", "id"
        ),
        # Saved views by category (migration 0019): a category's tickets in queue order.
        Index(
            "ix_ticket_category_queue", "category_id", "status", "priority", "resolve_due_at", "id"
        ),
        Index("ix_ticket_contact", "contact_id", "created_at"),
        Index("ix_ticket_created", "created_at"),
        # Reports count resolutions by day and analyst (migration 0005).
        Index("ix_ticket_resolved", "resolved_at"),
        # The SLA check reads only the tickets whose next alarm has come (desk/sla_check.py).
        Index("ix_ticket_sla_next", "sla_next_at"),
        CheckConstraint("priority BETWEEN 1 AND 5", name="ck_ticket_priority"),
        CheckConstraint("level BETWEEN 1 AND 3", name="ck_ticket_level"),
    )
    __mapper_args__ = {"version_id_col": _ticket_version, "version_id_generator": False}

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    subject: str = Field(sa_type=String(200))
    description: str = Field(default="", sa_type=Text)
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    asset_id: int | None = Field(default=None, foreign_key="asset.id")
    category_id: int | None = Field(default=None, foreign_key="category.id")
    channel: str = Field(sa_type=String(16))
    impact: str = Field(sa_type=String(8))
    urgency: str = Field(sa_type=String(8))
    priority: int
    priority_reason: str | None = Field(default=None, sa_type=String(300))
    status: str = Field(sa_type=String(24))
    level: int = Field(default=1)
    group_id: int | None = Field(default=None, foreign_key="support_group.id")
    assignee_id: int | None = Field(default=None, foreign_key="analyst.id")
    resolution_code: str | None = Field(
        default=None, sa_type=String(40), foreign_key="resolution_code.code"
    )
    resolution_text: str | None = Field(default=None, sa_type=Text)
    created_by_id: int | None = Field(default=None, foreign_key="analyst.id")
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    first_response_at: datetime | None = _ts()
    resolved_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    response_due_at: datetime | None = _ts()
    resolve_due_at: datetime | None = _ts()
    # SLA clock (desk/sla_clock.py): working seconds used before the running stretch that began
    # at ``sla_running_since``; while paused (waiting on the customer, or finished) only
    # ``sla_paused_at`` is set and the used time is frozen.
    sla_running_since: datetime | None = _ts()
    sla_paused_at: datetime | None = _ts()
    sla_used_seconds: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    response_warn_at: datetime | None = _ts()
    resolve_warn_at: datetime | None = _ts()
    #: Warnings and breaches already logged (bits, see domain/sla.py ``Alert``).
    sla_alerts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    #: When the SLA check must next look at this ticket; never later than needed.
    sla_next_at: datetime | None = _ts()
    unassigned_since: datetime | None = _ts()
    version: int = Field(default=1, sa_column=_ticket_version)


class TicketLink(SQLModel, table=True):
    """One direction of a link; the desk always writes both directions."""

    __tablename__ = "ticket_link"
    __table_args__ = (UniqueConstraint("ticket_id", "other_id", "kind", name="uq_ticket_link"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(sa_type=BigId, foreign_key="ticket.id", index=True)
    other_id: int = Field(sa_type=BigId, foreign_key="ticket.id")
    kind: str = Field(sa_type=String(16))
    created_at: datetime = _ts(nullable=False)
    created_by_id: int | None = Field(default=None, foreign_key="analyst.id")


class TicketEvent(SQLModel, table=True):
    """The ticket's log. Append-only: the database refuses UPDATE and DELETE (see migrations)."""

    __tablename__ = "ticket_event"
    __table_args__ = (
        Index("ix_ticket_event_ticket", "ticket_id", "id"),
        # ``ix_ticket_event_worked`` (migration 0021), the time report's partial index, is
        # left out: its WHERE needs each dialect's keyword, which would load both dialects
        # with the tables (tests/test_imports.py).
        CheckConstraint("minutes BETWEEN 0 AND 1440", name="ck_ticket_event_minutes"),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    ticket_id: int = Field(sa_type=BigId, foreign_key="ticket.id")
    # The ticket version this event's change produced: a stale writer is told exactly the
    # events it has not seen.
    ticket_version: int
    at: datetime = _ts(nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="analyst.id")
    kind: str = Field(sa_type=String(32))
    visibility: str = Field(default="internal", sa_type=String(8))
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONData)
    #: Minutes worked, given with a note, call or status change; NULL when not recorded.
    minutes: int | None = None
    # ``db_user`` (migration 0010), the database login that wrote the event, is left out of
    # the model on purpose: only the database fills it, so no insert of ours may name it.


class Callback(SQLModel, table=True):
    """A promise to call the customer back: when, why, and who promised it.

    Pending while ``done_at`` is empty; logging an outbound call on the ticket keeps it.
    """

    __tablename__ = "callback"
    __table_args__ = (Index("ix_callback_pending", "done_at", "due_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(sa_type=BigId, foreign_key="ticket.id", index=True)
    due_at: datetime = _ts(nullable=False)
    reason: str = Field(sa_type=String(300))
    scheduled_by_id: int | None = Field(default=None, foreign_key="analyst.id")
    scheduled_at: datetime = _ts(nullable=False)
    done_at: datetime | None = _ts()
    done_by_id: int | None = Field(default=None, foreign_key="analyst.id")
    #: Opened by the outbox to tell a contact who prefers the phone what changed, instead of
    #: a message (migration 0017); at most one open per ticket, later notices add to it.
    notice: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class Notification(SQLModel, table=True):
    """A message to a customer about their case: queued in the transaction of the ticket
    change it tells about, delivered later by ``deskterm outbox run``.

    ``status``: pending (due at ``next_attempt_at``), sending (claimed by a worker at
    ``claimed_at``), sent, or dead (gave up; ``last_error`` says why).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at", "id"),)

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    ticket_id: int = Field(sa_type=BigId, foreign_key="ticket.id", index=True)
    event_id: int | None = Field(default=None, sa_type=BigId, foreign_key="ticket_event.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    kind: str = Field(sa_type=String(32))
    channel: str = Field(sa_type=String(16))
    recipient: str | None = Field(default=None, sa_type=String(320))
    # What the message says, as it was when the change happened; rendered at delivery.
    context: dict[str, Any] = Field(default_factory=dict, sa_type=JSONData)
    # Random part of the Message-ID: stable across retries, unguessable for replies.
    token: str = Field(sa_type=String(32), unique=True)
    status: str = Field(default="pending", sa_type=String(16))
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts(nullable=False)
    claimed_at: datetime | None = _ts()
    claimed_by: str | None = Field(default=None, sa_type=String(64))
    last_error: str | None = Field(default=None, sa_type=String(500))
    message_id: str | None = Field(default=None, sa_type=String(300))
    subject: str | None = Field(default=None, sa_type=String(300))
    body: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts(nullable=False)
    sent_at: datetime | None = _ts()


class MailMessage(SQLModel, table=True):
    """One imported mail: what became of it (new ticket, reply, ignored, kept aside) and why.

    ``raw`` keeps every message as it arrived (before revision 0009 only those in no
    ticket), so nothing that arrived is lost, whatever the parser could not show.
    """

    __tablename__ = "mail_message"
    __table_args__ = (
        Index("ix_mail_message_outcome", "outcome", "id"),
        Index("ix_mail_message_message_id", "message_id"),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    # A hash of Message-ID, sender and content digest, else of the bytes (before 0009: the
    # Message-ID alone): importing twice is harmless, and a reused Message-ID loses nothing.
    dedup_key: str = Field(sa_type=String(600), unique=True)
    message_id: str | None = Field(default=None, sa_type=String(500))
    # SHA-256 of the body as sent, line endings normalised; NULL for mail imported before 0009.
    content_digest: str | None = Field(default=None, sa_type=String(64))
    source: str = Field(sa_type=String(500))
    received_at: datetime = _ts(nullable=False)
    sent_at: datetime | None = _ts()
    from_address: str | None = Field(default=None, sa_type=String(320))
    from_name: str | None = Field(default=None, sa_type=String(200))
    subject: str | None = Field(default=None, sa_type=String(300))
    outcome: str = Field(sa_type=String(16))
    reason: str | None = Field(default=None, sa_type=String(500))
    ticket_id: int | None = Field(default=None, sa_type=BigId, foreign_key="ticket.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    size: int = Field(default=0)
    raw: bytes | None = Field(default=None, sa_type=LargeBinary)


class MailAttachment(SQLModel, table=True):
    """A file that came with a customer's mail, kept with its ticket."""

    __tablename__ = "mail_attachment"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    mail_id: int = Field(sa_type=BigId, foreign_key="mail_message.id", index=True)
    ticket_id: int | None = Field(default=None, sa_type=BigId, foreign_key="ticket.id", index=True)
    filename: str = Field(sa_type=String(255))
    content_type: str = Field(sa_type=String(200))
    size: int = Field(default=0)
    content: bytes = Field(sa_type=LargeBinary)


class KbArticle(SQLModel, table=True):
    """A knowledge-base article (``KB-12``): Markdown body, draft or published.

    The search index is not mapped: an FTS5 table on SQLite, a generated ``search_vector``
    column on PostgreSQL (migration 0005), both filled by the database itself.
    """

    __tablename__ = "kb_article"
    __table_args__ = (Index("ix_kb_article_status", "status", "updated_at"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_type=String(200))
    body: str = Field(default="", sa_type=Text)
    category_id: int | None = Field(default=None, foreign_key="category.id")
    #: Lower-case words separated by single spaces, so they are searched like the text.
    tags: str = Field(default="", sa_type=String(400), sa_column_kwargs={"server_default": _EMPTY})
    status: str = Field(default="draft", sa_type=String(16))
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    created_by_id: int | None = Field(default=None, foreign_key="analyst.id")
    updated_by_id: int | None = Field(default=None, foreign_key="analyst.id")


class KbTicket(SQLModel, table=True):
    """An article that solved a ticket ("solved with KB-12")."""

    __tablename__ = "kb_ticket"

    article_id: int = Field(foreign_key="kb_article.id", primary_key=True)
    ticket_id: int = Field(sa_type=BigId, foreign_key="ticket.id", primary_key=True, index=True)
    linked_at: datetime = _ts(nullable=False)
    linked_by_id: int | None = Field(default=None, foreign_key="analyst.id")


class KbNeed(SQLModel, table=True):
    """A ticket resolved without an article that should have had one; ``kb gaps`` counts them
    by category and topic (``topic_key`` is the topic folded for grouping)."""

    __tablename__ = "kb_need"
    __table_args__ = (Index("ix_kb_need_gap", "category_id", "topic_key"),)

    ticket_id: int = Field(sa_type=BigId, foreign_key="ticket.id", primary_key=True)
    category_id: int | None = Field(default=None, foreign_key="category.id")
    topic: str = Field(sa_type=String(200))
    topic_key: str = Field(sa_type=String(200))
    flagged_at: datetime = _ts(nullable=False)
    flagged_by_id: int | None = Field(default=None, foreign_key="analyst.id")


class TextModule(SQLModel, table=True):
    """A canned answer analysts insert with ``::name`` (desk/texts.py): one analyst's own
    (``owner_id``), one support group's (``group_id``) or everyone's (both NULL); a name
    is unique within its scope."""

    __tablename__ = "text_module"
    __table_args__ = (
        UniqueConstraint("scope", "name", name="uq_text_module_scope_name"),
        CheckConstraint("owner_id IS NULL OR group_id IS NULL", name="ck_text_module_one_home"),
        CheckConstraint("scope = COALESCE(group_id, -owner_id, 0)", name="ck_text_module_scope"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(60))
    body: str = Field(sa_type=Text)
    group_id: int | None = Field(default=None, foreign_key="support_group.id")
    #: The analyst whose personal module it is (only they see it).
    owner_id: int | None = Field(default=None, foreign_key="analyst.id")
    #: ``group_id``; minus ``owner_id`` for a personal one; 0 for everyone's. UNIQUE lets
    #: NULLs repeat, and a partial index would need each dialect's own keyword (loading
    #: both dialects with the tables).
    scope: int = Field(default=0)
    created_by_id: int | None = Field(default=None, foreign_key="analyst.id")
    updated_at: datetime = _ts(nullable=False)


class Survey(SQLModel, table=True):
    """The customer's verdict on a resolved ticket: CSAT 1-5 and NPS 0-10, either may be
    missing; ``via`` says how it was asked (the closing call, or an email reply)."""

    __tablename__ = "survey"
    __table_args__ = (
        CheckConstraint("csat BETWEEN 1 AND 5", name="ck_survey_csat"),
        CheckConstraint("nps BETWEEN 0 AND 10", name="ck_survey_nps"),
    )

    ticket_id: int = Field(sa_type=BigId, foreign_key="ticket.id", primary_key=True)
    csat: int | None = None
    nps: int | None = None
    via: str = Field(default="call", sa_type=String(16))
    recorded_at: datetime = _ts(nullable=False, index=True)
    recorded_by_id: int | None = Field(default=None, foreign_key="analyst.id")


class AnalystKey(SQLModel, table=True):
    """A public key ``deskterm serve ssh`` accepts for one analyst (OpenSSH one-line form)."""

    __tablename__ = "analyst_key"
    __table_args__ = (UniqueConstraint("fingerprint", name="uq_analyst_key_fingerprint"),)

    id: int | None = Field(default=None, primary_key=True)
    analyst_id: int = Field(foreign_key="analyst.id", index=True)
    algorithm: str = Field(sa_type=String(64))
    #: OpenSSH's ``SHA256:...`` form, as ``ssh-keygen -lf`` prints it.
    fingerprint: str = Field(sa_type=String(100))
    public_key: str = Field(sa_type=Text)
    comment: str = Field(
        default="", sa_type=String(200), sa_column_kwargs={"server_default": _EMPTY}
    )
    added_at: datetime = _ts(nullable=False)
    added_by_id: int | None = Field(default=None, foreign_key="analyst.id")
    last_used_at: datetime | None = _ts()


class AnalystKeymap(SQLModel, table=True):
    """One key an analyst moved (``deskterm keys set``): over the desk's ``[keys]`` and the
    defaults, in every app they open (desk/keymaps.py). No row: the desk's or the default."""

    __tablename__ = "analyst_keymap"

    analyst_id: int = Field(foreign_key="analyst.id", primary_key=True)
    #: The binding's id, as ``deskterm keys list`` names it (``pull_next``).
    binding_id: str = Field(sa_type=String(64), primary_key=True)
    #: Textual's form, comma-separated: ``n`` or ``question_mark,f1``.
    keys: str = Field(sa_type=String(200))


class Presence(SQLModel, table=True):
    """Someone has a ticket open: one row per app session and ticket, kept fresh by a
    heartbeat (``seen_at``); ``editing`` while they have a dialog open on it."""

    __tablename__ = "presence"
    __table_args__ = (Index("ix_presence_ticket", "ticket_id", "seen_at"),)

    session: str = Field(sa_type=String(64), primary_key=True)
    ticket_id: int = Field(sa_type=BigId, foreign_key="ticket.id", primary_key=True)
    analyst_id: int = Field(foreign_key="analyst.id")
    since: datetime = _ts(nullable=False)
    seen_at: datetime = _ts(nullable=False)
    editing: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class SavedView(SQLModel, table=True):
    """A named queue filter shown as a tab of its own (``desk/saved_views.py``): an
    analyst's own (``owner_id``) or shared with a group by a supervisor (``group_id``)."""

    __tablename__ = "saved_view"
    __table_args__ = (
        UniqueConstraint("owner_id", "name", name="uq_saved_view_owner_name"),
        UniqueConstraint("group_id", "name", name="uq_saved_view_group_name"),
        CheckConstraint("(owner_id IS NULL) <> (group_id IS NULL)", name="ck_saved_view_one_home"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(60))
    owner_id: int | None = Field(default=None, foreign_key="analyst.id")
    group_id: int | None = Field(default=None, foreign_key="support_group.id")
    #: The filter as ``desk.saved_views.ViewFilter`` writes it.
    filter: dict[str, Any] = Field(default_factory=dict, sa_type=JSONData)
    position: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_by_id: int | None = Field(default=None, foreign_key="analyst.id")
    created_at: datetime = _ts(nullable=False)


class SavedCall(SQLModel, table=True):
    """A call the intake form saved, by the key its draft carried: saving the same draft
    again (the app stopped between the desk's commit and forgetting the draft, or the
    answer to a save was lost with the network) finds the tickets it made instead of
    opening them twice."""

    __tablename__ = "saved_call"

    key: str = Field(sa_type=String(64), primary_key=True)
    #: The call's tickets, the first one first (the others are linked to it).
    ticket_ids: list[int] = Field(default_factory=list, sa_type=JSONData)
    analyst_id: int | None = Field(default=None, foreign_key="analyst.id")
    saved_at: datetime = _ts(nullable=False)


class PhoneCall(SQLModel, table=True):
    """A call the phone system announced (``deskterm serve cti``), one row per PBX call id.

    The numbers are kept as the PBX sent them (a control character refuses the post) and in E.164
    for matching; ``contact_id`` is the caller the new-call screen's lookup found. ``missed``
    is set on a hangup that nobody answered (busy and cancelled included, not a forwarded
    call): the missed-calls view reads it with ``called_back_at`` still empty.
    """

    __tablename__ = "phone_call"
    __table_args__ = (
        UniqueConstraint("call_id", name="uq_phone_call_call_id"),
        # Missed calls, newest first, a page at a time.
        Index("ix_phone_call_missed", "missed", "started_at", "id"),
        Index("ix_phone_call_started", "started_at", "id"),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    call_id: str = Field(sa_type=String(250))
    direction: str = Field(sa_type=String(8))
    from_number: str = Field(sa_type=String(64))
    to_number: str = Field(sa_type=String(64))
    from_e164: str | None = Field(default=None, sa_type=String(32))
    to_e164: str | None = Field(default=None, sa_type=String(32))
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    #: Who answered it, or (before an answer) the analyst it rang first.
    analyst_id: int | None = Field(default=None, foreign_key="analyst.id")
    #: ``user[]`` and ``answeringNumber`` as the PBX named them, for a reader.
    users: str = Field(default="", sa_type=String(300), sa_column_kwargs={"server_default": _EMPTY})
    queue: str | None = Field(default=None, sa_type=String(100))
    state: str = Field(default="ringing", sa_type=String(16))
    outcome: str | None = Field(default=None, sa_type=String(24))
    cause: str | None = Field(default=None, sa_type=String(32))
    missed: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    started_at: datetime = _ts(nullable=False)
    answered_at: datetime | None = _ts()
    ended_at: datetime | None = _ts()
    duration_seconds: int | None = None
    called_back_at: datetime | None = _ts()
    called_back_by_id: int | None = Field(default=None, foreign_key="analyst.id")
    #: The ticket the call was saved to, or the one a call-back was logged on.
    ticket_id: int | None = Field(default=None, sa_type=BigId, foreign_key="ticket.id")


class PhoneCallRing(SQLModel, table=True):
    """Each analyst a call rings (a group call rings several): "calls ringing for me"."""

    __tablename__ = "phone_call_ring"
    __table_args__ = (Index("ix_phone_call_ring_analyst", "analyst_id", "call_pk"),)

    call_pk: int = Field(sa_type=BigId, foreign_key="phone_call.id", primary_key=True)
    analyst_id: int = Field(foreign_key="analyst.id", primary_key=True)


class AnalystExtension(SQLModel, table=True):
    """The phone extension the PBX rings an analyst on (``answeringNumber``): one each, and
    no two alike. A table of its own rather than a column of ``analyst``, so that code
    reading analysts is the same on a desk before and after migration 0014."""

    __tablename__ = "analyst_extension"
    __table_args__ = (UniqueConstraint("extension", name="uq_analyst_extension"),)

    analyst_id: int = Field(foreign_key="analyst.id", primary_key=True)
    extension: str = Field(sa_type=String(32))


class CtiToken(SQLModel, table=True):
    """A secret in the URL a phone system posts its call events to; only its SHA-256 kept."""

    __tablename__ = "cti_token"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_cti_token_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_type=String(64))
    created_at: datetime = _ts(nullable=False)
    created_by_id: int | None = Field(default=None, foreign_key="analyst.id")
    last_used_at: datetime | None = _ts()


# The customer's web pages (issue 20).
#
# - ``portal_key``: the one secret this desk signs customers' links with, made on first use
#   and never shown (a link carries a signature, not the secret);
# - ``portal_link``: per ticket, the generation its links carry; revoking a ticket's links
#   bumps it, and every link signed with an earlier one stops working;
# - ``portal_survey``: what a survey answered on the web adds to ``survey`` (the row the
#   dashboard reads): the customer's comment and when they first answered, which starts the
#   days during which they may change their answer;
# - ``portal_request``: a "contact us" form of a known contact, until its confirmation link
#   opens a ticket (and the queue of that confirmation mail);
# - ``portal_sms_token``: the secrets SMS gateways post inbound texts with.


class PortalKey(SQLModel, table=True):
    """The desk's signing secret for customers' links: one row, ``id`` 1."""

    __tablename__ = "portal_key"

    id: int | None = Field(default=None, primary_key=True)
    #: 64 hex digits (32 random bytes).
    secret: str = Field(sa_type=String(64))
    created_at: datetime = _ts(nullable=False)


class PortalLink(SQLModel, table=True):
    """A ticket's link generation; no row is generation 1 (links never revoked)."""

    __tablename__ = "portal_link"

    ticket_id: int = Field(sa_type=BigId, foreign_key="ticket.id", primary_key=True)
    generation: int = Field(default=1)
    revoked_at: datetime | None = _ts()
    revoked_by_id: int | None = Field(default=None, foreign_key="analyst.id")


class PortalSurvey(SQLModel, table=True):
    """The web survey's comment and first answer time, beside the ticket's ``survey`` row."""

    __tablename__ = "portal_survey"

    ticket_id: int = Field(sa_type=BigId, foreign_key="ticket.id", primary_key=True)
    comment: str | None = Field(default=None, sa_type=Text)
    first_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class PortalRequest(SQLModel, table=True):
    """A "contact us" form sent by a known contact's address, waiting for its confirmation.

    It is the queue of its own confirmation mail (``mail_status``: pending, sending, sent,
    dead; as the outbox's rows, which need a ticket this request does not have yet) and,
    once the link in that mail was opened, names the ticket it opened (``ticket_id``): a
    second click opens nothing more. ``nonce`` is signed into the link with the desk's secret.
    """

    __tablename__ = "portal_request"
    __table_args__ = (Index("ix_portal_request_due", "mail_status", "next_attempt_at", "id"),)

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id")
    subject: str = Field(sa_type=String(200))
    text: str = Field(sa_type=Text)
    #: How the visitor reached the server (``https://help.example.com``): the link's base.
    base_url: str = Field(sa_type=String(300))
    nonce: str = Field(sa_type=String(32))
    created_at: datetime = _ts(nullable=False)
    mail_status: str = Field(default="pending", sa_type=String(16))
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts(nullable=False)
    claimed_at: datetime | None = _ts()
    last_error: str | None = Field(default=None, sa_type=String(500))
    sent_at: datetime | None = _ts()
    ticket_id: int | None = Field(default=None, sa_type=BigId, foreign_key="ticket.id")
    confirmed_at: datetime | None = _ts()


class PortalSmsToken(SQLModel, table=True):
    """A secret in the URL an SMS gateway posts inbound texts to; only its SHA-256 kept
    (as ``cti_token``, whose rows open the phone system's door and no other)."""

    __tablename__ = "portal_sms_token"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_portal_sms_token_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_type=String(64))
    created_at: datetime = _ts(nullable=False)
    created_by_id: int | None = Field(default=None, foreign_key="analyst.id")
    last_used_at: datetime | None = _ts()
