"""The ``deskterm`` command. With no subcommand it opens the analyst's terminal (the TUI)."""

from __future__ import annotations

import inspect
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from deskterm import __version__
from deskterm.cli import (
    admin,
    bench,
    calls,
    comms,
    completion,
    cti,
    data,
    kb,
    keys,
    people,
    portal,
    report,
    serve,
    sla,
    texts,
    tickets,
    views,
)
from deskterm.cli.common import State, env_flag, fail, one_line
from deskterm.i18n import _

if TYPE_CHECKING:
    from typer._click.exceptions import UsageError

app = typer.Typer(
    name="deskterm",
    help=_("A keyboard-first helpdesk in the terminal. Run with no command to open the app."),
    no_args_is_help=False,
    # The root's own --show-completion and --install-completion (below) take the shell's
    # name; Typer's detect it only, so `--show-completion zsh` printed bash's script.
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(tickets.ticket_app, name="ticket")
app.add_typer(views.view_app, name="view")
app.add_typer(calls.call_app, name="call")
app.add_typer(admin.queue_app, name="queue")
app.add_typer(people.analyst_app, name="analyst")
app.add_typer(people.group_app, name="group")
app.add_typer(people.contact_app, name="contact")
app.add_typer(people.category_app, name="category")
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.config_app, name="config")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(comms.outbox_app, name="outbox")
app.add_typer(comms.mail_app, name="mail")
app.add_typer(kb.kb_app, name="kb")
app.add_typer(report.report_app, name="report")
app.add_typer(sla.sla_app, name="sla")
app.add_typer(serve.serve_app, name="serve")
app.add_typer(cti.cti_app, name="cti")
app.add_typer(portal.portal_app, name="portal")
app.add_typer(texts.text_app, name="text")
serve.serve_app.command("web", help=portal.SERVE_WEB_HELP)(portal.serve_web)
app.command(
    "survey",
    help=_("Record the customer's answers for a resolved ticket (again: replaces them)."),
)(report.survey)
app.command(
    "demo",
    help=_("Fill an empty database with a realistic demo desk (you are added as an L1 agent)."),
)(admin.demo)
data.register(app)
app.add_typer(bench.bench_app, name="bench")


def _reflowed(text: str) -> str:
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def _reflow_help(typer_app: typer.Typer) -> None:
    """Let ``--help`` wrap each paragraph at the terminal's width.

    Typer's Rich help keeps a help text's own line breaks after its first paragraph, so a
    paragraph written at the source's width (or a translator's) broke in mid-sentence on an
    80-column terminal. A command's help is its ``help=`` (translated: the extractor cannot
    see a docstring), else its docstring.
    """
    for info in typer_app.registered_commands:
        if isinstance(info.help, str):
            info.help = _reflowed(info.help)
            continue
        callback = info.callback
        if callback is not None and callback.__doc__:
            callback.__doc__ = _reflowed(callback.__doc__)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _reflow_help(group.typer_instance)


_reflow_help(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"deskterm {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help=_(
                "Database: a SQLite file or URL, or postgresql+psycopg://... "
                "(env DESKTERM_DATABASE_URL; default: desk.db in your data folder)"
            ),
        ),
    ] = None,
    as_login: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="LOGIN",
            help=_("Act as this analyst (env DESKTERM_USER; default: your OS login)."),
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help=_("Show the version.")),
    ] = False,
    install_completion: Annotated[
        str | None,
        typer.Option(
            "--install-completion",
            metavar="[SHELL]",
            callback=completion.install_completion,
            expose_value=False,
            is_eager=True,
            help=_("Install Tab completion for bash, zsh or fish (default: the shell in use)."),
        ),
    ] = None,
    show_completion: Annotated[
        str | None,
        typer.Option(
            "--show-completion",
            metavar="[SHELL]",
            callback=completion.show_completion,
            expose_value=False,
            is_eager=True,
            help=_("Print the Tab completion script for bash, zsh or fish, to install by hand."),
        ),
    ] = None,
) -> None:
    state = State(db_url=db, login=as_login)
    ctx.obj = state
    ctx.call_on_close(state.close)
    if ctx.invoked_subcommand is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            # Over SSH without a terminal (`ssh -T`, a forced command run by a script) or in
            # a pipe, the app would wait forever for a screen that is not there.
            fail(
                _(
                    "the app needs a terminal: run `deskterm` in one (over SSH: `ssh -t`); "
                    "for scripts, see `deskterm --help`"
                ),
                2,
            )
        from deskterm.tui.app import run

        raise typer.Exit(run(state.database_url(), state.identity()))


def main() -> None:
    """Run the CLI; a refusal is one line on stderr and a non-zero exit, never a traceback."""
    # Pydantic scans every installed package's entry points for plugins when the first model
    # class is built (7 ms of each start); deskterm's models want none, and Typer turns them
    # off for its own. A value set in the environment still wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if completion.COMPLETE_VAR in os.environ:
        completion.complete(app)  # the shell asks what Tab offers; it exits
    sys.argv[1:] = completion.shell_optional(sys.argv[1:])
    # Typer carries its own copy of Click; these are the exceptions it raises.
    from typer._click import exceptions as click

    from deskterm.domain.errors import DeskError

    try:
        # Not standalone: Click's own usage errors come here, to be said in one line like
        # every other refusal instead of Typer's five-line box.
        code = app(standalone_mode=False)
    except click.NoArgsIsHelpError:
        raise SystemExit(2) from None  # the help is on stderr already
    except click.UsageError as exc:
        fail(_usage_line(exc), 2)
    except click.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except typer.Abort:
        fail(_("aborted"), 1)
    except DeskError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail(_("interrupted"), 130)
    except Exception as exc:  # a bug: say so in one line, traceback on request
        damaged = _damaged_database(exc)
        if damaged:
            fail(damaged, 4)
        if env_flag("DESKTERM_DEBUG"):
            raise
        fail(
            _("internal error: {error}: {text} (set DESKTERM_DEBUG=1 for the traceback)").format(
                error=type(exc).__name__, text=str(exc)[:300]
            ),
            70,
        )
    # A command's `typer.Exit(n)` arrives as its code; a plain return as None.
    if type(code) is int and code:
        raise SystemExit(code)


def _usage_line(exc: UsageError) -> str:
    """``no such option: --x (see deskterm ticket show --help)``."""
    message = one_line(exc.format_message()).rstrip(".")
    message = message[:1].lower() + message[1:]
    where = exc.ctx.command_path if exc.ctx is not None else "deskterm"
    return _("{message} (see {command} --help)").format(message=message, command=where)


def _damaged_database(exc: BaseException) -> str | None:
    """The line to say when SQLite found the desk file damaged where no desk code expected
    it (mid-command, past the checks made on opening), or None for any other error."""
    import sqlite3

    seen: BaseException | None = exc
    for _step in range(10):  # a chain of causes is short; a cycle in it must not hang us
        if seen is None:
            break
        cause = getattr(seen, "orig", None) or seen
        if isinstance(cause, sqlite3.DatabaseError):
            text = str(cause).lower()
            if "malformed" in text or "not a database" in text:
                return _(
                    "the desk's database file is damaged ({cause}): restore it from a backup "
                    "(`deskterm db restore FILE`)"
                ).format(cause=cause)
        seen = seen.__cause__ or seen.__context__
    return None
