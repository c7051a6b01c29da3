"""Trust holes of the CLI found by attacking it (issue 13, items 9, 12, 13, 14).

What a script or a person sees must hold whatever was typed or stored: never an internal
error (exit 70) where the README promises a refusal (1) or an unusable database (4), usage
errors in one line, no input quoted back at length, no terminal sequence in ``--json`` or in
a rendered article, no Unicode digit read as a ticket number, and an import that stores no
control character.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import create_engine, func, select, text, update

from clirun import _Stdin, run_deskterm
from deskterm.db.migrate import KNOWN
from deskterm.db.models import Contact, Ticket, TicketEvent
from deskterm.desk.mail import import_message
from deskterm.domain.errors import InvalidInput
from deskterm.domain.refs import format_ref, parse_ref
from factories import AGENT, CONTACT_EMAIL, KnownDesk

ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


class Cli:
    """``deskterm`` against one desk, as the analyst ``ada`` (an admin)."""

    def __init__(self, url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
        self.url = url
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def __call__(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        return run_deskterm(
            self.monkeypatch, self.capsys, "--db", self.url, "--as", "ada", *args, stdin=stdin
        )

    def ok(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 0, err
        return out

    def count(self, model: Any) -> int:
        engine = create_engine(_sync(self.url))
        try:
            with engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(model)).scalar() or 0
        finally:
            engine.dispose()


def _sync(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def one_line_refusal(err: str) -> None:
    assert err.startswith("deskterm: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal error" not in err, err


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Cli:
    """A desk with one admin, one caller and one ticket (DT-000001)."""
    monkeypatch.setenv("COLUMNS", "160")
    run = Cli(db_url, monkeypatch, capsys)
    run.ok("analyst", "add", "ada", "--name", "Ada Admin", "-g", "Service Desk")
    run.ok("contact", "add", "--name", "Bea Caller", "--email", "bea@example.com")
    run.ok("ticket", "new", "-s", "Printer jams", "-c", "bea@example.com")
    return run


# --------------------------------------------------------------------------- item 9: no exit 70


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("contact", "show", "#999999999999"), "no contact with id"),
        (("contact", "show", f"#{2**31}"), "no contact with id"),
        (("ticket", "new", "-s", "x", "-c", "#4915112345"), "no contact with id"),
        (("ticket", "show", "#999999999999"), "no ticket DT-999999999999"),
        (("ticket", "show", "DT-99999999999999999999"), "is not a ticket reference"),
        (("kb", "show", "KB-999999999"), "no article"),
    ],
)
def test_ids_beyond_the_integer_range_are_not_found(cli: Cli, args, says) -> None:
    code, out, err = cli(*args)
    assert code == 1 and says in err and out == ""
    one_line_refusal(err)


@pytest.mark.parametrize(
    "args",
    [
        ("sla", "report", "--to", "9999-12-31"),
        ("report", "sla", "--to", "9999-12-31"),
        ("sla", "report", "--to", "0001-01-01"),
        ("kb", "gaps", "--from", "0001-01-01"),
    ],
)
def test_a_period_at_the_ends_of_the_calendar_is_refused(cli: Cli, args) -> None:
    code, _out, err = cli(*args)
    assert code == 1 and "is out of range" in err
    one_line_refusal(err)


def test_a_huge_contact_search_is_refused_in_one_short_line(cli: Cli) -> None:
    for needle in ("1" * 50_000, "a" * 50_000, "a@" * 25_000):
        code, out, err = cli("contact", "find", needle)
        assert code == 1 and "search text is too long" in err and out == ""
        one_line_refusal(err)
        assert len(err) < 200


def test_a_damaged_desk_file_is_said_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    path = tmp_path / "desk.db"
    run = Cli(f"sqlite:///{path}", monkeypatch, capsys)
    run.ok("analyst", "add", "ada", "--name", "Ada Admin", "-g", "Service Desk")
    for name in ("desk.db-wal", "desk.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for args in (("ticket", "list"), ("db", "status"), ("db", "upgrade")):
        code, _out, err = run(*args)
        assert code == 4, err
        assert "is damaged" in err and "restore it from a backup" in err
        one_line_refusal(err)


def test_a_damaged_file_found_mid_command_is_exit_4(cli: Cli, monkeypatch) -> None:
    """Past the checks made on opening, SQLite's own error still becomes the one line."""
    from deskterm.desk import rows

    def damaged(*_args: Any, **_kwargs: Any) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(rows, "list_tickets", damaged)
    code, _out, err = cli("ticket", "list")
    assert code == 4 and "is damaged" in err
    one_line_refusal(err)


def test_upgrade_over_a_revision_its_tables_are_not_at_is_exit_4(cli: Cli) -> None:
    # Said to be before 0011, which makes tables that are there: its run fails (0012 only
    # grants, which may run again).
    before = KNOWN[KNOWN.index("0011_caller_lookup") - 1]
    engine = create_engine(_sync(cli.url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": before})
    code, _out, err = cli("db", "upgrade")
    assert code == 4 and "the upgrade from there failed" in err
    one_line_refusal(err)
    with engine.connect() as conn:  # nothing changed
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == before
    engine.dispose()


def test_postgresql_import_failure_is_one_line(db_url: str, tmp_path: Path) -> None:
    """psycopg's "pipeline aborted" log line must not follow the refusal (a real process:
    pytest's log capture would hide it)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no pipeline")
    rows = [{"table": "contact", "row": _contact_row(n)} for n in range(1, 1501)]
    rows[1200]["row"]["name"] = "x" * 300  # longer than the column: refused by PostgreSQL
    source = _export(tmp_path, rows)
    env = {**os.environ, "DESKTERM_DATABASE_URL": db_url, "DESKTERM_USER": "ada"}
    done = subprocess.run(
        [sys.executable, "-m", "deskterm", "import", str(source)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "cannot be stored" in done.stderr and "pipeline" not in done.stderr
    one_line_refusal(done.stderr)


# --------------------------------------------------------------------------- item 12


def test_json_escapes_bidi_and_c1_controls_written_by_another_tool(cli: Cli) -> None:
    hostile = "Bea \u202eevil\u2066 \x9b31m \x7f\x1b[2J done"
    engine = create_engine(_sync(cli.url))
    with engine.begin() as conn:
        conn.execute(update(Contact).values(name=hostile))
    engine.dispose()
    for args in (("contact", "show", "#1", "--json"), ("ticket", "show", "1", "--json")):
        out = cli.ok(*args)
        for raw in ("\u202e", "\u2066", "\x9b", "\x7f", "\x1b"):
            assert raw not in out, (args, repr(raw))
        assert "\\u202e" in out and "\\u009b" in out
    shown = json.loads(cli.ok("contact", "show", "#1", "--json"))
    assert shown["name"] == hostile  # escaped, not changed: a script reads what is stored


def test_kb_show_on_a_terminal_shows_where_a_link_goes(cli: Cli, monkeypatch) -> None:
    from deskterm.cli import kb

    body = (
        "Reset it [on the portal](https://evil.example/steal) and ![logo](https://x.example/i.png)"
    )
    cli.ok("kb", "add", "-t", "Password reset", "--body", body)
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120, color_system="truecolor")
    monkeypatch.setattr(kb, "out", terminal)
    cli.ok("kb", "show", "KB-1")
    shown = screen.getvalue()
    assert "\x1b]8;" not in shown  # no OSC 8 hyperlink: its target would be hidden
    assert "https://evil.example/steal" in shown and "on the portal" in shown


def test_import_cleans_text_like_every_way_in(
    db_url: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    """A crafted export: escapes, bidi, C1 controls, a lone surrogate, in a column and in a
    log event's data. What is stored holds none of them; clean text is kept as it was."""
    rows = [
        {"table": "contact", "row": _contact_row(1, name="Bea \u202eevil\x9b31m \x1b]0;t\x07")},
        {"table": "contact", "row": _contact_row(2, name="Cleo Clean\tTab")},
        {"table": "contact", "row": _contact_row(3, name="Dan \ud800 Half")},
    ]
    source = _export(tmp_path, rows)
    code, _out, err = run_deskterm(
        monkeypatch, capsys, "--db", db_url, "--as", "ada", "import", str(source)
    )
    assert code == 0, err
    assert "4 text values held control characters" in err  # name and name_lower, twice
    engine = create_engine(_sync(db_url))
    with engine.connect() as conn:
        names = dict(conn.execute(select(Contact.id, Contact.name)).all())
    engine.dispose()
    assert names == {1: "Bea evil ", 2: "Cleo Clean\tTab", 3: "Dan \ufffd Half"}


def _contact_row(number: int, *, name: str | None = None) -> dict[str, Any]:
    name = name if name is not None else f"Caller {number}"
    return {
        "id": number,
        "name": name,
        "name_lower": name.lower(),
        "email": f"caller{number}@example.com",
        "created_at": "2026-01-01T00:00:00+00:00",
        "vip": False,
    }


def _export(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    """A minimal export file: header, rows, closing counts."""
    from deskterm.desk.transfer import FORMAT, FORMAT_VERSION

    counts: dict[str, int] = {}
    for row in rows:
        counts[row["table"]] = counts.get(row["table"], 0) + 1
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "revision": KNOWN[-1],
        "source": "sqlite",
    }
    lines = [header, *rows, {"end": True, "counts": counts}]
    path = tmp_path / "crafted.jsonl"
    # ensure_ascii: a lone surrogate travels as \ud800, as it would in a hand-made file.
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="ascii")
    return path


# --------------------------------------------------------------------------- item 13


def test_unicode_digits_are_not_ticket_numbers() -> None:
    from deskterm.domain.refs import ascii_number

    for bad in ("٤٢", "DT-١", "#١", "²", "DT-00000²", "١٢٣"):
        with pytest.raises(InvalidInput):
            parse_ref(bad)
    assert parse_ref("DT-000042") == 42
    assert ascii_number("42") == 42
    assert ascii_number("٤٢") is None and ascii_number("²") is None and ascii_number("") is None


def test_a_note_to_an_arabic_number_reaches_no_ticket(cli: Cli) -> None:
    before = cli.count(TicketEvent)
    code, _out, err = cli("ticket", "note", "١", "-t", "hello")
    assert code == 1 and "is not a ticket reference" in err
    assert cli.count(TicketEvent) == before
    for args in (("contact", "show", "#١"), ("kb", "show", "KB-١"), ("ticket", "show", "²")):
        code, _out, err = cli(*args)
        assert code == 1, (args, err)
        one_line_refusal(err)


def test_a_unicode_digit_in_a_subject_names_no_ticket(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    ref = format_ref(ticket.id).translate(ARABIC)
    raw = (
        f"From: Carol Jones <{CONTACT_EMAIL}>\r\nTo: help@desk.example\r\n"
        f"Subject: Re: [{ref}] still broken\r\nMessage-ID: <arabic@acme.example>\r\n\r\n"
        "Hello.\r\n"
    ).encode()
    result = import_message(known.db, raw, source="arabic.eml")
    assert result.outcome == "new_ticket" and result.ref != format_ref(ticket.id)


# --------------------------------------------------------------------------- item 14


@pytest.mark.parametrize(
    "args",
    [
        ("ticket", "show"),
        ("ticket", "frobnicate"),
        ("ticket", "list", "--limit", "many"),
        ("ticket", "show", "1", "--bogus"),
        ("contact", "show", "1", "2"),
    ],
)
def test_usage_errors_are_one_line(cli: Cli, args) -> None:
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    one_line_refusal(err)
    assert "--help)" in err and "╭" not in err


def test_a_huge_input_is_not_quoted_back_whole(cli: Cli) -> None:
    huge = "z" * 100_000
    for args in (("ticket", "show", huge), ("contact", "show", huge), ("kb", "show", huge)):
        code, _out, err = cli(*args)
        assert code == 1, err
        one_line_refusal(err)
        assert len(err) < 300 and "…" in err


def test_expect_version_below_one_is_a_usage_error(cli: Cli) -> None:
    before = cli.count(TicketEvent)
    code, _out, err = cli("ticket", "note", "1", "-t", "x", "--expect-version", "-1")
    assert code == 2 and "--expect-version" in err
    one_line_refusal(err)
    assert cli.count(TicketEvent) == before


def test_a_search_with_no_word_says_how_to_search(cli: Cli) -> None:
    code, _out, err = cli("ticket", "search", "*")
    assert code == 1 and "no word to search for" in err and "e.g." in err
    one_line_refusal(err)
    code, _out, err = cli("ticket", "search")
    assert code == 2
    assert "DT-000001" in cli.ok("ticket", "search", "printer")


def test_an_empty_priority_is_refused(cli: Cli) -> None:
    for args in (
        ("ticket", "new", "-s", "x", "-c", "bea@example.com", "--priority", ""),
        ("ticket", "new", "-s", "x", "-c", "bea@example.com", "--priority", " ", "--reason", "r"),
        ("ticket", "priority", "1", "--priority", "", "--reason", "r"),
        ("ticket", "priority", "1", "--impact", ""),
        ("ticket", "list", "--priority", ""),
    ):
        code, _out, err = cli(*args)
        assert code == 2 and "must not be empty" in err, (args, err)
        one_line_refusal(err)
    assert cli.count(Ticket) == 1


def test_a_database_url_that_is_no_url_nor_path_is_refused(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("::::", "sqlite:desk.db", "postgres:desk"):
        code, _out, err = run_deskterm(monkeypatch, capsys, "--db", url, "ticket", "list")
        assert code == 1 and "neither a database URL" in err
        one_line_refusal(err)
    assert list(tmp_path.iterdir()) == []  # no file made


def test_another_applications_sqlite_file_is_left_alone(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    for args in (("db", "upgrade"), ("ticket", "list")):
        code, _out, err = run_deskterm(monkeypatch, capsys, "--db", str(path), *args)
        assert code == 4 and "another application's tables" in err
        one_line_refusal(err)
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"customers"}


def test_invalid_utf8_on_standard_input_is_refused_like_a_file(
    cli: Cli, tmp_path: Path, monkeypatch
) -> None:
    bad = b"caf\xe9 \xff"
    path = tmp_path / "body.md"
    path.write_bytes(bad)
    code, _out, err = cli("kb", "add", "-t", "From a file", "--body-file", str(path))
    assert code == 1 and "is not UTF-8 text" in err
    monkeypatch.setattr(sys, "stdin", _Stdin(bad))
    code, _out, err = cli("kb", "add", "-t", "From a pipe", "--body-file", "-")
    assert code == 1 and "standard input is not UTF-8 text" in err
    one_line_refusal(err)
    monkeypatch.setattr(sys, "stdin", _Stdin("Grüße".encode()))
    assert cli("kb", "add", "-t", "Fine", "--body-file", "-")[0] == 0
