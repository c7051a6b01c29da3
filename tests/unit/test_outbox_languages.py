"""A customer hears from us in their own language, by email and by text message, with the
reason they may read and never the one written for colleagues (issue 19)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from comms_helpers import SmsGateway, SmtpServer, email_senders, sms_gateway, smtp_server
from deskterm.db.models import Analyst, Notification
from deskterm.desk import clock
from deskterm.desk.analysts import edit_analyst
from deskterm.desk.callbacks import schedule_callback
from deskterm.desk.contacts import add_contact
from deskterm.desk.outbox import Senders, _analyst_language, _claim, deliver_due
from deskterm.desk.tickets import assign
from deskterm.domain.refs import format_ref
from factories import ADMIN, AGENT, AGENT2, SUPERVISOR, KnownDesk

INTERNAL = "Alice is swamped with the audit"
TOLD = "Bob sits next to you"


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


def reassigned(known: KnownDesk, language: str | None, *, texts: bool) -> int:
    """A ticket of a contact speaking ``language`` (by text message when ``texts``),
    handed from Alice to Bob with a reason for colleagues and one for the customer."""
    contact = known.as_(ADMIN).write(
        add_contact,
        name="Ana Lima",
        email=f"ana.{language}.{texts}@cliente.example",
        mobile="+351 912 345 678",
        preferred_channel="sms" if texts else "email",
        language=language,
    )
    ticket = known.ticket(AGENT, contact_id=contact.id, assignee="me")
    known.as_(AGENT).write(assign, ref=ticket.id, to=AGENT2, reason=INTERNAL, public_reason=TOLD)
    return ticket.id


def deliver(known: KnownDesk, senders: Senders) -> None:
    try:
        summary = deliver_due(known.db, senders)
    finally:
        senders.close()
    assert summary.deliveries and all(d.status == "sent" for d in summary.deliveries)


@pytest.mark.parametrize(
    ("language", "subject", "body", "sms"),
    [
        (
            "pt",
            "Bob Agent está agora a tratar do seu pedido",
            "Bob Agent está agora a tratar do seu pedido",
            "Não precisa de explicar nada outra vez.",
        ),
        (
            "pt-BR",
            "Bob Agent agora está cuidando do seu chamado",
            "Tudo o que você nos informou até agora está registrado no chamado",
            "Você não precisa explicar nada de novo.",
        ),
        (
            "cs",
            "Váš požadavek nyní řeší Bob Agent",
            "Vašeho požadavku se ujímá další člen našeho týmu",
            "Nic nemusíte vysvětlovat znovu.",
        ),
        (
            "de",
            "Bob Agent betreut jetzt Ihr Anliegen",
            "Eine Kollegin oder ein Kollege übernimmt",
            "Sie müssen nichts noch einmal erklären.",
        ),
    ],
)
def test_a_reassigned_customer_hears_it_in_their_language_with_the_reason_they_may_read(
    known: KnownDesk,
    smtp: SmtpServer,
    gateway: SmsGateway,
    language: str,
    subject: str,
    body: str,
    sms: str,
) -> None:
    by_mail = reassigned(known, language, texts=False)
    by_text = reassigned(known, language, texts=True)

    deliver(known, both(smtp, gateway))

    assert len(smtp.arrived) == 1 and len(gateway.requests) == 1
    (mail,) = smtp.arrived
    assert mail.message["Subject"] == f"[{format_ref(by_mail)}] {subject}"
    assert body in mail.body and TOLD in mail.body
    (request,) = gateway.requests
    text = request["form"]["text"][0]
    assert text.startswith(f"{format_ref(by_text)}: ") and sms in text
    # The reason the customer may read reaches them by text too; the colleagues' never does.
    assert f"({TOLD})" in text
    for said in (mail.body, mail.message["Subject"], text):
        assert INTERNAL not in said
        assert "looking after" not in said and "No need" not in said


def test_a_contact_without_a_language_is_written_to_in_english(
    known: KnownDesk, smtp: SmtpServer, gateway: SmsGateway
) -> None:
    reassigned(known, None, texts=False)
    reassigned(known, None, texts=True)
    deliver(known, both(smtp, gateway))
    assert "Bob Agent is now looking after your case" in smtp.arrived[0].message["Subject"]
    text = gateway.requests[0]["form"]["text"][0]
    assert f"Bob Agent is now looking after your case ({TOLD})" in text


def test_a_callback_time_is_written_the_customers_way(known: KnownDesk, smtp: SmtpServer) -> None:
    contact = known.as_(ADMIN).write(
        add_contact, name="Jana Nováková", email="jana@zakaznik.example", language="cs"
    )
    ticket = known.ticket(AGENT, contact_id=contact.id)
    at = (clock.now() + timedelta(days=2)).replace(hour=14, minute=30, second=0, microsecond=0)
    known.as_(AGENT).write(schedule_callback, ref=ticket.id, due_at=at, reason="kontrola BIOSu")
    deliver(known, email_senders(smtp))
    (mail,) = smtp.arrived
    assert "Termín zpětného volání:" in mail.body and "14:30 UTC" in mail.body
    assert at.strftime("%Y-%m-%d") not in mail.body
    assert "Téma: kontrola BIOSu" in mail.body


def test_a_supervisors_alert_is_in_the_supervisors_language(known: KnownDesk) -> None:
    known.as_(ADMIN).write(edit_analyst, login=SUPERVISOR, language="pt-BR")
    with known.db.write() as session:
        session.execute(
            update(Analyst).where(Analyst.login == SUPERVISOR).values(email="sam@desk.example")
        )
    ticket = known.ticket(AGENT)
    with known.db.write() as session:
        session.add(
            Notification(
                ticket_id=ticket.id,
                contact_id=None,
                kind="supervisor_alert",
                channel="email",
                recipient="SAM@desk.example",
                context={},
                token="t0ken-supervisor",
                status="pending",
                attempts=0,
                next_attempt_at=clock.now(),
                created_at=clock.now(),
            )
        )
    with known.db.write() as session:
        job = _claim(session, "w1")
    assert job is not None and job.language == "pt-BR"
    # Someone who is not an analyst (an address typed by hand) is written to in English.
    with known.db.read() as session:
        assert _analyst_language(session, "nobody@desk.example") is None
