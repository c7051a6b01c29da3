"""Text modules (``::`` and a few letters) and the editor (``ctrl+e``) in a ticket's note,
by keys, checked in the database afterwards."""

from __future__ import annotations

import stat
from pathlib import Path

from helpers import settle, type_text, until
from test_tui_ticket import modal, open_ticket, saved, stored

from deskterm.desk.demo import load_text_modules
from deskterm.desk.texts import add_text
from deskterm.tui.widgets.notearea import ModuleChoices, NoteArea
from factories import ADMIN, AGENT

GREETING = "Hello {{ contact.first_name }}, {{ me.first_name }} here about {{ ticket.ref }}."


def _modules(seeded) -> None:
    admin = seeded.known.as_(ADMIN)
    admin.write(add_text, name="greeting", body=GREETING, everyone=True)
    admin.write(add_text, name="goodbye", body="Bye {{ contact.name }}", everyone=True)
    admin.write(add_text, name="probe", body="{{ ''.__class__ }}", everyone=True)


async def _note(pilot, seeded) -> NoteArea:
    await open_ticket(pilot, seeded.refs["laptop"])
    await pilot.press("n")
    dialog = await modal(pilot)
    area = dialog.query_one("#note", NoteArea)
    await until(pilot, lambda: area.values, "modules read")
    return area


def _choices(pilot) -> ModuleChoices | None:
    found = pilot.app.screen.query(ModuleChoices)
    return found.first() if found else None


async def test_typing_a_module_name_inserts_it_for_the_caller(make_app, seeded) -> None:
    _modules(seeded)
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_ticket(pilot, seeded.refs["laptop"])
        await pilot.press("n")
        dialog = await modal(pilot)
        area = dialog.query_one("#note", NoteArea)
        await until(pilot, lambda: area.modules and area.values, "modules read")
        await type_text(pilot, "Called back. ::gre")
        await settle(pilot)
        choices = _choices(pilot)
        assert choices is not None, "no suggestions under the cursor"
        first = choices.get_option_at_index(0).prompt
        assert str(first).startswith("greeting")
        await pilot.press("enter")
        ref = stored(seeded, "laptop").ref
        assert area.text == f"Called back. Hello Carol, Alice here about {ref}."
        assert _choices(pilot) is None
        await pilot.press("ctrl+s")
        await saved(pilot, screen)
    note = stored(seeded, "laptop").events[-1]
    assert note.data["text"] == f"Called back. Hello Carol, Alice here about {ref}."


async def test_escape_closes_the_list_and_keeps_what_was_typed(make_app, seeded) -> None:
    _modules(seeded)
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        area = await _note(pilot, seeded)
        await type_text(pilot, "::go")
        await settle(pilot)
        assert _choices(pilot) is not None
        await pilot.press("escape")
        await settle(pilot)
        assert _choices(pilot) is None
        assert area.text == "::go"
        assert isinstance(pilot.app.screen.query_one("#note"), NoteArea), "dialog still open"
        # Tab chooses too, and a module that is no known value shows as written.
        await pilot.press("space")
        await type_text(pilot, "::pro")
        await settle(pilot)
        await pilot.press("tab")
        assert area.text == "::go {{ ''.__class__ }}"


def _editor(tmp_path: Path, body: str) -> str:
    path = tmp_path / "editor.sh"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def test_ctrl_e_writes_the_note_in_the_editor(make_app, seeded, tmp_path, monkeypatch):
    seen = tmp_path / "seen.txt"
    editor = _editor(tmp_path, f'cp "$1" {seen}; printf "edited in vi\\n" > "$1"')
    monkeypatch.setenv("EDITOR", editor)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("DESKTERM_SERVED", raising=False)
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_ticket(pilot, seeded.refs["laptop"])
        await pilot.press("n")
        dialog = await modal(pilot)
        area = dialog.query_one("#note", NoteArea)
        await type_text(pilot, "draft")
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert seen.read_text() == "draft"
        assert area.text == "edited in vi"
        await pilot.press("ctrl+s")
        await saved(pilot, screen)
    assert stored(seeded, "laptop").events[-1].data["text"] == "edited in vi"


async def test_an_editor_that_fails_or_saves_nothing_keeps_the_text(
    make_app, seeded, tmp_path, monkeypatch
):
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("DESKTERM_SERVED", raising=False)
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        area = await _note(pilot, seeded)
        await type_text(pilot, "keep me")
        monkeypatch.setenv("EDITOR", _editor(tmp_path, ': > "$1"'))
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert area.text == "keep me"
        assert any("saved no text" in str(n.message) for n in app._notifications)
        monkeypatch.setenv("EDITOR", _editor(tmp_path, "exit 2"))
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert area.text == "keep me"
        assert any("status 2" in str(n.message) for n in app._notifications)
        monkeypatch.setenv("DESKTERM_SERVED", "ssh")
        monkeypatch.setenv("EDITOR", _editor(tmp_path, 'printf "nope" > "$1"'))
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert area.text == "keep me"
        assert any("SSH" in str(n.message) for n in app._notifications)


async def test_the_palette_offers_insert_text_module(make_app, seeded) -> None:
    _modules(seeded)
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        area = await _note(pilot, seeded)
        await until(pilot, lambda: area.modules, "modules read")
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, "Insert text module")
        await settle(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: _choices(pilot) is not None, "suggestions shown")
        await type_text(pilot, "gre")
        await settle(pilot)
        await pilot.press("enter")
        assert area.text.startswith("Hello Carol, Alice here")


async def test_on_the_new_call_screen_a_module_greets_the_chosen_caller(make_app, seeded):
    from test_tui_intake import start_call

    _modules(seeded)
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await start_call(pilot, "Carol")
        area = screen.query_one("#description", NoteArea)
        await until(pilot, lambda: area.modules and area.values, "modules read")
        area.focus()
        await settle(pilot)
        await type_text(pilot, "::goo")
        await settle(pilot)
        await pilot.press("enter")
        assert area.text == "Bye Carol Jones"


async def test_on_a_desk_with_the_demos_modules_gre_greets_the_caller(make_app, seeded) -> None:
    # The demo desk's modules, as ``deskterm demo`` writes them.
    admin = seeded.known.as_(ADMIN)
    for module in load_text_modules():
        admin.write(
            add_text,
            name=module.name,
            body=module.body,
            group=module.group,
            everyone=module.group is None,
        )
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        area = await _note(pilot, seeded)
        await until(pilot, lambda: area.modules, "modules read")
        await type_text(pilot, "::gre")
        await settle(pilot)
        choices = _choices(pilot)
        assert choices is not None, "no suggestions under the cursor"
        offered = [str(choices.get_option_at_index(i).prompt) for i in range(choices.option_count)]
        assert offered[0].startswith("greeting ")
        assert any(line.startswith("greeting.de") for line in offered)
        await pilot.press("enter")
        assert area.text == "Hello Carol, this is Alice from the service desk."


async def test_an_agents_own_module_wins_over_everyones(make_app, seeded) -> None:
    _modules(seeded)
    seeded.known.as_(AGENT).write(add_text, name="greeting", body="Hi {{ contact.first_name }}!")
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        area = await _note(pilot, seeded)
        await until(pilot, lambda: area.modules, "modules read")
        await type_text(pilot, "::gre")
        await settle(pilot)
        choices = _choices(pilot)
        assert choices is not None
        # The name is offered once, as the one that is inserted.
        names = [
            str(choices.get_option_at_index(i).prompt).split()[0]
            for i in range(choices.option_count)
        ]
        assert names == ["greeting"]
        assert "Hi {{ contact.first_name }}!" in str(choices.get_option_at_index(0).prompt)
        await pilot.press("enter")
        assert area.text == "Hi Carol!"
