"""The CLI in the analyst's language (issue 19): what a person reads is translated, in the
language of the analyst acting once the desk knows them; what a script reads is not.

A fake catalog stands in for German: it wraps every message in «», so a test sees which
strings went through the catalog without depending on the translations themselves.
"""

from __future__ import annotations

import csv
import gettext
import io
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import pytest

from deskterm import i18n
from deskterm.cli import main


class Wrapped(gettext.NullTranslations):
    """Every message, wrapped: «List tickets, most urgent first.»"""

    def gettext(self, message: str) -> str:
        return f"«{message}»"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return f"«{msgid1 if n == 1 else msgid2}»"

    def pgettext(self, context: str, message: str) -> str:
        return f"«{message}»"


def fake_translation(tag: str | None) -> gettext.NullTranslations:
    return Wrapped() if (i18n.normalize(tag) or "").startswith("de") else gettext.NullTranslations()


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(db_url, monkeypatch, capsys):
    """``deskterm ARGS`` in-process against the test database, with German faked."""
    monkeypatch.setenv("DESKTERM_DATABASE_URL", db_url)
    monkeypatch.delenv("DESKTERM_USER", raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    # The CLI's consoles are made once a process, at the width of that moment: another test
    # of this worker may have made them narrower. Made anew here, at 160 columns.
    from deskterm.cli import common

    for console in (common.out, common.err):
        monkeypatch.setattr(console, "_console", None)
    monkeypatch.setattr(i18n, "translation", fake_translation)

    def run(*args: str) -> Run:
        capsys.readouterr()
        # Each command starts as a fresh process would: in the locale's language (C: English).
        i18n.use(None)
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
def desk(cli):
    """Ada the admin reads English; Lena the agent and Sam the supervisor read German."""
    for args in (
        ("--as", "ada", "analyst", "add", "ada", "--name", "Ada Admin", "-g", "Service Desk"),
        (
            "analyst",
            "add",
            "lena",
            "--name",
            "Lena Agent",
            "-g",
            "Service Desk",
            "--language",
            "de",
        ),
        ("analyst", "add", "sam", "--name", "Sam Sup", "--role", "supervisor", "--language", "de"),
        ("contact", "add", "--name", "Bea Caller", "--email", "bea@example.com"),
    ):
        res = cli("--as", "ada", *args) if args[0] != "--as" else cli(*args)
        assert res.code == 0, res.err
    res = cli("--as", "lena", "ticket", "new", "-s", "Printer jams", "-c", "bea@example.com")
    assert res.code == 0, res.err
    return cli


def test_ticket_list_speaks_the_analysts_language(desk) -> None:
    english = desk("--as", "ada", "ticket", "list")
    assert english.code == 0, english.err
    assert "Subject" in english.out and "«" not in english.out
    german = desk("--as", "lena", "ticket", "list")
    assert german.code == 0, german.err
    assert "«Subject»" in german.out and "«Ref»" in german.out and "«Assignee»" in german.out
    # The ticket's own words are data, never looked up in a catalog.
    assert "Printer jams" in german.out and "«Printer jams»" not in german.out


def test_a_refusal_comes_in_the_language_of_who_is_refused(desk) -> None:
    # Raised by the desk once it knows the analyst: in their language.
    res = desk("--as", "lena", "report", "backlog", "--format", "table")
    assert res.code != 0
    assert res.err.startswith("deskterm: «") and "supervisor" in res.err
    assert len(res.err.strip().splitlines()) == 1
    res = desk("--as", "ada", "report", "backlog", "--format", "table")
    assert res.code == 0, res.err
    # Raised before anyone is known: in the locale's language (English here).
    res = desk("--as", "lena", "ticket", "new", "-s", "x")
    assert res.code != 0 and "give the caller with --contact" in res.err and "«" not in res.err


def test_json_and_csv_are_the_same_in_every_language(desk) -> None:
    english = desk("--as", "ada", "ticket", "list", "--json")
    german = desk("--as", "lena", "ticket", "list", "--json")
    assert english.code == german.code == 0
    assert json.loads(english.out) == json.loads(german.out)
    # Values stay as scripts compare them, never a translated word.
    assert json.loads(german.out)[0]["status"] == "assigned"
    sam = desk("--as", "sam", "report", "sla", "--format", "csv")
    assert sam.code == 0, sam.err
    assert "«" not in sam.out
    header = next(csv.reader(io.StringIO(sam.out)))
    assert header[:3] == ["priority", "tickets", "response_met"]
    table = desk("--as", "sam", "report", "sla", "--format", "table")
    assert table.code == 0 and "«response met»" in table.out and "«TOTAL»" in table.out


def test_the_analysts_language_is_put_in_force_once_they_are_known(desk, monkeypatch) -> None:
    asked: list[str | None] = []
    real = i18n.use

    def use(language: str | None, **kwargs: object) -> str:
        asked.append(language)
        return real(language, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(i18n, "use", use)
    res = desk("--as", "ada", "analyst", "edit", "lena", "--language", "pt_BR.UTF-8")
    assert res.code == 0, res.err
    asked.clear()
    res = desk("--as", "lena", "ticket", "list")
    assert res.code == 0, res.err
    assert asked[-1] == "pt-BR"
    asked.clear()
    res = desk("--as", "ada", "ticket", "list")
    assert asked[-1] is None  # Ada set none: her locale's


def test_analysts_language_is_set_cleared_shown_and_checked(desk) -> None:
    res = desk("--as", "ada", "analyst", "edit", "ada", "--language", "cs", "--json")
    assert res.code == 0, res.err
    assert json.loads(res.out) == {"login": "ada", "language": "cs"}
    listed = {
        a["login"]: a for a in json.loads(desk("--as", "ada", "analyst", "list", "--json").out)
    }
    assert listed["ada"]["language"] == "cs" and listed["lena"]["language"] == "de"
    table = desk("--as", "ada", "analyst", "list")
    assert "Lang" in table.out and " cs " in table.out
    res = desk("--as", "ada", "analyst", "edit", "ada", "--language", "")
    assert res.code == 0 and "their terminal's language" in res.out
    res = desk("--as", "ada", "analyst", "edit", "ada", "--language", "klingon")
    assert res.code != 0 and "klingon" in res.err
    assert len(res.err.strip().splitlines()) == 1
    # Lena changes her own language: the confirmation already speaks the new one.
    res = desk("--as", "lena", "analyst", "edit", "lena", "--language", "en")
    assert res.code == 0 and "«" not in res.out and "lena reads deskterm in English" in res.out


def test_help_is_in_the_locales_language() -> None:
    """Help is made when the CLI is imported, before anyone is known: the locale's."""
    script = textwrap.dedent(
        """
        import gettext, sys
        from deskterm import i18n

        class Wrapped(gettext.NullTranslations):
            def gettext(self, message):
                return "«" + message + "»"

        def translation(tag):
            return Wrapped() if (tag or "").startswith("de") else gettext.NullTranslations()

        i18n.translation = translation
        sys.argv = ["deskterm", "ticket", "list", "--help"]
        from deskterm.cli import main
        main()
        """
    )
    env = {**os.environ, "LANG": "de_DE.UTF-8", "COLUMNS": "200", "TERM": "dumb"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "«List tickets, most urgent first.»" in done.stdout
    assert "«Only this group's tickets.»" in done.stdout
