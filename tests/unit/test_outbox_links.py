"""Every message to a customer carries the link to their case page (issue 20), on both
databases: the mail and the text message of a reassignment open the case; the link is the
one ``portal link REF`` prints; ``portal revoke`` kills the link an earlier mail carried;
without ``[web] base_url`` there is no link and the message still goes; the resolved mail
links to the survey; a message to a contact the ticket no longer belongs to opens nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from comms_helpers import SmsGateway, SmtpServer, email_senders, sms_gateway, smtp_server
from deskterm.db.models import Notification, Ticket
from deskterm.desk.channels import load_config
from deskterm.desk.contacts import add_contact
from deskterm.desk.outbox import Senders, deliver_due, notice_context, preview, senders_from_config
from deskterm.desk.portal import link_for, revoke_links
from deskterm.desk.templates import SMS_MAX
from deskterm.desk.tickets import assign, resolve
from deskterm.domain.refs import format_ref
from deskterm.serve.web import WebServer
from factories import ADMIN, AGENT, AGENT2, TECH, KnownDesk

BASE = "https://help.example"
CASE = re.compile(r"https://help\.example/case/[A-Za-z0-9_.-]+")
SURVEY = re.compile(r"https://help\.example/survey/[A-Za-z0-9_.-]+")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with sms_gateway() as server:
        yield server


@pytest.fixture
def client(known: KnownDesk) -> Iterator[TestClient]:
    server = WebServer(known.db, base_url=BASE)
    with TestClient(server.app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def senders(smtp: SmtpServer, gateway: SmsGateway | None = None, **changes: object) -> Senders:
    made = email_senders(smtp)
    if gateway is not None:
        made.sms = gateway.senders().sms
    made.base_url = BASE
    for key, value in changes.items():
        setattr(made, key, value)
    return made


def run(known: KnownDesk, made: Senders) -> list[str]:
    """Deliver what is due; the statuses of the deliveries."""
    try:
        summary = deliver_due(known.db, made)
    finally:
        made.close()
    return [d.status for d in summary.deliveries]


def texter(known: KnownDesk, email: str = "sam@kunde.example") -> int:
    contact = known.as_(ADMIN).write(
        add_contact,
        name="Sam Text",
        email=email,
        mobile="+49 170 1234567",
        preferred_channel="sms",
    )
    assert contact.id is not None
    return contact.id


def reassign(known: KnownDesk, ticket_id: int) -> None:
    known.as_(AGENT).write(assign, ref=ticket_id, to=AGENT2, reason="Bob knows the model")


def payload(url: str) -> str:
    """The signed part of a link that names the ticket, contact and generation (the rest is
    the moment it was signed and the signature)."""
    return urlsplit(url).path.rsplit("/", 1)[1].split(".")[0]


def test_a_reassignment_mail_and_text_carry_the_link_that_opens_the_case(
    known: KnownDesk, smtp: SmtpServer, gateway: SmsGateway, client: TestClient
) -> None:
    by_mail = known.ticket(AGENT, assignee="me")
    by_text = known.ticket(AGENT, assignee="me", contact_id=texter(known))
    reassign(known, by_mail.id)
    reassign(known, by_text.id)

    assert run(known, senders(smtp, gateway)) == ["sent", "sent"]

    (mail,) = smtp.arrived
    (request,) = gateway.requests
    text = request["form"]["text"][0]
    mail_link = CASE.search(mail.body)
    text_link = CASE.search(text)
    assert mail_link is not None and text_link is not None, (mail.body, text)
    # A line of its own in the mail; the end of the text message, whole.
    assert (
        f"You can follow your case and reply to us here: {mail_link[0]}" in mail.body.splitlines()
    )
    assert text.endswith(f"Your case: {text_link[0]}") and len(text) <= SMS_MAX
    for ticket_id, link in ((by_mail.id, mail_link[0]), (by_text.id, text_link[0])):
        page = client.get(urlsplit(link).path)
        assert page.status_code == 200
        assert format_ref(ticket_id) in page.text
        # The same link `portal link REF` prints: same ticket, contact, generation and base.
        printed = known.as_(AGENT).write(link_for, ref=ticket_id, base_url=BASE)
        assert printed.url.startswith(f"{BASE}/case/")
        assert payload(printed.url) == payload(link)
    assert survey_links(mail.body) == []
    # The link is made when the message is sent: none is queued with the change.
    with known.db.read() as session:
        contexts = [n.context for n in session.scalars(select(Notification))]
    assert all(c.get("link") is None and c.get("survey_link") is None for c in contexts)


def survey_links(text: str) -> list[str]:
    return SURVEY.findall(text)


def test_after_portal_revoke_the_link_in_an_earlier_mail_opens_nothing(
    known: KnownDesk, smtp: SmtpServer, client: TestClient
) -> None:
    ticket = known.ticket(AGENT, assignee="me")
    reassign(known, ticket.id)
    run(known, senders(smtp))
    (earlier,) = smtp.arrived
    link = CASE.search(earlier.body)
    assert link is not None
    assert client.get(urlsplit(link[0]).path).status_code == 200

    known.as_(AGENT).write(revoke_links, ref=ticket.id)

    gone = client.get(urlsplit(link[0]).path)
    assert gone.status_code == 404
    assert format_ref(ticket.id) not in gone.text
    # The next message carries a link of the new generation, which works.
    known.as_(AGENT2).write(assign, ref=ticket.id, to=TECH, reason="hardware")
    run(known, senders(smtp))
    later = CASE.search(smtp.arrived[-1].body)
    assert later is not None and payload(later[0]) != payload(link[0])
    assert client.get(urlsplit(later[0]).path).status_code == 200


def test_without_a_base_url_there_is_no_link_and_the_message_still_goes(
    known: KnownDesk, smtp: SmtpServer, gateway: SmsGateway
) -> None:
    by_mail = known.ticket(AGENT, assignee="me")
    by_text = known.ticket(AGENT, assignee="me", contact_id=texter(known))
    reassign(known, by_mail.id)
    reassign(known, by_text.id)

    assert run(known, senders(smtp, gateway, base_url=None)) == ["sent", "sent"]

    (mail,) = smtp.arrived
    (request,) = gateway.requests
    text = request["form"]["text"][0]
    for said in (mail.body, text):
        assert "http" not in said and "/case/" not in said and "None" not in said
    assert "No need to explain it again." in text
    assert "Bob Agent is now looking after your case" in mail.body


def test_the_resolved_mail_links_to_the_survey(
    known: KnownDesk, smtp: SmtpServer, client: TestClient
) -> None:
    ticket = known.ticket(AGENT, assignee="me")
    known.as_(AGENT).write(resolve, ref=ticket.id, code="fixed", text="Replaced the SSD.")

    run(known, senders(smtp))

    (mail,) = smtp.arrived
    (survey,) = survey_links(mail.body)
    case = CASE.search(mail.body)
    assert case is not None and payload(case[0]) == payload(survey)
    page = client.get(urlsplit(survey).path)
    assert page.status_code == 200
    assert format_ref(ticket.id) in page.text
    # One click from the mail: a score in the address is chosen on the page.
    chosen = client.get(f"{urlsplit(survey).path}?csat=5")
    assert chosen.status_code == 200
    assert re.search(r'value="5"[^>]*checked', chosen.text), chosen.text


def test_a_text_whose_link_would_not_fit_goes_without_it(
    known: KnownDesk, smtp: SmtpServer, gateway: SmsGateway
) -> None:
    far = "https://help.example/" + "a-very-long-path/" * 14
    ticket = known.ticket(AGENT, assignee="me", contact_id=texter(known))
    reassign(known, ticket.id)

    assert run(known, senders(smtp, gateway, base_url=far.rstrip("/"))) == ["sent"]

    (request,) = gateway.requests
    text = request["form"]["text"][0]
    assert "http" not in text and not text.endswith("…")
    assert format_ref(ticket.id) in text


def test_a_message_to_the_former_contact_of_a_ticket_carries_no_link(
    known: KnownDesk, smtp: SmtpServer
) -> None:
    ticket = known.ticket(AGENT, assignee="me")
    reassign(known, ticket.id)  # queued for Carol
    other = texter(known, email="someone.else@kunde.example")
    with known.db.write() as session:
        session.execute(update(Ticket).where(Ticket.id == ticket.id).values(contact_id=other))

    assert run(known, senders(smtp)) == ["sent"]

    (mail,) = smtp.arrived
    assert mail.rcpt_tos == ["carol.jones@acme.example"]
    assert "/case/" not in mail.body


def test_the_base_url_comes_from_the_web_table_of_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "deskterm.toml"
    path.write_text(
        '[smtp]\nhost = "mail.example.com"\nfrom = "Desk <desk@example.com>"\n'
        '[web]\nbase_url = "https://help.example.com/"\n'
    )
    config = load_config({}, path)
    assert config.base_url == "https://help.example.com"
    made = senders_from_config(config)
    try:
        assert made.base_url == "https://help.example.com"
    finally:
        made.close()
    assert load_config({}, tmp_path / "none.toml").base_url is None


def test_the_preview_of_a_dialog_shows_no_link() -> None:
    """What an analyst previews is the message's words; the link is added when it is sent."""
    said = preview("assigned", holder="Bo Li", group=None, because="colleague", told=None)
    assert "http" not in said and "Bo Li" in said
    assert (
        notice_context(
            ref="x",
            subject="x",
            name="x",
            holder=None,
            group=None,
            level=1,
            status="x",
            channel="x",
        )["link"]
        is None
    )
