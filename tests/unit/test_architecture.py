"""The architecture's guards are in place: the import-linter contracts exist and say what they
must, CI runs them and mypy, and what the faces need from the database they get from desk/.

`lint-imports` and `mypy` themselves run in CI (.ci/run); these tests only make sure nobody
quietly drops or narrows a contract, and that a new module in db/ is kept from the faces.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from deskterm.db.engine import Database

ROOT = Path(__file__).resolve().parents[2]
FACES = {"deskterm.tui", "deskterm.cli", "deskterm.serve"}
#: What a face may import from db/: the composition root that opens the desk.
OPENS_THE_DESK = {"deskterm.db.engine"}


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _contracts() -> list[dict[str, Any]]:
    contracts: list[dict[str, Any]] = _pyproject()["tool"]["importlinter"]["contracts"]
    return contracts


def _forbidding(sources: set[str], module: str) -> list[dict[str, Any]]:
    """The forbidden contracts that keep every one of ``sources`` from importing ``module``."""
    return [
        c
        for c in _contracts()
        if c["type"] == "forbidden"
        and sources <= set(c["source_modules"])
        and module in c["forbidden_modules"]
    ]


def _layers() -> list[set[str]]:
    (contract,) = [c for c in _contracts() if c["type"] == "layers"]
    return [{m.strip() for m in re.split(r"[|:]", layer)} for layer in contract["layers"]]


def test_the_original_four_contracts_are_kept() -> None:
    names = {c["name"] for c in _contracts()}
    assert "Layers point down: faces, then desk, then db, then domain" in names
    assert "The core never imports Textual" in names
    assert "domain is pure: no database, no I/O libraries" in names
    assert _forbidding({"deskterm.serve"}, "textual")


@pytest.mark.parametrize("library", ["sqlalchemy", "sqlmodel"])
def test_the_faces_may_not_import_the_orm(library: str) -> None:
    (contract,) = _forbidding(FACES, library)
    # They reach the database through the desk, so only a direct import is refused; and no
    # face is let off.
    assert contract.get("allow_indirect_imports") is True
    assert not contract.get("ignore_imports")


def test_every_module_of_db_but_the_engine_is_kept_from_the_faces() -> None:
    db_dir = ROOT / "src" / "deskterm" / "db"
    modules = {f"deskterm.db.{p.stem}" for p in db_dir.glob("*.py") if p.stem != "__init__"}
    assert OPENS_THE_DESK <= modules
    (contract,) = [
        c
        for c in _contracts()
        if FACES <= set(c.get("source_modules", ()))
        and "deskterm.db.models" in c.get("forbidden_modules", ())
    ]
    assert set(contract["forbidden_modules"]) == modules - OPENS_THE_DESK
    assert contract.get("allow_indirect_imports") is True


def test_the_benchmarks_are_under_the_same_rules() -> None:
    layers = _layers()
    bench = next(i for i, layer in enumerate(layers) if "deskterm.bench" in layer)
    # Below the CLI (whose `bench` command runs them), above the desk they time.
    assert bench > next(i for i, layer in enumerate(layers) if "deskterm.cli" in layer)
    assert bench < next(i for i, layer in enumerate(layers) if "deskterm.desk" in layer)
    # Beside the TUI and independent of it: they time the app as a process of its own.
    assert "deskterm.tui" in layers[bench]
    (layer_text,) = [
        line
        for line in next(c for c in _contracts() if c["type"] == "layers")["layers"]
        if "deskterm.bench" in line
    ]
    assert "|" in layer_text
    assert _forbidding({"deskterm.bench"}, "textual")
    (sql,) = _forbidding({"deskterm.bench"}, "sqlalchemy")
    assert "sqlmodel" in sql["forbidden_modules"]
    ignored = {entry.split(" -> ")[0] for entry in sql.get("ignore_imports", [])}
    assert ignored <= {"deskterm.bench.desk", "deskterm.bench.load"}


def test_every_import_a_contract_lets_through_says_why() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    entries = [e for c in _contracts() for e in c.get("ignore_imports", [])]
    assert entries
    lines = text.splitlines()
    for entry in entries:
        at = next(i for i, line in enumerate(lines) if line.strip() == f'"{entry}",')
        # The entry, or the run of entries it belongs to, follows a comment.
        above = at - 1
        while lines[above].strip().startswith('"'):
            above -= 1
        assert lines[above].strip().startswith("#"), entry


def test_ci_runs_the_import_contracts_and_mypy_with_the_projects_config() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if line.startswith(".venv/bin/")]
    assert ".venv/bin/lint-imports" in commands
    # Bare: the files and the strictness come from [tool.mypy], not from the command line.
    assert ".venv/bin/mypy" in commands
    mypy = _pyproject()["tool"]["mypy"]
    assert mypy["files"] == ["src/deskterm"]
    (core,) = [o for o in mypy["overrides"] if "deskterm.desk.*" in o["module"]]
    assert "deskterm.domain.*" in core["module"]
    assert core["disallow_untyped_defs"] and core["disallow_any_generics"]


def test_the_schema_state_is_read_through_the_desk(db: Database) -> None:
    from deskterm.db import migrate
    from deskterm.desk.setup import SCHEMA_HEAD, schema_status

    state = schema_status(db)
    assert SCHEMA_HEAD == migrate.HEAD == state.head
    assert state.current and not state.empty
    assert state.revision == SCHEMA_HEAD


def test_an_empty_database_says_so_through_the_desk(db_url: str) -> None:
    from deskterm.desk.setup import schema_status

    empty = Database(db_url)
    try:
        state = schema_status(empty)
    finally:
        empty.dispose()
    assert state.empty and state.revision is None and not state.current


def test_the_live_channels_are_the_databases_own() -> None:
    from deskterm.db import notify
    from deskterm.desk import live

    assert live.Listener is notify.Listener
    assert (live.EVENTS_CHANNEL, live.PRESENCE_CHANNEL) == (
        notify.EVENTS_CHANNEL,
        notify.PRESENCE_CHANNEL,
    )
