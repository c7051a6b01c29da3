"""Fixtures shared by every test: a fresh desk database on SQLite and on PostgreSQL.

PostgreSQL runs when ``DESKTERM_TEST_POSTGRES_URL`` is set; each test gets a schema of its
own (via ``search_path``), so tests never see each other's rows and need no cleanup order.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from deskterm.db.engine import Database
from migrated import copy_migrated

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

    copy_migrated(db_url)
    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture(autouse=True)
def _english_unless_asked() -> Iterator[None]:
    """Each test starts in English and leaves English behind, whatever language it used."""
    from deskterm import i18n

    i18n.use("en")
    yield
    i18n.use("en")
