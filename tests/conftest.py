"""Fixtures shared by every test: a fresh desk database on SQLite and on PostgreSQL.

PostgreSQL runs when ``DESKTERM_TEST_POSTGRES_URL`` is set; each test gets a schema of its
own (via ``search_path``), so tests never see each other's rows and need no cleanup order.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from deskterm.db.engine import Database

# A developer's own config and data folders must not change what the tests see (a copied
# priority.toml, a draft left by the app); every run gets empty ones.
_HOME = tempfile.mkdtemp(prefix="deskterm-tests-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_HOME, "data")
os.environ["XDG_CACHE_HOME"] = os.path.join(_HOME, "cache")
os.environ.pop("DESKTERM_DATABASE_URL", None)
os.environ.pop("DESKTERM_USER", None)
# Tests read English unless they ask for another language: the machine's locale (a German
# developer's LANG) must not change what the app says. Subprocesses inherit this too.
for _variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_variable, None)
os.environ["LANG"] = "C.UTF-8"
# Times are shown in the analyst's zone: the machine's must not change them either.
os.environ["TZ"] = "UTC"
time.tzset()

POSTGRES_ENV = "DESKTERM_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A URL to an empty database: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'desk.db'}"
        return
    base = postgres_url()
    if base is None:
        pytest.skip(f"PostgreSQL half skipped: set {POSTGRES_ENV} to run it")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """The desk database, migrated and seeded with the shipped groups and categories.

    Migrated by copying a schema each test process migrated once with the real migrations
    (``_migrated``): running all 21 for every test cost 0.2 s on SQLite and 0.5 s on
    PostgreSQL, minutes of CI. The migrations themselves are tested from an empty database
    (``db_url``) in tests/unit/test_migrations.py and wherever a test migrates."""
    from deskterm.desk.setup import open_database

    _TEMPLATE.copy_into(db_url)
    database = open_database(db_url)
    yield database
    database.dispose()


class _Template:
    """A desk migrated to the head once per test process, copied into each test's database:
    the SQLite file by SQLite's backup API, the PostgreSQL schema as ``pg_dump`` wrote it."""

    def __init__(self) -> None:
        self.sqlite_file: str | None = None
        self.postgres: tuple[str, str] | None = None  # (the dump's DDL, the schema it names)

    def copy_into(self, url: str) -> None:
        if url.startswith("sqlite"):
            self._copy_sqlite(url.removeprefix("sqlite:///"))
        else:
            self._copy_postgres(url)

    def _copy_sqlite(self, path: str) -> None:
        import sqlite3
        from contextlib import closing

        if self.sqlite_file is None:
            self.sqlite_file = _migrate_once(
                "sqlite:///" + os.path.join(tempfile.mkdtemp(dir=_HOME), "template.db")
            ).removeprefix("sqlite:///")
        with closing(sqlite3.connect(self.sqlite_file)) as source:
            with closing(sqlite3.connect(path)) as target:
                source.backup(target)

    def _copy_postgres(self, url: str) -> None:
        import re

        import psycopg

        from deskterm.db.migrate import HEAD

        if self.postgres is None:
            self.postgres = _dump_migrated_schema()
        script, name = self.postgres
        schema = re.search(r"search_path%3D([a-z0-9_]+)", url)
        assert schema is not None, url
        with psycopg.connect(_libpq(postgres_url() or ""), autocommit=True) as conn:
            conn.execute(script.replace(name, schema.group(1)))
            conn.execute(f'INSERT INTO "{schema.group(1)}".alembic_version VALUES (%s)', [HEAD])


def _libpq(url: str) -> str:
    return re.sub(r"^postgresql\+psycopg://", "postgresql://", url)


def _migrate_once(url: str) -> str:
    from deskterm.db import migrate

    database = Database(url)
    try:
        migrate.upgrade(database)
    finally:
        database.dispose()
    return url


def _dump_migrated_schema() -> tuple[str, str]:
    """The DDL of a schema migrated to the head, as pg_dump writes it (its name unique, to
    be replaced), less its CREATE SCHEMA (each test's exists) and psql's meta-commands."""
    import subprocess

    base = postgres_url()
    assert base is not None
    name = f"tmpl_{uuid.uuid4().hex}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        separator = "&" if "?" in base else "?"
        _migrate_once(f"{base}{separator}options={quote(f'-csearch_path={name}')}")
        dumped = subprocess.run(
            ["pg_dump", "--schema-only", "--no-owner", "--schema", name, _libpq(base)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()
    kept = [
        line
        for line in dumped.splitlines()
        if not line.startswith("\\") and not line.startswith(f"CREATE SCHEMA {name}")
    ]
    return "\n".join(kept), name


#: One per test process (xdist worker): made on its first use.
_TEMPLATE = _Template()


@pytest.fixture(autouse=True)
def _english_unless_asked() -> Iterator[None]:
    """Each test starts in English and leaves English behind, whatever language it used."""
    from deskterm import i18n

    i18n.use("en")
    yield
    i18n.use("en")
