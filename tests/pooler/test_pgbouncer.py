"""The desk behind a real PgBouncer in transaction mode (issue 17): queries through the
pooler (``DESKTERM_POOLER=transaction``), ``LISTEN`` straight to the server
(``DESKTERM_LISTEN_URL``), and a refusal when the second is missing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clirun import run_deskterm

ADMIN = "ada"


@pytest.fixture
def behind(bounced: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    """``deskterm ARGS`` in-process, set up as a desk behind the pooler is (``bounced``: a
    conftest ``Bounced``)."""
    for name, value in bounced.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DESKTERM_USER", raising=False)
    monkeypatch.setenv("COLUMNS", "160")

    def run(*args: str) -> tuple[int, str, str]:
        return run_deskterm(monkeypatch, capsys, *args)

    return run


def _with_admin(run: Any) -> None:
    code, _out, err = run("--as", ADMIN, "analyst", "add", ADMIN, "--name", "Ada Admin")
    assert code == 0, err


def test_db_upgrade_and_check_run_through_the_pooler(behind: Any) -> None:
    code, out, err = behind("db", "upgrade")
    assert code == 0, err
    code, out, err = behind("db", "check")
    assert code == 0, err + out
    code, out, err = behind("db", "status")
    assert code == 0, err
    # Where it is: the pooler's port, not the server's.
    assert "127.0.0.1" in out


def test_tickets_are_made_shown_and_listed_through_the_pooler(behind: Any, bounced: Any) -> None:
    _with_admin(behind)
    refs = []
    for n in range(8):
        code, out, err = behind(
            "--as", ADMIN, "ticket", "new", "-s", f"Printer {n} jams", "--anonymous", "--json"
        )
        assert code == 0, err
        refs.append(json.loads(out)["ref"])
    code, out, err = behind("--as", ADMIN, "ticket", "show", refs[3], "--json")
    assert code == 0, err
    assert json.loads(out)["subject"] == "Printer 3 jams"
    code, out, err = behind("--as", ADMIN, "ticket", "list", "--json")
    assert code == 0, err
    listed = json.loads(out)
    rows = listed if isinstance(listed, list) else listed["tickets"]
    assert {row["ref"] for row in rows} >= set(refs)


def test_a_change_through_the_pooler_reaches_a_listener_on_the_server(
    behind: Any, bounced: Any
) -> None:
    from deskterm.db.engine import Database
    from deskterm.desk.live import EVENTS_CHANNEL, Listener

    _with_admin(behind)
    db = Database(bounced.url)
    try:
        with Listener(db, (EVENTS_CHANNEL,)) as listener:
            # Every change, not only the first: through a transaction pooler the LISTEN
            # would sit on a server connection that goes back to the pool.
            for n in range(4):
                code, _out, err = behind(
                    "--as", ADMIN, "ticket", "new", "-s", f"VPN {n}", "--anonymous"
                )
                assert code == 0, err
                heard = listener.wait(15)
                assert heard, f"no notice for change {n}"
                assert all(notice.channel == EVENTS_CHANNEL for notice in heard)
                listener.wait(0.2)  # the rest of this change's notices
    finally:
        db.dispose()


def test_a_transaction_pooler_without_a_listen_url_is_refused_in_one_line(
    behind: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_admin(behind)
    monkeypatch.delenv("DESKTERM_LISTEN_URL")
    code, out, err = behind("--as", ADMIN, "ticket", "list")
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "listen_url" in lines[0].lower()


def test_bench_load_through_the_pooler_passes_its_checks_with_apps_open(
    behind: Any, bounced: Any
) -> None:
    code, out, err = behind(
        *("bench", "load", "--analysts", "4", "--seconds", "5", "--tickets", "200"),
        *("--apps", "6", "--json"),
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["total"]["per_second"] > 0
    assert all(check["passed"] for check in report["checks"]), report["checks"]
    assert sum(op["errors"] for op in report["operations"]) == 0
    apps = report["apps"]
    assert apps["opened"] == 6 and apps["refused"] == 0 and apps["errors"] == 0
    # They heard the analysts through their direct listeners and read their pages again.
    assert apps["refreshes"] > 6
    # It ran through the pooler, and said so.
    assert f"@127.0.0.1:{bounced.bouncer.port}/" in err.split("load desk: ")[1].splitlines()[0]
