"""Who is acting: what the person says, or the database login they connect with.

``claimed`` (the default) takes the person's word: ``--as LOGIN``, else ``DESKTERM_USER``,
else the OS login. Right for a desk on one machine, where whoever can run deskterm can write
the SQLite file anyway; on a shared PostgreSQL desk it means anyone with the URL can act as
any analyst.

``database`` (PostgreSQL only) takes the database's word: the acting analyst is the one whose
login is the connection's ``session_user`` in lower case, so each analyst connects with a
role of their own (``deskterm analyst add LOGIN --create-role`` makes it). ``--as`` naming
anyone else is refused. The log stamps every event with the ``session_user`` that wrote it
(migration 0010, a column the application never writes), so an event whose actor is not its
writer, written by a modified client or by hand in psql, is reported by ``deskterm db check``
(``forged_events``). A database login can still write to the tables directly: what this
mode adds is that every write says whose login made it.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deskterm.domain.errors import InvalidInput, PermissionDenied, UnknownActor
from deskterm.domain.permissions import Actor
from deskterm.i18n import _

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from deskterm.db.engine import Database
    from deskterm.desk.schemas import AnalystPublic

# The database layer is imported where it is used: the app resolves a claimed login before
# its first paint, which must not wait for SQLAlchemy.

CLAIMED = "claimed"
DATABASE = "database"
MODES = (CLAIMED, DATABASE)

#: PostgreSQL cuts role names at 63 bytes; a longer login would map to another role.
_ROLE_MAX = 63


def os_login() -> str:
    try:
        login = getpass.getuser().strip().lower()
    except Exception:  # no USER/LOGNAME and no passwd entry (a bare container)
        login = ""
    if not login:
        raise UnknownActor(_("cannot tell who you are from the system: use --as LOGIN"))
    return login


@dataclass(frozen=True)
class Identity:
    """How this desk knows who is acting (``mode``), and who the person says they are:
    ``given`` (``--as``) and ``configured`` (``DESKTERM_USER``)."""

    mode: str = CLAIMED
    given: str | None = None
    configured: str | None = None

    def claim(self) -> tuple[str, str] | None:
        """The login the person names and where they named it; ``None`` when they name none.
        An empty ``--as`` is refused: it must never quietly become the OS login."""
        if self.given is not None:
            login = self.given.strip().lower()
            if not login:
                raise UnknownActor(
                    _("--as names nobody: give an analyst's login, or leave --as out")
                )
            return login, "--as"
        # An empty variable is an unset one (`DESKTERM_USER= deskterm ...`), as for every
        # other DESKTERM_ setting.
        if self.configured is not None and self.configured.strip():
            return self.configured.strip().lower(), "DESKTERM_USER"
        return None

    def local_login(self) -> str | None:
        """The acting login without asking the database (claimed identity), or ``None``
        when only the database can say (database identity)."""
        claim = self.claim()
        if self.mode == DATABASE:
            return None
        return claim[0] if claim else os_login()

    def login(self, db: Database) -> str:
        """The acting login, checked against the database's word in database identity."""
        local = self.local_login()
        return local if local is not None else database_login(db, self.claim())


def database_login(db: Database, claim: tuple[str, str] | None = None) -> str:
    """The analyst login of the connection's ``session_user``; a ``claim`` naming anyone
    else, or a database login that is no active analyst, is refused (exit 3)."""
    if db.is_sqlite:
        raise UnknownActor(
            _(
                "identity = database needs a PostgreSQL desk, where each analyst has a database "
                "login: SQLite has no users (set identity = claimed, or serve the desk with "
                "`deskterm serve ssh`)"
            )
        )
    from sqlalchemy import text

    with db.read() as session:
        db_user, active, staffed = session.execute(
            text(
                "SELECT session_user, "
                "(SELECT active FROM analyst WHERE login = lower(session_user)), "
                "EXISTS (SELECT 1 FROM analyst)"
            )
        ).one()
    login = str(db_user).lower()
    if claim is not None and claim[0] != login:
        raise PermissionDenied(
            _(
                "this desk identifies you by your database login ({login}); {named_by} is not "
                "allowed"
            ).format(login=login, named_by=claim[1])
        )
    if active is None and staffed:
        raise UnknownActor(
            _(
                "your database login {db_user} is not an analyst of this desk: an admin adds "
                "it with `deskterm analyst add {login} --name NAME`"
            ).format(db_user=db_user, login=login)
        )
    if active is not None and not active:
        raise UnknownActor(
            _("your database login {db_user} belongs to {login}, who is deactivated").format(
                db_user=db_user, login=login
            )
        )
    # A desk with no analysts yet: its first `analyst add` may run (see Desk.bootstrap).
    return login


# --------------------------------------------------------------------------- database logins


@dataclass(frozen=True)
class AnalystAdded:
    analyst: AnalystPublic
    #: The database login was made now (False: it existed and was given the desk's grants).
    role_created: bool


def add_analyst_with_login(
    session: Session,
    actor: Actor | None,
    *,
    login: str,
    name: str,
    role: str = "agent",
    level: int = 1,
    groups: Sequence[str] = (),
    email: str | None = None,
    language: str | None = None,
) -> AnalystAdded:
    """``add_analyst`` and, in the same transaction, a PostgreSQL login role of the same
    name with what the app needs: all of it or none of it."""
    from deskterm.desk.analysts import add_analyst

    if session.get_bind().dialect.name != "postgresql":
        raise InvalidInput(
            _("--create-role is for PostgreSQL desks: SQLite has no database logins"),
            field="create_role",
        )
    analyst = add_analyst(
        session,
        actor,
        login=login,
        name=name,
        role=role,
        level=level,
        groups=groups,
        email=email,
        language=language,
    )
    return AnalystAdded(analyst, _grant_login(session, analyst.login))


def _grant_login(session: Session, login: str) -> bool:
    """Make ``login`` a role that can sign in and work the desk in its schema, and nothing
    more: rows of every table, but the log only read and appended to (the triggers refuse
    changes too; without the grant, the database refuses them before any trigger runs)."""
    import psycopg
    from psycopg import sql
    from sqlmodel import SQLModel

    if len(login.encode()) > _ROLE_MAX:
        raise InvalidInput(
            _("login {login!r} is longer than PostgreSQL's {most}-byte role names").format(
                login=login, most=_ROLE_MAX
            ),
            field="login",
        )
    raw: Any = session.connection().connection.driver_connection
    role = sql.Identifier(login)
    try:
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT current_schema(), EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)",
                (login,),
            )
            schema, exists = cursor.fetchone()
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
            # name_word: the caller lookup's vocabulary, which a trigger fills as a contact
            # is added, with the adding login's rights (migration 0012); not in the models.
            ours = set(SQLModel.metadata.tables) | {"alembic_version", "name_word"}
            tables = sorted(name for (name,) in cursor.fetchall() if name in ours)
            if not exists:
                cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
            cursor.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), role)
            )
            for table in tables:
                rights = {
                    "ticket_event": "SELECT, INSERT",
                    "alembic_version": "SELECT",
                    "name_word": "SELECT, INSERT",
                    "saved_call": "SELECT, INSERT",
                }.get(table, "SELECT, INSERT, UPDATE, DELETE")
                cursor.execute(
                    sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                        sql.SQL(rights), sql.Identifier(schema, table), role
                    )
                )
            # An existing role may have held more.
            cursor.execute(
                sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON TABLE {} FROM {}").format(
                    sql.Identifier(schema, "ticket_event"), role
                )
            )
            cursor.execute(
                sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                    sql.Identifier(schema), role
                )
            )
            # GRANT without the grant option only warns: check what the role really got.
            cursor.execute(
                "SELECT has_table_privilege(%s, format('%%I.%%I', %s::text, 'ticket_event'), "
                "'INSERT')",
                (login, schema),
            )
            (granted,) = cursor.fetchone()
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PermissionDenied(
            _(
                "your database login may not create or grant the role {login} ({why}): run "
                "this as the desk's owner or a role with CREATEROLE"
            ).format(login=login, why=str(exc).strip().splitlines()[0])
        ) from None
    if not granted:
        raise PermissionDenied(
            _(
                "your database login could not grant the desk's tables to {login}: run this "
                "as the desk's owner"
            ).format(login=login)
        )
    return not exists


# --------------------------------------------------------------------------- db check


@dataclass(frozen=True)
class Forgery:
    """An event whose actor is not the analyst of the database login that wrote it."""

    ticket_id: int
    event_id: int
    actor: str
    db_user: str

    @property
    def said(self) -> str:
        return _("event {event}: actor {actor} was written by database user {db_user}").format(
            event=self.event_id, actor=self.actor, db_user=self.db_user
        )


_FORGED = (
    "SELECT e.ticket_id, e.id, a.login, e.db_user FROM ticket_event e "
    "JOIN analyst a ON a.id = e.actor_id "
    "WHERE {tickets} AND e.db_user IS NOT NULL AND a.login <> lower(e.db_user) "
    "ORDER BY e.ticket_id, e.id"
)


def forged_events(session: Session, ticket_ids: Sequence[int]) -> list[Forgery]:
    """The events of ``ticket_ids`` written by a database login other than their actor's.

    For database identity on PostgreSQL, where each analyst has their own login. Events of
    ``system`` (mail, the outbox, SLA clocks, run by whichever login a job uses) and events
    written before migration 0010 (no writer recorded) are not compared.
    """
    from sqlalchemy import bindparam, text

    if not ticket_ids:
        return []
    first, last = min(ticket_ids), max(ticket_ids)
    if last - first + 1 == len(ticket_ids):
        # A batch of consecutive tickets: one sweep of the (ticket_id, id) index.
        query = text(_FORGED.format(tickets="e.ticket_id BETWEEN :first AND :last"))
        params: dict[str, Any] = {"first": first, "last": last}
    else:
        query = text(_FORGED.format(tickets="e.ticket_id IN :ids")).bindparams(
            bindparam("ids", expanding=True)
        )
        params = {"ids": list(ticket_ids)}
    return [Forgery(*row) for row in session.execute(query, params)]
