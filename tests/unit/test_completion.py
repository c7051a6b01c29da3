"""Tab completion as a shell runs it: ``deskterm --show-completion SHELL`` prints a script
that calls ``deskterm`` back with ``_DESKTERM_COMPLETE`` set, and what that run prints is
what Tab offers: open tickets, analysts, groups, categories and contacts of the desk, and
nothing at all (no traceback, no message) when the desk cannot answer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deskterm.cli import main
from deskterm.cli.completion import shell_optional
from deskterm.desk.tickets import resolve
from factories import ADMIN, AGENT, AGENT2, KnownDesk


def _run(monkeypatch, capsys, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["deskterm", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def tab(known: KnownDesk, db_url: str, monkeypatch, capsys):
    """Press Tab in bash after ``line`` (a trailing space: at a new word); the candidates."""

    def press(line: str, *, shell: str = "bash", login: str = AGENT, url: str = db_url):
        words = line.split(" ")
        env = {
            "DESKTERM_DATABASE_URL": url,
            "DESKTERM_USER": login,
            "_DESKTERM_COMPLETE": f"complete_{shell}",
            # bash
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
            # zsh and fish
            "_TYPER_COMPLETE_ARGS": line,
            "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        }
        code, out, err = _run(monkeypatch, capsys, env)
        assert code == 0 and err == "", (code, err)
        return [candidate for candidate in out.splitlines() if candidate]

    return press


def test_ticket_refs_are_the_open_tickets_most_recent_first(known: KnownDesk, tab) -> None:
    first = known.ticket(subject="Printer jams")
    second = known.ticket(subject="VPN drops")
    done = known.ticket(subject="Old one")
    known.as_(AGENT).write(resolve, ref=done.id, code="fixed", text="Done")

    offered = tab("deskterm ticket show ")
    assert offered[:2] == [second.ref, first.ref]
    assert done.ref not in offered
    # What is typed narrows them, in any case, the prefix or the digits.
    assert tab(f"deskterm ticket note {first.ref.lower()}") == [first.ref]
    prefix = first.ref[:-1]  # DT-00000: both of them, and any other open one
    narrowed = tab(f"deskterm ticket assign {prefix}")
    assert all(ref.startswith(prefix) for ref in narrowed)
    assert narrowed.index(second.ref) < narrowed.index(first.ref)
    assert tab("deskterm ticket show XY-") == []


def test_zsh_and_fish_show_the_subject_beside_the_ref(known: KnownDesk, tab) -> None:
    ticket = known.ticket(subject="Printer jams on floor 3")
    assert tab("deskterm ticket show ", shell="fish") == [f"{ticket.ref}\tPrinter jams on floor 3"]
    zsh = "\n".join(tab("deskterm ticket show ", shell="zsh"))
    assert f'"{ticket.ref}":"Printer jams on floor 3"' in zsh


def test_a_hostile_subject_reaches_the_shell_as_plain_words(known: KnownDesk, tab) -> None:
    # zsh evaluates what the completion prints: quotes, $( ), backticks and markup in a
    # customer's subject must arrive as nothing that a shell or Rich would act on.
    known.ticket(subject="[bold]x[/] $(touch /tmp/pwned) `id` 'q' \"d\" ;:\\ \u202e\x1b]0;t\x07")
    for shell in ("zsh", "fish", "bash"):
        said = "\n".join(tab("deskterm ticket show ", shell=shell))
        assert "DT-" in said
        for bad in ("$(", "`", "\x1b", "\x07", "\u202e", "[bold]", "'q'", '"d"', ";", "\\"):
            assert bad not in said, (shell, bad, said)


def test_logins_groups_categories_and_contacts(known: KnownDesk, tab) -> None:
    assert tab("deskterm --as a") == [ADMIN, AGENT]
    assert tab("deskterm ticket assign DT-000001 --to b") == [AGENT2]
    assert tab("deskterm ticket list --assignee ")[:2] == ["me", "none"]
    # Bash inserts a candidate as typed: the space in a group's name is escaped.
    assert "Service\\ Desk" in tab("deskterm ticket list --group serv")
    assert "Service Desk\tL1" in tab("deskterm ticket escalate DT-000001 --group S", shell="fish")
    printers = tab("deskterm ticket new --category hardware", shell="fish")
    assert "Hardware > Printer" in printers
    assert all(c.startswith("Hardware") for c in printers)


def test_nothing_at_all_when_the_desk_cannot_answer(
    known: KnownDesk, tab, tmp_path: Path, monkeypatch, capsys
) -> None:
    known.ticket()
    # Someone who is no analyst of the desk is offered nothing of it.
    assert tab("deskterm ticket show ", login="mallory") == []
    # A desk that is not there is not made by pressing Tab.
    missing = tmp_path / "nowhere" / "desk.db"
    assert tab("deskterm ticket show ", url=f"sqlite:///{missing}") == []
    assert tab(f"deskterm --db {missing} ticket show ") == []  # a bare path, as --db takes
    assert tab("deskterm ticket show ", url=str(missing)) == []
    assert not missing.exists()
    # A server that does not answer, a file that is no database: still silent.
    assert tab("deskterm --as ", url="postgresql+psycopg://x@127.0.0.1:1/none") == []
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert tab("deskterm ticket show ", url=f"sqlite:///{junk}") == []
    # Commands and options still complete without a desk.
    assert "ticket" in tab("deskterm tic", url=f"sqlite:///{missing}")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_prints_the_script_for_the_shell_named(monkeypatch, capsys, shell) -> None:
    code, out, err = _run(monkeypatch, capsys, {}, "--show-completion", shell)
    assert code == 0 and err == ""
    assert f"_DESKTERM_COMPLETE=complete_{shell}" in out
    assert "deskterm" in out


def test_show_completion_without_a_shell_uses_the_one_in_use(monkeypatch, capsys) -> None:
    monkeypatch.setattr("typer._completion_shared._get_shell_name", lambda: "fish")
    code, out, _err = _run(monkeypatch, capsys, {}, "--show-completion")
    assert code == 0 and "complete_fish" in out
    monkeypatch.setattr("typer._completion_shared._get_shell_name", lambda: None)
    code, out, err = _run(monkeypatch, capsys, {}, "--show-completion")
    assert code == 2 and out == ""
    assert err.startswith("deskterm: cannot tell which shell") and err.count("\n") == 1


def test_an_unknown_shell_is_one_line(monkeypatch, capsys) -> None:
    code, out, err = _run(monkeypatch, capsys, {}, "--show-completion", "tcsh")
    assert (code, out) == (2, "")
    assert err == "deskterm: unknown shell 'tcsh': use bash, zsh or fish\n"


def test_install_completion_writes_where_the_shell_looks(
    monkeypatch, capsys, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = _run(monkeypatch, capsys, {}, "--install-completion", "fish")
    assert code == 0 and err == ""
    script = tmp_path / ".config/fish/completions/deskterm.fish"
    assert str(script) in out
    assert "complete_fish" in script.read_text()
    code, out, _err = _run(monkeypatch, capsys, {}, "--install-completion", "bash")
    assert code == 0
    assert "source" in (tmp_path / ".bashrc").read_text()


def test_help_names_the_completion_options(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    code, out, _err = _run(monkeypatch, capsys, {}, "--help")
    assert code == 0
    assert "--install-completion" in out and "--show-completion" in out


def test_a_bare_completion_option_takes_no_word_after_it() -> None:
    assert shell_optional(["--show-completion"]) == ["--show-completion="]
    assert shell_optional(["--show-completion", "zsh"]) == ["--show-completion", "zsh"]
    assert shell_optional(["--db", "x.db", "--install-completion", "--as", "ada"]) == [
        "--db",
        "x.db",
        "--install-completion=",
        "--as",
        "ada",
    ]
    # After the command's name, the words are the command's own.
    assert shell_optional(["ticket", "note", "1", "--text", "--show-completion"]) == [
        "ticket",
        "note",
        "1",
        "--text",
        "--show-completion",
    ]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_itself_completes_a_ref(known: KnownDesk, db_url: str) -> None:
    """The script as bash sources it, and bash's own COMPREPLY: the whole way round."""
    if not db_url.startswith("sqlite"):
        pytest.skip("one database is enough for the shell's side")
    ticket = known.ticket(subject="Printer jams")
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "deskterm").exists():
        pytest.skip("the deskterm command is not installed next to this Python")
    script = (
        "source <(deskterm --show-completion bash)\n"
        "COMP_WORDS=(deskterm ticket show DT-)\nCOMP_CWORD=3\n"
        "_deskterm_completion deskterm\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = dict(os.environ)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        DESKTERM_DATABASE_URL=db_url,
        DESKTERM_USER=AGENT,
    )
    done = subprocess.run(
        ["bash", "--norc", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [ticket.ref]
