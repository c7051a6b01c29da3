"""The draft store on its own: who holds a call, and how it changes hands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deskterm.tui.drafts import CallDraft, DraftGone, DraftStore, DraftTaken, ProblemDraft


def call(words: str) -> CallDraft:
    draft = CallDraft(started_at="2026-11-25T10:41:00+00:00")
    draft.problems = [ProblemDraft(subject=words)]
    return draft


def test_a_running_sessions_call_is_not_this_ones(tmp_path: Path) -> None:
    a, b = DraftStore(tmp_path, "ann"), DraftStore(tmp_path, "ann")
    a.save(call("Printer jams"))
    kept = b.find()
    assert kept is not None and kept.alive and not kept.mine
    assert kept.since_label() == "10:41"
    # Nothing for b to load as its own or take up: the call is a's while a runs.
    assert b.load() is None
    assert a.load() is not None and a.load().problems[0].subject == "Printer jams"  # type: ignore[union-attr]


def test_taken_over_the_first_session_can_neither_keep_nor_save_it(tmp_path: Path) -> None:
    a, b = DraftStore(tmp_path, "ann"), DraftStore(tmp_path, "ann")
    a.save(call("Printer jams"))
    kept = b.find()
    assert kept is not None
    assert b.take_over(kept).problems[0].subject == "Printer jams"
    with pytest.raises(DraftTaken):
        a.check_not_taken()
    with pytest.raises(DraftTaken):
        a.save(call("Printer jams, more"))
    with pytest.raises(DraftTaken):
        a.claim(call("Printer jams"))
    # b's now, and only b's.
    assert b.find().mine  # type: ignore[union-attr]
    assert a.find().alive  # type: ignore[union-attr]
    # a bins its copy: its next call is its own again.
    a.discard()
    a.save(call("Another call"))
    assert a.load().problems[0].subject == "Another call"  # type: ignore[union-attr]


def test_a_call_being_saved_cannot_be_taken_over(tmp_path: Path) -> None:
    a, b = DraftStore(tmp_path, "ann"), DraftStore(tmp_path, "ann")
    a.save(call("Printer jams"))
    kept = b.find()
    assert kept is not None
    a.claim(call("Printer jams"))
    with pytest.raises(DraftGone, match="being saved"):
        b.take_over(kept)
    # Saved: gone, nothing to take over.
    a.discard()
    with pytest.raises(DraftGone):
        b.take_over(kept)
    assert b.find() is None
    # A save that failed lets it change hands again.
    a.save(call("Scanner offline"))
    a.claim(call("Scanner offline"))
    a.unclaim()
    again = b.find()
    assert again is not None
    assert b.take_over(again).problems[0].subject == "Scanner offline"


def test_a_killed_sessions_call_is_taken_up_by_the_next(tmp_path: Path) -> None:
    """The kernel lets go of the lock when the process dies: no pid to trust or reuse."""
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from deskterm.tui.drafts import CallDraft, DraftStore, ProblemDraft\n"
        "d = CallDraft(started_at='2026-11-25T10:41:00+00:00')\n"
        "d.problems = [ProblemDraft(subject='Half typed')]\n"
        "s = DraftStore(Path(sys.argv[1]), 'ann')\n"
        "s.save(d)\n"
        "s.claim(d)\n"  # killed in the middle of its save
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False)
    b = DraftStore(tmp_path, "ann")
    kept = b.find()
    assert kept is not None and not kept.alive and kept.interrupted
    assert b.adopt(kept).problems[0].subject == "Half typed"
    assert b.find().mine  # type: ignore[union-attr]
    # Taken up once: a third session finds nothing left.
    assert DraftStore(tmp_path, "ann").load() is None


def test_an_ended_sessions_call_is_taken_up_once(tmp_path: Path) -> None:
    a = DraftStore(tmp_path, "ann")
    a.save(call("Left behind"))
    a.close()
    b, c = DraftStore(tmp_path, "ann"), DraftStore(tmp_path, "ann")
    kept_b, kept_c = b.find(), c.find()
    assert kept_b is not None and kept_c is not None and not kept_b.alive
    b.adopt(kept_b)
    with pytest.raises(DraftGone):
        c.adopt(kept_c)
    assert c.find().alive  # type: ignore[union-attr]
