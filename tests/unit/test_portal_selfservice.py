"""The public pages of ``deskterm serve web``, on both databases: the help articles (only
published ones, in ``kb search``'s order, their Markdown rendered without their own HTML),
the contact form (a known address gets a confirmation mail whose link opens one ticket; an
unknown one the same answer and nothing; a trap field, rate limits, csrf) and the SMS
gateway's webhook (a text lands on the sender's open ticket, or opens one)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
import typer
from sqlalchemy import func, select
from starlette.testclient import TestClient
from test_hostile_input import _UNSAFE
from typer.testing import CliRunner

from deskterm.cli.common import State
from deskterm.cli.portal import portal_app
from deskterm.db.models import Contact, Notification, PortalRequest, Ticket
from deskterm.desk import clock, kb
from deskterm.desk.outbox import Senders
from deskterm.desk.portal import CONFIRM_HOURS, deliver_confirmations, link_for
from deskterm.desk.sms_inbound import TEXT_MAX, add_sms_token, remove_sms_token
from deskterm.desk.tickets import change_status, resolve
from deskterm.domain.refs import format_ref
from deskterm.serve.web import CONTACT_LIMIT, SMS_MAX_BODY, RateLimit, WebServer
from factories import AGENT, CONTACT_EMAIL, CONTACT_NAME, SUPERVISOR, KnownDesk

HOSTILE = (
    '<script>alert(1)</script>"><img src=x onerror=alert(2)>[bold]x[/] '
    "{{ 'zz' ~ 'qq' }} "
    "\x1b]0;pwned\x07 \u202eevil"
)
#: The known contact's phone (+44 (20) 7946-0958), as a gateway sends it.
CAROL_NUMBER = "+442079460958"


@pytest.fixture
def server(known: KnownDesk) -> WebServer:
    return WebServer(known.db, base_url="https://help.example")


@pytest.fixture
def client(server: WebServer) -> Iterator[TestClient]:
    with TestClient(server.app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found[1]


def _dead_page(client: TestClient) -> str:
    return client.get("/case/no-such-token").text


# --------------------------------------------------------------------------- help pages


def _article(known: KnownDesk, title: str, body: str, status: str = "published") -> int:
    return (
        known.as_(SUPERVISOR)
        .write(kb.add_article, title=title, body=body, tags="battery", status=status)
        .id
    )


def _titles(page: str) -> list[str]:
    return re.findall(r'<li><a href="/help/[^"]+">([^<]+)</a>', page)


def test_help_finds_only_published_articles_in_the_order_kb_search_gives(
    known: KnownDesk, client: TestClient
) -> None:
    _article(known, "Battery will not charge", "Check the battery charger cable.")
    _article(known, "Docking station", "If the battery icon blinks, reseat the dock.")
    _article(known, "Battery recall (draft)", "Battery battery battery.", status="draft")
    expected = [
        h.title
        for h in known.as_(AGENT).read(kb.search_articles, query="battery", limit=25)
        if h.status == "published"
    ]

    found = client.get("/help", params={"q": "battery"})

    assert found.status_code == 200
    assert _titles(found.text) == expected and len(expected) == 2
    assert "draft" not in found.text
    everything = client.get("/help").text
    assert sorted(_titles(everything)) == ["Battery will not charge", "Docking station"]
    assert "No article matches" in client.get("/help", params={"q": "zebra"}).text
    hostile = client.get("/help", params={"q": HOSTILE}).text
    assert "<script>" not in hostile and "&lt;script&gt;alert(1)" in hostile


def test_an_article_renders_its_markdown_and_never_its_html(
    known: KnownDesk, client: TestClient
) -> None:
    body = (
        "## Steps\n\n1. **Unplug** the charger.\n2. Wait.\n\n"
        f"{HOSTILE}\n\n<iframe src=https://evil.example></iframe>\n\n"
        "[click](javascript:alert(3)) [ok](https://example.com/help)\n"
    )
    article_id = _article(known, HOSTILE[:150], body)

    page = client.get(f"/help/{article_id}")

    assert page.status_code == 200
    text = page.text
    assert "<h2>Steps</h2>" in text and "<strong>Unplug</strong>" in text and "<ol>" in text
    assert "<script" not in text and "<img" not in text and "<iframe" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # in the title and the body
    assert 'href="javascript:' not in text
    assert 'href="https://example.com/help"' in text
    assert "zzqq" not in text
    assert _UNSAFE.search(text.replace("\r", "")) is None
    listed = client.get("/help").text
    path = re.findall(r'href="(/help/[^"]+)"', listed)[0]
    assert path.startswith(f"/help/{article_id}") and client.get(path).status_code == 200
    assert client.get(f"/help/KB-{article_id}").status_code == 200


def test_a_draft_or_missing_article_is_the_same_404_as_a_dead_link(
    known: KnownDesk, client: TestClient
) -> None:
    draft = _article(known, "Internal: admin passwords", "hunter2", status="draft")
    dead = _dead_page(client)
    for path in (f"/help/{draft}", "/help/999999", "/help/not-a-key", f"/help/{draft}x"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.text == dead
        assert "hunter2" not in answer.text and "admin passwords" not in answer.text


# --------------------------------------------------------------------------- contact us


class Mailbox:
    """An email sender that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[tuple[EmailMessage, Sequence[str]]] = []

    def send(self, message: EmailMessage, *, to_addrs: Sequence[str]) -> None:
        self.sent.append((message, list(to_addrs)))

    def close(self) -> None:
        pass


def _contact_form(client: TestClient, **fields: str) -> tuple[int, str]:
    token = _csrf(client.get("/contact").text)
    values = {"email": CONTACT_EMAIL, "subject": "Printer jams", "text": "Every page jams."}
    answer = client.post("/contact", data={"csrf_token": token, **values, **fields})
    return answer.status_code, answer.headers.get("location", answer.text)


def _requests(known: KnownDesk) -> int:
    with known.db.read() as session:
        return session.scalar(select(func.count()).select_from(PortalRequest)) or 0


def _tickets(known: KnownDesk) -> int:
    with known.db.read() as session:
        return session.scalar(select(func.count()).select_from(Ticket)) or 0


def _mailed_link(known: KnownDesk) -> tuple[EmailMessage, str]:
    box = Mailbox()
    done = deliver_confirmations(known.db, Senders(email=box))
    assert [d.outcome for d in done] == ["sent"]
    ((message, to),) = box.sent
    assert to == [CONTACT_EMAIL]
    body = message.get_content()
    found = re.search(r"https://help\.example(/contact/confirm/\S+)", body)
    assert found, body
    return message, found[1]


def test_a_known_contact_confirms_by_mail_and_the_link_opens_one_portal_ticket(
    known: KnownDesk, client: TestClient
) -> None:
    before = _tickets(known)

    status, where = _contact_form(client, email=CONTACT_EMAIL.upper(), subject=HOSTILE[:150])

    assert (status, where) == (303, "/contact?sent=1")
    assert "Please check your mail" in client.get(where).text
    assert _tickets(known) == before  # nothing is opened before the link is
    message, path = _mailed_link(known)
    assert message["Subject"].startswith("Please confirm your request")
    assert CONTACT_NAME in message.get_content()
    assert deliver_confirmations(known.db, Senders(email=Mailbox())) == []  # sent once

    first = client.get(path)

    assert first.status_code == 200
    assert "We have opened case" in first.text
    assert _tickets(known) == before + 1
    with known.db.read() as session:
        ticket = session.scalars(select(Ticket).order_by(Ticket.id.desc()).limit(1)).one()  # type: ignore[union-attr]
        assert (ticket.channel, ticket.contact_id) == ("portal", known.contact_id)
        assert ticket.subject.startswith("<script>alert(1)</script>")
        ref = format_ref(ticket.id or 0)
        created = session.scalars(
            select(Notification).where(Notification.ticket_id == ticket.id)  # type: ignore[arg-type]
        ).all()
        assert [n.kind for n in created] == ["created"]
    case = re.search(r'href="(/case/[^"]+)"', first.text)
    assert case
    page = client.get(case[1])
    assert page.status_code == 200 and "Case opened (portal)" in page.text
    assert "<script>" not in page.text and "&lt;script&gt;alert(1)" in page.text
    again = client.get(path)
    assert again.status_code == 200 and "was already opened" in again.text
    assert ref in again.text
    assert _tickets(known) == before + 1


def test_the_confirmation_speaks_the_contacts_language_and_waits_for_a_mail_server(
    known: KnownDesk, client: TestClient
) -> None:
    with known.db.write() as session:
        contact = session.get(Contact, known.contact_id)
        assert contact is not None
        contact.language = "de"
    _contact_form(client)

    unsent = deliver_confirmations(known.db, Senders(email=None))

    assert [d.outcome for d in unsent] == ["dead"] and "SMTP" in (unsent[0].error or "")
    with known.db.write() as session:
        row = session.scalars(select(PortalRequest)).one()
        row.mail_status, row.next_attempt_at = "pending", clock.now()
    message, path = _mailed_link(known)
    assert message["Subject"].startswith("Bitte bestätigen Sie Ihre Anfrage")
    assert '<html lang="de">' in client.get(path).text


def test_an_unknown_address_gets_the_same_answer_and_nothing_is_kept_or_sent(
    known: KnownDesk, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="deskterm.serve.web"):
        status, where = _contact_form(client, email="stranger@elsewhere.example")

    assert (status, where) == (303, "/contact?sent=1")
    assert _requests(known) == 0
    assert deliver_confirmations(known.db, Senders(email=Mailbox())) == []
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "nothing kept" in said and "stranger@" not in said


def test_the_trap_field_is_accepted_and_dropped(
    known: KnownDesk, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    page = client.get("/contact").text
    assert 'name="website"' in page and 'class="trap"' in page

    with caplog.at_level(logging.INFO, logger="deskterm.serve.web"):
        status, where = _contact_form(client, website="http://spam.example")

    assert (status, where) == (303, "/contact?sent=1")
    assert _requests(known) == 0
    assert "trap field" in "\n".join(r.getMessage() for r in caplog.records)


def test_contact_forms_are_limited_per_client_and_per_address(
    known: KnownDesk, server: WebServer, client: TestClient
) -> None:
    for n in range(CONTACT_LIMIT):
        assert _contact_form(client, email=f"someone{n}@elsewhere.example")[0] == 303
    status, page = _contact_form(client, email="another@elsewhere.example")
    assert status == 429 and "Too many messages" in page

    server.per_client = RateLimit(100, 3600)
    for _n in range(CONTACT_LIMIT):
        assert _contact_form(client)[0] == 303
    assert _contact_form(client, email=CONTACT_EMAIL.upper())[0] == 429
    assert _requests(known) == CONTACT_LIMIT


def test_a_rate_limit_forgets_hits_older_than_its_window() -> None:
    limit = RateLimit(2, 60, keys=2)
    assert limit.allow("a", 0) and limit.allow("a", 1) and not limit.allow("a", 2)
    assert limit.allow("a", 61)
    assert limit.allow("b", 61) and limit.allow("c", 61)
    assert "a" not in limit._hits  # the oldest key forgotten past ``keys``


@pytest.mark.parametrize("csrf", [None, "", "forged.token.value"])
def test_a_contact_form_without_its_csrf_token_is_refused(
    known: KnownDesk, client: TestClient, csrf: str | None
) -> None:
    client.get("/contact")  # the desk's secret exists
    fields = {"email": CONTACT_EMAIL, "subject": "x", "text": "y"}
    if csrf is not None:
        fields["csrf_token"] = csrf

    assert client.post("/contact", data=fields).status_code == 403
    assert _requests(known) == 0
    token = _csrf(client.get("/contact").text)
    cross = client.post(
        "/contact",
        data={**fields, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403 and _requests(known) == 0


def test_a_contact_form_missing_its_words_is_refused_and_keeps_what_was_typed(
    known: KnownDesk, client: TestClient
) -> None:
    status, page = _contact_form(client, text="  ", subject=HOSTILE[:100])

    assert status == 400
    assert "Please write your message first." in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert _contact_form(client, email="not an address")[0] == 400
    assert _requests(known) == 0


def test_a_confirmation_link_changed_or_too_old_is_404(
    known: KnownDesk, client: TestClient
) -> None:
    _contact_form(client)
    _message, path = _mailed_link(known)
    token = path.rsplit("/", 1)[1]
    middle = len(token) - 10
    flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    dead = _dead_page(client)

    assert client.get(f"/contact/confirm/{flipped}").text == dead
    later = clock.now() + timedelta(hours=CONFIRM_HOURS, minutes=1)
    with clock.use_clock(lambda: later):
        answer = client.get(path)
    assert answer.status_code == 404 and answer.text == dead
    assert _requests(known) == 1 and client.get(path).status_code == 200


# --------------------------------------------------------------------------- inbound SMS


@pytest.fixture
def sms_path(known: KnownDesk) -> str:
    return f"/sms/{known.as_(SUPERVISOR).write(add_sms_token).secret}"


def _newest_ticket(known: KnownDesk) -> Ticket:
    with known.db.read() as session:
        found = session.scalars(select(Ticket).order_by(Ticket.id.desc()).limit(1)).one()  # type: ignore[union-attr]
        session.expunge(found)
        return found


def test_a_text_from_a_known_number_lands_on_the_newest_open_ticket(
    known: KnownDesk, client: TestClient, sms_path: str
) -> None:
    older = known.ticket(AGENT, subject="Old problem").id
    newer = known.ticket(AGENT, subject="Printer jams").id
    known.as_(AGENT).write(change_status, ref=newer, status="waiting_customer", reason="Model?")
    before = _tickets(known)

    answer = client.post(sms_path, data={"From": CAROL_NUMBER, "Body": "It is an HP 400."})

    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "outcome": "reply", "ref": format_ref(newer)}
    assert _tickets(known) == before
    message, moved = known.events(newer)[-2:]
    assert (message.kind, message.visibility) == ("customer_message", "public")
    assert (message.data["channel"], message.data["text"]) == ("sms", "It is an HP 400.")
    assert (moved.kind, moved.data["to"]) == ("status_changed", "in_progress")
    assert known.row(newer).sla_paused_at is None
    assert known.events(older)[-1].kind != "customer_message"
    path = urlsplit(
        known.as_(AGENT).write(link_for, ref=newer, base_url="https://help.example").url
    ).path
    assert "It is an HP 400." in client.get(path).text


def test_a_text_from_a_known_number_without_an_open_ticket_opens_an_sms_ticket(
    known: KnownDesk, client: TestClient, sms_path: str
) -> None:
    done = known.ticket(AGENT, subject="Old problem").id
    known.as_(AGENT).write(resolve, ref=done, code="fixed", text="Fixed it.")

    answer = client.post(
        sms_path, json={"number": "020 7946 0958", "message": "Screen flickers\nsince today"}
    )

    assert answer.status_code == 200 and answer.json()["outcome"] == "new_ticket"
    ticket = _newest_ticket(known)
    assert answer.json()["ref"] == format_ref(ticket.id)
    assert (ticket.channel, ticket.contact_id, ticket.subject) == (
        "sms",
        known.contact_id,
        "Screen flickers",
    )
    assert ticket.description == "Screen flickers\nsince today"
    assert known.row(done).status == "resolved"


def test_a_text_from_an_unknown_number_opens_a_ticket_for_a_new_contact(
    known: KnownDesk, client: TestClient, sms_path: str
) -> None:
    answer = client.post(sms_path, data={"msisdn": "+49 30 901820", "text": "Hallo, mein Drucker"})

    assert answer.status_code == 200 and answer.json()["outcome"] == "new_ticket"
    ticket = _newest_ticket(known)
    with known.db.read() as session:
        contact = session.get(Contact, ticket.contact_id)
        assert contact is not None
        assert (contact.name, contact.mobile_e164, contact.preferred_channel) == (
            "+4930901820",
            "+4930901820",
            "sms",
        )
    assert ticket.channel == "sms" and ticket.contact_id != known.contact_id
    again = client.post(sms_path, data={"from": "+4930901820", "text": "Noch da?"})
    assert again.json() == {"ok": True, "outcome": "reply", "ref": format_ref(ticket.id)}


def test_a_bad_or_removed_token_is_404_and_writes_nothing(
    known: KnownDesk, client: TestClient, sms_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = _tickets(known)
    dead = _dead_page(client)
    with caplog.at_level(logging.INFO, logger="deskterm.serve.web"):
        for path in ("/sms/guess", sms_path + "x", "/sms/" + "a" * 500):
            answer = client.post(path, data={"from": CAROL_NUMBER, "text": "hello"})
            assert (answer.status_code, answer.text) == (404, dead)
        huge = client.post("/sms/guess", data={"text": "x" * (SMS_MAX_BODY + 1)})
        assert huge.status_code == 404
        known.as_(SUPERVISOR).write(remove_sms_token, token_id=1)
        assert client.post(sms_path, data={"from": CAROL_NUMBER, "text": "hi"}).status_code == 404
    assert _tickets(known) == before
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /sms/… 404 refused: sms: unknown token" in said
    assert sms_path.rsplit("/", 1)[1] not in said


def test_texts_past_the_limits_or_without_a_number_are_refused(
    known: KnownDesk, client: TestClient, sms_path: str
) -> None:
    before = _tickets(known)
    for fields, status in (
        ({"from": CAROL_NUMBER, "text": "x" * (SMS_MAX_BODY + 1)}, 413),
        ({"from": CAROL_NUMBER, "text": "x" * (TEXT_MAX + 1)}, 400),
        ({"from": "not a number", "text": "hello"}, 400),
        ({"text": "hello"}, 400),
        ({"from": CAROL_NUMBER, "text": " \x1b "}, 400),
    ):
        assert client.post(sms_path, data=fields).status_code == status, fields
    wrong = client.post(sms_path, content=b"from=1", headers={"Content-Type": "text/plain"})
    assert wrong.status_code == 415
    assert client.post(sms_path, json=["not", "an", "object"]).status_code == 400
    assert _tickets(known) == before


def test_a_hostile_text_is_kept_as_text_and_shown_as_text(
    known: KnownDesk, client: TestClient, sms_path: str
) -> None:
    answer = client.post(sms_path, data={"from": CAROL_NUMBER, "text": HOSTILE})
    assert answer.status_code == 200
    ticket = _newest_ticket(known)
    assert "\x1b" not in ticket.description and "\x07" not in ticket.description
    path = urlsplit(
        known.as_(AGENT).write(link_for, ref=ticket.id, base_url="https://help.example").url
    ).path

    page = client.get(path).text

    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "zzqq" not in page
    assert _UNSAFE.search(page.replace("\r", "")) is None


def _cli(known: KnownDesk, login: str, *args: str) -> tuple[int, str]:
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        url = known.db.url.render_as_string(hide_password=False)
        ctx.obj = State(db_url=url, login=login)
        ctx.call_on_close(ctx.obj.close)

    root.add_typer(portal_app, name="portal")
    result = CliRunner().invoke(root, list(args))
    return result.exit_code, result.output


def test_sms_tokens_are_made_listed_and_removed_by_a_supervisor(
    known: KnownDesk, client: TestClient
) -> None:
    code, said = _cli(
        known, SUPERVISOR, "portal", "sms-token", "add", "--base-url", "https://help.example"
    )
    assert code == 0, said
    url = re.search(r"https://help\.example(/sms/\S+)", said)
    assert url
    posted = client.post(url[1], data={"from": CAROL_NUMBER, "text": "hello"})
    assert posted.status_code == 200
    code, said = _cli(known, SUPERVISOR, "portal", "sms-token", "list")
    assert code == 0 and said.startswith("1  ") and url[1].rsplit("/", 1)[1] not in said
    code, said = _cli(known, AGENT, "portal", "sms-token", "add")
    assert code != 0
    code, said = _cli(known, SUPERVISOR, "portal", "sms-token", "remove", "1")
    assert code == 0, said
    assert client.post(url[1], data={"from": CAROL_NUMBER, "text": "hi"}).status_code == 404
