"""``deskterm bench``'s app rows: the mark file, the goals, the app's own peak memory, the
CLI timed as a whole process, and rows that fail alone when the app says nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from deskterm.bench import run as bench_run
from deskterm.bench.run import (
    CLI,
    GOALS,
    Goal,
    judge,
    memory_row,
    run_starts,
)
from deskterm.bench.startup import (
    DASHBOARD_PAINT,
    ESCAPE_KITTY_LABEL,
    ESCAPE_TO_QUEUE,
    FIRST_NEW_CALL,
    FIRST_PAINT,
    MEMORY,
    NEXT,
    NO_MARK,
    SAVED,
    SWITCH_VIEW,
    Running,
    StartFailed,
    StartSample,
    _Screen,
    parse_marks,
    peak_memory,
    time_command,
)

STATUS = """Name:\tdeskterm
VmPeak:\t  812340 kB
VmSize:\t  790112 kB
VmHWM:\t   96512 kB
VmRSS:\t   95020 kB
Threads:\t4
"""


def test_marks_are_read_whole_lines_only() -> None:
    text = (
        "12.500000 queue mine 32 last\n"
        "12.600000 intake\n"
        "garbage\n"
        "x.y queue all 100 more\n"
        "12.700000 saved DT-000123\n"
        "12.800000 queue gro"  # still being written
    )
    marks = parse_marks(text)
    assert [(m.at, m.what, m.details) for m in marks] == [
        (12.5, "queue", ("mine", "32", "last")),
        (12.6, "intake", ()),
        (12.7, "saved", ("DT-000123",)),
    ]
    page = marks[0]
    assert (page.view, page.rows, page.last) == ("mine", 32, True)
    assert (marks[1].view, marks[1].rows, marks[1].last) == ("", 0, False)
    assert parse_marks("") == []


def test_a_key_goal_needs_both_the_median_and_the_p95() -> None:
    goal = GOALS[SWITCH_VIEW]
    assert goal.text == "median <= 50 ms, p95 <= 100 ms"
    fast = judge(SWITCH_VIEW, [0.030] * 19 + [0.090], goal)
    assert fast.met and fast.samples == 20 and fast.p95_ms == pytest.approx(30.0)
    # A median within the goal does not hide a tail beyond it.
    tail = judge(SWITCH_VIEW, [0.030] * 18 + [0.120] * 2, goal)
    assert tail.median_ms == pytest.approx(30.0) and tail.p95_ms == pytest.approx(120.0)
    assert not tail.met
    assert not judge(SWITCH_VIEW, [0.051] * 5, goal).met
    assert judge(SWITCH_VIEW, [0.050] * 5, goal).met  # "<=": the goal itself meets it
    start = judge(FIRST_PAINT, [0.6, 0.65, 0.9], GOALS[FIRST_PAINT])
    assert start.target == "median <= 700 ms" and start.met


def test_every_app_row_carries_the_issues_goal() -> None:
    assert {name: goal.text for name, goal in GOALS.items()} == {
        SWITCH_VIEW: "median <= 50 ms, p95 <= 100 ms",
        NEXT: "median <= 50 ms, p95 <= 100 ms",
        FIRST_PAINT: "median <= 700 ms",
        CLI: "median <= 350 ms",
        FIRST_NEW_CALL: "median <= 100 ms",
        SAVED: "median <= 100 ms",
        DASHBOARD_PAINT: "median <= 150 ms",
        ESCAPE_TO_QUEUE: "median <= 50 ms",
    }


def test_a_key_without_its_mark_fails_its_row_only_and_says_why() -> None:
    goal = Goal(100.0)
    none = judge(SAVED, [], goal, [NO_MARK, NO_MARK])
    assert none.median_ms is None and none.samples == 0 and not none.met
    assert none.note == NO_MARK
    data = none.to_json()
    assert data["median_ms"] is None and data["p95_ms"] is None and data["note"] == NO_MARK
    assert {"operation", "bound_ms", "ratio", "samples", "target", "met"} <= set(data)
    some = judge(SAVED, [0.02, 0.03], goal, [NO_MARK])
    assert not some.met and some.samples == 2
    assert some.note == f"1 of 3 without a time: {NO_MARK}"


def test_peak_memory_is_the_apps_own_high_water_mark() -> None:
    assert peak_memory(STATUS) == 96512 * 1024
    assert peak_memory("Name:\tx\nVmRSS:\t 10 kB\n") is None
    row = memory_row([peak_memory(STATUS), 90 * 2**20])
    assert row.met and row.median_ms == pytest.approx(92.1, abs=0.1)
    assert row.to_json()["median_mb"] == pytest.approx(92.1, abs=0.1)
    assert row.to_json()["max_mb"] == pytest.approx(94.25, abs=0.1)
    assert row.to_json()["median_ms"] is None and row.target == "<= 100 MB"
    # Every start's peak counts: one over the goal misses it.
    assert not memory_row([90 * 2**20, 101 * 2**20, 90 * 2**20]).met
    assert not memory_row([None]).met


def test_the_cli_is_timed_as_a_whole_process() -> None:
    argv = [sys.executable, "-c", "import time; time.sleep(0.05); print('[]')"]
    times = time_command(argv, runs=3, warmup=1)
    assert len(times) == 3 and all(0.05 <= t < 5 for t in times)
    with pytest.raises(RuntimeError, match="exit 3: no such desk"):
        failing = "import sys; sys.stderr.write('starting\\nno such desk\\n'); sys.exit(3)"
        time_command([sys.executable, "-c", failing], runs=1)


@pytest.fixture
def running(tmp_path: Path):
    """A ``Running`` over a stand-in process: keys go to a pipe, marks are written by hand."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    read_end, write_end = os.pipe()
    run = Running(process, write_end, tmp_path / "painted", _Screen(), key_timeout=0.3)
    yield run
    process.kill()
    process.wait()
    os.close(read_end)
    os.close(write_end)


def _mark_later(path: Path, line: str, delay: float) -> threading.Thread:
    def write() -> None:
        time.sleep(delay)
        with path.open("a", encoding="utf-8") as file:
            file.write(f"{time.monotonic():.6f} {line}\n")

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_a_key_is_timed_to_the_mark_it_brings(running: Running) -> None:
    path = running.mark_file
    # A page painted before the key (a live refresh) is not the key's answer.
    path.write_text(f"{time.monotonic() - 1:.6f} queue mine 3 last\n", encoding="utf-8")
    writer = _mark_later(path, "queue groups 100 more", 0.05)
    took = running.time(SWITCH_VIEW, b"2", "queue")
    writer.join()
    assert took is not None and 0.04 <= took < 0.3
    assert running.keys == {SWITCH_VIEW: [took]}
    assert running.last("queue") == running.marks()[-1]
    assert running.last("queue").view == "groups"


def test_a_mark_that_never_comes_leaves_a_reason(running: Running) -> None:
    started = time.monotonic()
    assert running.time(FIRST_NEW_CALL, b"\x0e", "intake") is None
    assert 0.3 <= time.monotonic() - started < 2
    assert running.missing == {FIRST_NEW_CALL: [NO_MARK]}
    assert running.keys == {}


def test_an_app_that_ends_fails_its_start(running: Running) -> None:
    running.process.kill()
    running.process.wait()
    with pytest.raises(StartFailed, match="the app ended"):
        running.wait("queue", after=0)


@dataclass
class FakeDesk:
    url: str = "sqlite:///bench.db"
    login: str = "deskterm-bench"
    supervisor: str | None = "maria.schmidt"


def _analyst(first: float, keys: dict[str, list[float]], missing=None) -> StartSample:
    return StartSample(first, 80 * 2**20, keys, missing or {})


def test_app_rows_in_the_issues_order_with_their_goals(monkeypatch) -> None:
    samples = iter(
        [
            _analyst(
                0.6,
                {
                    SWITCH_VIEW: [0.03, 0.04, 0.03],
                    NEXT: [0.04, 0.04],
                    FIRST_NEW_CALL: [0.09],
                    ESCAPE_TO_QUEUE: [0.12],
                    ESCAPE_KITTY_LABEL: [0.02],
                },
                {SAVED: [NO_MARK]},
            ),
            _analyst(0.8, {SWITCH_VIEW: [0.03], NEXT: [0.2], SAVED: [0.05]}),
        ]
    )
    supervisor = StartSample(0.7, 120 * 2**20, {}, {DASHBOARD_PAINT: [NO_MARK]})
    calls: list[str] = []

    def start_once(url: str, login: str, *, script, unmarked) -> StartSample:
        calls.append(login)
        return supervisor if login == "maria.schmidt" else next(samples)

    monkeypatch.setattr(bench_run, "start_once", start_once)
    monkeypatch.setattr(bench_run, "time_command", lambda argv, runs: [0.3] * runs)
    rows = {r.operation: r for r in run_starts(FakeDesk(), starts=2)}  # type: ignore[arg-type]
    assert list(rows) == [
        SWITCH_VIEW, NEXT, FIRST_PAINT, MEMORY, CLI, FIRST_NEW_CALL, SAVED, DASHBOARD_PAINT,
        ESCAPE_TO_QUEUE,
    ]  # fmt: skip
    assert calls == ["deskterm-bench", "deskterm-bench", "maria.schmidt", "maria.schmidt"]
    assert rows[SWITCH_VIEW].met and rows[SWITCH_VIEW].samples == 4
    assert not rows[NEXT].met  # p95 200 ms
    assert rows[FIRST_PAINT].met and rows[FIRST_PAINT].median_ms == pytest.approx(700.0)
    assert rows[CLI].met and rows[CLI].samples == 6
    assert rows[FIRST_NEW_CALL].met
    assert not rows[SAVED].met and rows[SAVED].note == f"1 of 2 without a time: {NO_MARK}"
    assert not rows[DASHBOARD_PAINT].met and rows[DASHBOARD_PAINT].note == NO_MARK
    assert not rows[ESCAPE_TO_QUEUE].met
    assert "kitty keyboard protocol" in rows[ESCAPE_TO_QUEUE].note
    memory = rows[MEMORY]
    # The analysts' starts are within 100 MB, the supervisor's is not: the row misses.
    assert not memory.met and memory.median_ms == pytest.approx(80.0)
    assert memory.note == "supervisor with the dashboard: max 120 MB"


def test_a_failed_start_fails_its_rows_not_the_bench(monkeypatch) -> None:
    tried: list[str] = []

    def start_once(url: str, login: str, *, script, unmarked) -> StartSample:
        tried.append(login)
        raise StartFailed("no queue painted within 60s: nothing on screen")

    monkeypatch.setattr(bench_run, "start_once", start_once)
    rows = run_starts(FakeDesk(supervisor=None), starts=3, only="key to painted")  # type: ignore[arg-type]
    assert [r.operation for r in rows] == [SWITCH_VIEW, NEXT]
    assert tried == ["deskterm-bench"]  # the same failure is not waited for three times
    assert all(not r.met and r.note.startswith("no queue painted") for r in rows)


def test_only_runs_what_its_rows_need(monkeypatch) -> None:
    tried: list[str] = []

    def start_once(url: str, login: str, *, script, unmarked) -> StartSample:
        tried.append(login)
        return StartSample(0.5, 50 * 2**20, {DASHBOARD_PAINT: [0.1]})

    monkeypatch.setattr(bench_run, "start_once", start_once)
    monkeypatch.setattr(bench_run, "time_command", lambda argv, runs: [0.3] * runs)
    rows = run_starts(FakeDesk(), starts=2, only="f2")  # type: ignore[arg-type]
    assert [r.operation for r in rows] == [DASHBOARD_PAINT] and rows[0].met
    assert tried == ["maria.schmidt", "maria.schmidt"]
    tried.clear()
    rows = run_starts(FakeDesk(), starts=2, only="cli:")  # type: ignore[arg-type]
    assert [r.operation for r in rows] == [CLI] and tried == []
    assert run_starts(FakeDesk(), starts=0) == []  # type: ignore[arg-type]
    no_supervisor = run_starts(FakeDesk(supervisor=None), starts=1, only="f2")  # type: ignore[arg-type]
    assert no_supervisor[0].note == "the bench desk has no active supervisor"


def test_an_app_that_ends_mid_script_keeps_what_was_timed(monkeypatch) -> None:
    crashed = "the app ended (exit 70): AttributeError: 'SavedTicket' object has no attribute"
    samples = iter(
        [
            StartSample(0.6, None, {SWITCH_VIEW: [0.03], FIRST_NEW_CALL: [0.05]}, failed=crashed),
            _analyst(0.7, {SWITCH_VIEW: [0.04], FIRST_NEW_CALL: [0.06], SAVED: [0.05]}),
        ]
    )
    monkeypatch.setattr(bench_run, "start_once", lambda url, login, **_: next(samples))
    monkeypatch.setattr(bench_run, "time_command", lambda argv, runs: [0.3] * runs)
    desk = FakeDesk(supervisor=None)
    rows = {r.operation: r for r in run_starts(desk, starts=2)}  # type: ignore[arg-type]
    assert rows[FIRST_PAINT].met and rows[FIRST_PAINT].samples == 2
    assert rows[SWITCH_VIEW].met and rows[SWITCH_VIEW].samples == 2
    assert rows[FIRST_NEW_CALL].met
    assert not rows[SAVED].met and rows[SAVED].note == f"1 of 2 without a time: {crashed}"
    assert not rows[MEMORY].met and rows[MEMORY].samples == 1
    assert rows[MEMORY].note.startswith("no peak for 1 of 2 starts")
    assert rows[MEMORY].note.endswith(crashed)
