"""A call is saved once from the terminal too: a draft whose save went through before the
app could forget it (the app died, the answer was lost) is never saved a second time."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import opened, settle, type_text, until
from seed import Seeded
from textual.widgets import Input, OptionList

from deskterm.desk.intake import Problem
from deskterm.desk.saved_calls import save_call
from deskterm.desk.tickets import list_tickets
from deskterm.tui.app import DeskApp
from deskterm.tui.drafts import CallDraft, DraftStore, ProblemDraft
from deskterm.tui.screens.intake import IntakeScreen
from deskterm.tui.screens.ticket import TicketScreen
from factories import AGENT


def app_on(desk: Seeded, data: Path) -> DeskApp:
    return DeskApp(
        desk.url,  # type: ignore[attr-defined]
        AGENT,
        data_dir=data,
        poll_seconds=None,
        presence_seconds=None,
    )


def tickets_about(desk: Seeded, words: str) -> int:
    found = desk.known.as_(AGENT).read(list_tickets, statuses=["all"], limit=1000)
    return sum(1 for t in found if t.subject == words)


def left_while_saving(data: Path, words: str) -> CallDraft:
    """What a session killed in the middle of its save leaves: its call, marked as saving,
    and a lock file nobody holds."""
    folder = data / "drafts" / AGENT
    folder.mkdir(parents=True)
    draft = CallDraft(started_at="2026-11-25T13:41:00+00:00", anonymous=True)
    draft.problems = [ProblemDraft(subject=words)]
    owner = {"session": "dead0000", "pid": 2**22 + 12345, "host": "here", "since": "x"}
    record = {"owner": owner, "saving": True, "draft": draft.to_json()}
    (folder / "dead0000.json").write_text(json.dumps(record), encoding="utf-8")
    (folder / "dead0000.lock").write_text(f"{owner['pid']} here\n", encoding="utf-8")
    return draft


def notified(app: DeskApp, words: str) -> bool:
    return any(words in n.message for n in app._notifications)


async def test_a_call_saved_just_before_its_session_died_is_not_offered_again(
    desk: Seeded, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    draft = left_while_saving(data, "Saved, then the power went")
    # The desk committed the save; the session died before it forgot the draft.
    saved = desk.known.as_(AGENT).write(
        save_call, key=draft.key, problems=[Problem(subject="Saved, then the power went")]
    )
    ref = saved.tickets[0].ref
    app = app_on(desk, data)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: notified(app, f"in the desk as {ref}"), "told it is saved")
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        await until(pilot, lambda: screen.query_one("#subject", Input).value == "", "fresh form")
        # Nothing is left to save again, now or by a later session.
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert tickets_about(desk, "Saved, then the power went") == 1
    assert DraftStore(data, AGENT).load() is None


async def test_a_call_whose_save_never_reached_the_desk_is_saved_once(
    desk: Seeded, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    left_while_saving(data, "Died before the desk had it")
    app = app_on(desk, data)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: notified(app, "nothing of it was saved"), "told")
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        assert screen.query_one("#subject", Input).value == "Died before the desk had it"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen), "saved")
    assert tickets_about(desk, "Died before the desk had it") == 1


async def test_a_save_whose_answer_was_lost_is_not_saved_twice(
    desk: Seeded, tmp_path: Path
) -> None:
    """The commit went through but its answer never came back (the network dropped): the
    analyst saves again and is told the call is in the desk already."""
    app = app_on(desk, tmp_path / "data")
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "intake")
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        await type_text(pilot, "carol")
        await until(pilot, lambda: screen.query_one("#matches", OptionList).option_count)
        await pilot.press("enter")
        await until(pilot, lambda: screen.contact is not None, "caller chosen")
        await type_text(pilot, "Answer lost on the way")
        await settle(pilot)
        first = desk.known.as_(AGENT).write(
            save_call,
            key=screen.draft.key,
            problems=[Problem(subject="Answer lost on the way")],
            contact_id=screen.contact.id,  # type: ignore[union-attr]
        )
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen), "shown")
        assert app.screen.ticket_id == first.tickets[0].id  # type: ignore[attr-defined]
        assert notified(app, f"in the desk already as {first.tickets[0].ref}")
    assert tickets_about(desk, "Answer lost on the way") == 1
