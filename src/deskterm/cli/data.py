"""``deskterm db backup|restore`` and ``deskterm export|import``: keeping and moving a desk."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from deskterm.cli import admin
from deskterm.cli.common import State, err, literal, out, print_json
from deskterm.i18n import _, format_number

if TYPE_CHECKING:
    from deskterm.desk.backup import BackupInfo
    from deskterm.desk.transfer import TransferSummary

JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]
ForceOpt = Annotated[bool, typer.Option("--force", help=_("Overwrite what is there."))]


def register(app: typer.Typer) -> None:
    admin.db_app.command(
        "backup",
        help=_("Copy the desk into a file while it is in use (SQLite; PostgreSQL: see pg_dump)."),
    )(db_backup)
    admin.db_app.command(
        "restore",
        help=_(
            "Put a backup in place of the desk's database (SQLite; PostgreSQL: see pg_restore)."
        ),
    )(db_restore)
    app.command(
        "export",
        help=_(
            "Write every ticket with its whole log, and everything else of the desk, as JSON Lines."
        ),
    )(export)
    app.command(
        "import",
        help=_(
            "Load an export into an empty desk: same references, versions and logs, all or nothing."
        ),
    )(import_)


def _info_json(info: BackupInfo) -> dict[str, object]:
    return {
        "path": str(info.path),
        "revision": info.revision,
        "tickets": info.tickets,
        "events": info.events,
        "analysts": info.analysts,
        "bytes": info.size,
    }


def db_backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help=_("The backup file to write."))],
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """``deskterm db backup`` (its help is given in ``register``)."""
    from deskterm.db.engine import Database, translate_errors
    from deskterm.desk import backup

    state: State = ctx.obj
    db = Database(state.database_url())
    try:
        with translate_errors(db):
            backup.require_admin(db, state.acting_login())
            info = backup.backup(db, path, force=force)
    finally:
        db.dispose()
    if as_json:
        print_json(_info_json(info))
        return
    out.print(
        literal(
            _(
                "Backed up {desk} to {path}: {tickets} tickets, {events} log events, "
                "{analysts} analysts (revision {revision}, {size} bytes)."
            ).format(
                desk=db.describe(),
                path=info.path,
                tickets=format_number(info.tickets),
                events=format_number(info.events),
                analysts=info.analysts,
                revision=info.revision,
                size=format_number(info.size),
            )
        ),
        soft_wrap=True,
    )


def db_restore(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help=_("A backup made by `deskterm db backup`."))],
    force: Annotated[
        bool, typer.Option("--force", help=_("Replace a desk that holds analysts or tickets."))
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """``deskterm db restore`` (its help is given in ``register``)."""
    from deskterm.db.engine import Database, translate_errors
    from deskterm.desk import backup
    from deskterm.desk.setup import SCHEMA_HEAD as HEAD

    state: State = ctx.obj
    db = Database(state.database_url())
    try:
        with translate_errors(db):
            backup.inspect_backup(path)
            backup.require_admin(db, state.acting_login())
            info = backup.restore(db, path, force=force)
    finally:
        db.dispose()
    if as_json:
        print_json(_info_json(info))
        return
    out.print(
        literal(
            _(
                "Restored {desk} from {path}: {tickets} tickets, {events} log events, "
                "{analysts} analysts."
            ).format(
                desk=db.describe(),
                path=info.path,
                tickets=format_number(info.tickets),
                events=format_number(info.events),
                analysts=info.analysts,
            )
        ),
        soft_wrap=True,
    )
    if not info.current:
        out.print(
            literal(
                _(
                    "The backup is at revision {revision}: run `deskterm db upgrade` ({head})."
                ).format(revision=info.revision, head=HEAD)
            ),
            soft_wrap=True,
        )


def export(
    ctx: typer.Context,
    path: Annotated[
        str, typer.Argument(help=_("The JSON Lines file to write; - for standard output."))
    ] = "-",
    force: ForceOpt = False,
) -> None:
    """``deskterm export`` (its help is given in ``register``)."""
    from deskterm.desk.transfer import export_desk

    state: State = ctx.obj
    desk = state.desk()
    actor = desk.whoami()
    if path == "-":
        summary = export_desk(desk.db, actor, sys.stdout, progress=_progress("exported"))
        sys.stdout.flush()
    else:
        target = Path(path).expanduser()
        if target.exists() and not force:
            from deskterm.domain.errors import InvalidInput

            raise InvalidInput(
                _("{path} exists: choose a new file or add --force").format(path=target),
                field="path",
            )
        with _atomic(target) as handle:
            summary = export_desk(desk.db, actor, handle, progress=_progress("exported"))
    counts = _counts(summary)
    if path == "-":
        said = _(
            "Exported {tickets} tickets with {events} log events ({rows} rows in {tables} "
            "tables) from {desk}."
        ).format(**counts, desk=desk.db.describe())
    else:
        said = _(
            "Exported {tickets} tickets with {events} log events ({rows} rows in {tables} "
            "tables) from {desk} to {path}."
        ).format(**counts, desk=desk.db.describe(), path=path)
    _said(said)


def import_(
    ctx: typer.Context,
    path: Annotated[
        str, typer.Argument(help=_("A file from `deskterm export`; - for standard input."))
    ],
) -> None:
    """``deskterm import`` (its help is given in ``register``)."""
    from deskterm.desk.transfer import import_desk

    state: State = ctx.obj
    db = state.database()
    if path == "-":
        # Read as a file is (below): a damaged byte spoils its row, not the whole read.
        stream = io.TextIOWrapper(
            sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n"
        )
        summary = import_desk(db, stream, progress=_progress("imported"))
    else:
        source = Path(path).expanduser()
        if not source.is_file():
            from deskterm.domain.errors import InvalidInput

            raise InvalidInput(_("no file {path}").format(path=source), field="path")
        # errors="replace": a damaged byte becomes visible in the one row it spoils (and is
        # refused there) instead of stopping the read with a traceback.
        with source.open(encoding="utf-8", errors="replace", newline="\n") as handle:
            summary = import_desk(db, handle, progress=_progress("imported"))
    _said(
        _(
            "Imported {tickets} tickets with {events} log events ({rows} rows in {tables} "
            "tables) into {desk}."
        ).format(**_counts(summary), desk=db.describe())
    )
    if summary.cleaned:
        err.print(
            literal(
                _(
                    "{n} text values held control characters, escape sequences or bidi "
                    "overrides: they were taken out, as the desk does with all text."
                ).format(n=format_number(summary.cleaned))
            ),
            soft_wrap=True,
        )


def _counts(summary: TransferSummary) -> dict[str, str]:
    counts = summary.counts
    return {
        "tickets": format_number(counts.get("ticket", 0)),
        "events": format_number(counts.get("ticket_event", 0)),
        "rows": format_number(summary.rows),
        "tables": format_number(len(counts)),
    }


def _said(line: str) -> None:
    # The data itself may be on stdout: the summary goes to stderr, where a person reads it.
    err.print(literal(line), soft_wrap=True)


def _progress(verb: str) -> Callable[[str, int], None] | None:
    if not err.is_terminal:
        return None

    said = _("exported") if verb == "exported" else _("imported")

    def show(table: str, count: int) -> None:
        err.print(literal(f"{said} {format_number(count):>10} {table}"), end="\r")

    return show


@contextlib.contextmanager
def _atomic(target: Path) -> Iterator[IO[str]]:
    """A file that appears under its name only once it is complete."""
    if not target.parent.is_dir():
        from deskterm.domain.errors import InvalidInput

        raise InvalidInput(
            _("folder {path} does not exist").format(path=target.parent), field="path"
        )
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="ascii", newline="\n") as stream:
            yield stream
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
