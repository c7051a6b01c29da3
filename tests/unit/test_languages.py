"""The shipped catalogs at work (issue 19): German, Portuguese and Czech as analysts read
them, from the CLI as a shell runs it. The other language tests use a stand-in catalog to see
which strings go through it; these check the real words."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from deskterm import i18n
from deskterm.desk.analysts import edit_analyst
from factories import AGENT, SUPERVISOR, KnownDesk


@pytest.mark.parametrize(
    ("tag", "word"),
    [("de", "Warteschlange"), ("pt", "Fila"), ("pt-BR", "Fila"), ("cs", "Fronta")],
)
def test_each_language_has_its_words(tag: str, word: str) -> None:
    i18n.use(tag)
    assert i18n._("Queue") == word
    i18n.use("en")
    assert i18n._("Queue") == "Queue"


def test_counted_words_take_each_languages_plural_forms() -> None:
    i18n.use("cs")
    one, few, many = (i18n.ngettext("{n} ticket", "{n} tickets", n).format(n=n) for n in (1, 3, 5))
    assert len({one, few, many}) == 3, (one, few, many)


def test_dates_and_durations_are_written_the_analysts_way() -> None:
    now = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
    i18n.use("de")
    assert i18n.format_duration(timedelta(hours=2, minutes=15)) == "2 Std. 15 Min."
    assert i18n.format_ago(now - timedelta(minutes=5), now) == "vor 5 Min."
    assert i18n.format_number(1234.5, digits=1) == "1.234,5"
    i18n.use("cs")
    assert i18n.format_ago(now - timedelta(minutes=5), now) == "před 5 min"


def test_the_locale_decides_when_the_analyst_has_no_language() -> None:
    assert i18n.language_from_environment({"LANG": "cs_CZ.UTF-8"}) == "cs-CZ"
    assert i18n.language_from_environment({"LC_ALL": "de_DE.UTF-8", "LANG": "cs_CZ"}) == "de-DE"
    assert i18n.language_from_environment({"LC_MESSAGES": "pt_BR.UTF-8"}) == "pt-BR"
    assert i18n.language_from_environment({"LANG": "C.UTF-8", "LANGUAGE": "de"}) is None
    assert i18n.language_from_environment({"LANG": "fr_FR.UTF-8"}) is None
    assert i18n.use("xx", environ={"LANG": "de_AT.UTF-8"}) == "de-AT"
    assert i18n._("Queue") == "Warteschlange"


def _deskterm(db_url: str, *args: str, lang: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DESKTERM_DATABASE_URL": db_url, "LANG": lang, "COLUMNS": "120"}
    env.pop("LC_ALL", None)
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "deskterm", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def test_lang_makes_the_cli_speak_czech(db_url: str, known: KnownDesk) -> None:
    known.ticket(subject="Tiskárna netiskne")
    done = _deskterm(db_url, "--as", AGENT, "ticket", "list", "--status", "all", lang="cs_CZ.UTF-8")
    assert done.returncode == 0, done.stderr
    assert "Předmět" in done.stdout and "Tiskárna netiskne" in done.stdout
    assert "Subject" not in done.stdout


def test_a_refusal_comes_in_the_analysts_own_language(db_url: str, known: KnownDesk) -> None:
    known.as_(AGENT).write(edit_analyst, login=AGENT, language="de")
    # An agent may not run the supervisors' backlog report: refused in German, one line.
    done = _deskterm(db_url, "--as", AGENT, "report", "backlog", lang="C.UTF-8")
    assert done.returncode == 3
    line = done.stderr.strip()
    assert line.startswith("deskterm: ") and "\n" not in line
    assert "Supervisor" in line and "only" not in line
    # The supervisor, with no language of their own, reads the locale's.
    done = _deskterm(db_url, "--as", SUPERVISOR, "report", "backlog", lang="C.UTF-8")
    assert done.returncode == 0, done.stderr
