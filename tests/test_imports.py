"""A command loads only what it runs: ``deskterm --help`` and ``ticket list`` start in a
fraction of the app's time because they never import Textual, the mail templates, the SSH
server, the bench or the demo. Checked on the modules a real process ends with, not on time
(timing is the bench's job)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deskterm.desk.analysts import add_analyst
from deskterm.desk.context import Desk
from deskterm.desk.setup import open_database
from deskterm.desk.tickets import create_ticket

pytestmark = pytest.mark.slow

#: Nothing a CLI command imports unless it is that command's own work.
NEVER = (
    "textual",
    "jinja2",
    "asyncssh",
    "babel",
    "deskterm.tui",
    "deskterm.bench",
    "deskterm.desk.demo",
    "deskterm.desk.outbox",
    "deskterm.desk.mail",
    "deskterm.desk.templates",
)

# Runs the CLI as its console script does, then writes the names of every module loaded to
# the file named in argv[1], however the command ended.
_WRAPPER = """
import json, sys
where = sys.argv.pop(1)
sys.argv[0] = "deskterm"
try:
    from deskterm.cli import main
    main()
finally:
    with open(where, "w") as handle:
        json.dump(sorted(sys.modules), handle)
"""


def _modules(tmp_path: Path, *args: str) -> set[str]:
    where = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(where), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(where.read_text()))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names))


def test_help_loads_neither_the_app_nor_the_database(tmp_path: Path) -> None:
    modules = _modules(tmp_path, "--help")
    assert (
        _loaded(modules, (*NEVER, "sqlalchemy", "sqlmodel", "deskterm.desk", "deskterm.db")) == []
    )


def test_ticket_list_loads_only_the_listing(db_url: str, tmp_path: Path) -> None:
    db = open_database(db_url)
    try:
        Desk(db, None).bootstrap(add_analyst, login="ana", name="Ana")
        Desk(db, "ana").write(create_ticket, subject="Printer jams on tray 2")
    finally:
        db.dispose()

    modules = _modules(
        tmp_path, "--db", db_url, "--as", "ana", "ticket", "list", "--limit", "20", "--json"
    )

    assert _loaded(modules, NEVER) == []
    # A list row is no event: the ticket log's payload models (14 ms to build) and its
    # writer are for reading and changing a ticket.
    assert _loaded(modules, ("deskterm.domain.payloads", "deskterm.desk.ledger")) == []
    # The desk is at the newest revision: the check reads alembic_version, not Alembic.
    assert _loaded(modules, ("alembic",)) == []
    # JSON on stdout needs no Rich console (nor Markdown, which only `kb show` renders).
    assert _loaded(modules, ("rich.console", "rich.markdown")) == []
    if db_url.startswith("sqlite"):
        assert _loaded(modules, ("psycopg", "sqlalchemy.dialects.postgresql")) == []
