"""Applying and inspecting migrations.

The revision check at start-up reads ``alembic_version`` directly and compares it with
``HEAD``, so opening the app does not load Alembic's script machinery; a test keeps ``HEAD``
equal to the newest migration file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text

from deskterm.db.engine import Database
from deskterm.domain.errors import SchemaMismatch

HEAD = "0021_time_worked"
#: Every revision this code knows, oldest first.
KNOWN = (
    "0001_initial",
    "0002_callbacks",
    "0003_outbox",
    "0004_sla",
    "0005_kb",
    "0006_lookup_indexes",
    "0007_shared_desk",
    "0008_ticket_search",
    "0009_mail_trust",
    "0010_event_writer",
    "0011_caller_lookup",
    "0012_lookup_grants",
    "0013_saved_calls",
    "0014_cti",
    "0015_languages",
    "0016_portal",
    "0017_contact_notify",
    "0018_analyst_keys",
    "0019_saved_views",
    "0020_text_modules",
    "0021_time_worked",
)

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class SchemaState:
    url: str
    dialect: str
    revision: str | None
    head: str
    empty: bool

    @property
    def current(self) -> bool:
        return self.revision == self.head

    @property
    def newer_than_code(self) -> bool:
        return self.revision is not None and self.revision not in KNOWN


def schema_state(db: Database) -> SchemaState:
    with db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        revision = None
        if "alembic_version" in tables:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        conn.rollback()
    return SchemaState(
        url=db.describe(),
        dialect=db.dialect,
        revision=revision,
        head=HEAD,
        empty=not (tables - {"alembic_version"}),
    )


def upgrade(db: Database, revision: str = "head") -> SchemaState:
    """Bring the schema to ``revision``; refuses a database newer than this code."""
    state = schema_state(db)
    if state.newer_than_code:
        raise SchemaMismatch(
            f"database {state.url} is at revision {state.revision}, newer than this deskterm "
            f"({HEAD}); upgrade deskterm instead"
        )
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # configparser treats "%" as interpolation; URLs carry percent-escapes.
    url = db.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return schema_state(db)


def ensure_schema(db: Database) -> SchemaState:
    """Migrate an empty database on first use; refuse one at another revision."""
    state = schema_state(db)
    if state.current:
        return state
    if state.empty:
        return upgrade(db)
    if state.newer_than_code:
        raise SchemaMismatch(
            f"database {state.url} is at revision {state.revision}, newer than this deskterm "
            f"({HEAD}); upgrade deskterm"
        )
    raise SchemaMismatch(
        f"database {state.url} is at revision {state.revision or 'none'}, this deskterm needs "
        f"{HEAD}: run `deskterm db upgrade`"
    )
