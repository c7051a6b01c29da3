"""Who is acting: a claim (``--as``, ``DESKTERM_USER``, the OS login) or the database login.

The PostgreSQL half makes real login roles (cluster-wide, so each test names its own
``dt_<uuid8>_...`` and drops them after the schema they were granted on) and connects as
them over the test server's trust authentication, the role named in the URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from clirun import run_deskterm
from deskterm.config import load_settings
from deskterm.db import migrate
from deskterm.db.engine import Database
from deskterm.desk.context import Desk
from deskterm.desk.identity import Identity, add_analyst_with_login
from deskterm.desk.setup import open_database
from deskterm.desk.tickets import add_note, create_ticket
from deskterm.domain.errors import InvalidInput, PermissionDenied, UnknownActor
from factories import ADMIN, AGENT, KnownDesk

# --------------------------------------------------------------------------- the setting


def test_identity_is_claimed_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESKTERM_IDENTITY", raising=False)
    assert load_settings().identity == "claimed"
    monkeypatch.setenv("DESKTERM_IDENTITY", "database")
    assert load_settings().identity == "database"


def test_identity_comes_from_the_desk_table_of_the_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "deskterm.toml"
    config.write_text('[desk]\nidentity = "database"\n\n[smtp]\nhost = "mail.example"\n')
    monkeypatch.delenv("DESKTERM_IDENTITY", raising=False)
    monkeypatch.setenv("DESKTERM_CONFIG_FILE", str(config))
    assert load_settings().identity == "database"
    # The environment wins over the file, as for every setting.
    monkeypatch.setenv("DESKTERM_IDENTITY", "claimed")
    assert load_settings().identity == "claimed"


def test_an_unknown_identity_is_one_clear_line(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setenv("DESKTERM_IDENTITY", "trust-me")
    code, _out, err = run_deskterm(
        monkeypatch, capsys, "--db", str(tmp_path / "d.db"), "ticket", "list"
    )
    assert code == 1 and err.count("\n") == 1
    assert "DESKTERM_IDENTITY" in err and "'trust-me'" in err


# --------------------------------------------------------------------------- claimed identity


def test_an_empty_as_is_refused_never_the_os_login(known: KnownDesk, monkeypatch, capsys) -> None:
    # The OS login is an admin: an empty --as silently became it.
    monkeypatch.setattr("getpass.getuser", lambda: ADMIN)
    url = known.db.url.render_as_string(hide_password=False)
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", url, "--as", "", "ticket", "list")
    assert (code, out) == (3, "")
    assert err == "deskterm: --as names nobody: give an analyst's login, or leave --as out\n"
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", url, "--as", "  ", "ticket", "list")
    assert (code, out) == (3, "") and "--as names nobody" in err


def _deactivate(db: Database, login: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE analyst SET active = false WHERE login = :l"), {"l": login})


def test_unknown_and_deactivated_analysts_exit_3(known: KnownDesk, monkeypatch, capsys) -> None:
    url = known.db.url.render_as_string(hide_password=False)
    code, _out, err = run_deskterm(
        monkeypatch, capsys, "--db", url, "--as", "ghost", "ticket", "list"
    )
    assert code == 3 and err == (
        "deskterm: 'ghost' is not an analyst of this desk (use --as LOGIN or DESKTERM_USER)\n"
    )
    _deactivate(known.db, AGENT)
    code, _out, err = run_deskterm(
        monkeypatch, capsys, "--db", url, "--as", AGENT, "ticket", "list"
    )
    assert code == 3 and f"'{AGENT}' is deactivated" in err


def test_the_claim_is_as_then_deskterm_user_then_os_login(monkeypatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "Osuser")
    assert Identity(given=" Ada ", configured="bob").local_login() == "ada"
    assert Identity(configured="Bob").local_login() == "bob"
    # An empty variable is an unset one (`DESKTERM_USER= deskterm ...`); an empty --as is not.
    assert Identity(configured=" ").local_login() == "osuser"
    assert Identity().local_login() == "osuser"
    with pytest.raises(UnknownActor, match="--as names nobody"):
        Identity(given="").local_login()


def test_no_os_login_is_a_refusal(monkeypatch) -> None:
    def nobody() -> str:
        raise KeyError("getpwuid(): uid not found: 4242")

    monkeypatch.setattr("getpass.getuser", nobody)
    with pytest.raises(UnknownActor, match="use --as LOGIN"):
        Identity().local_login()


def test_the_app_resolves_its_login_by_the_same_rule(monkeypatch, tmp_path: Path) -> None:
    """``deskterm`` with no command: the same claim, never a second reading of the env."""
    from deskterm.tui import app as tui

    opened: list[tuple[str | None, Identity | None]] = []
    regions: list[str] = []
    folders: list[Path] = []

    class Recorder:
        def __init__(
            self,
            url: str,
            login: str | None,
            *,
            identity: Identity | None,
            phone_region: str,
            data_dir: Path,
            **_settings: object,
        ) -> None:
            opened.append((login, identity))
            regions.append(phone_region)
            folders.append(data_dir)
            self.desk, self.exit_code = None, 0

        def run(self) -> None:
            pass

    monkeypatch.setattr(tui, "DeskApp", Recorder)
    monkeypatch.setattr("getpass.getuser", lambda: "osuser")
    monkeypatch.setenv("DESKTERM_USER", "Bob")
    monkeypatch.delenv("DESKTERM_IDENTITY", raising=False)
    url = f"sqlite:///{tmp_path / 'd.db'}"
    tui.run(url)
    # The app reads the settings in force for the rest too: the caller lookup's phone region.
    monkeypatch.setenv("DESKTERM_PHONE_REGION", "DE")
    tui.run(url, Identity(given="ada"))
    assert regions == ["GB", "DE"]
    # ... and where the drafts of calls not yet saved are kept.
    monkeypatch.setenv("DESKTERM_DATA_DIR", str(tmp_path / "drafts-here"))
    tui.run(url, Identity(given="ada"))
    assert folders[-1] == tmp_path / "drafts-here"
    del opened[-1]
    monkeypatch.setenv("DESKTERM_IDENTITY", "database")
    tui.run(url)
    assert [login for login, _ in opened] == ["bob", "ada", None]
    assert opened[2][1] == Identity(mode="database", configured="Bob")
    with pytest.raises(UnknownActor):
        tui.run(url, Identity(given=""))


def test_database_identity_is_refused_on_sqlite(known: KnownDesk, monkeypatch, capsys) -> None:
    if not known.db.is_sqlite:
        pytest.skip("the SQLite refusal")
    url = known.db.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DESKTERM_IDENTITY", "database")
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", url, "--as", ADMIN, "ticket", "list")
    assert (code, out) == (3, "") and err.count("\n") == 1
    assert "identity = database needs a PostgreSQL desk" in err and "SQLite has no users" in err
    with pytest.raises(UnknownActor, match="SQLite has no users"):
        Identity(mode="database").login(known.db)


def test_create_role_is_refused_on_sqlite(known: KnownDesk, monkeypatch, capsys) -> None:
    if not known.db.is_sqlite:
        pytest.skip("the SQLite refusal")
    url = known.db.url.render_as_string(hide_password=False)
    args = ("--db", url, "--as", ADMIN, "analyst", "add", "zed", "--name", "Zed", "--create-role")
    code, _out, err = run_deskterm(monkeypatch, capsys, *args)
    assert code == 1 and "--create-role is for PostgreSQL desks" in err
    with pytest.raises(InvalidInput):
        known.as_(ADMIN).write(add_analyst_with_login, login="zed", name="Zed")
    code, out, _err = run_deskterm(
        monkeypatch, capsys, "--db", url, "--as", ADMIN, "analyst", "list"
    )
    assert "zed" not in out


# --------------------------------------------------------------------------- PostgreSQL logins


@dataclass
class Shared:
    """A shared PostgreSQL desk whose analysts sign in as themselves."""

    owner_url: str  # the desk's owner (the test server's superuser)
    schema: str
    admin: str  # an admin analyst with a login role of the same name
    agent: str  # an agent, likewise

    def url(self, role: str) -> str:
        url = make_url(self.owner_url).set(username=role)
        return url.render_as_string(hide_password=False)


def _base() -> str:
    base = os.environ.get("DESKTERM_TEST_POSTGRES_URL")
    if base is None:
        pytest.skip("PostgreSQL half skipped: set DESKTERM_TEST_POSTGRES_URL to run it")
    return base.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[Shared]:
    base = _base()
    tag = f"dt_{uuid.uuid4().hex[:8]}"
    schema = f"t_{tag}"
    owner = create_engine(base)
    with owner.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    owner_url = f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    desk = Shared(owner_url, schema, admin=f"{tag}_ada", agent=f"{tag}.al-ice")
    roles = [desk.admin, desk.agent, f"{tag}_zed"]
    db = open_database(owner_url)
    try:
        # The owner is no analyst: the first analyst of an empty desk may be added by anyone.
        Desk(db, desk.admin).bootstrap(
            add_analyst_with_login, login=desk.admin, name="Ada Admin", role="admin"
        )
        Desk(db, desk.admin).write(
            add_analyst_with_login, login=desk.agent, name="Alice Agent", groups=["Service Desk"]
        )
        monkeypatch.setenv("DESKTERM_IDENTITY", "database")
        yield desk
    finally:
        db.dispose()
        with owner.begin() as conn:
            # The schema's objects and every grant on them first: then the roles own nothing.
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            for role in roles:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        owner.dispose()


def test_acting_as_yourself_works_and_is_stamped(shared: Shared, monkeypatch, capsys) -> None:
    url = shared.url(shared.agent)
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", url, "ticket", "new", "--anonymous", "-s", "VPN down"
    )
    assert code == 0, err
    # Naming yourself is allowed (and DESKTERM_USER alike).
    monkeypatch.setenv("DESKTERM_USER", shared.agent.upper())
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", url, "--as", shared.agent, "ticket", "list", "--json"
    )
    assert code == 0, err
    assert shared.agent in out
    with _open(shared.owner_url) as db, db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.login, e.db_user FROM ticket_event e JOIN analyst a ON a.id = e.actor_id"
            )
        ).all()
    assert rows and all(row == (shared.agent, shared.agent) for row in rows)


def test_a_database_login_can_add_a_contact_whose_name_words_are_new(
    shared: Shared, monkeypatch, capsys
) -> None:
    # A new contact's words go into the lookup's vocabulary (name_word) by a trigger that
    # runs with the analyst's own rights: the login must be granted that table too.
    url = shared.url(shared.agent)
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", url, "contact", "add", "--name", "Zdeňka Quaxworthy"
    )
    assert code == 0, err
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", url, "contact", "find", "Quaxw")
    assert code == 0, err
    assert "Quaxworthy" in out


def test_the_upgrade_grants_the_vocabulary_to_logins_made_before_it(
    shared: Shared, monkeypatch, capsys
) -> None:
    from alembic import command
    from alembic.config import Config

    # As a login made before 0012 was: every table of the models, not the vocabulary.
    with _open(shared.owner_url) as db:
        with db.engine.begin() as conn:
            conn.execute(text(f'REVOKE ALL ON TABLE name_word FROM "{shared.agent}"'))
        config = Config()
        config.set_main_option("script_location", str(migrate.MIGRATIONS))
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0011_caller_lookup")
    may_add = text(
        "SELECT has_table_privilege(:login, "
        "format('%I.name_word', CAST(:schema AS text)), 'INSERT')"
    )
    with _open(shared.owner_url) as db:
        with db.engine.connect() as conn:
            params = {"login": shared.agent, "schema": shared.schema}
            assert conn.execute(may_add, params).scalar() is False
        assert migrate.upgrade(db).revision == migrate.HEAD
        with db.engine.connect() as conn:
            assert conn.execute(may_add, params).scalar() is True
    url = shared.url(shared.agent)
    code, _out, err = run_deskterm(
        monkeypatch, capsys, "--db", url, "contact", "add", "--name", "Quirina Blomqvist"
    )
    assert code == 0, err


class _open:
    """A database for a ``with`` block."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)

    def __enter__(self) -> Database:
        return self.db

    def __exit__(self, *_exc: object) -> None:
        self.db.dispose()


def test_as_someone_else_is_refused(shared: Shared, monkeypatch, capsys) -> None:
    url = shared.url(shared.agent)
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", url, "--as", shared.admin, "analyst", "add", "mal",
        "--name", "Mallory",
    )  # fmt: skip
    assert (code, out) == (3, "")
    assert err == (
        f"deskterm: this desk identifies you by your database login ({shared.agent}); "
        "--as is not allowed\n"
    )
    monkeypatch.setenv("DESKTERM_USER", shared.admin)
    code, _out, err = run_deskterm(monkeypatch, capsys, "--db", url, "ticket", "list")
    assert code == 3 and "DESKTERM_USER is not allowed" in err
    code, _out, err = run_deskterm(monkeypatch, capsys, "--db", url, "--as", "", "ticket", "list")
    assert code == 3
    with _open(shared.owner_url) as db:
        with db.read() as session:
            assert session.scalar(text("SELECT count(*) FROM analyst WHERE login = 'mal'")) == 0


def test_a_database_login_that_is_no_analyst_is_refused(
    shared: Shared, monkeypatch, capsys
) -> None:
    owner = make_url(shared.owner_url).username
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", shared.owner_url, "ticket", "list")
    assert (code, out) == (3, "")
    assert f"your database login {owner} is not an analyst of this desk" in err
    # And not by claiming an analyst either.
    code, _out, err = run_deskterm(
        monkeypatch, capsys, "--db", shared.owner_url, "--as", shared.admin, "ticket", "list"
    )
    assert code == 3 and "--as is not allowed" in err


def test_a_deactivated_analyst_login_is_refused(shared: Shared, monkeypatch, capsys) -> None:
    with _open(shared.owner_url) as db:
        _deactivate(db, shared.agent)
    code, _out, err = run_deskterm(
        monkeypatch, capsys, "--db", shared.url(shared.agent), "ticket", "list"
    )
    assert code == 3 and "who is deactivated" in err


def test_an_event_written_by_another_login_is_reported(shared: Shared, monkeypatch, capsys) -> None:
    agent_url, admin_url = shared.url(shared.agent), shared.url(shared.admin)
    code, _out, err = run_deskterm(
        monkeypatch, capsys, "--db", agent_url, "ticket", "new", "--anonymous", "-s", "x"
    )
    assert code == 0, err
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", admin_url, "db", "check")
    assert code == 0, out + err

    # The agent's login writes an event in the admin's name, straight into the table, and
    # names the admin as its writer too: the database keeps its own word.
    with _open(agent_url) as db, db.engine.begin() as conn:
        forged = conn.execute(
            text(
                "INSERT INTO ticket_event (ticket_id, ticket_version, at, actor_id, kind, "
                "visibility, data, db_user) SELECT 1, 1, now(), id, 'note', 'internal', "
                '\'{"text": "approved"}\', :forged FROM analyst WHERE login = :admin '
                "RETURNING id, db_user"
            ),
            {"admin": shared.admin, "forged": shared.admin},
        ).one()
    assert forged.db_user == shared.agent

    code, out, err = run_deskterm(monkeypatch, capsys, "--db", admin_url, "db", "check")
    assert code == 6
    line = (
        f"DT-000001 event {forged.id}: actor {shared.admin} was written by database user "
        f"{shared.agent}"
    )
    assert line in out.splitlines()
    code, out, _err = run_deskterm(
        monkeypatch, capsys, "--db", admin_url, "db", "check", "--ticket", "DT-000001", "--json"
    )
    assert code == 6 and line.removeprefix("DT-000001 ") in out
    # In claimed identity everyone may share one login: the writer is not compared.
    monkeypatch.setenv("DESKTERM_IDENTITY", "claimed")
    code, out, _err = run_deskterm(
        monkeypatch, capsys, "--db", admin_url, "--as", shared.admin, "db", "check"
    )
    assert "was written by database user" not in out


def test_the_login_may_append_to_the_log_but_never_change_it(shared: Shared) -> None:
    with _open(shared.url(shared.agent)) as db:
        Desk(db, shared.agent).write(create_ticket, subject="Printer jam")
        Desk(db, shared.agent).write(add_note, ref=1, text="paper tray")
        for statement in (
            "UPDATE ticket_event SET kind = 'note'",
            "DELETE FROM ticket_event",
            "TRUNCATE ticket_event CASCADE",
            "ALTER TABLE ticket_event DISABLE TRIGGER USER",
            "DROP TRIGGER ticket_event_writer ON ticket_event",
        ):
            with pytest.raises(DBAPIError, match="permission denied|must be owner"):
                with db.engine.begin() as conn:
                    conn.execute(text(statement))
        with db.engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM ticket_event")).scalar() == 2


def test_only_an_admin_creates_logins_and_a_refusal_creates_none(shared: Shared) -> None:
    zed = f"{shared.admin.rsplit('_', 1)[0]}_zed"
    with _open(shared.url(shared.agent)) as db:
        with pytest.raises(PermissionDenied, match="only an admin may add analysts"):
            Desk(db, shared.agent).write(add_analyst_with_login, login=zed, name="Zed")
    # The admin's own login may add analysts, but not create roles: all or nothing.
    with _open(shared.url(shared.admin)) as db:
        with pytest.raises(PermissionDenied, match=f"may not create or grant the role {zed}"):
            Desk(db, shared.admin).write(add_analyst_with_login, login=zed, name="Zed")
    with _open(shared.owner_url) as db, db.engine.connect() as conn:
        assert not conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": zed}
        ).first()
        assert not conn.execute(text("SELECT 1 FROM analyst WHERE login = :r"), {"r": zed}).first()


def test_the_owner_as_an_admin_creates_logins_on_the_cli(
    shared: Shared, monkeypatch, capsys
) -> None:
    zed = f"{shared.admin.rsplit('_', 1)[0]}_zed"
    owner = make_url(shared.owner_url).username
    assert owner is not None
    add_zed = ("analyst", "add", zed, "--name", "Zed", "--create-role")
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", shared.owner_url, *add_zed)
    # The owner is no analyst yet: refused before anything is added.
    assert (code, out) == (3, "") and "is not an analyst of this desk" in err
    # The README's way: the owner's login is made an admin analyst (here by the admin).
    code, _out, err = run_deskterm(
        monkeypatch, capsys, "--db", shared.url(shared.admin), "analyst", "add", owner,
        "--name", "Desk owner", "--role", "admin",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", shared.owner_url, *add_zed)
    assert code == 0, err
    assert f"created the database login {zed} with the desk's rights" in out
    code, out, err = run_deskterm(monkeypatch, capsys, "--db", shared.url(zed), "ticket", "list")
    assert code == 0, err


# --------------------------------------------------------------------------- the migration


def test_the_writer_column_keeps_the_log_append_only(known: KnownDesk) -> None:
    ticket = known.ticket()
    with known.db.engine.begin() as conn:
        writers = conn.execute(text("SELECT db_user FROM ticket_event")).scalars().all()
    if known.db.is_sqlite:
        assert writers and set(writers) == {None}
    else:
        session_user = make_url(str(known.db.url)).username
        assert set(writers) == {session_user}
    with pytest.raises(DBAPIError, match="append-only|permission denied"):
        with known.db.engine.begin() as conn:
            conn.execute(
                text("UPDATE ticket_event SET db_user = 'x' WHERE id = :id"),
                {"id": ticket.events[0].id},
            )


def test_the_upgrade_stamps_no_old_event_and_the_downgrade_keeps_the_triggers(
    db_url: str,
) -> None:
    from alembic import command
    from alembic.config import Config

    db = Database(db_url)
    try:
        # Today's models write columns a desk at 0009 lacks (analyst 0015, ticket_event 0021):
        # the event is written at the head, then the desk goes back to 0009 with it.
        migrate.upgrade(db)
        old = Desk(db, None).write(create_ticket, subject="Before 0010").events[0].id
        back = Config()
        back.set_main_option("script_location", str(migrate.MIGRATIONS))
        with db.engine.begin() as conn:
            back.attributes["connection"] = conn
            command.downgrade(back, "0009_mail_trust")
        migrate.upgrade(db)
        with db.engine.begin() as conn:
            # PostgreSQL's fast default would have stamped it with the upgrading login.
            writer = conn.execute(
                text("SELECT db_user FROM ticket_event WHERE id = :id"), {"id": old}
            ).scalar()
        assert writer is None
        config = Config()
        config.set_main_option("script_location", str(migrate.MIGRATIONS))
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0009_mail_trust")
        assert migrate.schema_state(db).revision == "0009_mail_trust"
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM ticket_event"))
        assert migrate.upgrade(db).revision == migrate.HEAD
    finally:
        db.dispose()


async def _opened(app, pilot) -> None:  # noqa: ANN001 - a DeskApp and its Pilot
    from deskterm.tui.screens.loading import LoadingScreen

    for _ in range(200):
        await pilot.pause(0.05)
        if app.desk is not None or (isinstance(app.screen, LoadingScreen) and app.exit_code != 0):
            return
    raise AssertionError("the desk neither opened nor failed")


async def test_the_app_acts_as_the_database_login(shared: Shared, tmp_path: Path) -> None:
    from deskterm.tui.app import DeskApp

    def app(identity: Identity) -> DeskApp:
        return DeskApp(
            shared.url(shared.agent),
            None,
            identity=identity,
            data_dir=tmp_path,
            poll_seconds=None,
            presence_seconds=None,
            listen=False,
        )

    mine = app(Identity(mode="database"))
    async with mine.run_test(size=(100, 30)) as pilot:
        await _opened(mine, pilot)
        assert mine.actor is not None and mine.actor.login == shared.agent
        assert mine.login == shared.agent
    refused = app(Identity(mode="database", given=shared.admin))
    async with refused.run_test(size=(100, 30)) as pilot:
        await _opened(refused, pilot)
        assert refused.desk is None and refused.exit_code == 3
