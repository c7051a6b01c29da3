"""``deskterm bench web``: a small run against a real ``serve web`` (no timing asserted, the
machine decides those), its report, and its rules."""

from __future__ import annotations

import json
import os

import pytest

from clirun import run_deskterm
from deskterm.bench.web import GOAL_P99_MS, _percentile


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_small_run_loads_real_case_pages_and_says_whether_the_goal_was_met(
    backend: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["bench", "web", "--loads", "8", "--json"]
    if backend == "postgresql":
        url = os.environ.get("DESKTERM_TEST_POSTGRES_URL")
        if url is None:
            pytest.skip("PostgreSQL half skipped: set DESKTERM_TEST_POSTGRES_URL to run it")
        args = ["--db", url, *args]

    code, out, err = run_deskterm(monkeypatch, capsys, *args)

    result = json.loads(out)
    assert code == (0 if result["passed"] else 6), err
    assert result["backend"] == backend
    assert result["cases"] == 8 and result["entries_per_case"] > 1
    case, again, help_page = result["pages"]
    assert (case["page"], case["path"]) == ("case", "/case/…")
    assert (again["page"], again["path"]) == ("case again", "/case/…")
    assert help_page["page"] == "help" and help_page["path"].startswith("/help?q=")
    for page in (case, again, help_page):
        assert page["loads"] == page["ok"] == 8  # every load answered 200
        assert page["p50_ms"] <= page["p95_ms"] <= page["p99_ms"] <= page["max_ms"]
        assert page["goal_p99_ms"] == GOAL_P99_MS
        assert page["met"] == (page["p99_ms"] < GOAL_P99_MS)
        assert page["bytes"] > 1000
    assert result["passed"] == (case["met"] and again["met"] and help_page["met"])
    assert set(result["load_average"]) == {"before", "after"}


def test_bench_web_takes_a_postgresql_url_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", "sqlite:///somewhere.db", "bench", "web"
    )
    assert code != 0 and not out
    assert "PostgreSQL URL" in err and len(err.strip().splitlines()) == 1


def test_the_percentile_is_the_nearest_rank() -> None:
    times = [float(n) for n in range(1, 201)]
    assert (_percentile(times, 0.5), _percentile(times, 0.99)) == (100.0, 198.0)
