"""``deskterm view ...`` and ``ticket list --view``: saved views from a shell, on both
databases; refusals are one line with the usual exit codes."""

from __future__ import annotations

import csv
import io
import json

import pytest

from clirun import run_deskterm
from factories import AGENT, AGENT2, SERVICE_DESK, SUPERVISOR, KnownDesk


@pytest.fixture
def deskterm(known: KnownDesk, monkeypatch: pytest.MonkeyPatch, capsys):
    url = known.db.url.render_as_string(hide_password=False)
    monkeypatch.setenv("COLUMNS", "200")

    def run(login: str, *args: str) -> tuple[int, str, str]:
        return run_deskterm(monkeypatch, capsys, "--db", url, "--as", login, *args)

    return run


def test_a_view_added_lists_with_its_count_and_its_tickets(known: KnownDesk, deskterm) -> None:
    urgent = known.ticket(AGENT, subject="Mail server down", impact="high", urgency="high")
    known.ticket(AGENT, subject="Mouse squeaks", impact="low", urgency="low")
    other = known.ticket(AGENT, subject="Mail quota", impact="high", urgency="medium")
    code, out, err = deskterm(
        AGENT, "view", "add", "Hot mail", "--priority", "P1-P2", "--text", "mail", "--group",
        "mine",
    )  # fmt: skip
    assert code == 0, err
    assert "Hot mail saved" in out and "P1,P2" in out
    code, out, _err = deskterm(AGENT, "view", "list", "--json")
    listed = json.loads(out)
    assert [(v["name"], v["count"], v["group"]) for v in listed] == [("Hot mail", 2, None)]
    code, out, _err = deskterm(AGENT, "ticket", "list", "--view", "hot mail", "--csv")
    assert code == 0
    assert [r["ref"] for r in csv.DictReader(io.StringIO(out))] == [urgent.ref, other.ref]
    code, out, _err = deskterm(AGENT, "ticket", "list", "--view", "Hot mail", "--limit", "1")
    assert urgent.ref in out and other.ref not in out
    # Another analyst does not see it.
    code, _out, err = deskterm(AGENT2, "ticket", "list", "--view", "Hot mail")
    assert code == 1 and "no saved view named" in err
    code, _out, err = deskterm(AGENT, "view", "remove", "Hot mail", "--yes")
    assert code == 0
    code, out, _err = deskterm(AGENT, "view", "list")
    assert "No saved views yet" in out


def test_refusals_are_one_line(deskterm) -> None:
    code, _out, err = deskterm(AGENT, "view", "add", "Late", "--sla", "late")
    assert code == 1 and err.count("\n") == 1 and "breached, fine or due:4h" in err
    code, _out, err = deskterm(AGENT, "view", "add", "Team", "--share", SERVICE_DESK)
    assert code == 3 and "only a supervisor" in err
    code, _out, err = deskterm(AGENT, "ticket", "list", "--view", "x", "--status", "all")
    assert code == 2 and "--view keeps its own filter" in err
    code, out, err = deskterm(SUPERVISOR, "view", "add", "Team", "--share", SERVICE_DESK)
    assert code == 0 and f"shared with {SERVICE_DESK}" in out
    code, _out, err = deskterm(AGENT, "view", "remove", "Team", "--yes")
    assert code == 3 and "supervisor of its group" in err
    code, out, _err = deskterm(AGENT, "view", "rename", "Team", "Ours")
    assert code == 3
    code, out, _err = deskterm(SUPERVISOR, "view", "rename", "Team", "Ours")
    assert code == 0 and "Ours renamed" in out
