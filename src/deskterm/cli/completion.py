"""Shell completion: ``--show-completion`` / ``--install-completion``, and the values Tab
offers (ticket refs, logins, groups, categories, contacts) read from the desk.

The shell runs ``deskterm`` with ``_DESKTERM_COMPLETE=complete_bash`` (zsh, fish) in its
environment at each Tab; ``main`` hands that run to ``complete`` before anything else.
Whatever goes wrong there (no desk, a locked one, an unknown analyst, a bug) the shell gets
no candidates and nothing else: a traceback would be printed into the analyst's prompt.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

# At run time: Typer reads the callbacks' annotations.
import typer

from deskterm.cli.common import fail
from deskterm.i18n import _

if TYPE_CHECKING:
    from typer._click import Context, Parameter
    from typer._click.shell_completion import CompletionItem

PROG = "deskterm"
COMPLETE_VAR = "_DESKTERM_COMPLETE"
#: The shells ``--show-completion`` and ``--install-completion`` take (Typer's scripts).
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")

#: Which values a parameter takes, by its name in the command's function. A name that
#: means different things in different commands is keyed by the command's path too.
_KINDS: dict[str, str] = {
    "ref": "ref",
    "as_login": "login",
    "login": "login",
    "assignee": "login",
    "assign": "login",
    "backup": "login",
    "group": "group",
    "escalates_to": "group",
    "category": "category",
    "contact": "contact",
}
_BY_COMMAND: dict[tuple[str, str], str | None] = {
    ("deskterm ticket assign", "to"): "login",
    # A new analyst's or group's name is not one that exists.
    ("deskterm analyst add", "login"): None,
    ("deskterm group add", "name"): None,
}
#: Words some options take besides a login (``--assign me``, ``--assignee none``).
_WORDS: dict[str, tuple[str, ...]] = {
    "assign": ("auto", "me", "none"),
    "assignee": ("me", "none"),
}


def _shell(value: str) -> str:
    shell = value.strip().lower()
    if not shell:
        from typer._completion_shared import _get_shell_name

        shell = _get_shell_name() or ""
        if not shell:
            fail(_("cannot tell which shell this is: name it, e.g. --show-completion bash"), 2)
    if shell not in SHELLS:
        fail(
            _("unknown shell {shell!r}: use bash, zsh or fish").format(shell=value.strip()),  # nosec B604 (a shell's name, no subprocess)
            2,
        )
    return shell


def show_completion(ctx: typer.Context, _param: Any, value: str | None) -> None:
    """``--show-completion [SHELL]``: the script for the shell on stdout, to source."""
    if value is None or ctx.resilient_parsing:
        return
    from typer._completion_shared import get_completion_script

    shell = _shell(value)
    sys.stdout.write(
        get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell) + "\n"  # nosec B604 (a shell's name, no subprocess)
    )
    raise SystemExit(0)


def install_completion(ctx: typer.Context, _param: Any, value: str | None) -> None:
    """``--install-completion [SHELL]``: the script written where the shell loads it."""
    if value is None or ctx.resilient_parsing:
        return
    from typer._completion_shared import install

    shell = _shell(value)
    try:
        shell, path = install(shell=shell, prog_name=PROG, complete_var=COMPLETE_VAR)  # nosec B604 (a shell's name, no subprocess)
    except OSError as exc:
        fail(_("cannot install the completion: {reason}").format(reason=exc.strerror or exc))
    sys.stdout.write(
        _("{shell} completion installed in {path}; it works in shells started from now on.").format(
            shell=shell,
            path=path,  # nosec B604 (a shell's name, no subprocess)
        )
        + "\n"
    )
    raise SystemExit(0)


_OPTIONAL = ("--show-completion", "--install-completion")
#: The root's options that take a value, skipped over to find the command's name.
_ROOT_VALUED = ("--db", "--as")


def shell_optional(args: list[str]) -> list[str]:
    """``args`` with a bare ``--show-completion`` / ``--install-completion`` (no shell
    after it) given an empty value, which means "the shell in use": Typer's options cannot
    take a value or none."""
    given = list(args)
    at = 0
    while at < len(given):
        word = given[at]
        if word in _ROOT_VALUED:
            at += 2
            continue
        if word in _OPTIONAL and (at + 1 == len(given) or given[at + 1].startswith("-")):
            given[at] = f"{word}="
        elif not word.startswith("-"):
            break  # the command's name: what follows is its own
        at += 1
    return given


def _escaped_for_bash(value: str) -> str:
    """Bash inserts a candidate as it is typed: a name with spaces would be two words."""
    return "".join(f"\\{c}" if not (c.isalnum() or c in "-_.,/@#+:=%") else c for c in value)


def _reader(kind: str, words: tuple[str, ...]) -> Callable[..., list[CompletionItem]]:
    def offer(ctx: Context, _param: Parameter, incomplete: str) -> list[CompletionItem]:
        from typer._click.shell_completion import CompletionItem

        pairs = [(w, "") for w in words if w.startswith(incomplete.lower())]
        try:
            pairs += _from_desk(ctx, kind, incomplete)
        except BaseException:  # nothing may reach the shell's prompt
            pass
        bash = os.environ.get(COMPLETE_VAR, "").endswith("_bash")
        return [
            CompletionItem(_escaped_for_bash(value) if bash else value, help=said or None)
            for value, said in pairs
        ]

    return offer


def _from_desk(ctx: Context, kind: str, typed: str) -> list[tuple[str, str]]:
    from deskterm.cli.common import State
    from deskterm.db.engine import Database, normalise_url
    from deskterm.desk.completion import candidates
    from deskterm.desk.context import Desk

    root = ctx.find_root().params
    state = State(db_url=root.get("db"), login=root.get("as_login"))
    url = normalise_url(state.database_url())  # a bare path is a SQLite file too
    if url.get_backend_name() == "sqlite" and not _sqlite_file_exists(url.database):
        return []  # never make an empty desk file by pressing Tab
    # Not ``state.desk()``: opening the desk for a command migrates and seeds it, which a
    # Tab must never do. A desk at another revision answers what its tables hold, or nothing.
    db = Database(url)
    try:
        return Desk(db, state.identity().login(db)).read(candidates, kind=kind, typed=typed)
    finally:
        db.dispose()


def _sqlite_file_exists(database: str | None) -> bool:
    return bool(database) and database != ":memory:" and os.path.isfile(database or "")


def _attach(command: Any, path: str) -> None:
    for param in command.params:
        kind = _BY_COMMAND.get((path, param.name), _KINDS.get(param.name or ""))
        if kind is not None and hasattr(param, "_custom_shell_complete"):
            param._custom_shell_complete = _reader(kind, _WORDS.get(param.name or "", ()))
    for name, sub in getattr(command, "commands", {}).items():
        _attach(sub, f"{path} {name}")


def complete(app: typer.Typer) -> NoReturn:
    """Answer the shell's Tab (the candidates on stdout, one a line) and exit."""
    import typer.main

    code = 1
    try:
        from typer._completion_classes import completion_init

        completion_init()
        command = typer.main.get_command(app)
        _attach(command, PROG)
        command.main(prog_name=PROG, complete_var=COMPLETE_VAR)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 0
    except BaseException:  # a traceback would land in the prompt
        code = 1
    sys.stdout.flush()
    raise SystemExit(code)
