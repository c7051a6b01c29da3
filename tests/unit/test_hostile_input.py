"""Text from outside, at its worst: markup, escape sequences (title-setting, hyperlinks),
bidi overrides, NUL bytes, invalid UTF-8, SQL-looking text, 10 MB pastes.

Thrown at every service that takes text (on both databases) and at the renderers, the
contract is: a service either stores it cleanly or refuses with one readable ``DeskError``,
never anything else; what is stored holds no control character, escape or bidi override; SQL
is just text; and what reaches the screen is the text itself, markup shown literally.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from sqlalchemy import func, select, update

from deskterm.cli.common import literal as cli_literal
from deskterm.cli.tickets import render_ticket
from deskterm.db.models import MailMessage, Ticket, TicketEvent
from deskterm.desk.analysts import add_analyst, add_group, list_analysts, list_groups, set_away
from deskterm.desk.callbacks import schedule_callback
from deskterm.desk.clock import now
from deskterm.desk.contacts import add_asset, add_contact, find_contacts, get_contact
from deskterm.desk.customer import customer_view
from deskterm.desk.intake import Problem, record_call
from deskterm.desk.mail import import_message
from deskterm.desk.queue import claim_next
from deskterm.desk.tickets import (
    add_note,
    assign,
    change_status,
    create_ticket,
    escalate,
    get_ticket,
    list_tickets,
    log_call,
    resolve,
    set_priority,
)
from deskterm.desk.views import queue_page
from deskterm.domain.errors import DeskError, InvalidInput
from deskterm.domain.text import visible
from deskterm.tui.format import literal as tui_literal
from factories import ADMIN, AGENT, SUPERVISOR, KnownDesk

#: The worst of what arrives, in pieces hypothesis strings together with anything else.
PIECES = (
    "[bold red]alarm[/]",
    "[link=https://evil.example]click[/link]",
    "[@click=app.quit]quit[/]",
    "[/]",
    "[",
    "\x1b[31m",
    "\x1b[2J\x1b[H",
    "\x1b]0;pwned\x07",
    "\x1b]2;title\x1b\\",
    "\x1b]8;;https://evil.example\x1b\\here\x1b]8;;\x1b\\",
    "\x1bP+q544e\x1b\\",
    "\x1b_apc\x1b\\",
    "\x9b31m",
    "\x9d0;eight-bit title\x9c",
    "\x1b",
    "\x07",
    "\x08",
    "\r",
    "\n",
    "\t",
    "\x00",
    "\x7f",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u200b",
    "\ufeff",
    "\udc80",
    "\udcff\udcfe",
    "'; DROP TABLE ticket; --",
    '" OR 1=1 --',
    "%s %(name)s {0} $1",
    "\\",
    "🙂",
    "e\u0301",
    "𝕏",
    "DT-000001",
    "#1",
    "@",
    "٣",
    "²",
)

hostile = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), min_size=1, max_size=8
).map("".join)

FEW = settings(
    max_examples=12,
    deadline=None,
    # One desk serves every example on purpose: each example adds to it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# What must never be stored nor reach a terminal: C0 controls but line break and tab, DEL,
# C1 controls, bidi overrides and isolates, lone surrogates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def unsafe_in(value: Any, where: str = "") -> list[str]:
    """Every string inside ``value`` (models, dicts, lists) that holds an unsafe character."""
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, str):
        return [f"{where}: {value!r}"] if _UNSAFE.search(value) else []
    if isinstance(value, dict):
        return [bad for k, v in value.items() for bad in unsafe_in(v, f"{where}.{k}")]
    if isinstance(value, list | tuple):
        return [bad for n, v in enumerate(value) for bad in unsafe_in(v, f"{where}[{n}]")]
    return []


def attempt(fn: Callable[[], Any]) -> Any:
    """Run a service: a result, or None for a readable refusal. Anything else fails the test."""
    try:
        return fn()
    except DeskError as refusal:
        assert str(refusal).strip(), "a refusal must say why"
        return None


def stored_everywhere(known: KnownDesk) -> list[str]:
    """Unsafe text anywhere in what analysts can read back."""
    admin = known.as_(ADMIN)
    bad: list[str] = []
    for ticket in admin.read(list_tickets, statuses=["all"], sort="newest", limit=1000):
        bad += unsafe_in(admin.read(get_ticket, ref=ticket.id), ticket.ref)
    bad += unsafe_in(admin.read(list_analysts, include_inactive=True), "analysts")
    bad += unsafe_in(admin.read(list_groups), "groups")
    return bad


# --------------------------------------------------------------------------- services


@FEW
@given(subject=hostile, description=hostile, note=hostile, reason=hostile)
def test_ticket_work_takes_any_text(
    known: KnownDesk, subject: str, description: str, note: str, reason: str
) -> None:
    agent, boss = known.as_(AGENT), known.as_(SUPERVISOR)
    made = attempt(
        lambda: agent.write(
            create_ticket,
            subject=subject,
            description=description,
            contact_id=known.contact_id,
            call_seconds=30,
        )
    )
    ref = made.id if made else known.ticket(AGENT).id
    if made is not None:
        # SQL is only text: it is stored as typed (less what cleaning takes out).
        if "DROP TABLE" in subject and len(subject) < 150:
            assert "DROP TABLE" in made.subject
    for work in (
        lambda: agent.write(add_note, ref=ref, text=note, public=True),
        lambda: agent.write(log_call, ref=ref, direction="outbound", outcome=note),
        lambda: agent.write(
            schedule_callback, ref=ref, due_at=now().replace(microsecond=0), reason=reason
        ),
        lambda: agent.write(set_priority, ref=ref, priority="P1", reason=reason),
        lambda: agent.write(change_status, ref=ref, status="waiting_customer", reason=reason),
        lambda: boss.write(assign, ref=ref, to=SUPERVISOR, reason=reason),
        lambda: boss.write(escalate, ref=ref, level=2, reason=reason, public_reason=note),
        lambda: known.as_(ADMIN).write(resolve, ref=ref, code="fixed", text=description),
    ):
        attempt(work)
    assert not unsafe_in(agent.read(get_ticket, ref=ref))
    assert not unsafe_in(agent.read(customer_view, ref=ref))


@FEW
@given(key=hostile)
def test_every_lookup_takes_any_text(known: KnownDesk, key: str) -> None:
    agent, admin = known.as_(AGENT), known.as_(ADMIN)
    ref = known.ticket(AGENT).id
    for lookup in (
        lambda: agent.write(create_ticket, subject="Printer", group=key),
        lambda: agent.write(create_ticket, subject="Printer", category=key),
        lambda: agent.write(create_ticket, subject="Printer", contact=key),
        lambda: agent.write(create_ticket, subject="Printer", assignee=key),
        lambda: agent.write(create_ticket, subject="Printer", channel=key, impact=key),
        lambda: agent.read(list_tickets, group=key),
        lambda: agent.read(list_tickets, assignee=key, statuses=[key]),
        lambda: agent.read(list_tickets, priority=key),
        lambda: agent.read(get_ticket, ref=key),
        lambda: agent.read(get_contact, key=key),
        lambda: agent.read(find_contacts, text=key),
        lambda: agent.read(queue_page, view="groups", text=key),
        lambda: agent.read(queue_page, view="callbacks", text=key),
        lambda: agent.write(claim_next, group=key),
        lambda: agent.write(assign, ref=ref, to=key, reason=key),
        lambda: agent.write(escalate, ref=ref, group=key, reason="why"),
        lambda: agent.write(resolve, ref=ref, code=key, text="done"),
        lambda: agent.write(change_status, ref=ref, status=key),
        lambda: admin.write(add_analyst, login=key, name=key, role=key, groups=[key]),
        lambda: admin.write(set_away, login=key, backup=key, reason=key),
        lambda: admin.write(add_asset, contact=key, kind=key, product=key),
    ):
        attempt(lookup)
    assert not unsafe_in(agent.read(get_ticket, ref=ref))
    assert not unsafe_in(admin.read(list_analysts, include_inactive=True))


@FEW
@given(
    name=hostile,
    email=hostile,
    phone=hostile,
    organization=hostile,
    location=hostile,
    group=hostile,
)
def test_people_and_groups_take_any_text(
    known: KnownDesk,
    name: str,
    email: str,
    phone: str,
    organization: str,
    location: str,
    group: str,
) -> None:
    admin = known.as_(ADMIN)
    contact = attempt(
        lambda: admin.write(
            add_contact,
            name=name,
            email=email,
            phone=phone,
            organization=organization,
            location=location,
        )
    )
    if contact is None:
        contact = attempt(
            lambda: admin.write(add_contact, name=name, phone=phone, location=location)
        )
    if contact is not None:
        assert not unsafe_in(admin.read(get_contact, key=f"#{contact.id}"))
        attempt(
            lambda: admin.write(
                add_asset,
                contact=f"#{contact.id}",
                kind="hardware",
                product=name,
                serial_number=phone,
            )
        )
        attempt(
            lambda: admin.write(
                record_call,
                problems=[Problem(subject=name, description=location), Problem(subject=email)],
                contact_id=contact.id,
            )
        )
    attempt(lambda: admin.write(add_group, name=group, level=2, description=name))
    attempt(lambda: admin.write(add_analyst, login="x" + str(abs(hash(name)) % 10**9), name=name))
    attempt(lambda: admin.write(set_away, login=AGENT, reason=location))
    assert not stored_everywhere(known)
    assert not unsafe_in(admin.read(find_contacts, text=name[:20] or "a"))


def _mail(subject: str, sender: str, body: str, junk: bytes) -> bytes:
    head = (
        f"From: {sender} <caller@example.org>\r\n"
        f"To: help@desk.example\r\n"
        f"Subject: {subject}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
    )
    # Invalid UTF-8 rides along: the surrogates hypothesis made, encoded as the raw bytes
    # they stand for, and whatever junk bytes it drew.
    return (head + body).encode("utf-8", "surrogateescape") + b"\r\n" + junk


@FEW
@given(subject=hostile, sender=hostile, body=hostile, junk=st.binary(max_size=40))
def test_mail_from_anyone_is_stored_cleanly(
    known: KnownDesk, subject: str, sender: str, body: str, junk: bytes
) -> None:
    raw = _mail(
        subject.replace("\r", " ").replace("\n", " "),
        sender.replace("\r", " ").replace("\n", " "),
        body,
        junk,
    )
    result = import_message(known.db, raw, source="hostile.eml")
    assert result.outcome
    assert not stored_everywhere(known)
    with known.db.read() as session:
        rows = session.execute(
            select(MailMessage.subject, MailMessage.from_name, MailMessage.reason)
        ).all()
    assert not unsafe_in([list(row) for row in rows])


# --------------------------------------------------------------------------- sizes


def test_a_10_mb_paste_is_refused_with_a_clear_error_and_changes_nothing(
    known: KnownDesk,
) -> None:
    huge = "x" * 10_000_000
    ticket = known.ticket(AGENT)
    before = known.snapshot(ticket.id)
    for call, field in (
        (
            lambda: known.as_(AGENT).write(create_ticket, subject="ok", description=huge),
            "description",
        ),
        (lambda: known.as_(AGENT).write(create_ticket, subject=huge), "subject"),
        (lambda: known.as_(AGENT).write(add_note, ref=ticket.id, text=huge), "note"),
        (lambda: known.as_(AGENT).write(add_contact, name=huge), "name"),
    ):
        with pytest.raises(
            InvalidInput, match=r"is too long \(10,000,000 characters; at most"
        ) as e:
            call()
        assert e.value.field == field
    assert known.snapshot(ticket.id) == before
    with known.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_a_10_mb_mail_is_cut_to_a_readable_size_and_kept_whole_aside(known: KnownDesk) -> None:
    body = ("All work and no play makes Jack a dull boy.\n" * 240_000)[:10_000_000]
    result = import_message(known.db, _mail("Huge", "Jack", body, b""), source="huge.eml")
    ticket = known.as_(AGENT).read(get_ticket, ref=result.ref)
    assert len(ticket.description) < 70_000
    assert "more characters" in ticket.description


# --------------------------------------------------------------------------- renderers


def _segments(renderable: Any, width: int = 100) -> str:
    """What a terminal would be sent for ``renderable``: the text of every segment."""
    console = Console(
        file=io.StringIO(), width=width, force_terminal=True, color_system="truecolor"
    )
    return "".join(seg.text for seg in console.render(renderable) if not seg.control)


@settings(max_examples=100, deadline=None)
@given(text=hostile)
def test_renderers_show_outside_text_literally(text: str) -> None:
    for shown in (
        _segments(tui_literal(text)),
        _segments(tui_literal(text, long=True)),
        _segments(cli_literal(text)),
    ):
        assert not _UNSAFE.search(shown.replace("\n", "")), repr(shown)
        # Markup is text: brackets a caller typed are on screen as typed (unless an escape
        # sequence swallowed them, as the terminal would have).
        for markup in ("[bold red]alarm[/]", "[link=https://evil.example]click[/link]"):
            if markup in re.sub(r"\s+", " ", visible(text)):
                assert markup in re.sub(r"\s+", " ", shown)


@pytest.fixture
def poisoned(known: KnownDesk) -> Iterator[int]:
    """A ticket as another writer (an old version, a script) left it: raw control sequences
    straight in the database, past every check of the desk."""
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(add_note, ref=ticket.id, text="placeholder")
    nasty = "\x1b]0;pwned\x07[bold]Boss[/bold] \x1b[2J\u202eevil\x9b31m \x1b]8;;http://x\x1b\\y"
    with known.db.write() as session:
        session.execute(
            update(Ticket).where(Ticket.id == ticket.id).values(subject=nasty, description=nasty)
        )
        # The log refuses UPDATE: a raw event is added instead, as a careless script might.
        event = known.events(ticket.id)[-1]
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                ticket_version=event.ticket_version,
                at=event.at,
                actor_id=event.actor_id,
                kind="note",
                visibility="internal",
                data={"text": nasty},
            )
        )
    yield ticket.id


def test_the_cli_never_sends_a_stored_escape_to_the_terminal(
    known: KnownDesk, poisoned: int
) -> None:
    detail = known.as_(AGENT).read(get_ticket, ref=poisoned)
    shown = _segments(render_ticket(detail), width=120)
    assert not _UNSAFE.search(shown.replace("\n", "")), repr(shown)
    assert "[bold]Boss[/bold]" in shown and "pwned" not in shown
