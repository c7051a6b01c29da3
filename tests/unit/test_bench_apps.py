"""``deskterm bench load --apps N``: open apps beside the analysts, their connections counted,
a refused one failing the run."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from clirun import run_deskterm
from deskterm.bench.apps import CHECK, AppsHolder
from factories import AGENT, KnownDesk


def test_apps_on_sqlite_are_refused_in_one_line_before_a_desk_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "load.db"
    code, out, err = run_deskterm(
        monkeypatch,
        capsys,
        *("--db", f"sqlite:///{file}", "bench", "load", "--analysts", "1", "--seconds", "1"),
        *("--apps", "3"),
    )
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--apps needs PostgreSQL" in err
    assert not file.exists()


@pytest.mark.parametrize("apps", ["-1", "501"])
def test_a_count_of_apps_out_of_range_is_one_line(
    apps: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "load.db"
    code, out, err = run_deskterm(
        monkeypatch,
        capsys,
        *("--db", f"sqlite:///{file}", "bench", "load", "--apps", apps),
    )
    assert code != 0 and out == ""
    assert err.strip().splitlines() == [f"deskterm: between 0 and 500 apps, not {apps}"]
    assert not file.exists()


def _postgres(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("open apps are measured by their PostgreSQL connections")


@pytest.mark.slow
def test_apps_stay_open_refresh_live_and_the_server_peak_is_counted(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _postgres(db_url)
    code, out, err = run_deskterm(
        monkeypatch,
        capsys,
        *("--db", db_url, "bench", "load", "--analysts", "2", "--seconds", "3"),
        *("--tickets", "100", "--apps", "5", "--json"),
    )
    assert code == 0, err
    result = json.loads(out)
    # Today's keys stay; the apps add an object and a check.
    assert {"database", "operations", "total", "checks"} <= set(result)
    assert (CHECK, True) in [(c["check"], c["passed"]) for c in result["checks"]]
    apps = result["apps"]
    assert apps["apps"] == apps["opened"] == 5
    assert apps["refused"] == 0 and apps["errors"] == 0, apps["error_lines"]
    # Each app heard the analysts' changes and read its page again.
    assert apps["refreshes"] > 5 and apps["notices"] > 0
    engine = create_engine(db_url)
    with engine.connect() as conn:
        limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
    engine.dispose()
    assert apps["max_connections"] == limit
    # At least the two analysts, an app and the counter itself were connected at once.
    assert apps["peak_connections"] >= 4
    # The server's count, whoever connected: the counter itself among them.
    assert apps["connections_at_peak"]["deskterm-bench"] >= 1


@pytest.fixture
def limited_url(db_url: str) -> Iterator[tuple[str, str, str, Engine]]:
    """The desk's URL as a login allowed one connection (the counter takes it), reading the
    desk's tables."""
    _postgres(db_url)
    role = f"apps_{uuid.uuid4().hex[:12]}"
    url = make_url(db_url)
    schema = str(url.query["options"]).removeprefix("-csearch_path=")
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 1'))
    try:
        yield url.set(username=role).render_as_string(hide_password=False), role, schema, admin
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


@pytest.mark.slow
def test_an_app_the_server_turns_away_is_counted_and_fails_the_check(
    known: KnownDesk, limited_url: tuple[str, str, str, Engine]
) -> None:
    url, role, schema, admin = limited_url
    with admin.connect() as conn:
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'))
    # The counter takes the one connection: every app is turned away, and keeps trying.
    with AppsHolder(url, [AGENT], 5) as holder:
        pass
    report = holder.stop()
    assert report.refused == 5 and report.opened == 0, report
    check = report.check()
    assert check.name == CHECK and not check.passed
    assert check.problems[:2] == (
        "5 of 5 apps were refused a connection",
        "5 of 5 apps never opened",
    )
    assert any("too many connections" in line for line in report.lines)
