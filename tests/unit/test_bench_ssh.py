"""``deskterm bench ssh``: real OpenSSH sessions against the real server, each timed to its
painted queue, the server's memory read, and every app ended afterwards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from deskterm.bench.ssh import _painted, descendants, pss_kb, run_ssh_bench

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc: Linux")


def test_the_queue_counts_as_painted_only_with_its_tabs_and_a_ticket() -> None:
    loading = b"\x1b[1;1HOpening the desk at sqlite:///x as bench\x1b[0m"
    assert not _painted(loading)
    tabs_only = b"\x1b[2;3H\x1b[1m1 Mine\x1b[0m 0\x1b[0m  2 My groups"
    assert not _painted(tabs_only)
    assert _painted(tabs_only + b"\x1b[5;2H\x1b[38;2;1;2;3mDT-000281\x1b[0m  P4")


def test_the_server_tree_is_found_with_its_memory() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tree = descendants(os.getpid())
        assert os.getpid() in tree and child.pid in tree
        assert pss_kb(os.getpid()) > 1000
        assert pss_kb(2**22 + 1) == 0  # no such process: nothing, not an error
    finally:
        child.kill()
        child.wait()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs OpenSSH's ssh client")
def test_two_sessions_are_timed_measured_and_all_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESKTERM_DATABASE_URL", raising=False)
    result = run_ssh_bench(None, sessions=2)
    assert result.warm
    assert [s.number for s in result.samples] == [1, 2]
    assert all(s.paint_ms > 0 and s.pid is not None for s in result.samples)
    # Each open session adds to the server's memory; all ended and the server stopped.
    assert result.baseline_mb < result.samples[0].memory_mb < result.samples[1].memory_mb
    assert result.all_ended and result.server_exit == 0
    data = json.loads(json.dumps(result.to_json()))
    assert data["sessions"] == 2 and set(data["paint_ms"]) == {"p50", "max"}
    assert data["goals"] == {"paint_ms": 300.0, "memory_mb_per_session": 40.0}
    assert isinstance(data["passed"], bool)
