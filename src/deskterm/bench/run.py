"""Timing the operations and the app; the figures and whether each meets its goal.

The operations are timed against their raw-SQL bound; what the analyst waits for at the
keyboard (start, keys, a call, the dashboard, the CLI) against the goals of ``GOALS``. Each
operation's sample runs the app's operation and its raw-SQL bound back to back, in alternating
order, so that a burst of load from elsewhere on a shared machine falls on both sides
rather than on one. Warm-up samples (caches, prepared statements) are not counted.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from deskterm.bench.desk import BenchDesk, refill_queue
from deskterm.bench.ops import Operation, Suite
from deskterm.bench.raw import Raw
from deskterm.bench.startup import (
    DASHBOARD_PAINT,
    ESCAPE_KITTY_LABEL,
    ESCAPE_TO_QUEUE,
    FIRST_NEW_CALL,
    FIRST_PAINT,
    MEMORY,
    NEXT,
    SAVED,
    SWITCH_VIEW,
    WARM,
    StartFailed,
    StartSample,
    analyst_script,
    command,
    start_once,
    supervisor_script,
    time_command,
)

#: Operations: the app may add what the database takes, or this much, whichever is larger
#: ("within 2x of the bound" read as TECH-NOTES says: an indexed page's bound is a fraction of
#: a millisecond); and never past this.
INTERACTIVE_MS = 50.0
SLACK_MS = 5.0
#: Every start's own peak (``VmHWM``).
MEMORY_MB = 100.0
#: Whole-process runs of the CLI per app start, at most ``CLI_RUNS``.
CLI_PER_START = 3
CLI_RUNS = 10
CLI = "CLI: ticket list --limit 20 --json (whole process)"


@dataclass(frozen=True)
class Goal:
    """What an analyst waiting on a row should see at most, on the reference machine."""

    median_ms: float
    p95_ms: float | None = None

    @property
    def text(self) -> str:
        if self.p95_ms is None:
            return f"median <= {self.median_ms:.0f} ms"
        return f"median <= {self.median_ms:.0f} ms, p95 <= {self.p95_ms:.0f} ms"

    def met(self, median_ms: float, p95_ms: float) -> bool:
        return median_ms <= self.median_ms and (self.p95_ms is None or p95_ms <= self.p95_ms)


#: The issue's table, in its order; the memory row's goal is ``MEMORY_MB``.
GOALS: dict[str, Goal] = {
    SWITCH_VIEW: Goal(50.0, 100.0),
    NEXT: Goal(50.0, 100.0),
    FIRST_PAINT: Goal(700.0),
    CLI: Goal(350.0),
    FIRST_NEW_CALL: Goal(100.0),
    SAVED: Goal(100.0),
    DASHBOARD_PAINT: Goal(150.0),
    ESCAPE_TO_QUEUE: Goal(50.0),
}
#: The rows an analyst's start gives, and a supervisor's.
ANALYST_ROWS = (SWITCH_VIEW, NEXT, FIRST_PAINT, MEMORY, FIRST_NEW_CALL, SAVED, ESCAPE_TO_QUEUE)
SUPERVISOR_ROWS = (DASHBOARD_PAINT,)
#: The order rows are reported in.
APP_ROWS: tuple[str, ...] = (SWITCH_VIEW, NEXT, FIRST_PAINT, MEMORY, CLI, FIRST_NEW_CALL, SAVED)
APP_ROWS += (DASHBOARD_PAINT, ESCAPE_TO_QUEUE)

Report = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Result:
    operation: str
    #: None when no sample came (the row's note says why).
    median_ms: float | None
    p95_ms: float | None
    bound_ms: float | None
    ratio: float | None
    samples: int
    target: str
    met: bool
    #: Why a figure needs a second look (a bound that answered differently, a key unmarked).
    note: str = ""
    #: "ms", or "MB" for the memory row, whose figures are the median and the largest peak.
    unit: str = "ms"

    def to_json(self) -> dict[str, Any]:
        memory = self.unit == "MB"
        figures: dict[str, Any] = {
            "operation": self.operation,
            "median_ms": None if memory else _rounded(self.median_ms, 3),
            "p95_ms": None if memory else _rounded(self.p95_ms, 3),
            "bound_ms": _rounded(self.bound_ms, 3),
            "ratio": _rounded(self.ratio, 2),
        }
        if memory:
            figures |= {
                "median_mb": _rounded(self.median_ms, 1),
                "max_mb": _rounded(self.p95_ms, 1),
            }
        figures |= {"samples": self.samples, "target": self.target, "met": self.met}
        if self.note:
            figures["note"] = self.note
        return figures


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest sample with at least ``share`` of the samples at or below."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def interactive(
    name: str, times: Sequence[float], bounds: Sequence[float] | None, note: str = ""
) -> Result:
    median = statistics.median(times) * 1000
    bound = statistics.median(bounds) * 1000 if bounds else None
    ratio = median / bound if bound else None
    met = median < INTERACTIVE_MS and (
        bound is None or median <= 2 * bound or median - bound <= SLACK_MS
    )
    return Result(
        operation=name,
        median_ms=median,
        p95_ms=percentile(times, 0.95) * 1000,
        bound_ms=bound,
        ratio=ratio,
        samples=len(times),
        target=f"< {INTERACTIVE_MS:.0f} ms" + (", within 2x of bound" if bound else ""),
        met=met,
        note=note,
    )


def measure(op: Operation, *, samples: int, warmup: int) -> Result:
    app_times: list[float] = []
    raw_times: list[float] = []
    note = ""
    for i in range(warmup + samples):
        sides: list[tuple[Callable[[int], Any], list[float]]] = [(op.app, app_times)]
        if op.raw is not None:
            sides.append((op.raw, raw_times))
        if i % 2:
            sides.reverse()
        answers: list[Any] = []
        for fn, into in sides:
            started = time.perf_counter()
            answers.append(fn(i))
            elapsed = time.perf_counter() - started
            if i >= warmup:
                into.append(elapsed)
        if i == 0 and op.same is not None and len(answers) == 2:
            app_answer, raw_answer = answers if sides[0][0] is op.app else answers[::-1]
            if not op.same(app_answer, raw_answer):
                note = "the raw-SQL bound answered differently"
    return interactive(op.name, app_times, raw_times or None, note)


def run_operations(
    bench: BenchDesk,
    *,
    samples: int,
    warmup: int = 3,
    only: str | None = None,
    report: Report | None = None,
) -> list[Result]:
    # Pull next takes a ticket per sample, app and bound alike.
    refill_queue(bench, wanted=2 * (samples + warmup) + 5)
    raw = Raw(bench.db)
    try:
        suite = Suite(bench, raw, samples=samples + warmup, seed=time.time_ns())
        ops = [op for op in suite.operations() if not only or only.lower() in op.name.lower()]
        results = []
        for number, op in enumerate(ops):
            if report:
                report(op.name, number, len(ops))
            try:
                results.append(measure(op, samples=samples, warmup=warmup))
            except BaseException:
                raw.rollback()
                raise
        return results
    finally:
        raw.close()


def judge(
    name: str, times: Sequence[float], goal: Goal, missing: Sequence[str] = (), note: str = ""
) -> Result:
    """A row timed against its goal (``times`` in seconds). A sample that never came
    (``missing``: why, one per sample) misses the goal whatever the others show."""
    notes = [note] if note else []
    if missing:
        why = "; ".join(dict.fromkeys(missing))
        total = len(times) + len(missing)
        notes.insert(0, why if not times else f"{len(missing)} of {total} without a time: {why}")
    if not times:
        return Result(name, None, None, None, None, 0, goal.text, False, "; ".join(notes))
    median = statistics.median(times) * 1000
    p95 = percentile(times, 0.95) * 1000
    return Result(
        operation=name,
        median_ms=median,
        p95_ms=p95,
        bound_ms=None,
        ratio=None,
        samples=len(times),
        target=goal.text,
        met=goal.met(median, p95) and not missing,
        note="; ".join(notes),
    )


def memory_row(peaks: Sequence[int | None], note: str = "") -> Result:
    """Each start's own peak in bytes; every one must be within ``MEMORY_MB``."""
    sizes = [p / 2**20 for p in peaks if p is not None]
    target = f"<= {MEMORY_MB:.0f} MB"
    notes = [note] if note else []
    if len(sizes) < len(peaks):
        lost = len(peaks) - len(sizes)
        notes.insert(0, f"no peak for {lost} of {len(peaks)} starts (the app ended, or no /proc)")
    if not sizes:
        return Result(MEMORY, None, None, None, None, 0, target, False, "; ".join(notes), "MB")
    return Result(
        operation=MEMORY,
        median_ms=statistics.median(sizes),
        p95_ms=max(sizes),
        bound_ms=None,
        ratio=None,
        samples=len(sizes),
        target=target,
        met=max(sizes) <= MEMORY_MB and len(sizes) == len(peaks),
        note="; ".join(notes),
        unit="MB",
    )


def run_starts(
    bench: BenchDesk, *, starts: int, only: str | None = None, report: Report | None = None
) -> list[Result]:
    """The rows an analyst feels: the app's start, keys and memory, a supervisor's ``f2``,
    and the CLI as a whole process, each against its goal.

    Each of ``starts`` runs starts the app twice: as the bench's analyst (queue keys, the
    session's first call, a ticket opened and left) and as its supervisor for ``f2`` alone.
    The supervisor's queue (other views, other groups) would time other pages than the
    analyst's, and ``f2`` is refused to an agent, hence a start of its own. The memory row's
    figures are the analyst's starts; the supervisor's largest peak is in its note, and counts
    against the goal as well. A start that fails leaves its rows without samples,
    with the reason, and no more starts of that kind are tried.
    """
    wanted = (only or "").lower()

    def asked(names: Sequence[str]) -> bool:
        return starts >= 1 and any(wanted in name.lower() for name in names)

    results: dict[str, Result] = {}
    if asked(ANALYST_ROWS):
        results |= _analyst_rows(bench, starts=starts, report=report)
    if asked(SUPERVISOR_ROWS):
        supervisor, peaks = _supervisor_rows(bench, starts=starts, report=report)
        results |= supervisor
        if MEMORY in results and peaks:
            # The supervisor's app is the app too: its peak counts against the goal.
            most = max(peaks) / 2**20
            old = results[MEMORY]
            note = f"supervisor with the dashboard: max {most:.0f} MB"
            results[MEMORY] = replace(
                old,
                met=old.met and most <= MEMORY_MB,
                note="; ".join(n for n in (old.note, note) if n),
            )
    if asked((CLI,)):
        runs = min(CLI_RUNS, CLI_PER_START * starts)
        if report:
            report(f"CLI ticket list x {runs}", 0, 1)
        results[CLI] = run_cli(bench, runs=runs)
    return [results[name] for name in APP_ROWS if name in results and wanted in name.lower()]


def _analyst_rows(bench: BenchDesk, *, starts: int, report: Report | None) -> dict[str, Result]:
    runs: list[StartSample] = []
    failed = ""
    unmarked: set[str] = set()
    for number in range(starts):
        if report:
            report("app: start, keys, a call, a ticket", number, starts)
        try:
            runs.append(
                start_once(bench.url, bench.login, script=analyst_script, unmarked=unmarked)
            )
        except StartFailed as exc:
            failed = str(exc)
            break
    lost = [failed] if failed else []
    ended = "; ".join(dict.fromkeys(r.failed for r in runs if r.failed))
    rows = {
        FIRST_PAINT: judge(FIRST_PAINT, [r.first_paint for r in runs], GOALS[FIRST_PAINT], lost),
        MEMORY: memory_row([r.peak_rss for r in runs], note=failed or ended),
    }
    kitty = [t for r in runs for t in r.keys.get(ESCAPE_KITTY_LABEL, [])]
    warm = [t for r in runs for t in r.keys.get(WARM, [])]
    for name in (SWITCH_VIEW, NEXT, FIRST_NEW_CALL, SAVED, ESCAPE_TO_QUEUE):
        times = [t for r in runs for t in r.keys.get(name, [])]
        missing = [why for r in runs for why in r.missing.get(name, [])] + lost
        # A start whose app ended before this row's keys: the row lost that start's sample.
        missing += [
            r.failed for r in runs if r.failed and not (r.keys.get(name) or r.missing.get(name))
        ]
        note = ""
        if name == FIRST_NEW_CALL:
            note = _warm_note(warm)
        if name == ESCAPE_TO_QUEUE and kitty:
            note = (
                f"the same escape sent as the kitty keyboard protocol does (no ESCDELAY "
                f"wait): median {statistics.median(kitty) * 1000:.1f} ms"
            )
        rows[name] = judge(name, times, GOALS[name], missing, note)
    return rows


def _supervisor_rows(
    bench: BenchDesk, *, starts: int, report: Report | None
) -> tuple[dict[str, Result], list[int]]:
    goal = GOALS[DASHBOARD_PAINT]
    if bench.supervisor is None:
        missing = ["the bench desk has no active supervisor"]
        return {DASHBOARD_PAINT: judge(DASHBOARD_PAINT, [], goal, missing)}, []
    times: list[float] = []
    missing = []
    peaks: list[int] = []
    warm: list[float] = []
    unmarked: set[str] = set()
    for number in range(starts):
        if report:
            report("app as a supervisor: f2", number, starts)
        try:
            run = start_once(
                bench.url, bench.supervisor, script=supervisor_script, unmarked=unmarked
            )
        except StartFailed as exc:
            missing.append(str(exc))
            break
        times += run.keys.get(DASHBOARD_PAINT, [])
        warm += run.keys.get(WARM, [])
        missing += run.missing.get(DASHBOARD_PAINT, [])
        if run.failed and not run.keys.get(DASHBOARD_PAINT):
            missing.append(run.failed)
        if run.peak_rss is not None:
            peaks.append(run.peak_rss)
    note = _warm_note(warm)
    return {DASHBOARD_PAINT: judge(DASHBOARD_PAINT, times, goal, missing, note)}, peaks


def _warm_note(warm: Sequence[float]) -> str:
    if not warm:
        return ""
    return (
        f"typed once the app said its screens were built ahead, median "
        f"{statistics.median(warm) * 1000:.0f} ms (max {max(warm) * 1000:.0f}) after its "
        f"first paint"
    )


def run_cli(bench: BenchDesk, *, runs: int) -> Result:
    """``deskterm ticket list --limit 20 --json`` as a script calls it, whole process."""
    argv = [*command(bench.url, bench.login), "ticket", "list", "--limit", "20", "--json"]
    try:
        times = time_command(argv, runs=runs)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return judge(CLI, [], GOALS[CLI], [f"the command failed: {exc}"])
    return judge(CLI, times, GOALS[CLI])
