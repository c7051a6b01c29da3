"""Opening a desk: migrate an empty database on first use and give it its starting groups,
categories and resolution codes from ``data/``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.engine import Database, translate_errors
from deskterm.db.migrate import HEAD, SchemaState, ensure_schema, schema_state, upgrade
from deskterm.db.models import Category, ResolutionCode, SupportGroup
from deskterm.desk.schemas import CategoryPublic
from deskterm.domain.errors import SchemaMismatch
from deskterm.domain.permissions import Actor
from deskterm.i18n import _

#: The schema revision this code works with; ``deskterm db upgrade`` migrates a desk to it.
SCHEMA_HEAD = HEAD


def open_database(url: str) -> Database:
    """The database at ``url``, migrated and seeded if it was empty, checked otherwise."""
    db = Database(url)
    try:
        with translate_errors(db):
            try:
                state = ensure_schema(db)
            except SchemaMismatch:
                _refuse_foreign(db, schema_state(db))
                raise
        if state.current:
            seed_defaults(db)
    except BaseException:
        db.dispose()
        raise
    return db


def schema_status(db: Database) -> SchemaState:
    """Where the desk's database is: its revision, the one this code needs, empty or not.
    Read only: nothing is migrated or seeded."""
    return schema_state(db)


def upgrade_database(db: Database) -> SchemaState:
    before = schema_state(db)
    _refuse_foreign(db, before)
    from alembic.util.exc import CommandError

    try:
        with translate_errors(db):  # locked, gone, full: said as unavailable, as anywhere
            state = upgrade(db)
    except (DBAPIError, CommandError) as exc:
        # A migration that fails on this schema (alembic_version names a revision its tables
        # are not at, or one the scripts do not know): the upgrade is one transaction, so
        # nothing was changed; said in one line, not as a crash.
        said = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise SchemaMismatch(
            _(
                "database {database} says it is at revision {revision}, but the upgrade from "
                "there failed ({said}): its tables are not what that revision makes; restore "
                "the desk from a backup"
            ).format(database=db.describe(), revision=before.revision or "none", said=said)
        ) from exc
    seed_defaults(db)
    return state


def _refuse_foreign(db: Database, state: SchemaState) -> None:
    """A SQLite file with tables but no deskterm desk belongs to another application:
    deskterm's tables are never added to it."""
    if db.is_sqlite and state.revision is None and not state.empty:
        raise SchemaMismatch(
            _(
                "{database} holds another application's tables, not a deskterm desk: give "
                "deskterm a file of its own (--db)"
            ).format(database=db.url.database)
        )


def seed_defaults(db: Database) -> bool:
    """Load groups, categories and resolution codes into a desk that has none. Idempotent."""
    # Looked at first without the write lock: every start of every face passes here, and a
    # desk that is busy writing (or locked by a backup) must still open to read.
    with db.read() as session:
        if session.scalar(select(func.count()).select_from(SupportGroup)):
            return False
    with db.write() as session:
        if session.scalar(select(func.count()).select_from(SupportGroup)):
            return False
        _seed(session)
    return True


def _seed(session: Session) -> None:
    from deskterm import defaults  # the shipped files are read once per desk, not per start

    groups: dict[str, SupportGroup] = {}
    specs = defaults.group_specs()
    for spec in specs:
        group = SupportGroup(name=spec.name, level=spec.level, description=spec.description)
        session.add(group)
        groups[spec.name] = group
    session.flush()
    for spec in specs:
        if spec.escalates_to:
            groups[spec.name].escalation_group_id = groups[spec.escalates_to].id

    by_path: dict[str, Category] = {}
    for cat in defaults.category_specs():
        parent_path, _sep, name = cat.path.rpartition(" > ")
        parent = by_path.get(parent_path) if parent_path else None
        group_name = cat.group
        group_id = (
            groups[group_name].id if group_name else (parent.default_group_id if parent else None)
        )
        node = Category(
            name=name or cat.path,
            path=cat.path,
            parent_id=parent.id if parent else None,
            default_group_id=group_id,
        )
        session.add(node)
        session.flush()
        by_path[cat.path] = node

    for code, label in defaults.resolution_codes().items():
        session.add(ResolutionCode(code=code, label=label))


def list_categories(session: Session, actor: Actor) -> list[CategoryPublic]:
    rows = session.execute(
        select(col(Category.id), col(Category.path), col(SupportGroup.name))
        .outerjoin(SupportGroup, col(SupportGroup.id) == col(Category.default_group_id))
        .order_by(col(Category.path))
    ).all()
    return [CategoryPublic(id=i, path=path, group=group) for i, path, group in rows]


def list_resolution_codes(session: Session, actor: Actor) -> dict[str, str]:
    return dict(
        session.execute(
            select(col(ResolutionCode.code), col(ResolutionCode.label))
            .where(col(ResolutionCode.active))
            .order_by(col(ResolutionCode.code))
        ).all()
    )
