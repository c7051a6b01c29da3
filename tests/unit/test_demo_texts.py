"""The demo desk's text modules: the person trying the demo finds canned answers to insert,
keeps their own beside them, and the modules are what ``deskterm text add`` would accept."""

from __future__ import annotations

from datetime import UTC, datetime

from deskterm.db.engine import Database
from deskterm.desk import clock, texts
from deskterm.desk.context import Desk
from deskterm.desk.demo import build_demo, load_text_modules
from deskterm.desk.tickets import list_tickets

ME = "root"
FROZEN = datetime(2026, 11, 25, 10, 30, 15, tzinfo=UTC)


def test_the_demo_desk_has_modules_for_everyone_and_for_a_group(db: Database) -> None:
    with clock.use_clock(lambda: FROZEN):
        build_demo(db, tickets=40, me=ME)
    me = Desk(db, ME)
    mine = {m.name: m for m in me.read(texts.list_texts)}
    assert {"greeting", "callback", "password_reset", "closing", "waiting"} <= set(mine)
    assert {m.scope for m in mine.values()} == {"everyone"}
    assert mine["greeting"].created_by == "sophie.laurent"
    # A technician group's modules are its members'.
    assert "remote_session" not in mine
    desktop = {m.name: m for m in Desk(db, "maria.schmidt").read(texts.list_texts)}
    assert desktop["remote_session"].group == "Desktop Support"

    ticket = me.read(list_tickets, assignee="me")[0]
    caller = ticket.contact or ""
    said = me.read(texts.render_text, name="greeting", ticket=ticket.ref)
    assert said == f"Hello {caller.split()[0]}, this is Root from the service desk."

    # The L1 agent keeps a greeting of their own, which then wins.
    me.write(texts.add_text, name="greeting", body="Hi {{ contact.first_name }}!")
    assert me.read(texts.render_text, name="greeting", ticket=ticket.ref) == (
        f"Hi {caller.split()[0]}!"
    )
    assert [m.scope for m in me.read(texts.list_texts) if m.name == "greeting"] == [
        "personal",
        "everyone",
    ]
    # New modules get ids after the demo's (PostgreSQL's sequence was moved past them).
    added = me.write(texts.add_text, name="sig", body="Root")
    assert added.id > len(load_text_modules())


def test_every_demo_module_renders_without_leftover_variables() -> None:
    values = {
        "contact": {"first_name": "Ann", "name": "Ann Lee"},
        "ticket": {"ref": "DT-000001", "subject": "VPN", "group": "Network"},
        "me": {"name": "Bo Chen", "first_name": "Bo"},
    }
    modules = load_text_modules()
    assert len({(m.name, m.group) for m in modules}) == len(modules)
    for module in modules:
        assert "{{" not in texts.render(module.body, values), module.name
        assert module.name == texts.valid_name(module.name)
