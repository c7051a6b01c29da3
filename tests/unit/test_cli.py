"""The CLI as a script sees it: exit codes, one-line refusals, stable JSON keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from deskterm.cli import main

TICKET_KEYS = {
    "ref",
    "subject",
    "status",
    "priority",
    "impact",
    "urgency",
    "level",
    "group",
    "assignee",
    "contact",
    "created_at",
}


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(db_url, monkeypatch, capsys):
    """Run ``deskterm ARGS`` in-process against the test database, through ``main``."""
    monkeypatch.setenv("DESKTERM_DATABASE_URL", db_url)
    monkeypatch.delenv("DESKTERM_USER", raising=False)
    monkeypatch.setenv("COLUMNS", "160")

    def run(*args: str) -> Run:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["deskterm", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def desk_cli(cli):
    """A desk with an admin, a supervisor, two agents, an L2 technician and a caller."""
    assert (
        cli(
            "--as", "ada", "analyst", "add", "ada", "--name", "Ada Admin", "-g", "Service Desk"
        ).code
        == 0
    )
    for login, name, role, level, group in (
        ("sam", "Sam Supervisor", "supervisor", "1", "Service Desk"),
        ("lena", "Lena Agent", "agent", "1", "Service Desk"),
        ("omar", "Omar Agent", "agent", "1", "Service Desk"),
        ("tom", "Tom Tech", "technician", "2", "Desktop Support"),
    ):
        res = cli(
            "--as",
            "ada",
            "analyst",
            "add",
            login,
            "--name",
            name,
            "--role",
            role,
            "--level",
            level,
            "-g",
            group,
        )
        assert res.code == 0, res.err
    res = cli(
        "--as",
        "lena",
        "contact",
        "add",
        "--name",
        "Bea Caller",
        "--email",
        "bea@example.com",
        "--phone",
        "+49 30 1234567",
        "--org",
        "Acme",
    )
    assert res.code == 0, res.err
    return cli


def new_ticket(cli, *extra: str, login: str = "lena") -> dict:
    res = cli(
        "--as",
        login,
        "ticket",
        "new",
        "-s",
        "Printer jams",
        "-c",
        "bea@example.com",
        "--category",
        "Hardware > Printer",
        "--json",
        *extra,
    )
    assert res.code == 0, res.err
    return res.json()


def test_version_and_help_describe_every_command(cli):
    res = cli("--version")
    assert res.code == 0 and res.out.startswith("deskterm ")
    res = cli("--help")
    assert res.code == 0
    for command in ("ticket", "queue", "analyst", "contact", "demo", "db", "group", "category"):
        assert command in res.out
    res = cli("ticket", "--help")
    for command in (
        "new",
        "list",
        "show",
        "note",
        "assign",
        "escalate",
        "status",
        "resolve",
        "reopen",
        "close",
        "link",
    ):
        assert command in res.out


def test_empty_desk_explains_how_to_start(cli):
    res = cli("--as", "someone", "ticket", "list")
    assert res.code == 3
    assert "no analysts yet" in res.err
    assert res.err.count("\n") == 1 and "Traceback" not in res.err


def test_first_analyst_becomes_admin_then_others_need_an_admin(cli):
    res = cli("--as", "zed", "analyst", "add", "zed", "--name", "Zed", "--role", "agent", "--json")
    assert res.code == 0 and res.json()["role"] == "admin"
    cli("--as", "zed", "analyst", "add", "yan", "--name", "Yan")
    res = cli("--as", "yan", "analyst", "add", "xia", "--name", "Xia")
    assert res.code == 3 and "only an admin" in res.err


def test_ticket_lifecycle_writes_the_log(desk_cli):
    cli = desk_cli
    t = new_ticket(cli, "--impact", "high", "--urgency", "low", "--call-seconds", "95")
    assert TICKET_KEYS <= t.keys()
    assert (t["ref"], t["priority"], t["status"], t["assignee"]) == (
        "DT-000001",
        "P3",
        "assigned",
        "lena",
    )
    ref = t["ref"]
    assert (
        cli("--as", "lena", "ticket", "note", ref, "-t", "Cleared paper path", "--public").code == 0
    )
    assert (
        cli(
            "--as",
            "lena",
            "ticket",
            "call",
            ref,
            "--direction",
            "outbound",
            "--seconds",
            "60",
            "--outcome",
            "Works now",
        ).code
        == 0
    )
    assert cli("--as", "lena", "ticket", "status", ref, "in_progress").code == 0
    res = cli("--as", "lena", "ticket", "resolve", ref, "--code", "fixed", "-t", "Replaced roller")
    assert res.code == 0, res.err
    assert cli("--as", "lena", "ticket", "reopen", ref, "--reason", "Jams again").code == 0
    assert (
        cli(
            "--as",
            "lena",
            "ticket",
            "resolve",
            ref,
            "--code",
            "hardware-replaced",
            "-t",
            "New printer",
        ).code
        == 0
    )
    assert cli("--as", "lena", "ticket", "close", ref).code == 0
    shown = cli("--as", "omar", "ticket", "show", ref, "--json").json()
    assert shown["status"] == "closed"
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds == [
        "created",
        "call_logged",
        "note",
        "call_logged",
        "status_changed",
        "resolved",
        "reopened",
        "resolved",
        "closed",
    ]
    for event in shown["events"]:
        assert {"kind", "actor", "at", "visibility", "data"} <= event.keys()
        assert event["actor"] == "lena"
    note = shown["events"][2]
    assert note["visibility"] == "public" and note["data"]["text"] == "Cleared paper path"


def test_list_filters_and_json(desk_cli):
    cli = desk_cli
    new_ticket(cli)
    new_ticket(cli, "--group", "Desktop Support")
    new_ticket(cli, "--impact", "high", "--urgency", "high", login="omar")
    mine = cli("--as", "lena", "ticket", "list", "--assignee", "me", "--json").json()
    assert [t["ref"] for t in mine] == ["DT-000001"]
    unassigned = cli("--as", "lena", "ticket", "list", "--assignee", "none", "--json").json()
    assert [t["group"] for t in unassigned] == ["Desktop Support"]
    urgent = cli("--as", "lena", "ticket", "list", "--json").json()
    assert urgent[0]["priority"] == "P1"
    newest = cli(
        "--as", "lena", "ticket", "list", "--sort", "newest", "--limit", "1", "--json"
    ).json()
    assert [t["ref"] for t in newest] == ["DT-000003"]
    p1 = cli("--as", "lena", "ticket", "list", "--priority", "p1", "--json").json()
    assert len(p1) == 1
    table = cli("--as", "lena", "ticket", "list")
    assert "DT-000001" in table.out and "Printer jams" in table.out


def test_queue_next_claims_and_prints(desk_cli):
    cli = desk_cli
    new_ticket(cli, "--group", "Desktop Support")
    new_ticket(cli, "--group", "Desktop Support", "--impact", "high")
    res = cli("--as", "tom", "queue", "next", "--json")
    assert res.code == 0, res.err
    claimed = res.json()
    assert claimed["ref"] == "DT-000002" and claimed["assignee"] == "tom"
    assert claimed["events"][-1]["data"]["via"] == "queue next"
    cli("--as", "tom", "queue", "next")
    res = cli("--as", "tom", "queue", "next")
    assert res.code == 0 and "Nothing waiting in Desktop Support" in res.out


def test_assign_and_escalate_permissions(desk_cli):
    cli = desk_cli
    ref = new_ticket(cli)["ref"]  # held by lena
    res = cli("--as", "omar", "ticket", "assign", ref, "--to", "omar", "--reason", "mine now")
    assert res.code == 3 and "only they or a supervisor" in res.err
    res = cli("--as", "sam", "ticket", "assign", ref, "--to", "omar")
    assert res.code == 1 and "needs a reason" in res.err
    res = cli(
        "--as", "sam", "ticket", "assign", ref, "--to", "omar", "--reason", "Lena is off", "--json"
    )
    assert res.code == 0 and res.json()["assignee"] == "omar"
    res = cli("--as", "omar", "ticket", "escalate", ref, "--level", "2", "--reason", " ")
    assert res.code == 1 and "reason" in res.err
    res = cli(
        "--as",
        "omar",
        "ticket",
        "escalate",
        ref,
        "--level",
        "2",
        "--reason",
        "Needs a new fuser",
        "--json",
    )
    assert res.code == 0
    assert (res.json()["group"], res.json()["level"], res.json()["assignee"]) == (
        "Desktop Support",
        2,
        None,
    )
    shown = cli("--as", "sam", "ticket", "show", ref, "--json").json()
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds[-4:] == ["note", "reassigned", "note", "escalated"]
    # The reason is an internal line of the log, not part of the (public) escalation.
    why = shown["events"][-2]
    assert (why["visibility"], why["data"]["text"]) == ("internal", "Needs a new fuser")
    assert "reason" not in shown["events"][-1]["data"]


def test_stale_write_is_refused_and_names_the_change(desk_cli):
    cli = desk_cli
    t = new_ticket(cli)
    cli("--as", "omar", "ticket", "note", t["ref"], "-t", "I looked too")
    res = cli(
        "--as",
        "lena",
        "ticket",
        "note",
        t["ref"],
        "-t",
        "mine",
        "--expect-version",
        str(t["version"]),
    )
    assert res.code == 5
    assert "omar" in res.err and "Nothing was saved" in res.err
    shown = cli("--as", "lena", "ticket", "show", t["ref"], "--json").json()
    assert "mine" not in [e["data"].get("text") for e in shown["events"]]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("ticket", "new", "-s", "  ", "--anonymous"), "subject must not be empty"),
        (("ticket", "new", "-s", "x", "-c", "nobody@example.com"), "no contact matches"),
        (("ticket", "new", "-s", "x", "--anonymous", "--priority", "P9"), "unknown priority"),
        (("ticket", "new", "-s", "x", "--anonymous", "--priority", "P1"), "needs a reason"),
        (("ticket", "new", "-s", "x", "--anonymous", "--impact", "huge"), "unknown impact"),
        (("ticket", "assign", "DT-000001", "--to", "ghost"), "no analyst with login 'ghost'"),
        (("ticket", "status", "DT-000001", "closed"), "only a resolved ticket can be closed"),
        (("ticket", "status", "DT-000001", "sleeping"), "unknown status"),
        (("ticket", "show", "XY-12"), "is not a ticket reference"),
        (("ticket", "show", "DT-000999"), "no ticket DT-000999"),
        (
            ("ticket", "resolve", "DT-000001", "--code", "magic", "-t", "x"),
            "unknown resolution code",
        ),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(desk_cli, args, says):
    cli = desk_cli
    new_ticket(cli)
    before = cli("--as", "lena", "ticket", "show", "DT-000001", "--json").json()
    res = cli("--as", "lena", *args)
    assert res.code != 0
    assert says in res.err
    assert res.err.startswith("deskterm: ") and res.err.count("\n") == 1
    assert "Traceback" not in res.err and res.out == ""
    after = cli("--as", "lena", "ticket", "show", "DT-000001", "--json").json()
    assert after == before
    assert len(cli("--as", "lena", "ticket", "list", "--status", "all", "--json").json()) == 1


def test_unknown_login_is_a_clear_error(desk_cli):
    res = desk_cli("--as", "mallory", "ticket", "list")
    assert res.code == 3 and "'mallory' is not an analyst of this desk" in res.err


def test_analyst_away_and_back_redirects_assignments(desk_cli):
    cli = desk_cli
    res = cli("--as", "sam", "analyst", "away", "omar", "--backup", "lena", "--reason", "holiday")
    assert res.code == 0, res.err
    listed = {a["login"]: a for a in cli("--as", "sam", "analyst", "list", "--json").json()}
    assert listed["omar"]["availability"] == "away" and listed["omar"]["backup"] == "lena"
    assert {"login", "role"} <= listed["omar"].keys()
    t = new_ticket(cli, "--assign", "none", login="sam")
    res = cli("--as", "sam", "ticket", "assign", t["ref"], "--to", "omar", "--json")
    assert res.json()["assignee"] == "lena"
    assert cli("--as", "omar", "analyst", "back").code == 0
    res = cli("--as", "lena", "analyst", "away", "omar")
    assert res.code == 3


def test_contacts_find_and_show(desk_cli):
    cli = desk_cli
    for text in ("bea", "1234", "bea@example", "acm"):
        found = cli("--as", "lena", "contact", "find", text, "--json").json()
        assert [c["name"] for c in found] == ["Bea Caller"], text
    res = cli(
        "--as",
        "lena",
        "contact",
        "asset",
        "bea@example.com",
        "--kind",
        "hardware",
        "--product",
        "ThinkPad T14",
        "--serial",
        "PF-123",
    )
    assert res.code == 0, res.err
    shown = cli("--as", "lena", "contact", "show", "bea@example.com", "--json").json()
    assert shown["assets"][0]["serial_number"] == "PF-123"
    res = cli("--as", "lena", "contact", "add", "--name", "Dup", "--email", "bea@example.com")
    assert res.code == 1 and "exists already" in res.err


def test_link_both_ways(desk_cli):
    cli = desk_cli
    a = new_ticket(cli)["ref"]
    b = new_ticket(cli)["ref"]
    assert cli("--as", "lena", "ticket", "link", b, a, "--kind", "duplicate").code == 0
    shown_a = cli("--as", "lena", "ticket", "show", a, "--json").json()
    assert shown_a["links"][0]["ref"] == b
    res = cli("--as", "lena", "ticket", "link", a, b)
    assert res.code == 1 and "linked already" in res.err


def test_db_status_and_upgrade(cli):
    res = cli("db", "upgrade")
    assert res.code == 0
    status = cli("db", "status", "--json").json()
    assert status["revision"] == status["head"] and status["state"] == "up to date"


def test_markup_in_outside_text_is_printed_literally(desk_cli):
    cli = desk_cli
    res = cli(
        "--as",
        "lena",
        "ticket",
        "new",
        "-s",
        "[bold red]boom[/] \x1b[31mred",
        "-c",
        "bea@example.com",
    )
    assert res.code == 0
    shown = cli("--as", "lena", "ticket", "show", "DT-000001").out
    assert "[bold red]boom[/] red" in shown
    assert "\x1b" not in shown


def test_unreachable_database_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(
        sys,
        "argv",
        ["deskterm", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "ticket", "list"],
    )
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 4
    err = capsys.readouterr().err
    assert "is not available" in err and err.count("\n") == 1


def test_as_a_real_process_exit_codes_and_no_traceback(tmp_path):
    """What a shell script sees: the installed entry point, its exit status and stderr."""
    env = {**os.environ, "DESKTERM_DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}"}
    env.pop("DESKTERM_USER", None)
    ok = subprocess.run(
        [sys.executable, "-m", "deskterm", "--version"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and ok.stdout.startswith("deskterm ")
    bad = subprocess.run(
        [sys.executable, "-m", "deskterm", "--as", "x", "ticket", "show", "1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 3  # an unknown analyst: refused like any permission
    assert bad.stderr.startswith("deskterm: ") and "Traceback" not in bad.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "deskterm", "ticket", "frobnicate"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert usage.returncode == 2
