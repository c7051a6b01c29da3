"""``deskterm db|config|queue|demo``: the database, the shipped defaults, pulling work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import State, err, literal, out, print_json, rich_console
from deskterm.i18n import _, format_number, ngettext

if TYPE_CHECKING:
    from deskterm.db.engine import Database
    from deskterm.domain.priority import PriorityMatrix
    from deskterm.domain.sla import SlaPolicy

db_app = typer.Typer(help=_("The database: migrations and where it is."), no_args_is_help=True)
config_app = typer.Typer(
    help=_("The settings and the desk's defaults: priority matrix, SLA, codes."),
    no_args_is_help=True,
)
queue_app = typer.Typer(help=_("Pull work from your groups' queues."), no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]


@db_app.command(
    "upgrade",
    help=_("Apply the migrations this deskterm carries (refuses a database newer than the code)."),
)
def db_upgrade(ctx: typer.Context) -> None:
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
        out.print(
            literal(
                _("{url} is up to date (revision {revision})").format(
                    url=after.url, revision=after.revision
                )
            ),
            soft_wrap=True,
        )
    else:
        out.print(
            literal(f"{after.url}: {before or _('empty')} → {after.revision}"), soft_wrap=True
        )


def _revision(db: Database) -> str | None:
    from deskterm.desk.setup import schema_status

    return schema_status(db).revision


@db_app.command(
    "status",
    help=_("Say where the database is, at which revision, and (PostgreSQL) who is connected."),
)
def db_status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
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
    # JSON keeps the English words: scripts compare them.
    verdict = (
        "up to date"
        if s.current
        else "empty: migrated on first use"
        if s.empty
        else "newer than this deskterm"
        if s.newer_than_code
        else "behind: run `deskterm db upgrade`"
    )
    said = (
        _("up to date")
        if s.current
        else _("empty: migrated on first use")
        if s.empty
        else _("newer than this deskterm")
        if s.newer_than_code
        else _("behind: run `deskterm db upgrade`")
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
    grid.add_row(_("Database"), literal(s.url))
    grid.add_row(_("Kind"), s.dialect)
    grid.add_row(_("Revision"), literal(s.revision or _("none")))
    grid.add_row(_("Code needs"), s.head)
    grid.add_row(_("State"), said)
    if connections is not None:
        c = connections
        grid.add_row(
            _("Connections"),
            _(
                "{in_use} ({active} active, {idle} idle; {desk} deskterm, {listeners} listening)"
            ).format(
                in_use=c.in_use,
                active=c.active,
                idle=c.idle,
                desk=c.desk,
                listeners=c.listeners,
            ),
        )
        grid.add_row(
            _("Server"),
            _("{in_use} of max_connections {max}").format(
                in_use=c.server_in_use, max=c.max_connections
            ),
        )
    out.print(grid)


#: Differences kept for ``db check --json`` (the text output streams every one of them).
_JSON_FINDINGS = 10_000
#: Desks this big show progress on stderr.
_PROGRESS_FROM = 20_000


@db_app.command(
    "check",
    help=_(
        "Replay every ticket's log and compare it with the ticket: one line per difference.\n\n"
        "Also checks the ticket search index, and on SQLite (for the whole desk) the file "
        "itself. Exit 0 when all is sound, 6 when anything differs or is damaged (nothing is "
        "changed)."
    ),
)
def db_check(
    ctx: typer.Context,
    ticket: Annotated[
        list[str] | None,
        typer.Option("--ticket", metavar="REF", help=_("Only this ticket (repeat for more).")),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help=_("Only the N newest tickets."), metavar="N")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
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
                out.print(literal(_("file: {problem}").format(problem=line)), soft_wrap=True)
        raise Inconsistent(
            ngettext(
                "{desk} is damaged (SQLite's integrity check found {n} problem): "
                "restore it from a backup (`deskterm db restore FILE`)",
                "{desk} is damaged (SQLite's integrity check found {n} problems): "
                "restore it from a backup (`deskterm db restore FILE`)",
                len(storage.damage),
            ).format(desk=db.describe(), n=len(storage.damage))
        )
    if not as_json:
        for line in storage.search:
            out.print(literal(_("search index: {problem}").format(problem=line)), soft_wrap=True)
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
                _("checked {done} of {total} tickets ({seconds} s)").format(
                    done=format_number(done),
                    total=format_number(total),
                    seconds=format_number(now - started, digits=0),
                ),
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
            _("every ticket is what its log says")
            if summary.ok
            else ngettext(
                "{n} differ ({differences} difference)",
                "{n} differ ({differences} differences)",
                summary.findings,
            ).format(
                n=format_number(summary.differing), differences=format_number(summary.findings)
            )
        )
        out.print(
            _(
                "Checked {tickets} tickets and {events} log events in {seconds} s: {verdict}."
            ).format(
                tickets=format_number(summary.tickets),
                events=format_number(summary.events),
                seconds=format_number(summary.seconds, digits=1),
                verdict=verdict,
            ),
            soft_wrap=True,
        )
    wrong = []
    if not summary.ok:
        wrong.append(
            ngettext(
                "{n} of {total} ticket differ from their log",
                "{n} of {total} tickets differ from their log",
                summary.tickets,
            ).format(n=format_number(summary.differing), total=format_number(summary.tickets))
        )
    if storage.search:
        wrong.append(_("the ticket search index is broken: {hint}").format(hint=_(REPAIR_HINT)))
    if wrong:
        raise Inconsistent("; ".join(wrong))


@db_app.command(
    "reindex",
    help=_("Rebuild the ticket search index from every ticket (admins; changes no ticket)."),
)
def db_reindex(ctx: typer.Context) -> None:
    from deskterm.desk.search import rebuild_search_index

    state: State = ctx.obj
    done = state.desk().write(rebuild_search_index)
    for fault in done.repaired:
        out.print(literal(_("was: {fault}").format(fault=fault)), soft_wrap=True)
    out.print(
        ngettext(
            "Search index rebuilt: {n} ticket.", "Search index rebuilt: {n} tickets.", done.tickets
        ).format(n=format_number(done.tickets))
    )


@config_app.command(
    "check",
    help=_(
        "Validate the settings file (every table and key) and the defaults in use (your copies "
        "in the config folder, else the shipped ones)."
    ),
)
def config_check() -> None:
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

        raise InvalidInput(
            _("{path}: no targets for {priorities}").format(
                path=defaults.sla_path(), priorities=", ".join(missing)
            )
        )
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
    _check_keys()
    out.print(
        # Translators: what `deskterm config check` found; each part is counted below.
        _("{priorities}, {codes}, {groups}, {categories}").format(
            priorities=ngettext("{n} priority", "{n} priorities", len(matrix.levels)).format(
                n=len(matrix.levels)
            ),
            codes=ngettext("{n} resolution code", "{n} resolution codes", len(codes)).format(
                n=len(codes)
            ),
            groups=ngettext("{n} group", "{n} groups", len(groups)).format(n=len(groups)),
            categories=ngettext("{n} category", "{n} categories", len(categories)).format(
                n=len(categories)
            ),
        )
    )
    _show_sla(policy)


def _check_keys() -> None:
    """The desk's ``[keys]``: every id one of the app's, every key one Textual knows, and no
    two actions on one key where both would be live (both named, with the screen)."""
    from deskterm.config import load_settings
    from deskterm.desk.keymaps import check_keymap
    from deskterm.domain.errors import InvalidInput
    from deskterm.tui.keymap import app_bindings

    keymap = load_settings().keys.keymap()
    if not keymap:
        return
    _clean, problems = check_keymap(app_bindings(), keymap)
    if problems:
        for line in problems[:-1]:
            err.print(literal(_("[keys] {problem}").format(problem=line)), soft_wrap=True)
        raise InvalidInput(_("[keys] {problem}").format(problem=problems[-1]), field="keys")
    out.print(
        literal(
            ngettext(
                "ok  [keys]: {n} binding moved", "ok  [keys]: {n} bindings moved", len(keymap)
            ).format(n=len(keymap))
        )
    )


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
                _(
                    "{path}: P{number} colour {colour!r} is not a colour or style "
                    "(try red, bold yellow, #ff8800)"
                ).format(path=data_file("priority.toml"), number=number, colour=level.colour)
            ) from None


def _show_sla(policy: SlaPolicy) -> None:
    from deskterm.domain.sla import describe_rules
    from deskterm.i18n import format_duration, format_percent

    out.print(
        _(
            "SLA: warning at {share} of a target used; clocks pause while waiting on the customer"
        ).format(share=format_percent(policy.warning_share))
    )
    for number, target in sorted(policy.targets.items()):
        said = _(
            "P{number}: first response {response}, resolution {resolution}, calendar {calendar}"
        ).format(
            number=number,
            response=format_duration(target.response),
            resolution=format_duration(target.resolution),
            calendar=target.calendar.name,
        )
        if target.callback_every:
            said = _("{targets}, callback every {cadence}").format(
                targets=said, cadence=format_duration(target.callback_every)
            )
        out.print(literal(f"  {said}"))
    for line in describe_rules(policy.rules):
        out.print(literal("  " + _("rule {rule}").format(rule=line)), soft_wrap=True)


@config_app.command(
    "show",
    help=_("Show the settings in force (the config file, DESKTERM_* winning), secrets masked."),
)
def config_show(as_json: JsonOpt = False) -> None:
    import json

    from deskterm.config import config_path, load_settings, shown

    tables = shown(load_settings())
    if as_json:
        print_json(tables)
        return
    path = config_path()
    out.print(
        literal(
            "# "
            + (
                _("{path}, then DESKTERM_*")
                if path.is_file()
                else _("{path} (not there), then DESKTERM_*")
            ).format(path=path)
        )
    )
    for name, values in tables.items():
        out.print(literal(f"\n[{name}]"))
        for key, value in values.items():
            # JSON's strings and numbers are TOML's: the lines can be pasted into the file.
            out.print(literal(f"{key} = {json.dumps(value)}"), soft_wrap=True)


@config_app.command(
    "path",
    help=_("Show where deskterm looks for your copies of the defaults, and its default database."),
)
def config_path() -> None:
    from deskterm.config import load_settings
    from deskterm.paths import config_dir, shipped_data_dir

    settings = load_settings()
    # A path is copied whole: never broken across lines at the terminal's width.
    from rich.cells import cell_len

    rows = (
        (_("config folder"), config_dir()),
        (_("shipped defaults"), shipped_data_dir()),
        (_("default database"), settings.data_folder() / "desk.db"),
        (_("sla policy"), settings.sla_path()),
    )
    width = max(cell_len(label) for label, _path in rows)
    for label, path in rows:
        pad = " " * (width - cell_len(label))
        out.print(literal(f"{label}{pad} {path}"), soft_wrap=True)


@config_app.command("priorities", help=_("Show the impact x urgency priority matrix."))
def config_priorities(as_json: JsonOpt = False) -> None:
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
    from rich.text import Text

    from deskterm.domain.enums import level_label
    from deskterm.looks import priority_style

    table = Table(title=_("Priority = impact x urgency"))
    table.add_column(_("impact \\ urgency"))
    for u in Urgency:
        table.add_column(level_label(u))
    for i in Impact:
        table.add_row(level_label(i), *(f"P{matrix.priority(i, u)}" for u in Urgency))
    out.print(table)
    for n, level in sorted(matrix.levels.items()):
        # The admin's words are data: styled, never parsed as markup.
        out.print(
            Text.assemble(
                (f"P{n}", priority_style(n)), f" {level.shown_label}: {level.shown_meaning}"
            )
        )


@config_app.command("codes", help=_("List the resolution codes of this desk."))
def config_codes(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    from deskterm.desk.setup import list_resolution_codes

    state: State = ctx.obj
    codes = state.desk().read(list_resolution_codes)
    if as_json:
        print_json(codes)
        return
    for code, label in codes.items():
        out.print(literal(f"{code:24} {label}"))


@queue_app.command(
    "next", help=_("Claim the most urgent unassigned ticket of your groups and show it.")
)
def queue_next(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Option(help=_("Only this one of your groups."))] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.cli.tickets import _detail_json, render_ticket
    from deskterm.desk.queue import claim_next

    state: State = ctx.obj
    result = state.desk().write(claim_next, group=group)
    if result.ticket is None:
        where = ", ".join(result.groups) or _("your groups (you are in none)")
        if as_json:
            print_json(None)
        else:
            out.print(literal(_("Nothing waiting in {where}.").format(where=where)))
        raise typer.Exit(0)
    if as_json:
        print_json(_detail_json(result.ticket))  # type: ignore[arg-type]
        return
    out.print(render_ticket(result.ticket))  # type: ignore[arg-type]


def demo(
    ctx: typer.Context,
    tickets: Annotated[int, typer.Option(help=_("How many tickets (up to 5,000,000)."))] = 2000,
    seed: Annotated[
        int, typer.Option(help=_("Random seed: the same seed gives the same desk."))
    ] = 7,
    if_empty: Annotated[
        bool,
        typer.Option("--if-empty", help=_("Leave a desk that already has analysts as it is.")),
    ] = False,
) -> None:
    # Its help is given where it is registered (deskterm/cli/__init__.py).
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from deskterm.desk.demo import build_demo, check_demo_target

    state: State = ctx.obj
    db = state.database()
    # A half-built desk is refused (exit 6), never taken for a finished one.
    if if_empty and not check_demo_target(db):
        out.print(
            literal(_("{desk} already has a desk; left as it is.").format(desk=db.describe()))
        )
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
        _(
            "Demo desk ready in {seconds}s: {tickets} tickets, {events} log events, "
            "{contacts} contacts, {analysts} analysts in {groups} groups."
        ).format(
            seconds=format_number(summary.seconds, digits=1),
            tickets=format_number(summary.tickets),
            events=format_number(summary.events),
            contacts=format_number(summary.contacts),
            analysts=summary.analysts,
            groups=summary.groups,
        )
    )
    if summary.me:
        out.print(
            literal(
                _("You are {login} (L1 agent, Service Desk). Open the app: deskterm").format(
                    login=summary.me
                )
            )
        )
