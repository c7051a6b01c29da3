"""Finding rows by the names people type, with a clear refusal when nothing matches."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deskterm.db.models import Analyst, Category, Contact, ResolutionCode, SupportGroup
from deskterm.domain.errors import InvalidInput, NotFound, UnknownAnalyst
from deskterm.domain.refs import INT_ID_MAX, ascii_number
from deskterm.domain.text import clean_line, email_address, phone_digits


def analyst_by_login(session: Session, login: str) -> Analyst:
    # Logins are stored lower-case; people type them any way. Every name typed is cleaned
    # before it reaches a query: PostgreSQL refuses a NUL byte even in a WHERE clause.
    wanted = clean_line(login).lower()
    analyst = session.scalars(select(Analyst).where(Analyst.login == wanted)).first()
    if analyst is None:
        raise UnknownAnalyst(f"no analyst with login {login!r}")
    return analyst


def group_by_name(session: Session, name: str) -> SupportGroup:
    wanted = clean_line(name)
    group = session.scalars(
        select(SupportGroup).where(func.lower(SupportGroup.name) == wanted.lower())
    ).first()
    if group is None:
        names = ", ".join(session.scalars(select(SupportGroup.name).order_by(SupportGroup.name)))
        raise NotFound(f"no group named {name!r} (groups: {names or 'none yet'})")
    return group


def category_by_path(session: Session, text: str) -> Category:
    wanted = " > ".join(part.strip() for part in clean_line(text).replace("/", ">").split(">"))
    category = session.scalars(
        select(Category).where(func.lower(Category.path) == wanted.lower())
    ).first()
    if category is None:
        # "Printer" alone is fine when only one leaf is called that.
        matches = session.scalars(
            select(Category).where(func.lower(Category.name) == wanted.lower())
        ).all()
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"no category {text!r} (see `deskterm category list`)")
    return category


def resolution_code(session: Session, code: str) -> ResolutionCode:
    row = session.get(ResolutionCode, clean_line(code).lower())
    if row is None or not row.active:
        codes = ", ".join(
            session.scalars(
                select(ResolutionCode.code)
                .where(ResolutionCode.active)
                .order_by(ResolutionCode.code)
            )
        )
        raise InvalidInput(f"unknown resolution code {code!r} (codes: {codes})", field="code")
    return row


def contact_by_key(session: Session, key: str) -> Contact:
    """A contact by id (``#12`` or ``12``), email, phone number or exact name.

    Ambiguous keys are refused with the candidates, never guessed.
    """
    text = clean_line(key)
    if not text:
        raise InvalidInput("name a contact by id, phone, email or name", field="contact")
    number = ascii_number(text.lstrip("#"))
    if number is not None and (text.startswith("#") or len(text) < 7):
        # An id past the column's range names no contact (PostgreSQL would refuse the query).
        contact = session.get(Contact, number) if number <= INT_ID_MAX else None
        if contact is None:
            raise NotFound(f"no contact with id {text}")
        return contact
    if "@" in text:
        address = email_address(text, field="contact")
        rows = session.scalars(select(Contact).where(Contact.email == address).limit(5)).all()
    elif len(digits := phone_digits(text)) >= 5 and len(digits) >= len(text.replace(" ", "")) // 2:
        rows = session.scalars(
            select(Contact)
            .where((Contact.phone_digits == digits) | (Contact.mobile_digits == digits))
            .limit(5)
        ).all()
    else:
        rows = session.scalars(
            select(Contact).where(Contact.name_lower == text.lower()).limit(5)
        ).all()
    if not rows:
        raise NotFound(f"no contact matches {key!r} (try `deskterm contact find`)")
    if len(rows) > 1:
        names = "; ".join(f"#{c.id} {c.name} <{c.email or '-'}>" for c in rows)
        raise InvalidInput(
            f"{key!r} matches several contacts: {names}; use the id", field="contact"
        )
    return rows[0]
