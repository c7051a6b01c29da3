"""``deskterm db|config|queue|demo``: the database, the shipped defaults, pulling work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import State, err, literal, out, print_json, rich_console

if TYPE_CHECKING:
    from deskterm.db.engine import Database
    from deskterm.domain.priority import PriorityMatrix
    from deskterm.domain.sla import SlaPolicy

db_app = typer.Typer(help="The database: migrations and where it is.", no_args_is_help=True)
config_app = typer.Typer(
    help="The settings and the desk's defaults: priority matrix, SLA, codes.", no_args_is_help=True
)
queue_app = typer.Typer(help="Pull work from your groups' queues.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the migrations this deskterm carries (refuses a database newer than the code)."""
    from deskterm.db.engine import Database, translate_errors
    from deskterm.desk.setup import upgrade_database

    state: State = ctx.obj
    db = Database(state.database_url())
    try:
        with translate_errors(db):
            before = _revision(db)
            after = upgrade_database(db)
    finally:
        db.dispose()
    if before == after.revision:
        out.print(literal(f"{after.url} is up to date (revision {after.revision})"), soft_wrap=True)
    else:
        out.print(literal(f"{after.url}: {before or 'empty'} → {after.revision}"), soft_wrap=True)


def _revision(db: Database) -> str | None:
    from deskterm.desk.setup import schema_status

    return schema_status(db).revision


@db_app.command("status")
def db_status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Say where the database is, at which revision, and (PostgreSQL) who is connected."""
    from rich.table import Table

    from deskterm.db.engine import Database, translate_errors
    from deskterm.desk.setup import schema_status

    state: State = ctx.obj
    db = Database(state.database_url())
    try:
        with translate_errors(db):
            s = schema_status(db)
        connections = db.connections()
    finally:
        db.dispose()
    verdict = (
        "up to date"
        if s.current
        else "empty: migrated on first use"
        if s.empty
        else "newer than this deskterm"
        if s.newer_than_code
        else "behind: run `deskterm db upgrade`"
    )
    if as_json:
        print_json(
            {
                "url": s.url,
                "dialect": s.dialect,
                "revision": s.revision,
                "head": s.head,
                "state": verdict,
                # None on SQLite: no server, no connections to count.
                "connections": None
                if connections is None
                else {
                    "in_use": connections.in_use,
                    "active": connections.active,
                    "idle": connections.idle,
                    "deskterm": connections.desk,
                    "listeners": connections.listeners,
                    "server_in_use": connections.server_in_use,
                    "max_connections": connections.max_connections,
                },
            }
        )
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row("Database", literal(s.url))
    grid.add_row("Kind", s.dialect)
    grid.add_row("Revision", literal(s.revision or "none"))
    grid.add_row("Code needs", s.head)
    grid.add_row("State", verdict)
    if connections is not None:
        c = connections
        grid.add_row(
            "Connections",
            f"{c.in_use} ({c.active} active, {c.idle} idle; {c.desk} deskterm, "
            f"{c.listeners} listening)",
        )
        grid.add_row("Server", f"{c.server_in_use} of max_connections {c.max_connections}")
    out.print(grid)


#: Differences kept for ``db check --json`` (the text output streams every one of them).
_JSON_FINDINGS = 10_000
#: Desks this big show progress on stderr.
_PROGRESS_FROM = 20_000


@db_app.command("check")
def db_check(
    ctx: typer.Context,
    ticket: Annotated[
        list[str] | None,
        typer.Option("--ticket", metavar="REF", help="Only this ticket (repeat for more)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the N newest tickets.", metavar="N")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay every ticket's log and compare it with the ticket: one line per difference.

    Also checks the ticket search index, and on SQLite (for the whole desk) the file itself.
    Exit 0 when all is sound, 6 when anything differs or is damaged (nothing is changed).
    """
    import time

    from deskterm.desk.consistency import Finding, check_log, check_storage
    from deskterm.desk.context import Desk
    from deskterm.desk.search import REPAIR_HINT
    from deskterm.domain.errors import Inconsistent
    from deskterm.domain.refs import parse_ref

    state: State = ctx.obj
    ids = [parse_ref(ref) for ref in ticket] if ticket else None
    db = state.database()
    storage = Desk(db, None).read(check_storage, whole=ids is None and limit is None)
    if storage.damage:
        # Replaying a damaged file would read wrong rows or fail half way: stop here.
        if as_json:
            print_json({"ok": False, "damage": storage.damage, "search_index": []})
        else:
            for line in storage.damage:
                out.print(literal(f"file: {line}"), soft_wrap=True)
        raise Inconsistent(
            f"{db.describe()} is damaged (SQLite's integrity check found "
            f"{len(storage.damage)} problem{'s' if len(storage.damage) > 1 else ''}): "
            "restore it from a backup (`deskterm db restore FILE`)"
        )
    if not as_json:
        for line in storage.search:
            out.print(literal(f"search index: {line}"), soft_wrap=True)
    kept: list[dict[str, object]] = []
    started = time.monotonic()
    shown = [0.0]

    def found(finding: Finding) -> None:
        if as_json:
            if len(kept) < _JSON_FINDINGS:
                kept.append(finding.to_json())
        else:
            out.print(literal(finding.line()), soft_wrap=True)

    def progress(done: int, total: int) -> None:
        if total < _PROGRESS_FROM:
            return
        now = time.monotonic()
        # A line every few seconds: enough to see it move, little enough for a log file.
        if now - shown[0] >= 5 or done == total:
            shown[0] = now
            err.print(
                f"checked {done:,} of {total:,} tickets ({now - started:.0f} s)",
                highlight=False,
            )

    # Database identity: also each event's actor against the database login that wrote it.
    writers = state.identity().mode == "database" and not db.is_sqlite
    summary = Desk(db, None).read(
        check_log,
        ticket_ids=ids,
        limit=limit,
        on_finding=found,
        on_progress=progress,
        writers=writers,
    )
    if as_json:
        print_json(
            {
                "ok": summary.ok and storage.ok,
                "damage": storage.damage,
                "search_index": storage.search,
                "tickets": summary.tickets,
                "events": summary.events,
                "differing_tickets": summary.differing,
                "differences": summary.findings,
                "seconds": round(summary.seconds, 2),
                "findings": kept,
                "truncated": summary.findings > len(kept),
            }
        )
    else:
        verdict = (
            "every ticket is what its log says"
            if summary.ok
            else f"{summary.differing:,} differ ({summary.findings:,} differences)"
        )
        out.print(
            f"Checked {summary.tickets:,} tickets and {summary.events:,} log events in "
            f"{summary.seconds:.1f} s: {verdict}.",
            soft_wrap=True,
        )
    wrong = []
    if not summary.ok:
        wrong.append(f"{summary.differing:,} of {summary.tickets:,} tickets differ from their log")
    if storage.search:
        wrong.append(f"the ticket search index is broken: {REPAIR_HINT}")
    if wrong:
        raise Inconsistent("; ".join(wrong))


@db_app.command("reindex")
def db_reindex(ctx: typer.Context) -> None:
    """Rebuild the ticket search index from every ticket (admins; changes no ticket)."""
    from deskterm.desk.search import rebuild_search_index

    state: State = ctx.obj
    done = state.desk().write(rebuild_search_index)
    for fault in done.repaired:
        out.print(literal(f"was: {fault}"), soft_wrap=True)
    out.print(f"Search index rebuilt: {done.tickets:,} tickets.")


@config_app.command("check")
def config_check() -> None:
    """Validate the settings file (every table and key) and the defaults in use (your copies
    in the config folder, else the shipped ones)."""
    from deskterm import defaults
    from deskterm.config import config_path
    from deskterm.desk.channels import load_config
    from deskterm.paths import data_file

    # The whole file, and what each channel needs besides its own keys (SMTP a sender).
    load_config()
    defaults.priority_matrix.cache_clear()
    defaults.sla_policy.cache_clear()
    defaults.resolution_table.cache_clear()
    matrix = defaults.priority_matrix()
    _check_colours(matrix)
    policy = defaults.sla_policy()
    missing = [f"P{n}" for n in matrix.levels if n not in policy.targets]
    if missing:
        from deskterm.domain.errors import InvalidInput

        raise InvalidInput(f"{defaults.sla_path()}: no targets for {', '.join(missing)}")
    codes = defaults.resolution_codes()
    groups = defaults.group_specs()
    categories = defaults.category_specs()
    for name in (
        "priority.toml",
        "sla.toml",
        "resolution_codes.toml",
        "desk.toml",
        "categories.toml",
    ):
        shown = defaults.sla_path() if name == "sla.toml" else data_file(name)
        out.print(literal(f"ok  {shown}"), soft_wrap=True)
    if config_path().is_file():
        out.print(literal(f"ok  {config_path()}"), soft_wrap=True)
    out.print(
        f"{len(matrix.levels)} priorities, {len(codes)} resolution codes, "
        f"{len(groups)} groups, {len(categories)} categories"
    )
    _show_sla(policy)


def _check_colours(matrix: PriorityMatrix) -> None:
    """Each priority's colour is how the screens show it: it must be a style Rich knows."""
    from rich.errors import StyleSyntaxError
    from rich.style import Style

    from deskterm.domain.errors import InvalidInput
    from deskterm.paths import data_file

    for number, level in sorted(matrix.levels.items()):
        try:
            Style.parse(level.colour)
        except StyleSyntaxError:
            raise InvalidInput(
                f"{data_file('priority.toml')}: P{number} colour {level.colour!r} is not a "
                "colour or style (try red, bold yellow, #ff8800)"
            ) from None


def _show_sla(policy: SlaPolicy) -> None:
    from deskterm.domain.sla import describe_rules

    share = f"{policy.warning_share:.0%}"
    out.print(
        f"SLA: warning at {share} of a target used; clocks pause while waiting on the customer"
    )
    for number, target in sorted(policy.targets.items()):
        cadence = (
            f", callback every {target.callback_every.total_seconds() / 3600:g}h"
            if target.callback_every
            else ""
        )
        out.print(
            literal(
                f"  P{number}: first response {target.response.total_seconds() / 3600:g}h, "
                f"resolution {target.resolution.total_seconds() / 3600:g}h, "
                f"calendar {target.calendar.name}{cadence}"
            )
        )
    for line in describe_rules(policy.rules):
        out.print(literal(f"  rule {line}"), soft_wrap=True)


@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Show the settings in force (the config file, DESKTERM_* winning), secrets masked."""
    import json

    from deskterm.config import config_path, load_settings, shown

    tables = shown(load_settings())
    if as_json:
        print_json(tables)
        return
    path = config_path()
    out.print(literal(f"# {path}{'' if path.is_file() else ' (not there)'}, then DESKTERM_*"))
    for name, values in tables.items():
        out.print(literal(f"\n[{name}]"))
        for key, value in values.items():
            # JSON's strings and numbers are TOML's: the lines can be pasted into the file.
            out.print(literal(f"{key} = {json.dumps(value)}"), soft_wrap=True)


@config_app.command("path")
def config_path() -> None:
    """Show where deskterm looks for your copies of the defaults, and its default database."""
    from deskterm.config import load_settings
    from deskterm.paths import config_dir, shipped_data_dir

    settings = load_settings()
    # A path is copied whole: never broken across lines at the terminal's width.
    out.print(literal(f"config folder    {config_dir()}"), soft_wrap=True)
    out.print(literal(f"shipped defaults {shipped_data_dir()}"), soft_wrap=True)
    out.print(literal(f"default database {settings.data_folder() / 'desk.db'}"), soft_wrap=True)
    out.print(literal(f"sla policy       {settings.sla_path()}"), soft_wrap=True)


@config_app.command("priorities")
def config_priorities(as_json: JsonOpt = False) -> None:
    """Show the impact x urgency priority matrix."""
    from rich.table import Table

    from deskterm import defaults
    from deskterm.domain.enums import Impact, Urgency

    matrix = defaults.priority_matrix()
    if as_json:
        print_json(
            {
                "priorities": {
                    f"P{n}": {"label": lv.label, "meaning": lv.meaning, "colour": lv.colour}
                    for n, lv in matrix.levels.items()
                },
                "matrix": {
                    i.value: {u.value: f"P{matrix.priority(i, u)}" for u in Urgency} for i in Impact
                },
            }
        )
        return
    table = Table(title="Priority = impact x urgency")
    table.add_column("impact \\ urgency")
    for u in Urgency:
        table.add_column(u.value)
    for i in Impact:
        table.add_row(i.value, *(f"P{matrix.priority(i, u)}" for u in Urgency))
    out.print(table)
    for n, level in sorted(matrix.levels.items()):
        out.print(f"[{level.colour}]P{n}[/] {level.label}: {level.meaning}")


@config_app.command("codes")
def config_codes(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the resolution codes of this desk."""
    from deskterm.desk.setup import list_resolution_codes

    state: State = ctx.obj
    codes = state.desk().read(list_resolution_codes)
    if as_json:
        print_json(codes)
        return
    for code, label in codes.items():
        out.print(literal(f"{code:24} {label}"))


@queue_app.command("next")
def queue_next(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Option(help="Only this one of your groups.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Claim the most urgent unassigned ticket of your groups and show it."""
    from deskterm.cli.tickets import _detail_json, render_ticket
    from deskterm.desk.queue import claim_next

    state: State = ctx.obj
    result = state.desk().write(claim_next, group=group)
    if result.ticket is None:
        where = ", ".join(result.groups) or "your groups (you are in none)"
        if as_json:
            print_json(None)
        else:
            out.print(literal(f"Nothing waiting in {where}."))
        raise typer.Exit(0)
    if as_json:
        print_json(_detail_json(result.ticket))  # type: ignore[arg-type]
        return
    out.print(render_ticket(result.ticket))  # type: ignore[arg-type]


def demo(
    ctx: typer.Context,
    tickets: Annotated[int, typer.Option(help="How many tickets (up to 5,000,000).")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same desk.")] = 7,
    if_empty: Annotated[
        bool,
        typer.Option("--if-empty", help="Leave a desk that already has analysts as it is."),
    ] = False,
) -> None:
    """Fill an empty database with a realistic demo desk (you are added as an L1 agent)."""
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from deskterm.desk.demo import build_demo, check_demo_target

    state: State = ctx.obj
    db = state.database()
    # A half-built desk is refused (exit 6), never taken for a finished one.
    if if_empty and not check_demo_target(db):
        out.print(literal(f"{db.describe()} already has a desk; left as it is."))
        return
    # Whoever would act on the finished desk (--as, DESKTERM_USER, the OS login) is the one added.
    me = state.acting_login()
    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.completed:>10,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=rich_console(err),
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        summary = build_demo(db, tickets=tickets, seed=seed, me=me, progress=progress)
    out.print(
        f"Demo desk ready in {summary.seconds:.1f}s: {summary.tickets:,} tickets, "
        f"{summary.events:,} log events, {summary.contacts:,} contacts, "
        f"{summary.analysts} analysts in {summary.groups} groups."
    )
    if summary.me:
        out.print(literal(f"You are {summary.me} (L1 agent, Service Desk). Open the app: deskterm"))
