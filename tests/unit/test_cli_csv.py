"""``--csv`` on the list commands, as a spreadsheet or a script reads it: a header row of
the ``--json`` keys, the same rows as ``--json``, times in UTC, and no cell a spreadsheet
would run as a formula however hostile the text behind it."""

from __future__ import annotations

import csv
import io
import json
import sys

import pytest
from test_hostile_input import _UNSAFE, PIECES

from deskterm.cli import main
from deskterm.db.models import Category
from deskterm.domain.text import visible
from factories import ADMIN, AGENT, KnownDesk


@pytest.fixture
def cli(known: KnownDesk, db_url: str, monkeypatch, capsys):
    monkeypatch.setenv("DESKTERM_DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "160")

    def run(*args: str, login: str = AGENT) -> tuple[int, str, str]:
        monkeypatch.setenv("DESKTERM_USER", login)
        monkeypatch.setattr(sys, "argv", ["deskterm", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _read(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _as_cell(value: object) -> str:
    """A JSON value as the CSV writes it (independently of the writer's own code)."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


LONG = "Laptop will not boot" + " and the screen stays black" * 6


def test_ticket_list_csv_has_the_rows_of_json(known: KnownDesk, cli) -> None:
    for subject in ("Printer jams", 'VPN drops, "again"', LONG):
        known.ticket(subject=subject)
    code, out, err = cli("ticket", "list", "--csv")
    assert code == 0 and err == ""
    header, rows = _read(out)
    code, out, _ = cli("ticket", "list", "--json")
    expected = json.loads(out)
    assert header[:2] == ["id", "ref"] and header == list(expected[0])
    assert len(rows) == len(expected) == 3
    for got, want in zip(rows, expected, strict=True):
        assert got == {key: _as_cell(value) for key, value in want.items()}
    # Times in UTC, as ISO 8601.
    assert all(row["created_at"].endswith(("Z", "+00:00")) for row in rows)
    # Not cut to a terminal's width, no colour.
    assert LONG in [row["subject"] for row in rows]
    assert "\x1b" not in out


def test_an_empty_list_is_its_header(cli) -> None:
    code, out, err = cli("ticket", "list", "--csv")
    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith("id,ref,subject,")
    assert out.count("\n") == 1
    code, out, _ = cli("ticket", "search", "nothingmatchesthis", "--csv")
    assert code == 0 and out.startswith("id,ref,") and out.count("\n") == 1


def test_csv_and_json_together_are_refused_in_one_line(cli) -> None:
    code, out, err = cli("ticket", "list", "--csv", "--json")
    assert (code, out) == (2, "")
    assert err == "deskterm: give --json or --csv, not both\n"


FORMULAS = (
    '=HYPERLINK("https://evil.example","Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    " =1+1",
    "=",
)


def test_no_cell_is_a_formula_however_hostile_the_text(known: KnownDesk, cli) -> None:
    subjects = [*FORMULAS, *(f"{piece}=1+1" for piece in PIECES), *PIECES]
    made = []
    for subject in subjects:
        try:
            made.append(known.ticket(subject=subject))
        except Exception:  # noqa: S112 - a subject the desk refuses is not listed
            continue
    code, out, err = cli("ticket", "list", "--csv", "--limit", "1000")
    assert code == 0 and err == ""
    assert not _UNSAFE.search(out.replace("\r\n", "\n"))
    _header, rows = _read(out)
    assert len(rows) == len(made)
    stored = {t.ref: t.subject for t in made}
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
        subject = row["subject"]
        # The text itself is all there, behind the quote that makes it text.
        want = visible(stored[row["ref"]])
        assert subject == (f"'{want}" if want.startswith(("=", "+", "-", "@", "\t")) else want)


# Every list command, as an admin (some lists are for supervisors), with --csv and --json.
LISTS = (
    ("ticket", "list"),
    ("ticket", "search", "printer"),
    ("analyst", "list"),
    ("analyst", "key", "list"),
    ("group", "list"),
    ("category", "list"),
    ("contact", "list"),
    ("contact", "find", "known"),
    ("kb", "list"),
    ("kb", "search", "printer"),
    ("kb", "gaps"),
    ("call", "list"),
    ("outbox", "list"),
    ("mail", "list"),
    ("cti", "token", "list"),
    ("portal", "sms-token", "list"),
    ("text", "list"),
)


@pytest.mark.parametrize("command", LISTS, ids=" ".join)
def test_every_list_takes_csv_with_the_json_keys(known: KnownDesk, cli, command) -> None:
    known.ticket(subject="Printer jams")
    code, out, err = cli(*command, "--csv", login=ADMIN)
    assert code == 0, err
    header, rows = _read(out)
    code, out, err = cli(*command, "--json", login=ADMIN)
    assert code == 0, err
    records = json.loads(out)
    if records:
        assert header == list(records[0])
        assert len(rows) == len(records)
    else:
        assert header, "an empty list still names its columns"
        assert rows == []
    code, _out, err = cli(*command, "--csv", "--json", login=ADMIN)
    assert code == 2 and "not both" in err


def test_report_csv_keeps_a_formula_as_text(known: KnownDesk, cli) -> None:
    # A category named by whoever keeps the tree (an import from another tool, say).
    with known.db.write() as session:
        session.add(Category(name="=SUM(1+1)", path="=SUM(1+1)"))
    known.ticket(subject="Odd category", category="=SUM(1+1)")
    code, out, err = cli("report", "categories", "--format", "csv", login=ADMIN)
    assert code == 0, err
    header, rows = _read(out)
    assert header[0] == "category"
    assert "'=SUM(1+1)" in [row["category"] for row in rows]
    assert not any(c.startswith("=") for row in rows for c in row.values())
