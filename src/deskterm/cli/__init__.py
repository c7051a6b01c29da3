"""The ``deskterm`` command. With no subcommand it opens the analyst's terminal (the TUI)."""

from __future__ import annotations

import inspect
import sys
from typing import Annotated

import typer

from deskterm import __version__
from deskterm.cli import admin, bench, comms, data, kb, people, report, serve, sla, tickets
from deskterm.cli.common import State, env_flag, fail

app = typer.Typer(
    name="deskterm",
    help="A keyboard-first helpdesk in the terminal. Run with no command to open the app.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(tickets.ticket_app, name="ticket")
app.add_typer(admin.queue_app, name="queue")
app.add_typer(people.analyst_app, name="analyst")
app.add_typer(people.group_app, name="group")
app.add_typer(people.contact_app, name="contact")
app.add_typer(people.category_app, name="category")
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.config_app, name="config")
app.add_typer(comms.outbox_app, name="outbox")
app.add_typer(comms.mail_app, name="mail")
app.add_typer(kb.kb_app, name="kb")
app.add_typer(report.report_app, name="report")
app.add_typer(sla.sla_app, name="sla")
app.add_typer(serve.serve_app, name="serve")
app.command("survey")(report.survey)
app.command("demo")(admin.demo)
data.register(app)
app.add_typer(bench.bench_app, name="bench")


def _reflow_help(typer_app: typer.Typer) -> None:
    """Let ``--help`` wrap each paragraph at the terminal's width.

    Typer's Rich help keeps a docstring's own line breaks after its first paragraph, so a
    paragraph written at the source's width broke in mid-sentence on an 80-column terminal.
    """
    for info in typer_app.registered_commands:
        callback = info.callback
        if callback is not None and callback.__doc__:
            paragraphs = inspect.cleandoc(callback.__doc__).split("\n\n")
            callback.__doc__ = "\n\n".join(" ".join(p.split()) for p in paragraphs)
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
            help="Database: a SQLite file or URL, or postgresql+psycopg://... "
            "(env DESKTERM_DATABASE_URL; default: desk.db in your data folder)",
        ),
    ] = None,
    as_login: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="LOGIN",
            help="Act as this analyst (env DESKTERM_USER; default: your OS login).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    state = State(db_url=db, login=as_login)
    ctx.obj = state
    ctx.call_on_close(state.close)
    if ctx.invoked_subcommand is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            # Over SSH without a terminal (`ssh -T`, a forced command run by a script) or in
            # a pipe, the app would wait forever for a screen that is not there.
            fail(
                "the app needs a terminal: run `deskterm` in one (over SSH: `ssh -t`); "
                "for scripts, see `deskterm --help`",
                2,
            )
        from deskterm.tui.app import run

        raise typer.Exit(run(state.database_url(), state.acting_login()))


def main() -> None:
    """Run the CLI; a refusal is one line on stderr and a non-zero exit, never a traceback."""
    from deskterm.domain.errors import DeskError

    try:
        app(standalone_mode=True)
    except DeskError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:  # a bug: say so in one line, traceback on request
        if env_flag("DESKTERM_DEBUG"):
            raise
        fail(
            f"internal error: {type(exc).__name__}: {str(exc)[:300]} "
            "(set DESKTERM_DEBUG=1 for the traceback)",
            70,
        )
