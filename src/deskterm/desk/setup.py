"""Opening a desk: migrate an empty database on first use and give it its starting groups,
categories and resolution codes from ``data/``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deskterm import defaults
from deskterm.db.engine import Database, translate_errors
from deskterm.db.migrate import SchemaState, ensure_schema, upgrade
from deskterm.db.models import Category, ResolutionCode, SupportGroup
from deskterm.desk.schemas import CategoryPublic
from deskterm.domain.permissions import Actor


def open_database(url: str) -> Database:
    """The database at ``url``, migrated and seeded if it was empty, checked otherwise."""
    db = Database(url)
    try:
        with translate_errors(db):
            state = ensure_schema(db)
        if state.current:
            seed_defaults(db)
    except BaseException:
        db.dispose()
        raise
    return db


def upgrade_database(db: Database) -> SchemaState:
    state = upgrade(db)
    seed_defaults(db)
    return state


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
        parent_path, _, name = cat.path.rpartition(" > ")
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
        select(Category.id, Category.path, SupportGroup.name)
        .outerjoin(SupportGroup, SupportGroup.id == Category.default_group_id)
        .order_by(Category.path)
    ).all()
    return [CategoryPublic(id=i, path=path, group=group) for i, path, group in rows]


def list_resolution_codes(session: Session, actor: Actor) -> dict[str, str]:
    return dict(
        session.execute(
            select(ResolutionCode.code, ResolutionCode.label)
            .where(ResolutionCode.active)
            .order_by(ResolutionCode.code)
        ).all()
    )
