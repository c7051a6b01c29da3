"""Contacts (callers), their organizations and their assets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, union
from sqlalchemy.orm import Session

from deskterm.db.models import Asset, Contact, Organization, Ticket
from deskterm.desk import clock
from deskterm.desk.lookups import contact_by_key
from deskterm.desk.schemas import AssetPublic, ContactPublic
from deskterm.domain.enums import OPEN_STATUSES, AssetKind, Channel
from deskterm.domain.errors import InvalidInput
from deskterm.domain.permissions import Actor
from deskterm.domain.text import (
    NAME_MAX,
    SHORT_MAX,
    clean_line,
    limit_length,
    optional_line,
    phone_digits,
    required_line,
)

#: Fewer characters than this find nothing: a one-letter prefix would match half the desk.
MIN_SEARCH = 2


def organization_named(session: Session, name: str | None) -> Organization | None:
    """The organization called ``name``, created if new."""
    text = optional_line(name, field="organization", limit=200)
    if not text:
        return None
    org = session.scalars(
        # The exact name too: SQLite's lower() folds ASCII only.
        select(Organization).where(
            (func.lower(Organization.name) == text.lower()) | (Organization.name == text)
        )
    ).first()
    if org is None:
        org = Organization(name=text)
        session.add(org)
        session.flush()
    return org


def _phone(value: str | None, field: str) -> tuple[str | None, str | None]:
    text = optional_line(value, field=field, limit=64)
    if not text:
        return None, None
    digits = phone_digits(text)
    if len(digits) < 3:
        raise InvalidInput(f"{value!r} is not a phone number", field=field)
    return text, digits


def checked_email(text: str | None, *, field: str = "email") -> str | None:
    """An address mail can be sent to exactly as written, normalised; ``None`` when empty.

    Checked by email-validator (syntax only: the desk never asks DNS). A loose form such as
    ``"x"<victim@b.example>`` is refused, not read: a mail relay would take it as the local
    mailbox ``x`` while the ticket's log showed the other address.
    """
    value = (text or "").strip()
    if not value:
        return None
    from email_validator import EmailNotValidError, validate_email

    shown = value if len(value) <= 80 else value[:77] + "..."
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{shown!r} is not an email address: {exc}", field=field) from None
    # Lower case throughout, as every address the desk stores and compares.
    return checked.normalized.lower()


def add_contact(
    session: Session,
    actor: Actor,
    *,
    name: str,
    email: str | None = None,
    phone: str | None = None,
    mobile: str | None = None,
    organization: str | None = None,
    location: str | None = None,
    language: str | None = None,
    vip: bool = False,
    preferred_channel: str | None = None,
) -> ContactPublic:
    clean_name = required_line(name, field="name", limit=NAME_MAX)
    prefers = _preference(preferred_channel)
    address = checked_email(email)
    if address and session.scalars(select(Contact.id).where(Contact.email == address)).first():
        raise InvalidInput(f"a contact with email {address} exists already", field="email")
    phone_text, phone_d = _phone(phone, "phone")
    mobile_text, mobile_d = _phone(mobile, "mobile")
    org = organization_named(session, organization)
    contact = Contact(
        name=clean_name,
        name_lower=clean_name.lower(),
        email=address,
        phone=phone_text,
        phone_digits=phone_d,
        mobile=mobile_text,
        mobile_digits=mobile_d,
        organization_id=org.id if org else None,
        location=optional_line(location, field="location", limit=200),
        language=optional_line(language, field="language", limit=16),
        preferred_channel=prefers,
        vip=vip,
        created_at=clock.now(),
    )
    session.add(contact)
    session.flush()
    return contact_public(session, contact)


def _preference(value: str | None) -> str | None:
    """How the contact wants to hear from us: email, sms or phone."""
    key = (value or "").strip().lower()
    if not key:
        return None
    if key not in (Channel.EMAIL, Channel.SMS, Channel.PHONE):
        raise InvalidInput(
            f"unknown channel {value!r}: use email, sms or phone", field="preferred_channel"
        )
    return key


def add_asset(
    session: Session,
    actor: Actor,
    *,
    contact: str,
    kind: str,
    product: str,
    model_number: str | None = None,
    serial_number: str | None = None,
    account_number: str | None = None,
) -> AssetPublic:
    owner = contact_by_key(session, contact)
    try:
        kind_value = AssetKind(kind.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown asset kind {kind!r}: use {', '.join(k.value for k in AssetKind)}",
            field="kind",
        ) from None
    asset = Asset(
        contact_id=owner.id,
        organization_id=owner.organization_id,
        kind=kind_value,
        product=required_line(product, field="product"),
        model_number=optional_line(model_number, field="model", limit=100),
        serial_number=optional_line(serial_number, field="serial", limit=100),
        account_number=optional_line(account_number, field="account", limit=100),
    )
    session.add(asset)
    session.flush()
    return _asset_public(asset)


def get_contact(session: Session, actor: Actor, *, key: str) -> ContactPublic:
    return contact_public(session, contact_by_key(session, key))


def list_contacts(
    session: Session, actor: Actor, *, organization: str | None = None, limit: int = 50
) -> list[ContactPublic]:
    query = select(Contact).order_by(Contact.name_lower, Contact.id).limit(_limit(limit))
    if organization:
        query = query.join(Organization, Organization.id == Contact.organization_id).where(
            func.lower(Organization.name) == organization.strip().lower()
        )
    return [contact_public(session, c, with_assets=False) for c in session.scalars(query)]


def find_contacts(
    session: Session, actor: Actor, *, text: str, limit: int = 20
) -> list[ContactPublic]:
    """Callers as the analyst types: name prefix, phone fragment, email or organization prefix.

    Each way of matching is its own branch, read in name order by an index and cut at
    ``limit``; the branches' union is cut again and read with the organization and the open
    ticket count in the same statement. (One OR over all of them made SQLite walk the whole
    name index whenever a prefix matched nobody, and a query per contact for the rest.)
    """
    needle = clean_line(text).lower()
    if len(needle) < MIN_SEARCH:
        return []
    # Nothing stored is longer than an address (SHORT_MAX), so a longer text matches no one;
    # refused in one line rather than sent on (SQLite refuses a LIKE pattern of 50,000 bytes).
    limit_length(needle, field="search text", limit=SHORT_MAX)
    limit = _limit(limit)
    sqlite = session.get_bind().dialect.name == "sqlite"
    branches = [_prefix(Contact.name_lower, needle, sqlite)]
    if "@" in needle:
        branches.append(_prefix(Contact.email, needle, sqlite))
    digits = phone_digits(needle)
    if len(digits) >= 3 and len(digits) * 2 >= len(needle.replace(" ", "")):
        phone = or_(
            Contact.phone_digits.contains(digits, autoescape=True),
            Contact.mobile_digits.contains(digits, autoescape=True),
        )
        # On SQLite, ordered by an expression no index serves, on purpose: a fragment matches
        # anywhere in the number, and SQLite, knowing nothing of how many rows match, walks
        # the name index until 20 do: 1 ms for a common fragment, over 100 ms for a rare one.
        # One pass over the table takes about 20 ms at 100,000 callers either way.
        # PostgreSQL's planner weighs both ways itself (6 ms median, 23 ms p95 there).
        order = func.lower(Contact.name_lower) if sqlite else Contact.name_lower
        branches.append((phone, order))
    # Organizations are few: read the matching ones first. As a subquery, a prefix that
    # matched none still had PostgreSQL walk every contact in name order looking for them.
    org_ids = session.scalars(
        select(Organization.id).where(
            func.lower(Organization.name).startswith(needle, autoescape=True)
        )
    ).all()
    if org_ids:
        branches.append((Contact.organization_id.in_(org_ids), Contact.name_lower))
    parts = [
        select(Contact.id).where(branch).order_by(order, Contact.id).limit(limit).subquery()
        for branch, order in branches
    ]
    found = union(*(select(part.c.id) for part in parts)).subquery("found")
    open_count = (
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.contact_id == Contact.id, Ticket.status.in_(list(OPEN_STATUSES)))
        .scalar_subquery()
    )
    rows = session.execute(
        select(Contact, Organization.name, open_count)
        .join(found, found.c.id == Contact.id)
        .outerjoin(Organization, Organization.id == Contact.organization_id)
        .order_by(Contact.name_lower, Contact.id)
        .limit(limit)
    ).all()
    return [_public(contact, organization, (), count or 0) for contact, organization, count in rows]


def _prefix(column: Any, prefix: str, sqlite: bool) -> tuple[ColumnElement[bool], Any]:
    """``column`` starts with ``prefix``, and the order to read such rows in by an index.

    A prefix is exactly a range in code point order: SQLite's default (BINARY) collation,
    and PostgreSQL's "C" collation, whatever the database's own. As a range an index serves
    it, where SQLite never uses an index for LIKE on a BINARY column and PostgreSQL only
    with a C-collated (or ``text_pattern_ops``) index. On PostgreSQL the index for this is
    ``(column COLLATE "C")``; without it the branch reads the matches and sorts them, which
    is still better than walking the whole name index in its linguistic order.
    """
    key = column if sqlite else column.collate("C")
    conditions = [key >= prefix, key.startswith(prefix, autoescape=True)]
    last = ord(prefix[-1])
    if last < 0x10FFFF:
        conditions.append(key < prefix[:-1] + chr(last + 1))
    return and_(*conditions), key


def contact_public(
    session: Session, contact: Contact, *, with_assets: bool = True
) -> ContactPublic:
    org = session.get(Organization, contact.organization_id) if contact.organization_id else None
    assets: Sequence[Asset] = ()
    if with_assets:
        assets = session.scalars(
            select(Asset).where(Asset.contact_id == contact.id).order_by(Asset.id)
        ).all()
    open_count = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.contact_id == contact.id, Ticket.status.in_(list(OPEN_STATUSES)))
    )
    return _public(contact, org.name if org else None, assets, open_count or 0)


def _public(
    contact: Contact, organization: str | None, assets: Sequence[Asset], open_tickets: int
) -> ContactPublic:
    assert contact.id is not None
    return ContactPublic(
        id=contact.id,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        mobile=contact.mobile,
        organization=organization,
        location=contact.location,
        language=contact.language,
        vip=contact.vip,
        assets=[_asset_public(a) for a in assets],
        open_tickets=open_tickets,
    )


def contact_assets(session: Session, contact_id: int) -> list[AssetPublic]:
    """A contact's assets, as a ticket's card lists them (columns: no ORM objects)."""
    rows = session.execute(
        select(
            Asset.id,
            Asset.kind,
            Asset.product,
            Asset.model_number,
            Asset.serial_number,
            Asset.account_number,
        )
        .where(Asset.contact_id == contact_id)
        .order_by(Asset.id)
    )
    return [
        AssetPublic(
            id=asset_id,
            kind=kind,
            product=product,
            model_number=model,
            serial_number=serial,
            account_number=account,
        )
        for asset_id, kind, product, model, serial, account in rows
    ]


def _asset_public(asset: Asset) -> AssetPublic:
    assert asset.id is not None
    return AssetPublic(
        id=asset.id,
        kind=asset.kind,
        product=asset.product,
        model_number=asset.model_number,
        serial_number=asset.serial_number,
        account_number=asset.account_number,
    )


def _limit(limit: int) -> int:
    if limit < 1 or limit > 1000:
        raise InvalidInput(f"limit must be between 1 and 1000, not {limit}", field="limit")
    return limit
