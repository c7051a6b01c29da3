"""Your own keys (issue 21): binding ids, the desk's ``[keys]``, the analysts' own on both
databases, ``deskterm keys`` and the conflicts ``deskterm config check`` refuses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.keys import Keys

from clirun import run_deskterm
from deskterm.config import load_settings
from deskterm.desk.keymaps import (
    analyst_keymap,
    binding_ids,
    check_keymap,
    display_keys,
    find_conflicts,
    parse_keys,
    reset_analyst_keys,
    set_analyst_key,
)
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.tui.keymap import _classes, app_bindings, readme_table
from factories import ADMIN, AGENT, AGENT2, SUPERVISOR, KnownDesk

README = Path(__file__).parents[2] / "README.md"

# --------------------------------------------------------------------------- the ids


def test_every_binding_of_the_app_has_a_snake_case_id_naming_one_action() -> None:
    actions: dict[str, set[str]] = {}
    for cls in _classes():
        for binding in Binding.make_bindings(cls.__dict__["BINDINGS"]):
            assert binding.id, f"{cls.__name__}: {binding.key} has no id"
            assert re.fullmatch(r"[a-z][a-z0-9_]*", binding.id), binding.id
            # "app.new_call" on the new-call screen is the app's new_call.
            actions.setdefault(binding.id, set()).add(binding.action.removeprefix("app."))
    shared = {binding_id: acts for binding_id, acts in actions.items() if len(acts) > 1}
    assert not shared, f"one id, several actions: {shared}"
    ids = binding_ids(app_bindings())
    assert {"pull_next", "new_call", "note", "keys", "close_ticket"} <= ids.keys()
    assert ids["pull_next"] == (("queue",), "p", "Pull next")


def test_the_apps_own_keys_have_no_conflict() -> None:
    bindings = app_bindings()
    everything = {b.id: b.keys for b in bindings if b.id}
    # Every id "moved" to its own default: any two live actions sharing a key would show.
    assert find_conflicts(bindings, everything) == []


def test_the_readme_lists_every_id_with_its_default_keys() -> None:
    text = README.read_text()
    table = text.split("<!-- keys-table -->\n", 1)[1].split("\n<!-- /keys-table -->", 1)[0]
    assert table == readme_table(), (
        "README's keys table is stale: python -c "
        "'from deskterm.tui.keymap import update_readme; update_readme()'"
    )


# --------------------------------------------------------------------------- keys as written


@pytest.mark.parametrize(
    ("written", "textual", "shown"),
    [
        ("n", "n", "n"),
        ("?", "question_mark", "?"),
        ("? , F1", "question_mark,f1", "?, f1"),
        ("Ctrl+K", "ctrl+K", "ctrl+K"),
        ("shift+ctrl+f5", "ctrl+shift+f5", "ctrl+shift+f5"),
        ("[", "left_square_bracket", "["),
        ("ctrl++", "ctrl+plus", "ctrl++"),
        ("W", "W", "W"),
        ("question_mark", "question_mark", "?"),
    ],
)
def test_keys_are_read_as_textual_names_them(written: str, textual: str, shown: str) -> None:
    assert parse_keys(written) == textual
    assert display_keys(textual) == shown
    assert parse_keys(shown) == textual


@pytest.mark.parametrize("written", ["", "foo", "ctrl+", "ctrl+nope", "x+y", "ctrl+ctrl+a"])
def test_a_key_textual_does_not_know_is_refused(written: str) -> None:
    with pytest.raises(ValueError):
        parse_keys(written)


def test_every_key_textual_names_is_accepted() -> None:
    for key in Keys:
        if not re.fullmatch(r"[a-z0-9_+@]+", key.value):
            continue  # "<scroll-up>" and the like: not keys a person presses
        parse_keys(key.value)


# --------------------------------------------------------------------------- conflicts


def test_pull_next_on_n_is_no_conflict_but_new_call_on_n_shadows_three() -> None:
    bindings = app_bindings()
    assert find_conflicts(bindings, {"pull_next": "n"}) == []
    lines = [c.line() for c in find_conflicts(bindings, {"new_call": "n"})]
    assert any("new_call and note" in line and "(ticket)" in line for line in lines)
    assert not any("pull_next" in line for line in lines)  # still on p
    lines = [c.line() for c in find_conflicts(bindings, {"new_call": "n", "pull_next": "n"})]
    assert any("new_call and pull_next" in line and "(queue)" in line for line in lines)
    # Two of one screen; and Textual's own palette key.
    (same,) = find_conflicts(bindings, {"note": "s"})
    assert (same.first, same.second, same.place) == ("note", "status", "ticket")
    (palette,) = find_conflicts(bindings, {"pull_next": "ctrl+p"})
    assert palette.second == "Textual's command_palette"


def test_check_keymap_names_the_closest_id_and_the_bad_key() -> None:
    clean, problems = check_keymap(
        app_bindings(), {"pul_next": "n", "note": "ctrl+nope", "keys": "?"}
    )
    assert clean == {"keys": "question_mark"}
    assert problems[0] == "'pul_next' is not a binding id: did you mean pull_next?"
    assert problems[1].startswith("note: 'ctrl+nope'")


# --------------------------------------------------------------------------- the settings


def test_keys_table_in_the_settings_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "deskterm.toml"
    path.write_text('[keys]\npull_next = "n"\nKeys = "?, f1"\n')
    settings = load_settings(environ={}, path=path)
    assert settings.keys.keymap() == {"pull_next": "n", "keys": "question_mark,f1"}
    env = load_settings(environ={"DESKTERM_KEYS_PULL_NEXT": "j"}, path=path)
    assert env.keys.keymap()["pull_next"] == "j"
    path.write_text('[keys]\npull_next = "ctrl+nope"\n')
    with pytest.raises(InvalidInput, match=r"\[keys\] pull_next: 'ctrl\+nope'"):
        load_settings(environ={}, path=path)
    with pytest.raises(InvalidInput, match="DESKTERM_KEYS_NOTE"):
        load_settings(environ={"DESKTERM_KEYS_NOTE": "ctrl+"}, path=tmp_path / "none.toml")


# --------------------------------------------------------------------------- the analysts' own


def test_an_analyst_moves_resets_their_own_keys(known: KnownDesk) -> None:
    agent = known.as_(AGENT)
    assert agent.write(set_analyst_key, binding_id="pull_next", keys="N") == "N"
    assert agent.write(set_analyst_key, binding_id="note", keys="?, ctrl+o") == (
        "question_mark,ctrl+o"
    )
    agent.write(set_analyst_key, binding_id="pull_next", keys="j")
    assert agent.read(analyst_keymap) == {"pull_next": "j", "note": "question_mark,ctrl+o"}
    assert known.as_(AGENT2).read(analyst_keymap) == {}
    assert agent.write(reset_analyst_keys, binding_id="note") == 1
    assert agent.read(analyst_keymap) == {"pull_next": "j"}
    assert agent.write(reset_analyst_keys) == 1
    assert agent.read(analyst_keymap) == {}
    with pytest.raises(InvalidInput):
        agent.write(set_analyst_key, binding_id="pull_next", keys="ctrl+nope")


def test_only_a_supervisor_moves_someone_elses_keys(known: KnownDesk) -> None:
    with pytest.raises(PermissionDenied, match="only a supervisor"):
        known.as_(AGENT2).write(set_analyst_key, binding_id="note", keys="m", login=AGENT)
    with pytest.raises(PermissionDenied):
        known.as_(AGENT2).read(analyst_keymap, login=AGENT)
    for boss in (SUPERVISOR, ADMIN):
        known.as_(boss).write(set_analyst_key, binding_id="note", keys="m", login=AGENT)
    assert known.as_(SUPERVISOR).read(analyst_keymap, login=AGENT) == {"note": "m"}
    assert known.as_(AGENT).read(analyst_keymap) == {"note": "m"}


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli(known: KnownDesk, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DESKTERM_DATABASE_URL", known.db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("DESKTERM_CONFIG_FILE", str(tmp_path / "deskterm.toml"))
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str, str]:
        return run_deskterm(monkeypatch, capsys, *args)

    return run


def test_keys_list_set_and_reset(cli, tmp_path: Path) -> None:
    (tmp_path / "deskterm.toml").write_text('[keys]\npull_next = "n"\nnote = "m"\n')
    code, out, err = cli("--as", AGENT, "keys", "set", "note", "ctrl+o")
    assert code == 0, err
    assert "note is now on ctrl+o" in out
    code, out, err = cli("--as", AGENT, "keys", "list", "--json")
    rows = {row["id"]: row for row in json.loads(out)}
    assert (rows["pull_next"]["keys"], rows["pull_next"]["source"]) == ("n", "desk")
    assert (rows["note"]["keys"], rows["note"]["default"], rows["note"]["source"]) == (
        "ctrl+o",
        "n",
        "analyst",
    )
    assert rows["status"]["source"] == "default"
    code, out, _ = cli("--as", AGENT, "keys", "list")
    assert re.search(r"pull_next\s+n\s+p\s+desk", out)

    # A conflict with the desk's pull_next on n, named; an unknown id, with the closest.
    code, _, err = cli("--as", AGENT, "keys", "set", "new_call", "n")
    assert code != 0
    assert "new_call and pull_next" in err and "queue" in err
    code, _, err = cli("--as", AGENT, "keys", "set", "pul_next", "x")
    assert code != 0 and "did you mean pull_next?" in err
    code, _, err = cli("--as", AGENT, "keys", "set", "note", "ctrl+nope")
    assert code != 0 and "'nope' is not a key" in err

    code, _, err = cli("--as", AGENT2, "keys", "set", "note", "x", "--analyst", AGENT)
    assert code != 0 and "only a supervisor" in err
    code, _, err = cli("--as", SUPERVISOR, "keys", "reset", "--analyst", AGENT)
    assert code == 0, err
    code, out, _ = cli("--as", AGENT, "keys", "list", "--json")
    assert {row["id"]: row["source"] for row in json.loads(out)}["note"] == "desk"


def test_config_check_refuses_a_conflict_naming_both_ids(cli, tmp_path: Path) -> None:
    path = tmp_path / "deskterm.toml"
    path.write_text('[keys]\npull_next = "n"\n')
    code, out, err = cli("config", "check")
    assert code == 0, err
    assert "ok  [keys]: 1 binding moved" in out
    path.write_text('[keys]\npull_next = "x"\nnew_call = "x"\n')
    code, out, err = cli("config", "check")
    assert code != 0
    assert "x: new_call and pull_next would both be on this key (queue)" in err
    path.write_text('[keys]\npul_next = "n"\n')
    code, out, err = cli("config", "check")
    assert code != 0 and "'pul_next' is not a binding id: did you mean pull_next?" in err
