"""``deskterm ticket show REF --customer``: exactly what the customer may see of their case."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

import deskterm.desk.customer as customer
import deskterm.i18n as i18n
from clirun import run_deskterm
from comms_helpers import flat
from deskterm.desk.callbacks import schedule_callback
from deskterm.desk.contacts import add_contact
from deskterm.desk.customer import customer_view
from deskterm.desk.mail import import_message
from deskterm.desk.queue import claim_next
from deskterm.desk.tickets import (
    add_note,
    assign,
    change_status,
    escalate,
    log_call,
    resolve,
    set_priority,
)
from deskterm.domain.refs import format_ref
from factories import ADMIN, AGENT, AGENT2, CONTACT_EMAIL, SUPERVISOR, TECH, KnownDesk

SECRET = "admin password for her laptop is hunter2"
INTERNAL_REASON = "L1 lacks the imaging tools"


def story(known: KnownDesk) -> int:
    """A case told in every kind of step, some public, some for the desk only."""
    ticket = known.ticket(AGENT, call_seconds=125)
    alice = known.as_(AGENT)
    alice.write(add_note, ref=ticket.id, text=SECRET)
    alice.write(add_note, ref=ticket.id, text="We ordered a new battery.", public=True)
    alice.write(set_priority, ref=ticket.id, urgency="high")
    alice.write(
        log_call,
        ref=ticket.id,
        direction="outbound",
        duration_seconds=70,
        outcome="Asked her to keep it plugged in",
    )
    alice.write(escalate, ref=ticket.id, level=2, reason=INTERNAL_REASON)
    known.as_(TECH).write(claim_next)
    known.as_(TECH).write(
        change_status,
        ref=ticket.id,
        status="waiting_customer",
        reason="Please bring the laptop to room 2.14",
    )
    reply = (
        f"From: Carol Jones <{CONTACT_EMAIL}>\nTo: help@desk.example\n"
        f"Subject: Re: [{format_ref(ticket.id)}]\n\nI can come at 3pm.\n"
    ).encode()
    assert import_message(known.db, reply, source="reply.eml").outcome == "reply"
    known.as_(TECH).write(resolve, ref=ticket.id, code="hardware-replaced", text="New battery.")
    return ticket.id


def test_the_customer_sees_the_public_story_in_plain_words(known: KnownDesk) -> None:
    ticket_id = story(known)

    view = known.as_(AGENT).read(customer_view, ref=ticket_id)

    assert [(e.by, e.text) for e in view.entries] == [
        ("Alice Agent", "Case opened (phone): Laptop will not boot"),
        ("Alice Agent", "You called us (2m05s)"),
        ("Alice Agent", "We ordered a new battery."),
        ("Alice Agent", "We called you (1m10s): Asked her to keep it plugged in"),
        ("Alice Agent", "Your case went to our specialists in Desktop Support"),
        ("Tom Technician", "Tom Technician is looking after your case"),
        (
            "Tom Technician",
            "We are waiting for something from you: Please bring the laptop to room 2.14",
        ),
        ("You", "I can come at 3pm."),
        ("Service desk", "We are working on your case"),
        ("Tom Technician", "Resolved: New battery."),
    ]
    assert view.holder == "Tom Technician" and view.status == "resolved"
    said = json.dumps(view.to_json())
    for hidden in (SECRET, INTERNAL_REASON, "hunter2", "notification", "urgency", "P2"):
        assert hidden not in said


def test_a_reassignment_says_who_and_why_an_away_one_says_so(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(
        assign,
        ref=ticket.id,
        to=AGENT2,
        reason="Alice is swamped",
        public_reason="Bob sits next to you",
    )
    view = known.as_(AGENT).read(customer_view, ref=ticket.id)
    # What the analyst chose to tell the customer; the reason stays internal.
    assert view.entries[-1].text == "Bob Agent is looking after your case (Bob sits next to you)"
    assert "swamped" not in json.dumps(view.to_json())


def test_a_case_of_internal_work_only_shows_just_its_opening(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(add_note, ref=ticket.id, text=SECRET)
    known.as_(SUPERVISOR).write(set_priority, ref=ticket.id, impact="high", urgency="high")
    view = known.as_(AGENT).read(customer_view, ref=ticket.id)
    assert [e.kind for e in view.entries] == ["created"]


@pytest.fixture
def cli(known: KnownDesk, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("DESKTERM_DATABASE_URL", known.db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str, str]:
        return run_deskterm(monkeypatch, capsys, *args)

    return run


def test_show_customer_prints_only_what_the_customer_may_see(known: KnownDesk, cli: Any) -> None:
    ticket_id = story(known)
    ref = format_ref(ticket_id)

    code, out, err = cli("--as", AGENT, "ticket", "show", ref, "--customer")

    assert code == 0, err
    out = flat(out)
    for seen in (
        "We ordered a new battery.",
        "Tom Technician is looking after your case",
        "Please bring the laptop to room 2.14",
        "I can come at 3pm.",
        "Resolved: New battery.",
        "with Tom Technician",
    ):
        assert seen in out, seen
    for hidden in (SECRET, INTERNAL_REASON, "told the customer", "changed urgency"):
        assert hidden not in out, hidden
    # The analyst's own view still has everything.
    code, full, _err = cli("--as", AGENT, "ticket", "show", ref)
    full = flat(full)
    assert SECRET in full and INTERNAL_REASON in full

    code, out, _err = cli("--as", AGENT, "ticket", "show", ref, "--customer", "--json")
    shown = json.loads(out)
    assert shown["ref"] == ref and shown["holder"] == "Tom Technician"
    assert all(set(e) == {"at", "by", "kind", "text"} for e in shown["entries"])
    assert SECRET not in out and INTERNAL_REASON not in out

    code, _out, err = cli("--as", AGENT, "ticket", "show", "DT-999999", "--customer")
    assert code == 1 and "no ticket DT-999999" in err and err.count("\n") == 1


def spy_on_translations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, str]]:
    """Every (language, message) the customer's view asks for."""
    calls: list[tuple[str | None, str]] = []

    def spy(tag: str | None, message: str) -> str:
        calls.append((tag, message))
        return i18n.translate(tag, message)

    monkeypatch.setattr(customer, "translate", spy)
    return calls


def test_the_customer_reads_their_case_in_their_own_language(
    known: KnownDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The view is the customer's, so its words are in the contact's language, whoever
    looks; the words from the log (names, notes, reasons) stay as they were written."""
    contact = known.as_(ADMIN).write(
        add_contact, name="Ana Lima", email="ana@cliente.example", language="pt"
    )
    ticket = known.ticket(AGENT, contact_id=contact.id, call_seconds=125)
    known.as_(AGENT).write(
        assign, ref=ticket.id, to=AGENT2, reason="internal", public_reason="O Bob fala português"
    )
    when = known.row(ticket.id).created_at.replace(hour=14, minute=30) + timedelta(days=2)
    known.as_(AGENT2).write(schedule_callback, ref=ticket.id, due_at=when, reason="BIOS")
    calls = spy_on_translations(monkeypatch)

    view = known.as_(AGENT).read(customer_view, ref=ticket.id)

    assert view.language == "pt"
    # Every word of the view was asked for in the contact's language, not the analyst's.
    assert calls and {tag for tag, _message in calls} == {"pt"}
    asked = {message for _tag, message in calls}
    assert {
        "Case opened ({channel}): {subject}",
        "You called us ({length})",
        "{holder} is looking after your case ({reason})",
        "We will call you back at {when} about: {topic}",
        "with {holder}",
        "assigned",
    } <= asked
    texts = [e.text for e in view.entries]
    assert any("O Bob fala português" in t for t in texts)
    # The callback's time is written the Portuguese way: "segunda-feira, 7 de dezembro de ...".
    assert any(f" de {when.year}, 14:30 UTC" in t for t in texts), texts
    assert "internal" not in json.dumps(view.to_json())


def test_a_view_says_where_the_case_is_in_the_customers_language(
    known: KnownDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact = known.as_(ADMIN).write(
        add_contact, name="Jana Nováková", email="jana@zakaznik.example", language="cs"
    )
    czech = known.ticket(AGENT, contact_id=contact.id).id
    english = known.ticket(AGENT).id  # the known caller has no language: English
    calls = spy_on_translations(monkeypatch)

    view = known.as_(AGENT).read(customer_view, ref=czech)
    assert view.language == "cs" and {tag for tag, _message in calls} == {"cs"}

    view = known.as_(AGENT).read(customer_view, ref=english)
    assert (view.language, view.where, view.status) == ("en", "with Alice Agent", "assigned")
    assert view.entries[0].by == "Alice Agent"
