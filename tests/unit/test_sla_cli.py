"""``deskterm sla``, ``analyst away --handover``, ``ticket callback`` by the cadence and
``config check`` of the SLA file, as a script sees them: exit codes, one-line refusals, JSON."""

# ruff: noqa: F811  (the CLI fixtures are imported from test_cli and used as parameters)
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from test_cli import cli, desk_cli, new_ticket  # noqa: F401  (the CLI fixtures)

from deskterm import defaults
from deskterm.desk import clock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 09:00 in London


@pytest.fixture
def now() -> Iterator[list[datetime]]:
    moment = [T0]
    with clock.use_clock(lambda: moment[0]):
        yield moment


def test_sla_check_logs_a_breach_once_and_says_what_it_did(desk_cli, now) -> None:
    ticket = new_ticket(desk_cli, "--impact", "high", "--urgency", "medium", "--channel", "email")
    now[0] = T0 + timedelta(hours=9)

    first = desk_cli("sla", "check")
    assert first.code == 0, first.err
    assert "2 breaches" in first.out and ticket["ref"] in first.out
    assert "escalated to Desktop Support (L2)" in first.out

    again = desk_cli("sla", "check", "--json")
    assert again.code == 0
    data = again.json()
    assert (data["breaches"], data["warnings"], data["firings"]) == (0, 0, [])

    shown = desk_cli("--as", "sam", "ticket", "show", ticket["ref"], "--json").json()
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds.count("sla_breached") == 2 and kinds.count("escalation_rule") == 1


def test_sla_report_by_priority_and_group(desk_cli, now) -> None:
    new_ticket(desk_cli, "--channel", "email")
    now[0] = T0 + timedelta(days=3)
    desk_cli("sla", "check")

    table = desk_cli("--as", "sam", "sla", "report", "--from", "2026-03-01", "--to", "2026-03-02")
    assert table.code == 0, table.err
    # The group may be cut short on a narrow terminal; the figures never are.
    assert "Service" in table.out and "P3" in table.out and "0/1/0   0%" in table.out

    data = desk_cli(
        "--as", "sam", "sla", "report", "--from", "2026-03-01", "--to", "2026-03-02", "--json"
    ).json()
    assert set(data) >= {"since", "until", "rows", "by_priority", "total"}
    row = data["rows"][0]
    assert (row["priority"], row["group"], row["tickets"]) == ("P3", "Service Desk", 1)
    assert row["resolution_breached"] == 1 and row["resolution_compliance"] == 0.0


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (("--as", "lena", "sla", "report"), 3, "only supervisors and admins"),
        (("--as", "sam", "sla", "report", "--from", "March"), 1, "is not a day"),
        (("--as", "sam", "sla", "report", "--group", "Nobody"), 1, "no group named 'Nobody'"),
    ],
)
def test_sla_report_refusals_are_one_line(desk_cli, args, code, said) -> None:
    res = desk_cli(*args)
    assert res.code == code
    assert said in res.err and res.err.count("\n") == 1 and not res.out


def test_away_with_handover_moves_the_tickets_in_one_step(desk_cli) -> None:
    ticket = new_ticket(desk_cli, login="lena")
    res = desk_cli(
        "--as", "lena", "analyst", "away", "--backup", "omar", "--reason", "holiday", "--handover"
    )
    assert res.code == 0, res.err
    assert f"handed to omar: {ticket['ref']}" in res.out
    shown = desk_cli("--as", "omar", "ticket", "show", ticket["ref"], "--json").json()
    assert shown["assignee"] == "omar"
    assert shown["events"][-1]["data"]["reason"] == "away"

    back = desk_cli("--as", "lena", "analyst", "back")
    assert back.code == 0


def test_away_with_handover_needs_a_backup(desk_cli) -> None:
    ticket = new_ticket(desk_cli, login="lena")
    res = desk_cli("--as", "lena", "analyst", "away", "--handover", "--json")
    assert res.code == 1 and "needs a backup" in res.err and res.err.count("\n") == 1
    # Nothing half-written: still available, still holding the ticket.
    listed = desk_cli("--as", "lena", "analyst", "list", "--json").json()
    assert next(a for a in listed if a["login"] == "lena")["availability"] == "available"
    shown = desk_cli("--as", "lena", "ticket", "show", ticket["ref"], "--json").json()
    assert shown["assignee"] == "lena"


def test_a_callback_without_a_time_follows_the_cadence(desk_cli, now) -> None:
    ticket = new_ticket(desk_cli)  # P3: every 10 office hours
    res = desk_cli("--as", "lena", "ticket", "callback", ticket["ref"], "--json")
    assert res.code == 0, res.err
    shown = desk_cli("--as", "lena", "ticket", "show", ticket["ref"], "--json").json()
    promised = [e for e in shown["events"] if e["kind"] == "callback_scheduled"][-1]
    # 9 office hours on Monday from 09:00, one more on Tuesday from 08:00.
    assert promised["data"]["due_at"] == "2026-03-03 09:00 UTC"

    planning = new_ticket(desk_cli, "--impact", "low", "--urgency", "low")
    refused = desk_cli("--as", "lena", "ticket", "callback", planning["ref"])
    assert refused.code == 1 and "no callback cadence" in refused.err


def test_config_check_shows_the_sla_and_names_a_broken_file(
    cli,
    tmp_path,
    monkeypatch,
) -> None:
    ok = cli("config", "check")
    assert ok.code == 0, ok.err
    assert "P1 unassigned for 10 minutes → escalate to level 2" in ok.out

    folder = tmp_path / "deskterm"
    folder.mkdir()
    (folder / "sla.toml").write_text(
        (defaults.data_file("sla.toml").read_text()).replace(
            'time_zone = "Europe/London"', 'time_zone = "Mars/Olympus"'
        )
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    try:
        bad = cli("config", "check")
    finally:
        defaults.sla_policy.cache_clear()
    assert bad.code == 1
    assert "unknown time zone 'Mars/Olympus'" in bad.err and str(folder) in bad.err
    assert bad.err.count("\n") == 1


def test_sla_check_as_cron_runs_it(tmp_path) -> None:
    """What cron or a systemd timer sees: no login needed, exit status 0, a summary line."""
    env = {**os.environ, "DESKTERM_DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}"}
    env.pop("DESKTERM_USER", None)
    done = subprocess.run(
        [sys.executable, "-m", "deskterm", "sla", "check"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Looked at 0 tickets")
