"""Contacts (callers), their organizations and their assets."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Asset, Contact, ContactWord, Organization, Ticket
from deskterm.desk import clock
from deskterm.desk.analysts import check_language
from deskterm.desk.lookups import MIN_SEARCH, CallerSearch, contact_by_key, session_execute
from deskterm.desk.schemas import AssetPublic, ContactPublic
from deskterm.domain.enums import OPEN_STATUSES, AssetKind, Channel
from deskterm.domain.errors import InvalidInput
from deskterm.domain.names import fold, name_words
from deskterm.domain.permissions import Actor
from deskterm.domain.phone import region_code, stored_numbers
from deskterm.domain.text import (
    NAME_MAX,
    optional_line,
    phone_digits,
    required_line,
)
from deskterm.i18n import _

__all__ = [
    "MIN_SEARCH",
    "add_asset",
    "add_contact",
    "edit_contact",
    "find_contacts",
    "get_contact",
    "list_contacts",
    "name_key",
    "notify_channels",
    "rename_contact",
]

#: The channels a contact can be sent messages on (``--notify``), in the order they are sent.
NOTIFY_CHANNELS = (Channel.EMAIL.value, Channel.SMS.value)
#: What ``--notify`` takes to go back to one message on the preferred channel.
NOTIFY_DEFAULT = "default"

#: ``contact.name_key``'s length: a folded name can be longer than the name ("ß" is "ss").
NAME_KEY_MAX = 200


def name_key(name: str) -> str:
    """How a contact's name sorts (``contact.name_key``): folded as callers are found
    (``domain.names.fold``: lower case, accents off, ``ß`` as ``ss``), so "Čech" sorts with
    "Cech" and "Müller" with "Muller"; compared by code point, ties broken by id. Migration
    0015 fills it for older contacts with the same fold; every writer of a name writes it."""
    return fold(name)[:NAME_KEY_MAX]


def organization_named(session: Session, name: str | None) -> Organization | None:
    """The organization called ``name``, created if new."""
    text = optional_line(name, field="organization", limit=200)
    if not text:
        return None
    org = session.scalars(
        # The exact name too: SQLite's lower() folds ASCII only.
        select(Organization).where(
            (func.lower(col(Organization.name)) == text.lower()) | (col(Organization.name) == text)
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
        raise InvalidInput(_("{value!r} is not a phone number").format(value=value), field=field)
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
        raise InvalidInput(
            _("{shown!r} is not an email address: {why}").format(shown=shown, why=exc),
            field=field,
        ) from None
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
    notify: str | None = None,
    region: str | None = None,
) -> ContactPublic:
    """A new contact; ``region``: where a number without a country code is (the
    ``phone_region`` setting; ``domain.phone.DEFAULT_REGION`` when not given); ``notify``:
    the channels every message goes out on (``email,sms``), none or ``default``: as
    preferred."""
    clean_name = required_line(name, field="name", limit=NAME_MAX)
    # A tag deskterm writes to customers in (``de``, ``pt-BR``), however it was named.
    spoken = check_language(language)
    try:
        region = region_code(region)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="phone_region") from None
    prefers = _preference(preferred_channel)
    channels = parse_notify(notify)
    address = checked_email(email)
    if (
        address
        and session.scalars(select(col(Contact.id)).where(col(Contact.email) == address)).first()
    ):
        raise InvalidInput(
            _("a contact with email {address} exists already").format(address=address),
            field="email",
        )
    phone_text, phone_d = _phone(phone, "phone")
    mobile_text, mobile_d = _phone(mobile, "mobile")
    phone_e164, mobile_e164, dialled = stored_numbers(phone_text, mobile_text, region=region)
    org = organization_named(session, organization)
    contact = Contact(
        name=clean_name,
        name_lower=clean_name.lower(),
        name_key=name_key(clean_name),
        email=address,
        phone=phone_text,
        phone_digits=phone_d,
        mobile=mobile_text,
        mobile_digits=mobile_d,
        phone_e164=phone_e164,
        mobile_e164=mobile_e164,
        dial_digits=dialled,
        organization_id=org.id if org else None,
        location=optional_line(location, field="location", limit=200),
        language=spoken,
        preferred_channel=prefers,
        notify=",".join(channels) if channels else None,
        vip=vip,
        created_at=clock.now(),
    )
    _check_reachable(contact)
    session.add(contact)
    session.flush()
    _write_words(session, contact)
    return contact_public(session, contact)


def _write_words(session: Session, contact: Contact) -> None:
    """The words the contact is found by (migration 0011), from its name as it is now."""
    assert contact.id is not None
    session.add_all(
        ContactWord(contact_id=contact.id, word=word, name_lower=contact.name_lower)
        for word in name_words(contact.name)
    )
    session.flush()


def rename_contact(session: Session, actor: Actor, *, key: str, name: str) -> ContactPublic:
    """The contact named ``key`` (``#12``, a phone, an address, a name) called ``name`` from
    now on: found by its new words, listed in its new place."""
    contact = contact_by_key(session, key)
    clean_name = required_line(name, field="name", limit=NAME_MAX)
    contact.name = clean_name
    contact.name_lower = clean_name.lower()
    contact.name_key = name_key(clean_name)
    session.add(contact)
    session.execute(delete(ContactWord).where(col(ContactWord.contact_id) == contact.id))
    session.flush()
    _write_words(session, contact)
    return contact_public(session, contact)


def edit_contact(
    session: Session,
    actor: Actor,
    *,
    key: str,
    email: str | None = None,
    phone: str | None = None,
    mobile: str | None = None,
    location: str | None = None,
    language: str | None = None,
    preferred_channel: str | None = None,
    notify: str | None = None,
    region: str | None = None,
) -> ContactPublic:
    """Change what is given of the contact named ``key``; ``None`` keeps a field, an empty
    text clears it (``notify``: ``default`` goes back to the preferred channel). Refused
    when the contact would be asked to be told on a channel they have no address for."""
    contact = contact_by_key(session, key)
    if email is not None:
        address = checked_email(email)
        if (
            address
            and session.scalars(
                select(col(Contact.id)).where(
                    col(Contact.email) == address, col(Contact.id) != contact.id
                )
            ).first()
        ):
            raise InvalidInput(
                _("a contact with email {address} exists already").format(address=address),
                field="email",
            )
        contact.email = address
    if phone is not None or mobile is not None:
        try:
            region = region_code(region)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="phone_region") from None
        if phone is not None:
            contact.phone, contact.phone_digits = _phone(phone, "phone")
        if mobile is not None:
            contact.mobile, contact.mobile_digits = _phone(mobile, "mobile")
        contact.phone_e164, contact.mobile_e164, contact.dial_digits = stored_numbers(
            contact.phone, contact.mobile, region=region
        )
    if location is not None:
        contact.location = optional_line(location, field="location", limit=200)
    if language is not None:
        contact.language = check_language(language)
    if preferred_channel is not None:
        contact.preferred_channel = _preference(preferred_channel)
    if notify is not None:
        channels = parse_notify(notify)
        contact.notify = ",".join(channels) if channels else None
    _check_reachable(contact)
    session.add(contact)
    session.flush()
    return contact_public(session, contact)


def parse_notify(value: str | None) -> tuple[str, ...]:
    """``--notify``'s channels in sending order; empty for ``default`` (as preferred)."""
    words = [w.strip().lower() for w in (value or "").split(",")]
    words = [w for w in words if w]
    if not words or words == [NOTIFY_DEFAULT]:
        return ()
    for word in words:
        if word == Channel.PHONE:
            raise InvalidInput(
                _(
                    "phone is not a channel to send on: use --prefer phone for a call "
                    "instead of messages"
                ),
                field="notify",
            )
        if word not in NOTIFY_CHANNELS:
            raise InvalidInput(
                _("unknown channel {value!r}: use email, sms, email,sms or default").format(
                    value=word
                ),
                field="notify",
            )
    return tuple(c for c in NOTIFY_CHANNELS if c in words)


def notify_channels(contact: Contact) -> tuple[str, ...]:
    """The channels the contact asked every message on; empty: as preferred."""
    return stored_channels(contact.notify)


def stored_channels(stored: str | None) -> tuple[str, ...]:
    """``contact.notify`` as channels, in sending order."""
    words = (stored or "").split(",")
    return tuple(c for c in NOTIFY_CHANNELS if c in words)


def _check_reachable(contact: Contact) -> None:
    """A contact is never asked to be told on a channel they have no address for."""
    channels = notify_channels(contact)
    if Channel.EMAIL in channels and not contact.email:
        raise InvalidInput(
            _("cannot send {name} messages by email: no email address (give --email)").format(
                name=contact.name
            ),
            field="notify",
        )
    if Channel.SMS in channels and not contact.mobile:
        raise InvalidInput(
            _("cannot send {name} text messages: no mobile number (give --mobile)").format(
                name=contact.name
            ),
            field="notify",
        )


def _preference(value: str | None) -> str | None:
    """How the contact wants to hear from us: email, sms or phone."""
    key = (value or "").strip().lower()
    if not key:
        return None
    if key not in (Channel.EMAIL, Channel.SMS, Channel.PHONE):
        raise InvalidInput(
            _("unknown channel {value!r}: use email, sms or phone").format(value=value),
            field="preferred_channel",
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
            _("unknown asset kind {kind!r}: use {kinds}").format(
                kind=kind, kinds=", ".join(k.value for k in AssetKind)
            ),
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
    """Contacts in the order people expect names in (``name_key``: "Čech" beside "Cech"),
    the first ``limit`` of them, read in that order from ``ix_contact_name_key``."""
    query = select(Contact).order_by(col(Contact.name_key), col(Contact.id)).limit(_limit(limit))
    if organization:
        query = query.join(
            Organization, col(Organization.id) == col(Contact.organization_id)
        ).where(func.lower(col(Organization.name)) == organization.strip().lower())
    return [contact_public(session, c, with_assets=False) for c in session.scalars(query)]


def find_contacts(
    session: Session, actor: Actor, *, text: str, limit: int = 20, region: str | None = None
) -> list[ContactPublic]:
    """Callers the way they introduce themselves, best first (``lookups.CallerSearch``).

    The whole number however said (``0118 496 6515``, ``+44 (0)118 496 6515``) or the
    whole address; any word of the name ("Schmitt"), whole, then as a prefix; the
    organization's name; the start of the address; a run of 4+ digits of a number; the
    address's domain; last a name spelt alike ("Shmitt"). Each result says what it matched
    by. ``region``: where a number without a country code is (the ``phone_region`` setting).
    """
    search = CallerSearch(
        text,
        limit=_limit(limit),
        postgres=session.get_bind().dialect.name == "postgresql",
        region=region,
    )
    found = search.run(session_execute(session))
    if not found:
        return []
    open_count = (
        select(func.count())
        .select_from(Ticket)
        .where(
            col(Ticket.contact_id) == col(Contact.id), col(Ticket.status).in_(list(OPEN_STATUSES))
        )
        .scalar_subquery()
    )
    # Columns, not ORM objects: building twenty Contact objects cost more than the query.
    rows = session.execute(
        select(
            col(Contact.id),
            col(Contact.name),
            col(Contact.email),
            col(Contact.phone),
            col(Contact.mobile),
            col(Organization.name),
            col(Contact.location),
            col(Contact.language),
            col(Contact.vip),
            open_count,
            col(Contact.preferred_channel),
            col(Contact.notify),
        )
        .outerjoin(Organization, col(Organization.id) == col(Contact.organization_id))
        .where(col(Contact.id).in_([f.id for f in found]))
    ).all()
    by_id = {row[0]: row for row in rows}
    return [
        ContactPublic(
            id=f.id,
            name=row[1],
            email=row[2],
            phone=row[3],
            mobile=row[4],
            organization=row[5],
            location=row[6],
            language=row[7],
            vip=bool(row[8]),
            open_tickets=row[9] or 0,
            preferred_channel=row[10],
            notify=list(stored_channels(row[11])) or None,
            matched=f.matched,
        )
        for f in found
        if (row := by_id.get(f.id)) is not None
    ]


def contact_public(
    session: Session, contact: Contact, *, with_assets: bool = True
) -> ContactPublic:
    org = session.get(Organization, contact.organization_id) if contact.organization_id else None
    assets: Sequence[Asset] = ()
    if with_assets:
        assets = session.scalars(
            select(Asset).where(col(Asset.contact_id) == contact.id).order_by(col(Asset.id))
        ).all()
    open_count = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(col(Ticket.contact_id) == contact.id, col(Ticket.status).in_(list(OPEN_STATUSES)))
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
        preferred_channel=contact.preferred_channel,
        notify=list(notify_channels(contact)) or None,
        assets=[_asset_public(a) for a in assets],
        open_tickets=open_tickets,
    )


def contact_assets(session: Session, contact_id: int) -> list[AssetPublic]:
    """A contact's assets, as a ticket's card lists them (columns: no ORM objects)."""
    rows = session.execute(
        select(
            col(Asset.id),
            col(Asset.kind),
            col(Asset.product),
            col(Asset.model_number),
            col(Asset.serial_number),
            col(Asset.account_number),
        )
        .where(col(Asset.contact_id) == contact_id)
        .order_by(col(Asset.id))
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
        raise InvalidInput(
            _("limit must be between 1 and 1000, not {limit}").format(limit=limit), field="limit"
        )
    return limit
