"""How each contact wants to hear from us (issue 20): ``--notify email,sms`` sends every
customer message on each channel asked for; a contact who prefers the phone gets no message
but one callback task on the ticket, saying what to tell them in their language."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from clirun import run_deskterm
from comms_helpers import SmsGateway, SmtpServer, email_senders, sms_gateway, smtp_server
from deskterm.db.models import Callback, Notification
from deskterm.desk.callbacks import REASON_MAX, due_callbacks, pending_callbacks
from deskterm.desk.contacts import add_contact, edit_contact, get_contact
from deskterm.desk.outbox import Senders, deliver_due
from deskterm.desk.tickets import assign, change_status, log_call, resolve
from deskterm.domain.errors import InvalidInput
from deskterm.domain.refs import format_ref
from factories import ADMIN, AGENT, AGENT2, KnownDesk

TOLD = "An engineer will replace a part in your laptop."


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with sms_gateway() as server:
        yield server


def both(smtp: SmtpServer, gateway: SmsGateway) -> Senders:
    senders = email_senders(smtp)
    senders.sms = gateway.senders().sms
    return senders


def deliver(known: KnownDesk, senders: Senders) -> list[tuple[str, str, str | None]]:
    try:
        summary = deliver_due(known.db, senders)
    finally:
        senders.close()
    return [(d.status, d.channel, d.recipient) for d in summary.deliveries]


def contact(known: KnownDesk, **fields: Any) -> int:
    values: dict[str, Any] = {
        "name": "Ana Lima",
        "email": "ana@cliente.example",
        "mobile": "+351 912 345 678",
    }
    values.update(fields)
    made = known.as_(ADMIN).write(add_contact, **values)
    return made.id


def reassigned(known: KnownDesk, contact_id: int) -> int:
    """A ticket of the contact, handed from Alice to Bob with a reason for the customer."""
    ticket = known.ticket(AGENT, contact_id=contact_id, assignee="me")
    known.as_(AGENT).write(
        assign, ref=ticket.id, to=AGENT2, reason="Bob knows this model", public_reason=TOLD
    )
    return ticket.id


def outbox_rows(known: KnownDesk, ticket_id: int) -> list[tuple[str, str, str | None]]:
    with known.db.read() as session:
        return [
            (n.kind, n.channel, n.recipient)
            for n in session.scalars(
                select(Notification)
                .where(Notification.ticket_id == ticket_id)
                .order_by(Notification.id)
            )
        ]


def callbacks_of(known: KnownDesk, ticket_id: int) -> list[Callback]:
    with known.db.read() as session:
        found = list(
            session.scalars(
                select(Callback).where(Callback.ticket_id == ticket_id).order_by(Callback.id)
            )
        )
        session.expunge_all()
        return found


# --------------------------------------------------------------------------- each channel


def test_notify_email_and_sms_sends_the_reassignment_on_both_with_the_reason(
    known: KnownDesk, smtp: SmtpServer, gateway: SmsGateway
) -> None:
    ana = contact(known, preferred_channel="email", notify="sms, email")
    ticket_id = reassigned(known, ana)

    assert outbox_rows(known, ticket_id) == [
        ("assigned", "email", "ana@cliente.example"),
        ("assigned", "sms", "+351912345678"),
    ]
    assert deliver(known, both(smtp, gateway)) == [
        ("sent", "email", "ana@cliente.example"),
        ("sent", "sms", "+351912345678"),
    ]
    (mail,) = smtp.arrived
    assert TOLD in " ".join(mail.body.split())
    (text,) = gateway.requests
    sms = text["form"]["text"][0]
    assert sms.startswith(f"{format_ref(ticket_id)}: ") and TOLD in sms
    assert "Bob knows this model" not in sms  # the colleagues' reason stays internal
    sent = [e.data["channel"] for e in known.events(ticket_id) if e.kind == "notification_sent"]
    assert sent == ["email", "sms"]


@pytest.mark.parametrize(
    ("notify", "prefer", "channel", "recipient"),
    [
        ("sms", "email", "sms", "+351912345678"),  # asked for texts, whatever the preference
        ("email", "sms", "email", "ana@cliente.example"),
        ("email", "phone", "email", "ana@cliente.example"),  # asked for mail: no call then
        (None, "sms", "sms", "+351912345678"),  # as preferred
        ("default", "email", "email", "ana@cliente.example"),
    ],
)
def test_one_channel_asked_for_is_the_one_used(
    known: KnownDesk,
    smtp: SmtpServer,
    gateway: SmsGateway,
    notify: str | None,
    prefer: str,
    channel: str,
    recipient: str,
) -> None:
    ticket_id = reassigned(known, contact(known, preferred_channel=prefer, notify=notify))

    assert outbox_rows(known, ticket_id) == [("assigned", channel, recipient)]
    assert deliver(known, both(smtp, gateway)) == [("sent", channel, recipient)]
    assert callbacks_of(known, ticket_id) == []


def test_every_customer_message_follows_notify_not_only_the_reassignment(
    known: KnownDesk,
) -> None:
    ana = contact(known, notify="email,sms")
    ticket_id = reassigned(known, ana)
    known.as_(AGENT2).write(
        change_status, ref=ticket_id, status="waiting_customer", reason="Which model is it?"
    )
    known.as_(AGENT2).write(resolve, ref=ticket_id, code="fixed", text="Replaced the disk.")

    assert [(kind, channel) for kind, channel, _to in outbox_rows(known, ticket_id)] == [
        ("assigned", "email"),
        ("assigned", "sms"),
        ("waiting", "email"),
        ("waiting", "sms"),
        ("resolved", "email"),
        ("resolved", "sms"),
    ]


def test_a_mobile_removed_after_queuing_fails_that_text_with_the_reason(
    known: KnownDesk, smtp: SmtpServer, gateway: SmsGateway
) -> None:
    ana = contact(known, notify="email,sms")
    ticket_id = reassigned(known, ana)
    # Back to mail only first (a contact asked for texts keeps a mobile), then no mobile.
    known.as_(ADMIN).write(edit_contact, key=f"#{ana}", notify="email")
    known.as_(ADMIN).write(edit_contact, key=f"#{ana}", mobile="")

    done = deliver(known, both(smtp, gateway))

    # Not a second mail in its place: the customer has that one already.
    assert done == [("sent", "email", "ana@cliente.example"), ("dead", "sms", None)]
    assert len(smtp.arrived) == 1 and gateway.requests == []
    (failed,) = [e.data for e in known.events(ticket_id) if e.kind == "notification_failed"]
    assert failed["channel"] == "sms" and "mobile number" in failed["reason"]


# --------------------------------------------------------------------------- the phone


def test_a_contact_preferring_the_phone_gets_one_callback_task_not_a_mail(
    known: KnownDesk, smtp: SmtpServer
) -> None:
    ana = contact(known, preferred_channel="phone", language="pt")
    ticket_id = reassigned(known, ana)

    assert outbox_rows(known, ticket_id) == []
    (task,) = callbacks_of(known, ticket_id)
    assert task.notice and task.done_at is None
    assert task.reason.startswith("Tell the customer: ")
    assert format_ref(ticket_id) in task.reason
    assert TOLD in task.reason  # what the customer may read of the reason
    assert "Bob knows this model" not in task.reason
    assert "está agora a tratar do seu pedido" in task.reason  # their language (pt)
    # Due now, on the new holder's list of callbacks to make, by whom scheduled it.
    assert task.scheduled_by_id == known.analyst_id(AGENT)
    due = known.as_(AGENT2).read(due_callbacks)
    assert [d.id for d in due] == [task.id]

    log = [(e.kind, e.visibility, e.data) for e in known.events(ticket_id)]
    scheduled = [data for kind, _v, data in log if kind == "callback_scheduled"]
    assert len(scheduled) == 1 and scheduled[0]["reason"] == task.reason
    notes = [data["text"] for kind, _v, data in log if kind == "note"]
    assert any("no message sent" in n and "prefers the phone" in n for n in notes)
    assert all(v == "internal" for kind, v, _d in log if kind in ("callback_scheduled", "note"))
    assert deliver(known, email_senders(smtp)) == []
    assert smtp.arrived == []


def test_later_notices_add_to_the_open_task_instead_of_stacking_calls(known: KnownDesk) -> None:
    ana = contact(known, preferred_channel="phone")
    ticket_id = reassigned(known, ana)
    known.as_(AGENT2).write(
        change_status, ref=ticket_id, status="waiting_customer", reason="Which model is it?"
    )

    (task,) = callbacks_of(known, ticket_id)
    assert TOLD in task.reason and "Which model is it?" in task.reason
    assert len(known.as_(AGENT2).read(pending_callbacks, ref=ticket_id)) == 1
    kinds = [e.kind for e in known.events(ticket_id)]
    assert kinds.count("callback_scheduled") == 1

    # Many more notices: still one task, never longer than a callback's reason.
    for n in range(8):
        known.as_(AGENT2).write(change_status, ref=ticket_id, status="in_progress")
        known.as_(AGENT2).write(
            change_status, ref=ticket_id, status="waiting_customer", reason=f"Question {n}?"
        )
    (task,) = callbacks_of(known, ticket_id)
    assert len(task.reason) <= REASON_MAX and "Question 7?" in task.reason

    # Once the call is made, the next notice opens a new task.
    known.as_(AGENT2).write(log_call, ref=ticket_id, direction="outbound", outcome="told her")
    known.as_(AGENT2).write(resolve, ref=ticket_id, code="fixed", text="Replaced the disk.")
    kept, fresh = callbacks_of(known, ticket_id)
    assert kept.done_at is not None and fresh.done_at is None
    assert "Replaced the disk." in fresh.reason and "Question" not in fresh.reason


def test_a_callback_promised_to_a_phone_contact_opens_no_second_task(known: KnownDesk) -> None:
    from datetime import timedelta

    from deskterm.desk import clock
    from deskterm.desk.callbacks import schedule_callback

    ana = contact(known, preferred_channel="phone")
    ticket = known.ticket(AGENT, contact_id=ana, assignee="me")
    known.as_(AGENT).write(
        schedule_callback,
        ref=ticket.id,
        due_at=clock.now() + timedelta(hours=2),
        reason="Check the disk",
    )
    (promised,) = callbacks_of(known, ticket.id)
    assert not promised.notice and outbox_rows(known, ticket.id) == []


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"notify": "fax"}, "unknown channel 'fax'"),
        ({"notify": "email,phone"}, "--prefer phone"),
        ({"notify": "sms", "mobile": None}, "no mobile number"),
        ({"notify": "email,sms", "email": None}, "no email address"),
    ],
)
def test_a_channel_that_cannot_be_used_is_refused(
    known: KnownDesk, fields: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidInput, match=words):
        contact(known, **fields)


def test_an_edit_keeps_the_contact_reachable_on_every_channel_asked_for(
    known: KnownDesk,
) -> None:
    ana = contact(known, notify="sms")
    with pytest.raises(InvalidInput, match="no mobile number"):
        known.as_(AGENT).write(edit_contact, key=f"#{ana}", mobile="")
    shown = known.as_(AGENT).write(edit_contact, key=f"#{ana}", notify="email,sms")
    assert shown.notify == ["email", "sms"]
    shown = known.as_(AGENT).write(edit_contact, key=f"#{ana}", notify="default", mobile="")
    assert shown.notify is None and shown.mobile is None
    with pytest.raises(InvalidInput, match="exists already"):
        known.as_(AGENT).write(edit_contact, key=f"#{ana}", email="carol.jones@acme.example")
    assert known.as_(AGENT).read(get_contact, key=f"#{ana}").email == "ana@cliente.example"


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli(known: KnownDesk, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("DESKTERM_DATABASE_URL", known.db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("DESKTERM_CONFIG_FILE", "/nonexistent/deskterm.toml")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("DESKTERM_USER", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        return run_deskterm(monkeypatch, capsys, "--as", AGENT, *args)

    return run


def test_the_cli_sets_shows_and_refuses_notify(cli: Any) -> None:
    code, out, err = cli(
        "contact",
        "add",
        "--name",
        "Ana Lima",
        "--email",
        "ana@cliente.example",
        "--notify",
        "email,sms",
    )
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "no mobile number" in err

    code, out, err = cli(
        "contact", "add", "--name", "Ana Lima", "--email", "ana@cliente.example", "--json"
    )
    assert code == 0, err
    made = json.loads(out)
    assert made["notify"] is None and made["preferred_channel"] is None
    key = f"#{made['id']}"

    code, out, err = cli("contact", "edit", key, "--mobile", "+351 912 345 678", "--notify", "sms")
    assert code == 0, err
    assert "every message by sms" in out

    code, out, err = cli("contact", "show", key, "--json")
    assert code == 0 and json.loads(out)["notify"] == ["sms"]

    code, out, err = cli("contact", "edit", key, "--notify", "default", "--prefer", "phone")
    assert code == 0, err
    code, out, err = cli("contact", "show", key)
    assert code == 0 and "a call instead of messages" in " ".join(out.split())

    code, out, err = cli("contact", "edit", key, "--notify", "pigeon")
    assert code == 1 and "unknown channel 'pigeon'" in err and err.count("\n") == 1
    code, out, err = cli("contact", "edit", key)
    assert code == 1 and "nothing to change" in err
