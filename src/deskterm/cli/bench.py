"""``deskterm bench``: how long an analyst waits, on a desk of a million tickets."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from deskterm.cli.common import State, err, literal, out, print_json

if TYPE_CHECKING:
    from deskterm.bench.desk import BenchDesk
    from deskterm.bench.run import Result


def bench(
    ctx: typer.Context,
    tickets: Annotated[
        int, typer.Option(help="Size of the bench desk (made once, then reused).")
    ] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Random seed of the bench desk.")] = 7,
    repeat: Annotated[
        int, typer.Option(min=1, max=10_000, help="Timed samples per operation.")
    ] = 30,
    starts: Annotated[
        int, typer.Option(min=0, max=100, help="Times the app is started (0: skip it).")
    ] = 5,
    only: Annotated[
        str | None, typer.Option(help="Only the operations whose name contains this.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Time what an analyst waits for, beside the same work as raw SQL.

    Without --db the bench makes its own SQLite file in the data folder (bench-N.db) and
    reuses it on later runs; with --db it fills an empty database, or reuses a bench desk of
    the same size there, and refuses any other desk.
    """
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from deskterm.bench.desk import check_size, default_url, prepare
    from deskterm.bench.run import run_operations, run_starts

    state: State = ctx.obj
    check_size(tickets)
    load_before = os.getloadavg()[0]
    own = state.db_url is None
    url = default_url(tickets) if own else str(state.db_url)
    with Progress(
        TextColumn("{task.description:<52}"),
        BarColumn(),
        TextColumn("{task.completed:>10,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=as_json and not err.is_terminal,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        desk = prepare(url, tickets=tickets, seed=seed, own_file=own, progress=progress)
        try:
            measuring = bar.add_task("measuring", total=1)

            def step(name: str, done: int, total: int) -> None:
                bar.update(measuring, description=name[:52], completed=done, total=total)

            results = run_operations(desk, samples=repeat, only=only, report=step)
            results += run_starts(desk, starts=starts, only=only, report=step)
        finally:
            desk.db.dispose()
    if as_json:
        print_json([r.to_json() for r in results])
        return
    out.print(_table(desk, results, (load_before, os.getloadavg()[0])))


def _table(desk: BenchDesk, results: list[Result], load: tuple[float, float]) -> Table:
    from deskterm.bench.run import INTERACTIVE_MS, MEMORY_MB, SLACK_MS, START_MS

    kind = "SQLite" if desk.db.is_sqlite else "PostgreSQL"
    made = f"built in {desk.built_seconds:.0f} s" if desk.built_seconds is not None else "reused"
    table = Table(
        title=Text(f"deskterm bench: {kind}, {desk.tickets:,} tickets ({made})"),
        caption=Text(
            f"{desk.db.describe()}; load average {load[0]:.1f} before, {load[1]:.1f} after "
            f"({os.cpu_count()} cores)\n"
            f"Times in ms. Targets: each operation's median under {INTERACTIVE_MS:.0f} ms and "
            f"within 2x of raw SQL (or at most {SLACK_MS:.0f} ms above it); start under "
            f"{START_MS:.0f} ms; peak memory under {MEMORY_MB:.0f} MB.",
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
        table.add_row(
            literal(r.operation + (f" ({r.note})" if r.note else "")),
            f"{r.median_ms:.0f} MB" if memory else f"{r.median_ms:.1f}",
            f"max {r.p95_ms:.0f}" if memory else f"{r.p95_ms:.1f}",
            "-" if r.bound_ms is None else f"{r.bound_ms:.2f}",
            "-" if r.ratio is None else f"{r.ratio:.1f}x",
            Text("met", style="green") if r.met else Text("missed", style="bold red"),
        )
    return table
