"""``deskterm bench``: how long an analyst waits, on a desk of a million tickets; and
``deskterm bench load``: many analysts at once, and proof that nothing was lost."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import State, err, literal, out, print_json, rich_console
from deskterm.i18n import _

if TYPE_CHECKING:
    from rich.table import Table

    from deskterm.bench.desk import BenchDesk
    from deskterm.bench.load import LoadResult
    from deskterm.bench.run import Result

bench_app = typer.Typer(
    help=_("Time what analysts wait for; `bench load` runs many analysts at once."),
    invoke_without_command=True,
    no_args_is_help=False,
)


def _given_url(state: State) -> str | None:
    """The database named by ``--db``, else by the settings (``DESKTERM_DATABASE_URL`` or
    the config file); None leaves the bench to its own SQLite file. Never the analyst's
    default desk: a bench fills the database it runs on."""
    from deskterm.config import load_settings

    return state.db_url or load_settings().database_url or None


@bench_app.callback()
def bench(
    ctx: typer.Context,
    tickets: Annotated[
        int, typer.Option(help=_("Size of the bench desk (made once, then reused)."))
    ] = 1_000_000,
    seed: Annotated[int, typer.Option(help=_("Random seed of the bench desk."))] = 7,
    repeat: Annotated[
        int, typer.Option(min=1, max=10_000, help=_("Timed samples per operation."))
    ] = 30,
    starts: Annotated[
        int,
        typer.Option(
            min=0,
            max=100,
            help=_(
                "Times the app is started as the analyst, and again as a supervisor for f2; "
                "the CLI is run 3 times a start, 10 at most (0: none of these)."
            ),
        ),
    ] = 5,
    only: Annotated[
        str | None, typer.Option(help=_("Only the operations whose name contains this."))
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))] = False,
) -> None:
    """Time what an analyst waits for, beside the same work as raw SQL.

    Without --db the bench makes its own SQLite file in the data folder (bench-N.db) and
    reuses it on later runs; with --db it fills an empty database, or reuses a bench desk of
    the same size there, and refuses any other desk. (``deskterm bench --help`` shows the
    sub-app's help, given above.)
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from deskterm.bench.desk import check_size, default_url, prepare
    from deskterm.bench.run import run_operations, run_starts

    state: State = ctx.obj
    check_size(tickets)
    load_before = os.getloadavg()[0]
    given = _given_url(state)
    own = given is None
    url = default_url(tickets) if given is None else given
    with Progress(
        TextColumn("{task.description:<52}"),
        BarColumn(),
        TextColumn("{task.completed:>10,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=rich_console(err),
        transient=True,
        disable=as_json and not err.is_terminal,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        desk = prepare(url, tickets=tickets, seed=seed, own_file=own, progress=progress)
        err.print(literal(f"bench desk: {desk.db.describe()}"))
        try:
            measuring = bar.add_task("measuring", total=1)

            def step(name: str, done: int, total: int) -> None:
                bar.update(measuring, description=name[:52], completed=done, total=total)

            results = run_operations(desk, samples=repeat, only=only, report=step)
            results += run_starts(desk, starts=starts, only=only, report=step)
        finally:
            desk.db.dispose()
    if as_json:
        where = desk.db.describe()
        print_json([r.to_json() | {"database": where} for r in results])
        return
    out.print(_table(desk, results, (load_before, os.getloadavg()[0])))
    for line in _missed(results):
        out.print(literal(line))


def _table(desk: BenchDesk, results: list[Result], load: tuple[float, float]) -> Table:
    from rich.table import Table
    from rich.text import Text

    from deskterm.bench.run import CLI, GOALS, INTERACTIVE_MS, MEMORY_MB, SLACK_MS
    from deskterm.bench.startup import (
        DASHBOARD_PAINT,
        ESCAPE_TO_QUEUE,
        FIRST_NEW_CALL,
        FIRST_PAINT,
        SAVED,
        SWITCH_VIEW,
    )

    kind = "SQLite" if desk.db.is_sqlite else "PostgreSQL"
    made = f"built in {desk.built_seconds:.0f} s" if desk.built_seconds is not None else "reused"
    goals = "; ".join(
        f"{what} {GOALS[name].text}"
        for what, name in (
            ("key to painted page", SWITCH_VIEW),
            ("start to first painted queue", FIRST_PAINT),
            ("CLI ticket list", CLI),
            ("first ctrl+n", FIRST_NEW_CALL),
            ("key to saved intake", SAVED),
            ("f2 to dashboard", DASHBOARD_PAINT),
            ("escape to queue", ESCAPE_TO_QUEUE),
        )
    )
    table = Table(
        title=Text(f"deskterm bench: {kind}, {desk.tickets:,} tickets ({made})"),
        caption=Text(
            f"{desk.db.describe()}; load average {load[0]:.1f} before, {load[1]:.1f} after "
            f"({os.cpu_count()} cores)\n"
            f"Times in ms. Goals: each operation's median under {INTERACTIVE_MS:.0f} ms and "
            f"within 2x of raw SQL or at most {SLACK_MS:.0f} ms above it; {goals}; "
            f"peak memory of every start <= {MEMORY_MB:.0f} MB.",
            style="dim",
        ),
        caption_justify="left",
    )
    # On a narrow terminal the names wrap; the figures never do.
    table.add_column("operation", min_width=20, ratio=1)
    table.add_column("median", justify="right", no_wrap=True)
    table.add_column("p95", justify="right", no_wrap=True)
    table.add_column("raw SQL", justify="right", no_wrap=True)
    table.add_column("ratio", justify="right", no_wrap=True)
    table.add_column("target", no_wrap=True)
    for r in results:
        memory = r.unit == "MB"
        if r.median_ms is None or r.p95_ms is None:
            median, p95 = "-", "-"
        elif memory:
            median, p95 = f"{r.median_ms:.0f} MB", f"max {r.p95_ms:.0f}"
        else:
            median, p95 = f"{r.median_ms:.1f}", f"{r.p95_ms:.1f}"
        table.add_row(
            literal(r.operation + (f" ({r.note})" if r.note else "")),
            median,
            p95,
            "-" if r.bound_ms is None else f"{r.bound_ms:.2f}",
            "-" if r.ratio is None else f"{r.ratio:.1f}x",
            Text("met", style="green") if r.met else Text("missed", style="bold red"),
        )
    return table


def _missed(results: list[Result]) -> list[str]:
    """A line per row that missed its goal: what it measured against what it should."""
    lines = []
    for r in results:
        if r.met:
            continue
        if r.median_ms is None or r.p95_ms is None:
            seen = "no time"
        elif r.unit == "MB":
            seen = f"median {r.median_ms:.0f} MB, max {r.p95_ms:.0f} MB"
        else:
            seen = f"median {r.median_ms:.1f} ms, p95 {r.p95_ms:.1f} ms"
            if r.bound_ms is not None:
                seen += f", raw SQL {r.bound_ms:.2f} ms"
        lines.append(
            f"missed: {r.operation}: {seen}; goal {r.target}" + (f" ({r.note})" if r.note else "")
        )
    return lines


@bench_app.command(
    "load",
    help=_(
        "Many analysts at once for a fixed time, then check that nothing was lost.\n\n"
        "Each analyst is a process of its own doing a weighted mix without pause: log a call, "
        "pull next, add a note, change a status or resolve, hand a ticket on. Afterwards: no "
        "ticket claimed twice, no update lost, every touched ticket equal to its log's replay. "
        "Without --db it uses its own SQLite file in the data folder; with --db an empty "
        "database (made a demo desk) or one an earlier load or bench run made; any other desk "
        "is refused. With --apps N, N open apps (threads in a few processes) wait on the queue "
        "screen meanwhile, and the server's peak of connections is counted. Exit 6 when a "
        "check fails."
    ),
)
def load(
    ctx: typer.Context,
    analysts: Annotated[
        int, typer.Option(help=_("Analysts working at once, each a process of its own."))
    ] = 20,
    seconds: Annotated[float, typer.Option(help=_("How long they work."))] = 60.0,
    tickets: Annotated[
        int, typer.Option(help=_("Size of the demo desk made in an empty database."))
    ] = 5000,
    seed: Annotated[int, typer.Option(help=_("Random seed of the desk and the analysts."))] = 7,
    apps: Annotated[
        int,
        typer.Option(
            help=_(
                "Open apps beside the analysts (PostgreSQL, 0-500): each its own pool and "
                "listener, refreshing its queue on every change; none may be refused."
            )
        ),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))] = False,
) -> None:
    from deskterm.bench.apps import AppsHolder, check_apps, merged
    from deskterm.bench.load import check_options, default_url, prepare, run_load
    from deskterm.db.engine import normalise_url
    from deskterm.domain.errors import DeskError, Inconsistent

    state: State = ctx.obj
    check_options(analysts=analysts, seconds=seconds, tickets=tickets)
    url = _given_url(state) or default_url()
    # Before the desk is made: a refused run leaves the database as it was.
    check_apps(apps, backend=normalise_url(url).get_backend_name())
    load_before = os.getloadavg()[0]

    def say(message: str) -> None:
        if not as_json or err.is_terminal:
            err.print(literal(message))

    say("preparing the load desk")
    desk = prepare(url, analysts=analysts, seconds=seconds, tickets=tickets, seed=seed)
    # Always said, even with --json: a run on the wrong database must not pass unnoticed.
    err.print(literal(f"load desk: {desk.where}"))
    if desk.built_seconds is not None:
        say(f"made a demo desk of {tickets:,} tickets in {desk.built_seconds:.0f} s")
    if apps:
        # Open before the analysts start and closed after they stop, so the analysts work
        # beside all of them the whole time.
        logins = [persona.login for persona in desk.analysts]
        with AppsHolder(desk.url, logins, apps, report=say) as holder:
            result = run_load(desk, seconds=seconds, seed=seed, report=say)
        held = holder.stop()
        result = merged(result, held)
    else:
        held = None
        result = run_load(desk, seconds=seconds, seed=seed, report=say)
    load_after = os.getloadavg()[0]
    if as_json:
        data = result.to_json()
        data["apps"] = None if held is None else held.to_json()
        data["load_average"] = {"before": load_before, "after": load_after}
        print_json(data)
    else:
        out.print(_load_table(result, (load_before, load_after)))
        for line in [] if held is None else held.lines_for_people():
            out.print(literal(line))
        out.print(_checks_table(result))
        for line in result.errors:
            err.print(literal(line))
    failed = [check.name for check in result.checks if not check.passed]
    if failed:
        raise Inconsistent(f"load run failed: {'; '.join(failed)}")
    stopped = [line for line in result.errors if " stopped: " in line]
    if stopped:
        raise DeskError(f"{len(stopped)} analyst process(es) stopped: {stopped[0][:200]}")


def _load_table(result: LoadResult, load: tuple[float, float]) -> Table:
    from rich.table import Table
    from rich.text import Text

    kind = "SQLite" if result.dialect == "sqlite" else "PostgreSQL"
    table = Table(
        title=Text(
            f"deskterm bench load: {kind}, {result.analysts} analysts for {result.seconds:.0f} s"
        ),
        caption=Text(
            f"{result.where}; load average {load[0]:.1f} before, {load[1]:.1f} after "
            f"({os.cpu_count()} cores); "
            f"{result.empty_pulls:,} pulls found the queues empty; times in ms",
            style="dim",
        ),
        caption_justify="left",
    )
    table.add_column("operation", min_width=12, ratio=1)
    for name in ("count", "ops/s", "p50", "p95", "p99", "conflicts", "errors"):
        table.add_column(name, justify="right", no_wrap=True)
    for op in result.operations:
        table.add_row(
            op.operation,
            f"{op.count:,}",
            f"{op.per_second:.1f}",
            "-" if op.p50_ms is None else f"{op.p50_ms:.1f}",
            "-" if op.p95_ms is None else f"{op.p95_ms:.1f}",
            "-" if op.p99_ms is None else f"{op.p99_ms:.1f}",
            f"{op.conflicts:,}",
            Text(f"{op.errors:,}", style="bold red" if op.errors else ""),
        )
    table.add_section()
    table.add_row(
        "total",
        f"{result.total:,}",
        f"{result.per_second:.1f}",
        "",
        "",
        "",
        f"{sum(op.conflicts for op in result.operations):,}",
        f"{sum(op.errors for op in result.operations):,}",
    )
    return table


def _checks_table(result: LoadResult) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Checks", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("over", justify="right", no_wrap=True)
    table.add_column("result", no_wrap=True)
    for check in result.checks:
        verdict = Text("pass", style="green") if check.passed else Text("FAIL", style="bold red")
        table.add_row(check.name, check.checked, verdict)
        for problem in check.problems:
            table.add_row(literal(f"  {problem}"), "", "")
    return table


@bench_app.command(
    "ssh",
    help=_(
        "What an SSH session costs: time to its painted queue, and the server's memory.\n\n"
        "Starts `deskterm serve ssh` on a free port and opens the sessions with OpenSSH's "
        "`ssh`, keeping them all open; each is timed from starting `ssh` to its painted queue, "
        "and the server's total memory (PSS of it and every process under it) is read before "
        "and after each. Without --db it makes a small demo desk in a temporary folder; with "
        "--db an empty database (made a demo desk) or one an earlier `bench ssh` made. Exit 6 "
        "when a goal is missed or a session did not end."
    ),
)
def ssh(
    ctx: typer.Context,
    sessions: Annotated[
        int, typer.Option(min=1, max=200, help=_("SSH sessions opened one after another."))
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))] = False,
) -> None:
    from rich.table import Table
    from rich.text import Text

    from deskterm.bench.ssh import MEMORY_GOAL_MB, PAINT_GOAL_MS, BenchFailed, run_ssh_bench

    state: State = ctx.obj

    def say(message: str) -> None:
        if not as_json or err.is_terminal:
            err.print(literal(message))

    result = run_ssh_bench(_given_url(state), sessions=sessions, report=say)
    if as_json:
        print_json(result.to_json())
    else:
        table = Table(
            title=Text(f"deskterm bench ssh: {sessions} sessions with OpenSSH's ssh"),
            caption=Text(
                f"{result.where}; sessions {'forked warm' if result.warm else 'started cold'}; "
                f"server {result.baseline_mb:.0f} MB before, {result.final_mb:.0f} MB with all "
                f"open; load average {result.load_average[0]:.1f} before, "
                f"{result.load_average[1]:.1f} after ({os.cpu_count()} cores)",
                style="dim",
            ),
            caption_justify="left",
        )
        table.add_column("session", justify="right")
        table.add_column("paint ms", justify="right", no_wrap=True)
        table.add_column("server MB", justify="right", no_wrap=True)
        for sample in result.samples:
            table.add_row(str(sample.number), f"{sample.paint_ms:.0f}", f"{sample.memory_mb:.0f}")
        out.print(table)
        verdicts = (
            (
                f"paint p50 {result.paint_p50:.0f} ms, max {result.paint_max:.0f} ms",
                result.paint_max <= PAINT_GOAL_MS,
                f"<= {PAINT_GOAL_MS:.0f} ms",
            ),
            (
                f"memory {result.memory_per_session:.1f} MB per session",
                result.memory_per_session <= MEMORY_GOAL_MB,
                f"<= {MEMORY_GOAL_MB:.0f} MB",
            ),
            ("every app ended, server stopped cleanly", result.all_ended, "yes"),
        )
        for what, met, goal in verdicts:
            out.print(literal(f"{what}: {'met' if met else 'MISSED'} (goal {goal})"))
    if not result.passed:
        raise BenchFailed("the ssh bench missed a goal")


@bench_app.command(
    "web",
    help=_(
        "Many customers open their case page at once, against a real `deskterm serve web`.\n\n"
        "The server runs on a scratch demo desk made for the run: a temporary SQLite file, or "
        "with --db a PostgreSQL URL, a schema of its own there, dropped afterwards. The case "
        "page of the ticket with the longest public story is loaded with its real link, then "
        "the help page's search, each LOADS times at once. Exit 6 when a page's p99 misses "
        "the goal (100 ms) or a load was not answered."
    ),
)
def web(
    ctx: typer.Context,
    loads: Annotated[
        int,
        typer.Option(
            min=1, max=2000, help=_("How many customers load each page at the same time.")
        ),
    ] = 200,
    workers: Annotated[
        int,
        typer.Option(min=1, max=64, help=_("Processes of `serve web` (its --workers).")),
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))] = False,
) -> None:
    from deskterm.bench.web import GOAL_P99_MS, BenchFailed, run_web_bench
    from deskterm.cli.common import fail

    state: State = ctx.obj
    url = state.db_url
    if url is not None and not url.startswith("postgresql"):
        fail(_("--db for bench web is a PostgreSQL URL (a scratch schema is made there)"))

    def say(message: str) -> None:
        if not as_json or err.is_terminal:
            err.print(literal(message))

    result = run_web_bench(loads=loads, postgres_url=url, workers=workers, report=say)
    if as_json:
        print_json(result.to_json())
    else:
        for page in result.pages:
            row = page.to_json()
            out.print(
                literal(
                    f"{result.backend}: {page.page} page ({row['bytes']:,} bytes) {loads} loads "
                    f"at once, {page.ok} answered 200 in {row['seconds']:.2f} s; p50 "
                    f"{row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms, p99 "
                    f"{row['p99_ms']:.1f} ms, max {row['max_ms']:.1f} ms; alone p50 "
                    f"{row['alone_p50_ms']:.1f} ms: {'met' if page.met else 'MISSED'} "
                    f"(goal p99 < {GOAL_P99_MS:.0f} ms)"
                ),
                soft_wrap=True,
            )
        out.print(
            literal(
                f"load average {result.load_average[0]:.2f} before, "
                f"{result.load_average[1]:.2f} after ({result.cores} cores, "
                f"{result.workers} server processes)"
            )
        )
    if not result.passed:
        raise BenchFailed("the web bench missed its goal")


from deskterm.cli import cti as _cti  # noqa: E402  (the command lives with the other CTI ones)

bench_app.command(
    "cti",
    help=_(
        "Many phone-system posts at once against a real `deskterm serve cti`; every call "
        "kept?\n\n"
        "The server runs on a scratch desk made for the run: a temporary SQLite file, or with "
        "--db a PostgreSQL URL, a schema of its own there, dropped afterwards. Exit 6 when a "
        "call was lost or a post refused."
    ),
)(_cti.bench_cti)
