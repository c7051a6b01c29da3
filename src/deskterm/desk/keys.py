"""Analysts' SSH public keys: the only way into ``deskterm serve ssh``.

A key belongs to exactly one analyst (the fingerprint is unique), so the key a connection
signs with says who is at the other end, whatever user name the client gives. The server
looks a key up on every connection: a key removed here, or an analyst deactivated, no
longer opens anything from that moment on.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from deskterm.db.models import Analyst, AnalystKey
from deskterm.desk import clock
from deskterm.desk.lookups import analyst_by_login
from deskterm.desk.schemas import KeyPublic
from deskterm.desk.sshkeys import parse_public_keys
from deskterm.domain.errors import InvalidInput, NotFound, PermissionDenied
from deskterm.domain.permissions import Actor, may_manage_keys, may_see_keys
from deskterm.domain.sshkeys import COMMENT_MAX, fingerprint_form
from deskterm.domain.text import clean_line, limit_length
from deskterm.i18n import _


def add_keys(
    session: Session, actor: Actor, *, login: str, text: str, comment: str | None = None
) -> list[KeyPublic]:
    """Register every public key in ``text`` (one key, or authorized_keys-style lines) for
    the analyst ``login``. All of them or none: one bad line refuses the whole text."""
    analyst = analyst_by_login(session, login)
    assert analyst.id is not None
    if not may_manage_keys(actor, analyst.id):
        raise PermissionDenied(
            _("only an admin may add keys for {login}").format(login=analyst.login)
        )
    if not analyst.active:
        raise InvalidInput(
            _("{login} is deactivated: a key would not let them in").format(login=analyst.login),
            field="login",
        )
    keys = parse_public_keys(text)
    label = None
    if comment is not None:
        label = limit_length(clean_line(comment), field="comment", limit=COMMENT_MAX)
    holders: dict[str, str] = dict(
        session.execute(
            select(col(AnalystKey.fingerprint), col(Analyst.login))
            .join(Analyst, col(Analyst.id) == col(AnalystKey.analyst_id))
            .where(col(AnalystKey.fingerprint).in_([k.fingerprint for k in keys]))
        ).all()
    )
    for key in keys:
        holder = holders.get(key.fingerprint)
        if holder is not None:
            if len(keys) > 1:
                said = _(
                    "the key {fingerprint} (line {line}) is registered to {holder} already; "
                    "one key signs in one analyst"
                )
            else:
                said = _(
                    "the key {fingerprint} is registered to {holder} already; one key signs "
                    "in one analyst"
                )
            raise InvalidInput(
                said.format(fingerprint=key.fingerprint, line=key.line, holder=holder),
                field="key",
            )
    now = clock.now()
    rows = [
        AnalystKey(
            analyst_id=analyst.id,
            algorithm=key.algorithm,
            fingerprint=key.fingerprint,
            public_key=key.text,
            comment=label if label is not None else key.comment,
            added_at=now,
            added_by_id=actor.id,
        )
        for key in keys
    ]
    session.add_all(rows)
    try:
        session.flush()
    except IntegrityError:
        # Two admins registering the same key at the same moment: the unique fingerprint
        # decides, and the loser is told in words rather than with a constraint name.
        raise InvalidInput(
            _(
                "one of these keys was registered to someone meanwhile: see `deskterm analyst key "
                "list` and try again"
            ),
            field="key",
        ) from None
    return _public(session, rows)


def list_keys(session: Session, actor: Actor, *, login: str | None = None) -> list[KeyPublic]:
    """The keys of ``login``; without it, every key a supervisor may see, or one's own."""
    query = select(AnalystKey).order_by(col(AnalystKey.analyst_id), col(AnalystKey.id))
    if login is not None:
        analyst = analyst_by_login(session, login)
        assert analyst.id is not None
        if not may_see_keys(actor, analyst.id):
            raise PermissionDenied(
                _("only a supervisor may see the keys of {login}").format(login=analyst.login)
            )
        query = query.where(col(AnalystKey.analyst_id) == analyst.id)
    elif not actor.is_supervisor:
        query = query.where(col(AnalystKey.analyst_id) == actor.id)
    return _public(session, session.scalars(query).all())


def remove_key(session: Session, actor: Actor, *, login: str, key: str) -> KeyPublic:
    """Stop a key from signing ``login`` in. ``key`` is its fingerprint (``SHA256:...``, as
    ``key list`` shows it) or its id (``12`` or ``#12``)."""
    analyst = analyst_by_login(session, login)
    assert analyst.id is not None
    if not may_manage_keys(actor, analyst.id):
        raise PermissionDenied(
            _("only an admin may remove keys of {login}").format(login=analyst.login)
        )
    wanted = clean_line(key)
    query = select(AnalystKey).where(col(AnalystKey.analyst_id) == analyst.id)
    number = wanted.removeprefix("#")
    if number.isascii() and number.isdigit() and len(number) < 10:
        query = query.where(col(AnalystKey.id) == int(number))
    else:
        query = query.where(col(AnalystKey.fingerprint) == fingerprint_form(wanted))
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(
            _("{login} has no key {wanted!r} (see `deskterm analyst key list {login}`)").format(
                login=analyst.login, wanted=wanted
            )
        )
    public = _public(session, [row])[0]
    session.delete(row)
    session.flush()
    return public


def key_owner(session: Session, actor: Actor, *, fingerprint: str) -> KeyPublic | None:
    """The key and its analyst, if ``fingerprint`` signs in an active analyst (the SSH
    server asks this on every connection)."""
    row = session.scalars(
        select(AnalystKey)
        .join(Analyst, col(Analyst.id) == col(AnalystKey.analyst_id))
        .where(col(AnalystKey.fingerprint) == fingerprint, col(Analyst.active))
    ).first()
    return None if row is None else _public(session, [row])[0]


def key_used(session: Session, actor: Actor, *, fingerprint: str) -> None:
    """Remember that a key just signed someone in (``key list`` shows when)."""
    session.execute(
        update(AnalystKey)
        .where(col(AnalystKey.fingerprint) == fingerprint)
        .values(last_used_at=clock.now())
    )


def _public(session: Session, rows: Sequence[AnalystKey]) -> list[KeyPublic]:
    if not rows:
        return []
    adder = aliased(Analyst)
    people = {
        key_id: (login, name, added_by)
        for key_id, login, name, added_by in session.execute(
            select(col(AnalystKey.id), col(Analyst.login), col(Analyst.name), col(adder.login))
            .join(Analyst, col(Analyst.id) == col(AnalystKey.analyst_id))
            .outerjoin(adder, col(adder.id) == col(AnalystKey.added_by_id))
            .where(col(AnalystKey.id).in_([r.id for r in rows if r.id is not None]))
        )
    }
    result = []
    for row in rows:
        assert row.id is not None
        login, name, added_by = people[row.id]
        result.append(
            KeyPublic(
                id=row.id,
                login=login,
                name=name,
                algorithm=row.algorithm,
                fingerprint=row.fingerprint,
                comment=row.comment,
                public_key=row.public_key,
                added_at=row.added_at,
                added_by=added_by,
                last_used_at=row.last_used_at,
            )
        )
    return result
