"""Text modules on both databases: who manages them, how they render (sandboxed, values as
data), the ``deskterm text`` commands, and ``ticket note --edit`` with a scripted editor."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deskterm.cli import app
from deskterm.desk import texts
from deskterm.desk.contacts import add_contact
from deskterm.desk.tickets import get_ticket
from deskterm.domain.errors import InvalidInput, NotFound, PermissionDenied
from deskterm.editor import EditorFailed, edit, editor_command, strip_comments
from factories import ADMIN, AGENT, AGENT2, DESKTOP, SERVICE_DESK, SUPERVISOR, TECH, KnownDesk

GREETING = "Hello {{ contact.first_name }},\n\nthis is {{ me.first_name }} about {{ ticket.ref }}."


def _values(**contact: str) -> dict[str, dict[str, str]]:
    return {
        "contact": {"first_name": "Carol", "name": "Carol Jones", **contact},
        "ticket": {"ref": "DT-000001", "subject": "Laptop", "group": "Service Desk"},
        "me": {"name": "Alice Agent", "first_name": "Alice"},
    }


# --- rendering (no database) -----------------------------------------------------------


def test_known_values_are_filled_in_and_filters_apply() -> None:
    body = "{{ contact.first_name }} / {{ contact.name | upper }} / {{ ticket.group }}"
    assert texts.render(body, _values()) == "Carol / CAROL JONES / Service Desk"
    missing = "Hi {{ contact.first_name | default('there', true) }}!"
    assert texts.render(missing, _values(first_name="")) == "Hi there!"


@pytest.mark.parametrize(
    "typed",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__class__ }}",
        "{{ contact.name.__class__ }}",
        "{{ 7*7 }}",
        "{{ config }}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ contact.phone }}",
        "{{ nobody.knows }}",
        "{{ contact.name.format('x') }}",
        "{{ ticket.subject | attr('__class__') }}",
    ],
)
def test_an_expression_that_is_not_a_known_value_stays_as_typed(typed: str) -> None:
    body = f"before {typed} after"
    assert texts.render(body, _values()) == body


@pytest.mark.parametrize(
    "bomb",
    [
        "{% for i in range(10**9) %}x{% endfor %}",
        "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}",
        "{{ range(10**9) | list }}",
        "{{ 'x' * 10**9 }}",
        "{{ 9**9**9**9 }}",
        "{% set x = 'a' * 999999999 %}{{ x }}",
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    ],
)
def test_loops_and_huge_values_are_never_run(bomb: str) -> None:
    started = time.monotonic()
    assert texts.render(bomb, _values()) == bomb
    assert time.monotonic() - started < 1


def test_values_are_data_never_templates() -> None:
    values = _values(name="{{ 7*7 }}", first_name="{% for x in range(9) %}")
    body = "{{ contact.name }} {{ contact.first_name }}"
    assert texts.render(body, values) == "{{ 7*7 }} {% for x in range(9) %}"


def test_a_syntax_error_is_refused_at_save_with_its_line() -> None:
    with pytest.raises(InvalidInput, match="line 2"):
        texts.check_body("Hello\n{{ contact.first_name ) }}\nbye")
    with pytest.raises(InvalidInput, match="too long"):
        texts.check_body("x" * (texts.BODY_MAX + 1))


# --- the desk, on both databases -------------------------------------------------------


def test_an_admin_adds_a_module_and_it_renders_for_a_ticket(known: KnownDesk) -> None:
    made = known.as_(ADMIN).write(texts.add_text, name="Greeting", body=GREETING, everyone=True)
    assert (made.name, made.scope, made.group, made.owner) == ("greeting", "everyone", None, None)
    assert made.created_by == ADMIN
    ticket = known.ticket(AGENT)
    said = known.as_(AGENT).read(texts.render_text, name="greeting", ticket=ticket.ref)
    assert said == f"Hello Carol,\n\nthis is Alice about {ticket.ref}."
    assert [m.name for m in known.as_(AGENT).read(texts.list_texts)] == ["greeting"]


def test_the_sandbox_check_renders_as_text(known: KnownDesk) -> None:
    body = "A {{ ''.__class__ }} B {{ ''.__class__.__mro__ }}"
    known.as_(ADMIN).write(texts.add_text, name="probe", body=body, everyone=True)
    ticket = known.ticket(AGENT)
    assert known.as_(AGENT).read(texts.render_text, name="probe", ticket=ticket.ref) == body


def test_a_caller_named_like_a_template_is_written_as_named(known: KnownDesk) -> None:
    admin = known.as_(ADMIN)
    odd = admin.write(add_contact, name="{{ 7*7 }} Smith", email="odd@acme.example")
    admin.write(texts.add_text, name="hi", body="Dear {{ contact.name }}", everyone=True)
    ticket = known.ticket(AGENT, contact_id=odd.id)
    assert known.as_(AGENT).read(texts.render_text, name="hi", ticket=ticket.ref) == (
        "Dear {{ 7*7 }} Smith"
    )


def test_who_manages_modules(known: KnownDesk) -> None:
    with pytest.raises(PermissionDenied, match="admin"):
        known.as_(AGENT).write(texts.add_text, name="x", body="x", everyone=True)
    with pytest.raises(PermissionDenied, match="admin"):
        known.as_(SUPERVISOR).write(texts.add_text, name="x", body="x", everyone=True)
    with pytest.raises(PermissionDenied, match=SERVICE_DESK):
        known.as_(AGENT).write(texts.add_text, name="x", body="x", group=SERVICE_DESK)
    with pytest.raises(PermissionDenied, match=DESKTOP):
        known.as_(SUPERVISOR).write(texts.add_text, name="x", body="x", group=DESKTOP)
    mine = known.as_(SUPERVISOR).write(texts.add_text, name="x", body="sd", group=SERVICE_DESK)
    assert mine.group == SERVICE_DESK
    with pytest.raises(PermissionDenied):
        known.as_(AGENT).write(texts.edit_text, name="x", body="changed")
    with pytest.raises(PermissionDenied):
        known.as_(AGENT).write(texts.remove_text, name="x")
    # A group's module is its members' (and the admins'): the technician does not see it.
    assert [m.name for m in known.as_(AGENT).read(texts.list_texts)] == ["x"]
    assert known.as_(TECH).read(texts.list_texts) == []
    with pytest.raises(NotFound):
        known.as_(TECH).read(texts.show_text, name="x")


def test_a_name_is_unique_in_its_scope(known: KnownDesk) -> None:
    admin = known.as_(ADMIN)
    admin.write(texts.add_text, name="bye", body="Bye (everyone)", everyone=True)
    with pytest.raises(InvalidInput, match="already"):
        admin.write(texts.add_text, name="BYE", body="again", everyone=True)
    admin.write(texts.add_text, name="bye", body="Bye (desk)", group=SERVICE_DESK)
    admin.write(texts.add_text, name="bye", body="Bye (ada's own)")
    with pytest.raises(InvalidInput, match="you have"):
        admin.write(texts.add_text, name="bye", body="again")
    # The ticket's group's module wins over everyone's when inserted for its ticket.
    ticket = known.ticket(AGENT)
    assert ticket.group == SERVICE_DESK
    assert known.as_(AGENT).read(texts.render_text, name="bye", ticket=ticket.ref) == ("Bye (desk)")
    # Without a scope, a name means one's own, else the shared one that wins.
    assert admin.read(texts.show_text, name="bye").body == "Bye (ada's own)"
    assert admin.read(texts.show_text, name="bye", everyone=True).body == "Bye (everyone)"
    assert admin.read(texts.show_text, name="bye", group=SERVICE_DESK).body == "Bye (desk)"
    with pytest.raises(InvalidInput, match="one place"):
        admin.read(texts.show_text, name="bye", group=SERVICE_DESK, everyone=True)
    with pytest.raises(InvalidInput, match="not a text module name"):
        admin.write(texts.add_text, name="two words", body="x")


def test_edit_rename_and_remove(known: KnownDesk) -> None:
    admin = known.as_(ADMIN)
    admin.write(texts.add_text, name="a", body="one")
    admin.write(texts.add_text, name="b", body="two")
    with pytest.raises(InvalidInput, match="already"):
        admin.write(texts.edit_text, name="a", new_name="b")
    edited = admin.write(texts.edit_text, name="a", body="uno", new_name="c")
    assert (edited.name, edited.body) == ("c", "uno")
    with pytest.raises(InvalidInput, match="line 1"):
        admin.write(texts.edit_text, name="c", body="{% if %}")
    admin.write(texts.remove_text, name="c")
    assert [m.name for m in admin.read(texts.list_texts)] == ["b"]


def test_an_agent_keeps_personal_modules_nobody_else_sees(known: KnownDesk) -> None:
    alice = known.as_(AGENT)
    mine = alice.write(texts.add_text, name="sig", body="Cheers, {{ me.first_name }}")
    assert (mine.scope, mine.owner, mine.group) == ("personal", AGENT, None)
    ticket = known.ticket(AGENT)
    assert alice.read(texts.render_text, name="sig", ticket=ticket.ref) == "Cheers, Alice"
    # Bob may keep a module by the same name; neither sees the other's.
    known.as_(AGENT2).write(texts.add_text, name="sig", body="Bob")
    assert [(m.name, m.body) for m in alice.read(texts.list_texts)] == [("sig", mine.body)]
    with pytest.raises(PermissionDenied, match="theirs"):
        known.as_(AGENT2).read(texts.list_texts, owner=AGENT)
    # Nor does an admin see it among the modules they insert; they may clear it out.
    admin = known.as_(ADMIN)
    assert admin.read(texts.list_texts) == []
    with pytest.raises(NotFound):
        admin.write(texts.edit_text, name="sig", body="rewritten")
    assert [m.body for m in admin.read(texts.list_texts, owner=AGENT)] == [mine.body]
    assert admin.write(texts.remove_text, name="sig", owner=AGENT).owner == AGENT
    assert alice.read(texts.list_texts) == []
    assert [m.body for m in known.as_(AGENT2).read(texts.list_texts)] == ["Bob"]


def test_ones_own_module_wins_then_the_group_then_everyone(known: KnownDesk) -> None:
    admin, alice = known.as_(ADMIN), known.as_(AGENT)
    admin.write(texts.add_text, name="hi", body="everyone's", everyone=True)
    admin.write(texts.add_text, name="hi", body="the desk's", group=SERVICE_DESK)
    alice.write(texts.add_text, name="hi", body="Alice's")
    ticket = known.ticket(AGENT)

    def rendered() -> str:
        return alice.read(texts.render_text, name="hi", ticket=ticket.ref)

    listed = alice.read(texts.list_texts)
    assert [m.scope for m in listed] == ["personal", "group", "everyone"]
    assert rendered() == "Alice's" == alice.read(texts.show_text, name="hi").body
    assert alice.read(texts.render_text, name="hi", ticket=ticket.ref, everyone=True) == (
        "everyone's"
    )
    alice.write(texts.remove_text, name="hi")
    assert rendered() == "the desk's"
    admin.write(texts.remove_text, name="hi", group=SERVICE_DESK)
    assert rendered() == "everyone's"
    # Her own is hers to change; everyone's is not, and the refusal says what she may do.
    with pytest.raises(PermissionDenied, match="text add"):
        alice.write(texts.edit_text, name="hi", body="mine now")


def test_two_groups_tying_is_refused_with_a_way_out(known: KnownDesk) -> None:
    admin = known.as_(ADMIN)
    admin.write(texts.add_text, name="fix", body="desk", group=SERVICE_DESK)
    admin.write(texts.add_text, name="fix", body="desktop", group=DESKTOP)
    with pytest.raises(InvalidInput, match="--group"):
        admin.read(texts.show_text, name="fix")
    assert admin.read(texts.show_text, name="fix", group=DESKTOP).body == "desktop"


# --- the commands ----------------------------------------------------------------------


def _cli(known: KnownDesk) -> Any:
    url = known.db.url.render_as_string(hide_password=False)
    runner = CliRunner()

    def run(*args: str, login: str = ADMIN, code: int = 0, **kw: Any) -> Any:
        result = runner.invoke(app, ["--db", url, "--as", login, *args], **kw)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    return run


def test_the_text_commands(known: KnownDesk) -> None:
    run = _cli(known)
    ticket = known.ticket(AGENT)
    run("text", "add", "greeting", "--body", GREETING, "--everyone")
    run("text", "add", "probe", "--body", "-", "--everyone", input="{{ ''.__class__ }}\n")
    listed = json.loads(run("text", "list", "--json").stdout)
    assert [(m["name"], m["scope"]) for m in listed] == [
        ("greeting", "everyone"),
        ("probe", "everyone"),
    ]
    said = run("text", "render", "greeting", "--ticket", ticket.ref, login=AGENT).stdout
    assert said.strip() == f"Hello Carol,\n\nthis is Alice about {ticket.ref}."
    probe = run("text", "render", "probe", "--ticket", ticket.ref, login=AGENT).stdout
    assert probe.strip() == "{{ ''.__class__ }}"
    run("text", "edit", "greeting", "--body", "Hi {{ contact.name }}")
    assert run("text", "show", "greeting").stdout.strip() == "Hi {{ contact.name }}"
    # (Through ``main`` a refusal exits 3; the runner calls the app, which raises it.)
    refused = run("text", "add", "x", "--body", "x", "--everyone", login=AGENT, code=1)
    assert isinstance(refused.exception, PermissionDenied)
    run("text", "remove", "probe")
    assert "probe" not in run("text", "list").stdout


def test_an_agent_adds_and_renders_a_personal_module_from_the_shell(known: KnownDesk) -> None:
    run = _cli(known)
    ticket = known.ticket(AGENT)
    body = "Hello {{ contact.first_name }}, this is {{ me.first_name }} from the service desk."
    run("text", "add", "greeting", "--body", "Hello everyone", "--everyone")
    assert run("text", "add", "greeting", "--body", body, login=AGENT).stdout.strip() == (
        "greeting added · mine"
    )
    said = run("text", "render", "greeting", "--ticket", ticket.ref, login=AGENT).stdout
    assert said.strip() == "Hello Carol, this is Alice from the service desk."
    rows = run("text", "list", "--csv", login=AGENT).stdout.splitlines()
    assert rows[0].startswith("id,name,scope,")
    assert [row.split(",")[2] for row in rows[1:]] == ["personal", "everyone"]
    table = run("text", "list", login=AGENT).stdout
    assert "mine" in table and "everyone" in table
    assert "mine" not in run("text", "list", login=AGENT2).stdout
    refused = run("text", "add", "x", "--body", "x", "--group", SERVICE_DESK, login=AGENT, code=1)
    assert isinstance(refused.exception, PermissionDenied)


def test_a_module_with_a_syntax_error_is_refused_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "desk.db"
    env = {**os.environ, "DESKTERM_DATABASE_URL": f"sqlite:///{db}", "DESKTERM_USER": "ada"}
    env.pop("DESKTERM_SERVED", None)

    def deskterm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "deskterm", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    assert deskterm("analyst", "add", "ada", "--name", "Ada Admin").returncode == 0
    assert deskterm("analyst", "add", "al", "--name", "Al Agent", "--role", "agent").returncode == 0
    refused = deskterm("--as", "al", "text", "add", "x", "--body", "x", "--everyone")
    assert (refused.returncode, refused.stderr.count("\n")) == (3, 1)
    mine = deskterm("--as", "al", "text", "add", "x", "--body", "x")
    assert (mine.returncode, mine.stdout.strip()) == (0, "x added · mine")
    bad = deskterm("text", "add", "oops", "--body", "Hi\n{{ contact.name ) }}")
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1
    assert "line 2" in bad.stderr


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "editor.sh"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_ticket_note_edit_saves_what_the_editor_wrote(known: KnownDesk, tmp_path: Path) -> None:
    run = _cli(known)
    ticket = known.ticket(AGENT)
    seen = tmp_path / "seen.txt"
    # The editor sees the ticket in comment lines, then writes the note over them.
    editor = _script(tmp_path, f'cp "$1" {seen}; printf "Replaced the disk.\\n# gone\\n" > "$1"')
    run("ticket", "note", ticket.ref, "--edit", login=AGENT, env={"EDITOR": editor, "VISUAL": ""})
    assert ticket.ref in seen.read_text() and "# " in seen.read_text()
    log = known.as_(AGENT).read(get_ticket, ref=ticket.ref).events
    assert log[-1].data.get("text") == "Replaced the disk."


def test_ticket_note_edit_with_nothing_written_aborts(known: KnownDesk, tmp_path: Path) -> None:
    run = _cli(known)
    ticket = known.ticket(AGENT)
    before = len(known.events(ticket.id))
    editor = _script(tmp_path, "true")  # leaves the template: only comments
    result = run(
        "ticket", "note", ticket.ref, "--edit", login=AGENT, code=1, env={"VISUAL": editor}
    )
    assert "aborted" in result.stderr
    failing = _script(tmp_path, "exit 3")
    result = run(
        "ticket", "note", ticket.ref, "--edit", login=AGENT, code=1, env={"VISUAL": failing}
    )
    assert "status 3" in result.stderr
    assert len(known.events(ticket.id)) == before


# --- the editor helper -----------------------------------------------------------------


def test_the_editor_is_visual_then_editor_then_vi() -> None:
    assert editor_command({"VISUAL": "code --wait", "EDITOR": "nano"}) == ["code", "--wait"]
    assert editor_command({"EDITOR": "nano -R"}) == ["nano", "-R"]
    assert editor_command({}) == ["vi"]


def test_the_temporary_file_is_private_and_removed(tmp_path: Path) -> None:
    seen = tmp_path / "mode"
    editor = _script(tmp_path, f'stat -c %a "$1" > {seen}; echo "$1" >> {seen}; printf new > "$1"')
    result = edit("old", environ={"EDITOR": editor})
    assert result.text == "new" and result.changed
    mode, path = seen.read_text().split()
    assert mode == "600"
    assert not Path(path).exists()


def test_no_editor_over_the_ssh_server() -> None:
    with pytest.raises(EditorFailed, match="SSH"):
        edit("x", environ={"EDITOR": "true", "DESKTERM_SERVED": "ssh"})


def test_comment_lines_are_left_out() -> None:
    assert strip_comments("# help\nkept\n  # indented stays\n#x\n") == "kept\n  # indented stays"
