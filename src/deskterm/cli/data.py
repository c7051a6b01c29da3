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

if TYPE_CHECKING:
    from deskterm.desk.backup import BackupInfo
    from deskterm.desk.transfer import TransferSummary

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite what is there.")]


def register(app: typer.Typer) -> None:
    admin.db_app.command("backup")(db_backup)
    admin.db_app.command("restore")(db_restore)
    app.command("export")(export)
    app.command("import")(import_)


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
    path: Annotated[Path, typer.Argument(help="The backup file to write.")],
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Copy the desk into a file while it is in use (SQLite; PostgreSQL: see pg_dump)."""
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
            f"Backed up {db.describe()} to {info.path}: {info.tickets:,} tickets, "
            f"{info.events:,} log events, {info.analysts} analysts "
            f"(revision {info.revision}, {info.size:,} bytes)."
        ),
        soft_wrap=True,
    )


def db_restore(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A backup made by `deskterm db backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a desk that holds analysts or tickets.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Put a backup in place of the desk's database (SQLite; PostgreSQL: see pg_restore)."""
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
            f"Restored {db.describe()} from {info.path}: {info.tickets:,} tickets, "
            f"{info.events:,} log events, {info.analysts} analysts."
        ),
        soft_wrap=True,
    )
    if not info.current:
        out.print(
            literal(
                f"The backup is at revision {info.revision}: run `deskterm db upgrade` ({HEAD})."
            ),
            soft_wrap=True,
        )


def export(
    ctx: typer.Context,
    path: Annotated[
        str, typer.Argument(help="The JSON Lines file to write; - for standard output.")
    ] = "-",
    force: ForceOpt = False,
) -> None:
    """Write every ticket with its whole log, and everything else of the desk, as JSON Lines."""
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

            raise InvalidInput(f"{target} exists: choose a new file or add --force", field="path")
        with _atomic(target) as handle:
            summary = export_desk(desk.db, actor, handle, progress=_progress("exported"))
    where = "" if path == "-" else f" to {path}"
    _said("Exported", summary, f"from {desk.db.describe()}{where}")


def import_(
    ctx: typer.Context,
    path: Annotated[
        str, typer.Argument(help="A file from `deskterm export`; - for standard input.")
    ],
) -> None:
    """Load an export into an empty desk: same references, versions and logs, all or nothing."""
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

            raise InvalidInput(f"no file {source}", field="path")
        # errors="replace": a damaged byte becomes visible in the one row it spoils (and is
        # refused there) instead of stopping the read with a traceback.
        with source.open(encoding="utf-8", errors="replace", newline="\n") as handle:
            summary = import_desk(db, handle, progress=_progress("imported"))
    _said("Imported", summary, f"into {db.describe()}")
    if summary.cleaned:
        err.print(
            literal(
                f"{summary.cleaned:,} text values held control characters, escape sequences "
                "or bidi overrides: they were taken out, as the desk does with all text."
            ),
            soft_wrap=True,
        )


def _said(verb: str, summary: TransferSummary, place: str) -> None:
    counts = summary.counts
    # The data itself may be on stdout: the summary goes to stderr, where a person reads it.
    err.print(
        literal(
            f"{verb} {counts.get('ticket', 0):,} tickets with {counts.get('ticket_event', 0):,} "
            f"log events ({summary.rows:,} rows in {len(counts)} tables) {place}."
        ),
        soft_wrap=True,
    )


def _progress(verb: str) -> Callable[[str, int], None] | None:
    if not err.is_terminal:
        return None

    def show(table: str, count: int) -> None:
        err.print(literal(f"{verb} {count:>10,} {table}"), end="\r")

    return show


@contextlib.contextmanager
def _atomic(target: Path) -> Iterator[IO[str]]:
    """A file that appears under its name only once it is complete."""
    if not target.parent.is_dir():
        from deskterm.domain.errors import InvalidInput

        raise InvalidInput(f"folder {target.parent} does not exist", field="path")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="ascii", newline="\n") as stream:
            yield stream
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
