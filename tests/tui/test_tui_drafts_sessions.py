"""One analyst in two sessions (two terminals, two SSH logins): each has its own call. A call
one session has open is told to the other beside its form and taken over only when asked;
the session it was taken from can no longer save it; a call is never saved twice. A call left
by a session that ended is taken up by the next one, as before."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from helpers import opened, settle, type_text, until
from seed import Seeded
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from deskterm.desk.tickets import list_tickets
from deskterm.tui.app import DeskApp
from deskterm.tui.drafts import CallDraft, DraftStore, ProblemDraft
from deskterm.tui.screens.intake import CallElsewhere, IntakeScreen
from deskterm.tui.screens.ticket import TicketScreen
from factories import AGENT

#: Real seconds a session takes at most to see its call was taken (it looks once a second).
WITHIN = 5.0


def session(desk: Seeded, data: Path) -> DeskApp:
    return DeskApp(
        desk.url,  # type: ignore[attr-defined]
        AGENT,
        data_dir=data,
        poll_seconds=None,
        presence_seconds=None,
    )


async def within(pilot: Pilot, condition: Callable[[], object], what: str) -> None:
    start = time.monotonic()
    while time.monotonic() - start < WITHIN:
        await settle(pilot)
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"not within {WITHIN} s: {what}")


async def new_call(pilot: Pilot) -> IntakeScreen:
    await pilot.press("ctrl+n")
    await until(pilot, lambda: isinstance(pilot.app.screen, IntakeScreen), "intake shown")
    return pilot.app.screen  # type: ignore[return-value]


def notice(screen: IntakeScreen) -> str:
    widget = screen.query_one(CallElsewhere)
    return str(widget.render()) if widget.has_class("-shown") else ""


def subject(screen: IntakeScreen) -> str:
    return screen.query_one("#subject", Input).value


def on_disk(app: DeskApp, words: str) -> bool:
    """The session's call is kept on disk as typed (the last burst too)."""
    kept = app.drafts.load() if app.drafts is not None else None
    return kept is not None and kept.problems[0].subject == words


def tickets_about(desk: Seeded, words: str) -> int:
    found = desk.known.as_(AGENT).read(list_tickets, statuses=["all"], limit=1000)
    return sum(1 for t in found if t.subject == words)


async def test_a_call_open_in_one_session_is_taken_over_and_saved_once(
    desk: Seeded, tmp_path: Path
) -> None:
    a, b = session(desk, tmp_path / "data"), session(desk, tmp_path / "data")
    async with a.run_test(size=(120, 36)) as pa, b.run_test(size=(120, 36)) as pb:
        await opened(pa)
        await opened(pb)
        # Session A takes a call: caller, then the problem.
        call_a = await new_call(pa)
        await type_text(pa, "carol")
        await until(pa, lambda: call_a.query_one("#matches", OptionList).option_count)
        await pa.press("enter")
        await until(pa, lambda: call_a.contact is not None, "caller chosen")
        await type_text(pa, "Printer jams on tray 2")
        await within(pa, lambda: on_disk(a, "Printer jams on tray 2"), "A's call on disk")

        # Session B presses ctrl+n: its own, empty call, and beside it A's call, not a toast.
        call_b = await new_call(pb)
        assert subject(call_b) == ""
        said = notice(call_b)
        assert "an unsaved call is open in another session (since 14:00)" in said.lower()
        assert "f8" in said

        # B takes it over with one key: A's words and caller, in B's form.
        await pb.press("f8")
        await until(pb, lambda: subject(call_b) == "Printer jams on tray 2", "taken over")
        await until(pb, lambda: call_b.contact is not None, "caller with it")
        assert notice(call_b) == ""

        # A is told beside its form, without a key; its save is refused, its words stay.
        await within(pa, lambda: "taken over" in notice(call_a), "A told")
        await pa.press("ctrl+s")
        await settle(pa)
        assert a.screen is call_a and not call_a.saving
        assert subject(call_a) == "Printer jams on tray 2"
        assert any("taken over" in n.message for n in a._notifications)

        # B saves it: one ticket.
        await pb.press("ctrl+s")
        await until(pb, lambda: isinstance(b.screen, TicketScreen) and b.screen.ticket, "saved")
        # Still refused in A afterwards, and typing more in A keeps nothing on disk.
        call_a.query_one("#subject").focus()
        await type_text(pa, " again")
        await pa.press("ctrl+s")
        await settle(pa)
        assert a.screen is call_a
    assert tickets_about(desk, "Printer jams on tray 2") == 1
    assert tickets_about(desk, "Printer jams on tray 2 again") == 0
    # Nothing of the call is left on disk for a later session to take up and save again.
    assert DraftStore(tmp_path / "data", AGENT).load() is None


async def test_the_other_session_may_start_a_new_call_instead(desk: Seeded, tmp_path: Path) -> None:
    a, b = session(desk, tmp_path / "data"), session(desk, tmp_path / "data")
    async with a.run_test(size=(80, 24)) as pa, b.run_test(size=(80, 24)) as pb:
        await opened(pa)
        await opened(pb)
        call_a = await new_call(pa)
        call_a.query_one("#subject").focus()
        await type_text(pa, "Monitor flickers")
        await within(pa, lambda: on_disk(a, "Monitor flickers"), "A's call on disk")
        call_b = await new_call(pb)
        assert "another session" in notice(call_b)
        call_b.query_one("#subject").focus()
        await type_text(pb, "Keyboard missing keys")
        # B's own call now: the notice goes, and f8 will not swap B's words for A's.
        await within(pb, lambda: notice(call_b) == "", "notice gone")
        await pb.press("f8")
        await settle(pb)
        assert subject(call_b) == "Keyboard missing keys"
        # Each session keeps its own.
        await within(pb, lambda: on_disk(b, "Keyboard missing keys"), "B's call on disk")
        assert on_disk(a, "Monitor flickers")


async def test_a_call_whose_session_died_is_taken_up_without_asking(
    desk: Seeded, tmp_path: Path
) -> None:
    """The owner record names a process that does not exist and nobody holds its lock: the
    call is offered as before (a toast at start, in the form at ctrl+n), no takeover asked."""
    data = tmp_path / "data"
    folder = data / "drafts" / AGENT
    folder.mkdir(parents=True)
    draft = CallDraft(started_at="2026-11-25T13:41:00+00:00")
    draft.problems = [ProblemDraft(subject="Left by a session that died")]
    owner = {"session": "dead0000", "pid": 2**22 + 12345, "host": "here", "since": "x"}
    record = {"owner": owner, "saving": False, "draft": draft.to_json()}
    (folder / "dead0000.json").write_text(json.dumps(record), encoding="utf-8")
    # A crash leaves the lock file behind, held by nobody.
    (folder / "dead0000.lock").write_text(f"{owner['pid']} here\n", encoding="utf-8")
    app = session(desk, data)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        assert any("13:41" in n.message for n in app._notifications)
        screen = await new_call(pilot)
        assert subject(screen) == "Left by a session that died"
        assert notice(screen) == ""
        # It is this session's now: the dead session's files are gone.
        assert not (folder / "dead0000.json").exists()
        assert app.drafts.load().problems[0].subject == "Left by a session that died"


async def test_a_call_kept_before_drafts_had_sessions_is_taken_up(
    desk: Seeded, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (data / "drafts").mkdir(parents=True)
    draft = CallDraft(started_at="2026-11-25T13:41:00+00:00")
    draft.problems = [ProblemDraft(subject="From the old layout")]
    (data / "drafts" / f"{AGENT}.json").write_text(json.dumps(draft.to_json()), "utf-8")
    app = session(desk, data)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        screen = await new_call(pilot)
        assert subject(screen) == "From the old layout"
        assert not (data / "drafts" / f"{AGENT}.json").exists()
