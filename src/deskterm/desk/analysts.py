"""Analysts, their groups and their availability."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from deskterm.db.engine import Database
from deskterm.db.models import Analyst, AnalystGroup, SupportGroup, Ticket
from deskterm.desk import clock
from deskterm.desk.lookups import analyst_by_login, group_by_name
from deskterm.desk.schemas import AnalystPublic, GroupPublic
from deskterm.domain.enums import OPEN_STATUSES, Availability, Role
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.domain.permissions import (
    SYSTEM,
    Actor,
    may_manage_analysts,
    may_manage_desk,
    may_set_away,
)
from deskterm.domain.text import email_address, optional_line, required_line
from deskterm.i18n import LANGUAGES, _, normalize

_Added = TypeVar("_Added")
_LOGIN = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")


def _check_level(level: int) -> int:
    if level not in (1, 2, 3):
        raise InvalidInput(
            _("support level must be 1, 2 or 3, not {level}").format(level=level), field="level"
        )
    return level


#: The tags an analyst's or a contact's language may be, as a refusal names them.
LANGUAGE_TAGS = (*LANGUAGES[:3], "pt-BR", "pt-PT", *LANGUAGES[3:])


def check_language(value: str | None, *, field: str = "language") -> str | None:
    """One of ``LANGUAGE_TAGS`` for a language deskterm speaks, however named (``German``,
    ``de_DE.UTF-8`` and ``de-AT`` are ``de``); none for an empty value; any other refused."""
    if value is None or not value.strip():
        return None
    tag = normalize(value)
    if tag is None:
        raise InvalidInput(
            _("deskterm does not speak {language!r}: give one of {languages}").format(
                language=value.strip()[:40], languages=", ".join(LANGUAGE_TAGS)
            ),
            field=field,
        )
    # A region deskterm has no catalog for reads its language's.
    return tag if tag in LANGUAGE_TAGS else tag.partition("-")[0]


def add_analyst(
    session: Session,
    actor: Actor | None,
    *,
    login: str,
    name: str,
    role: str = Role.AGENT,
    level: int = 1,
    groups: Sequence[str] = (),
    email: str | None = None,
    extension: str | None = None,
    language: str | None = None,
) -> AnalystPublic:
    """Add an analyst. On a desk with no analysts, anyone may add the first, as an admin.
    ``extension``: the phone extension the PBX rings them on (desk/cti.py); ``language``:
    the one they read the app and the CLI in (none: their locale's)."""
    tag = check_language(language)
    login = login.strip().lower()
    if not _LOGIN.match(login):
        raise InvalidInput(
            _(
                "login {login!r} must start with a letter and hold only a-z, 0-9, '.', '_' or '-'"
            ).format(login=login),
            field="login",
        )
    if actor is None:
        role = Role.ADMIN
    elif not may_manage_analysts(actor):
        raise PermissionDenied(_("only an admin may add analysts"))
    try:
        role = Role(role.strip().lower())
    except ValueError:
        raise InvalidInput(
            _("unknown role {role!r}: use {roles}").format(
                role=role, roles=", ".join(r.value for r in Role)
            ),
            field="role",
        ) from None
    if (
        session.scalars(select(col(Analyst.id)).where(col(Analyst.login) == login)).first()
        is not None
    ):
        raise InvalidInput(
            _("an analyst with login {login!r} exists already").format(login=login), field="login"
        )
    # By id, so "Network" and "network" given together make one membership, not a crash.
    group_rows = list({row.id: row for row in (group_by_name(session, g) for g in groups)}.values())
    analyst = Analyst(
        login=login,
        name=required_line(name, field="name"),
        email=email_address(email),
        role=role,
        level=_check_level(level),
        language=tag,
        created_at=clock.now(),
    )
    session.add(analyst)
    session.flush()
    assert analyst.id is not None
    for group in group_rows:
        assert group.id is not None
        session.add(AnalystGroup(analyst_id=analyst.id, group_id=group.id))
    session.flush()
    if extension:
        from deskterm.desk.cti import set_extension

        # Adding an analyst takes an admin (or the first on an empty desk), who may set it.
        set_extension(session, actor or SYSTEM, login=login, extension=extension)
    return _public(session, [analyst])[0]


def add_analyst_with_extension(
    session: Session,
    actor: Actor | None,
    add: Callable[..., _Added],
    *,
    extension: str | None = None,
    **fields: Any,
) -> _Added:
    """``add`` (another way of adding, such as with a database login) and the extension,
    in one transaction."""
    added = add(session, actor, **fields)
    if extension:
        from deskterm.desk.cti import set_extension

        set_extension(session, actor or SYSTEM, login=fields["login"], extension=extension)
    return added


def edit_analyst(
    session: Session,
    actor: Actor,
    *,
    login: str,
    language: str | None = None,
    extension: str | None = None,
) -> AnalystPublic:
    """Change an analyst's settings; ``None`` leaves one as it is, ``""`` clears it.

    ``language``: the analyst their own, an admin anyone's. ``extension``: supervisors
    (``cti.set_extension``). Everything is checked before anything changes.
    """
    analyst = analyst_by_login(session, login)
    assert analyst.id is not None
    if language is not None:
        tag = check_language(language)
        if analyst.id != actor.id and not may_manage_analysts(actor):
            raise PermissionDenied(
                _("only an admin may set another analyst's language ({login})").format(
                    login=analyst.login
                )
            )
    if extension is not None:
        from deskterm.desk.cti import set_extension

        set_extension(session, actor, login=analyst.login, extension=extension)
    if language is not None:
        analyst.language = tag
    session.flush()
    return _public(session, [analyst])[0]


def desk_is_empty(db: Database) -> bool:
    """No analysts and no tickets yet: a desk a demo may fill."""
    with db.read() as session:
        return not (
            session.scalars(select(col(Analyst.id)).limit(1)).first()
            or session.scalars(select(col(Ticket.id)).limit(1)).first()
        )


def list_analysts(
    session: Session, actor: Actor, *, group: str | None = None, include_inactive: bool = False
) -> list[AnalystPublic]:
    query = select(Analyst).order_by(col(Analyst.login))
    if group:
        group_row = group_by_name(session, group)
        query = query.join(AnalystGroup, col(AnalystGroup.analyst_id) == col(Analyst.id)).where(
            col(AnalystGroup.group_id) == group_row.id
        )
    if not include_inactive:
        query = query.where(col(Analyst.active))
    return _public(session, session.scalars(query).all())


def get_analyst(session: Session, actor: Actor, *, login: str) -> AnalystPublic:
    return _public(session, [analyst_by_login(session, login)])[0]


def set_away(
    session: Session,
    actor: Actor,
    *,
    login: str | None = None,
    backup: str | None = None,
    reason: str | None = None,
) -> AnalystPublic:
    """Mark an analyst away (themselves; a supervisor the analysts of their groups; an admin
    anyone), naming a backup."""
    analyst = analyst_by_login(session, login) if login else session.get(Analyst, actor.id)
    assert analyst is not None and analyst.id is not None
    if not may_set_away(actor, analyst.id, group_ids_of(session, analyst.id)):
        raise PermissionDenied(
            _(
                "only a supervisor may mark {login} away (a supervisor of one of their "
                "groups, or an admin)"
            ).format(login=analyst.login)
        )
    backup_row = analyst_by_login(session, backup) if backup else None
    if backup_row is not None:
        if backup_row.id == analyst.id:
            raise InvalidInput(_("an analyst cannot be their own backup"), field="backup")
        if backup_row.availability == Availability.AWAY:
            raise InvalidInput(
                _("{login} is away too; choose another backup").format(login=backup_row.login),
                field="backup",
            )
    analyst.availability = Availability.AWAY
    analyst.backup_id = backup_row.id if backup_row else None
    analyst.away_reason = optional_line(reason, field="reason")
    session.flush()
    return _public(session, [analyst])[0]


def group_ids_of(session: Session, analyst_id: int) -> set[int]:
    return set(
        session.scalars(
            select(col(AnalystGroup.group_id)).where(col(AnalystGroup.analyst_id) == analyst_id)
        )
    )


def set_back(session: Session, actor: Actor, *, login: str | None = None) -> AnalystPublic:
    analyst = analyst_by_login(session, login) if login else session.get(Analyst, actor.id)
    assert analyst is not None and analyst.id is not None
    if not may_set_away(actor, analyst.id, group_ids_of(session, analyst.id)):
        raise PermissionDenied(
            _(
                "only a supervisor may mark {login} back (a supervisor of one of their "
                "groups, or an admin)"
            ).format(login=analyst.login)
        )
    analyst.availability = Availability.AVAILABLE
    analyst.backup_id = None
    analyst.away_reason = None
    session.flush()
    return _public(session, [analyst])[0]


def _public(session: Session, analysts: Sequence[Analyst]) -> list[AnalystPublic]:
    ids = [a.id for a in analysts]
    if not ids:
        return []
    groups: dict[int, list[str]] = {}
    for analyst_id, name in session.execute(
        select(col(AnalystGroup.analyst_id), col(SupportGroup.name))
        .join(SupportGroup, col(SupportGroup.id) == col(AnalystGroup.group_id))
        .where(col(AnalystGroup.analyst_id).in_(ids))
        .order_by(col(SupportGroup.level), col(SupportGroup.name))
    ):
        groups.setdefault(analyst_id, []).append(name)
    workload = dict(
        session.execute(
            select(col(Ticket.assignee_id), func.count())
            .where(col(Ticket.assignee_id).in_(ids), col(Ticket.status).in_(list(OPEN_STATUSES)))
            .group_by(col(Ticket.assignee_id))
        ).all()
    )
    backup = aliased(Analyst)
    backups = dict(
        session.execute(
            select(col(Analyst.id), col(backup.login))
            .join(backup, col(backup.id) == col(Analyst.backup_id))
            .where(col(Analyst.id).in_(ids))
        ).all()
    )
    return [
        AnalystPublic(
            id=a.id,
            login=a.login,
            name=a.name,
            email=a.email,
            role=a.role,
            level=a.level,
            groups=groups.get(a.id, []),
            availability=a.availability,
            away_reason=a.away_reason,
            backup=backups.get(a.id),
            active=a.active,
            open_tickets=workload.get(a.id, 0),
            language=a.language,
        )
        for a in analysts
        if a.id is not None
    ]


def list_groups(session: Session, actor: Actor) -> list[GroupPublic]:
    escalation = aliased(SupportGroup)
    members = (
        select(col(AnalystGroup.group_id), func.count().label("n"))
        .group_by(col(AnalystGroup.group_id))
        .subquery()
    )
    rows = session.execute(
        select(SupportGroup, col(escalation.name), func.coalesce(members.c.n, 0))
        .outerjoin(escalation, col(escalation.id) == col(SupportGroup.escalation_group_id))
        .outerjoin(members, members.c.group_id == col(SupportGroup.id))
        .order_by(col(SupportGroup.level), col(SupportGroup.name))
    ).all()
    return [
        GroupPublic(
            id=g.id,
            name=g.name,
            level=g.level,
            description=g.description,
            escalates_to=esc,
            members=n,
        )
        for g, esc, n in rows
    ]


def add_group(
    session: Session,
    actor: Actor,
    *,
    name: str,
    level: int,
    description: str | None = None,
    escalates_to: str | None = None,
) -> GroupPublic:
    if not may_manage_desk(actor):
        raise PermissionDenied(_("only an admin may add groups"))
    name = required_line(name, field="name", limit=100)
    # SQLite's lower() folds ASCII only: the exact name is checked too, so a non-ASCII
    # duplicate is a clear refusal rather than a unique-constraint crash.
    if session.scalars(
        select(col(SupportGroup.id)).where(
            (func.lower(col(SupportGroup.name)) == name.lower()) | (col(SupportGroup.name) == name)
        )
    ).first():
        raise InvalidInput(
            _("a group named {name!r} exists already").format(name=name), field="name"
        )
    target = group_by_name(session, escalates_to) if escalates_to else None
    if target is not None and target.level < level:
        raise InvalidInput(
            _("{group} is level {level}: a group escalates to its own level or higher").format(
                group=target.name, level=target.level
            ),
            field="escalates_to",
        )
    group = SupportGroup(
        name=name,
        level=_check_level(level),
        description=optional_line(description, field="description"),
        escalation_group_id=target.id if target else None,
    )
    session.add(group)
    session.flush()
    return next(g for g in list_groups(session, actor) if g.id == group.id)
