"""Mail into tickets: a varied bag of real-looking messages (``tests/data/mail``), replies,
loops that must not start, Maildir and mbox, a small IMAP server on loopback, and the CLI."""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import shutil
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from clirun import run_deskterm
from comms_helpers import Mailbox, SmtpServer, email_senders, flat, imap_server, smtp_server
from deskterm.db.models import Contact, MailMessage, Notification, Ticket
from deskterm.desk import mail as mail_module
from deskterm.desk.channels import ImapConfig
from deskterm.desk.mail import (
    MailServerError,
    attachment_content,
    fetch_imap,
    import_message,
    import_paths,
    list_attachments,
    list_mail,
    raw_mail,
)
from deskterm.desk.outbox import deliver_due, list_outbox
from deskterm.desk.tickets import change_status, close, get_ticket, resolve
from deskterm.domain.refs import format_ref
from factories import AGENT, CONTACT_EMAIL, SUPERVISOR, KnownDesk

MAIL = Path(__file__).resolve().parents[1] / "data" / "mail"

#: What each message of the bag becomes.
EXPECTED = {
    "01-plain-utf8.eml": "new_ticket",
    "02-latin1-8bit.eml": "new_ticket",
    "03-html-only.eml": "new_ticket",
    "04-outlook-inline-image.eml": "new_ticket",
    "05-rfc2231-filenames.eml": "new_ticket",
    "06-broken-headers.eml": "new_ticket",
    "07-wrong-charset.eml": "new_ticket",
    "08-auto-reply.eml": "ignored",
    "09-bulk.eml": "ignored",
    "10-bounce.eml": "ignored",
    "11-not-an-email.eml": "kept_aside",
    "12-empty.eml": "kept_aside",
    "13-no-sender.eml": "kept_aside",
    "14-forwarded-broken-base64.eml": "new_ticket",
    "archive.mbox#1": "new_ticket",
    "archive.mbox#2": "new_ticket",
    "archive.mbox#3": "ignored",
}


def name_of(source: str) -> str:
    return source.rsplit("/", 1)[-1]


def imported(known: KnownDesk) -> dict[str, Any]:
    results = import_paths(known.db, [MAIL])
    return {name_of(r.source): r for r in results}


def ticket_of(known: KnownDesk, result: Any):
    assert result.ref, result
    return known.as_(AGENT).read(get_ticket, ref=result.ref)


def count(known: KnownDesk, model: Any) -> int:
    with known.db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def message(
    *,
    sender: str = f"Carol Jones <{CONTACT_EMAIL}>",
    subject: str = "Hello",
    body: str = "Some text.",
    **headers: str,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "help@desk.example"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


# --------------------------------------------------------------------------- the mail bag


def test_a_varied_bag_of_real_mail_is_taken_in_without_loss(known: KnownDesk) -> None:
    results = imported(known)

    assert {name: r.outcome for name, r in results.items()} == EXPECTED
    for name, result in results.items():
        if result.outcome in ("ignored", "kept_aside"):
            assert result.reason and result.ref is None, name
            kept, raw = known.as_(AGENT).read(raw_mail, mail_id=result.mail_id)
            source = MAIL / name.split("#")[0]
            if "#" not in name:
                assert raw == source.read_bytes(), name  # kept as it arrived
            assert kept.outcome == result.outcome
        else:
            ticket = ticket_of(known, result)
            assert ticket.channel == "email" and ticket.group == "Service Desk"
            assert ticket.assignee is None and ticket.status == "new"
    new_tickets = [r for r in results.values() if r.outcome == "new_ticket"]
    assert count(known, Ticket) == len(new_tickets) == 10
    # Each new case is acknowledged; nothing answers the ignored or unreadable ones.
    with known.db.read() as session:
        notices = session.execute(select(Notification.kind, Notification.ticket_id)).all()
    assert sorted(t for _k, t in notices) == sorted(ticket_of(known, r).id for r in new_tickets)
    assert {k for k, _t in notices} == {"created"}
    listed = known.as_(AGENT).read(list_mail)
    assert {m.outcome for m in listed} == {"ignored", "kept_aside"} and len(listed) == 7

    # Importing the same mail again is harmless: every message is recognised.
    mails = count(known, MailMessage)
    again = import_paths(known.db, [MAIL])
    assert {r.outcome for r in again} == {"duplicate"}
    assert count(known, Ticket) == 10 and count(known, MailMessage) == mails


def test_text_is_readable_whatever_the_charset_or_format(known: KnownDesk) -> None:
    results = imported(known)

    def ticket(name: str):
        return ticket_of(known, results[name])

    german = ticket("01-plain-utf8.eml")
    assert german.subject == "Drucker im 2. OG druckt nur leere Seiten"
    assert "seit heute früh" in german.description and "Grüße" in german.description
    spanish = ticket("02-latin1-8bit.eml")
    assert spanish.subject == "Contraseña caducada – no puedo entrar"
    assert "¿Pueden ayudarme?" in spanish.description
    assert "Podrían venir mañana" in ticket("07-wrong-charset.eml").description
    html = ticket("03-html-only.eml").description
    assert "HP M404" in html and "Fuser error 50.2" in html and "Canon C5535" in html
    assert "<" not in html and "alert" not in html and "color: red" not in html
    broken = ticket("06-broken-headers.eml")
    assert broken.subject.startswith("My screen flickers when I open the ERP")
    assert "—" in broken.description
    assert broken.contact_detail is not None
    assert broken.contact_detail.name == "noheaders"  # the undecodable name is dropped
    hostile = ticket("14-forwarded-broken-base64.eml").subject
    assert hostile == "Fwd: licence renewal URGENT"  # escape sequences gone


def test_attachments_are_kept_and_listed_on_the_ticket(known: KnownDesk) -> None:
    results = imported(known)
    outlook = ticket_of(known, results["04-outlook-inline-image.eml"])
    raw = (MAIL / "04-outlook-inline-image.eml").read_bytes()
    parts = {
        p.get_filename(): p.get_payload(decode=True)
        for p in email.message_from_bytes(raw, policy=email.policy.default).walk()
        if p.get_filename()
    }

    files = known.as_(AGENT).read(list_attachments, ref=outlook.ref)

    assert [(f.filename, f.content_type) for f in files] == [
        ("image001.png", "image/png"),  # pasted into the HTML: the customer's screenshot
        ("vpn-log.pdf", "application/pdf"),
    ]
    for item in files:
        meta, content = known.as_(AGENT).read(attachment_content, attachment_id=item.id)
        assert content == parts[item.filename] and meta.size == len(content)
    said = [e for e in outlook.events if e.kind == "customer_message"]
    assert len(said) == 1 and said[0].visibility == "public"
    assert [f["name"] for f in said[0].data["attachments"]] == ["image001.png", "vpn-log.pdf"]
    assert "image001.png" in said[0].summary and "vpn-log.pdf" in said[0].summary

    quote = ticket_of(known, results["05-rfc2231-filenames.eml"])
    names = [f.filename for f in known.as_(AGENT).read(list_attachments, ref=quote.ref)]
    assert names == ["Angebot für Laptops Änderung.docx", "passwd"]  # never a path
    forwarded = ticket_of(known, results["14-forwarded-broken-base64.eml"])
    kept = known.as_(AGENT).read(list_attachments, ref=forwarded.ref)
    assert [(f.filename, f.content_type) for f in kept] == [
        ("Re licence renewal.eml", "message/rfc822"),
        ("trace.bin", "application/octet-stream"),
    ]


def test_senders_become_contacts_and_known_ones_are_matched(known: KnownDesk) -> None:
    results = imported(known)
    bea = ticket_of(known, results["01-plain-utf8.eml"]).contact_detail
    assert bea is not None
    assert (bea.name, bea.email, bea.language) == ("Bea Schülz", "bea.schulz@kunde.example", "de")
    again = ticket_of(known, results["archive.mbox#1"]).contact_detail
    assert again is not None and again.id == bea.id
    carol = ticket_of(known, results["05-rfc2231-filenames.eml"])
    assert carol.contact_id == known.contact_id
    with known.db.read() as session:
        assert session.get(Contact, bea.id).preferred_channel == "email"  # type: ignore[union-attr]


def test_a_maildir_is_read(known: KnownDesk, tmp_path: Path) -> None:
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for name in ("01-plain-utf8.eml", "09-bulk.eml"):
        box.add((MAIL / name).read_bytes())
    box.close()

    results = import_paths(known.db, [tmp_path / "Maildir"])

    assert sorted(r.outcome for r in results) == ["ignored", "new_ticket"]
    assert all("Maildir#" in r.source for r in results)


# --------------------------------------------------------------------------- replies


def test_a_reply_goes_to_its_ticket_and_puts_it_back_to_work(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(
        change_status, ref=ticket.id, status="waiting_customer", reason="Send the error code"
    )
    before = count(known, Notification)
    raw = message(
        sender="Carol Jones <Carol.Jones@ACME.example>",
        subject=f"RE: [{format_ref(ticket.id)}] We need something from you",
        body="The code is 0xC000021A.\n\n> quoted text",
    )

    result = import_message(known.db, raw, source="reply.eml")

    assert (result.outcome, result.ref) == ("reply", format_ref(ticket.id))
    after = known.as_(AGENT).read(get_ticket, ref=ticket.id)
    assert after.status == "in_progress"
    said, woke = after.events[-2:]
    assert said.kind == "customer_message" and said.visibility == "public"
    assert "0xC000021A" in said.data["text"] and said.actor == "system"
    assert (woke.kind, woke.data["from"], woke.data["to"]) == (
        "status_changed",
        "waiting_customer",
        "in_progress",
    )
    assert count(known, Ticket) == 1
    assert count(known, Notification) == before  # a reply is not answered automatically


def test_a_reply_to_one_of_our_messages_is_known_by_its_headers(
    known: KnownDesk, smtp: SmtpServer
) -> None:
    ticket = known.ticket(AGENT, channel="email")
    deliver_due(known.db, email_senders(smtp))
    (ours,) = smtp.arrived
    # A colleague of the customer answers from another address, with the subject rewritten.
    raw = message(
        sender="Dana Deputy <dana@partner.example>",
        subject="Antwort: Ihre Anfrage",
        body="Carol is away, I can help.",
        In_Reply_To=ours.message["Message-ID"],
        References=ours.message["Message-ID"],
    )
    result = import_message(known.db, raw, source="deputy.eml")
    assert (result.outcome, result.ref) == ("reply", format_ref(ticket.id))
    # And their next message, answering their own, stays in the same thread.
    follow = message(
        sender="dana@partner.example",
        subject="one more thing",
        In_Reply_To=ours.message["Message-ID"],
        References=f"{ours.message['Message-ID']} <{'x' * 8}@partner.example>",
    )
    assert import_message(known.db, follow, source="deputy2.eml").ref == format_ref(ticket.id)


def test_our_outgoing_mail_threads_with_the_customers_first_message(
    known: KnownDesk, smtp: SmtpServer
) -> None:
    first = message(subject="Scanner offline", Message_ID="<first-1@acme.example>")
    result = import_message(known.db, first, source="first.eml")
    deliver_due(known.db, email_senders(smtp))
    (ack,) = smtp.arrived
    assert ack.message["In-Reply-To"] == "<first-1@acme.example>"
    assert f"[{result.ref}]" in ack.message["Subject"]
    assert ack.rcpt_tos == [CONTACT_EMAIL]


def test_a_stranger_quoting_a_reference_gets_a_ticket_of_their_own(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    raw = message(
        sender="mallory@elsewhere.example",
        subject=f"Re: [{format_ref(ticket.id)}] please add me",
        body="I have the same problem.",
    )
    result = import_message(known.db, raw, source="stranger.eml")

    assert result.outcome == "new_ticket" and result.ref != format_ref(ticket.id)
    original = known.as_(AGENT).read(get_ticket, ref=ticket.id)
    assert "customer_message" not in [e.kind for e in original.events]
    assert [(link.ref, link.kind) for link in original.links] == [(result.ref, "related")]


def test_a_reply_to_a_closed_ticket_opens_a_linked_one(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(resolve, ref=ticket.id, code="fixed", text="Reseated the RAM.")
    known.as_(AGENT).write(close, ref=ticket.id)
    raw = message(subject=f"Re: [{format_ref(ticket.id)}] resolved", body="It is back.")

    result = import_message(known.db, raw, source="late.eml")

    assert result.outcome == "new_ticket"
    fresh = known.as_(AGENT).read(get_ticket, ref=result.ref)
    assert fresh.contact_id == known.contact_id
    assert [(link.ref, link.kind) for link in fresh.links] == [(format_ref(ticket.id), "related")]
    assert known.as_(AGENT).read(get_ticket, ref=ticket.id).status == "closed"


def test_a_thank_you_to_a_resolved_ticket_does_not_reopen_it(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(resolve, ref=ticket.id, code="fixed", text="Reseated the RAM.")
    raw = message(subject=f"Re: [{format_ref(ticket.id)}] resolved", body="Thanks!")
    assert import_message(known.db, raw, source="thanks.eml").outcome == "reply"
    after = known.as_(AGENT).read(get_ticket, ref=ticket.id)
    assert after.status == "resolved" and after.events[-1].kind == "customer_message"


# --------------------------------------------------------------------------- loops


def test_auto_replies_bounces_and_our_own_mail_start_no_loop(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    ref = format_ref(ticket.id)
    loud = [
        message(subject=f"Automatic reply: [{ref}]", Auto_Submitted="auto-replied"),
        message(subject=f"Out of office [{ref}]", X_Autoreply="yes"),
        message(sender="MAILER-DAEMON@mx.example", subject=f"Undeliverable: [{ref}]"),
        message(subject="news", Precedence="list"),
        message(sender="help@desk.example", subject=f"[{ref}] We have your request"),
        message(subject=f"[{ref}] copy of ours", X_Deskterm_Ticket=ref),
    ]
    results = [
        import_message(
            known.db, raw, source=f"loud-{n}.eml", own_addresses=frozenset({"help@desk.example"})
        )
        for n, raw in enumerate(loud)
    ]
    assert [r.outcome for r in results] == ["ignored"] * len(loud)
    assert results[4].reason == results[5].reason == "sent by this desk"
    assert count(known, Ticket) == 1 and count(known, Notification) == 0
    assert [e.kind for e in known.events(ticket.id)] == ["created"]


def test_a_bounce_of_our_message_is_noted_on_its_ticket(known: KnownDesk, smtp: SmtpServer) -> None:
    ticket = known.ticket(AGENT, channel="email")
    deliver_due(known.db, email_senders(smtp))
    (ours,) = smtp.arrived
    bounce = (
        (MAIL / "10-bounce.eml")
        .read_bytes()
        .replace(b"<DT-000099.0123456789abcdef@desk.example>", ours.message["Message-ID"].encode())
    )
    bounce = bounce.replace(b"<bounce-1@mx.desk.example>", b"<bounce-2@mx.desk.example>")

    result = import_message(known.db, bounce, source="bounce.eml")

    assert result.outcome == "ignored"
    failed = known.events(ticket.id)[-1]
    assert failed.kind == "notification_failed"
    assert "550 5.1.1" in failed.data["reason"]
    (listed,) = known.as_(SUPERVISOR).read(list_outbox)
    assert listed.status == "dead" and "returned it" in (listed.last_error or "")


# --------------------------------------------------------------------------- failures


def test_a_message_that_breaks_the_importer_is_kept_aside(
    known: KnownDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(mail_module, "_new_ticket", broken)
    raw = (MAIL / "01-plain-utf8.eml").read_bytes()

    result = import_message(known.db, raw, source="x.eml")

    assert result.outcome == "kept_aside" and "RuntimeError: disk on fire" in (result.reason or "")
    _record, kept = known.as_(AGENT).read(raw_mail, mail_id=result.mail_id)
    assert kept == raw
    assert count(known, Ticket) == 0 and count(known, Contact) == 1  # nothing half-made


def test_the_same_message_imported_twice_at_once_makes_one_ticket(known: KnownDesk) -> None:
    raw = (MAIL / "02-latin1-8bit.eml").read_bytes()
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def take() -> None:
        start.wait(10)
        outcomes.append(import_message(known.db, raw, source="same.eml").outcome)

    threads = [threading.Thread(target=take) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["duplicate", "new_ticket"]
    assert count(known, Ticket) == 1 and count(known, MailMessage) == 1


# --------------------------------------------------------------------------- IMAP


def test_fetching_from_imap_imports_unseen_mail_and_marks_it_seen(known: KnownDesk) -> None:
    box = Mailbox()
    first = box.add((MAIL / "01-plain-utf8.eml").read_bytes())
    box.add((MAIL / "07-wrong-charset.eml").read_bytes(), seen=True)
    auto = box.add((MAIL / "08-auto-reply.eml").read_bytes())
    flaky = box.add((MAIL / "02-latin1-8bit.eml").read_bytes())
    box.silent.add(flaky)
    with imap_server(box):
        config = ImapConfig(host="127.0.0.1", port=box.port, tls="none", user="desk", password="pw")

        results = fetch_imap(known.db, config)

        assert [(r.outcome, r.source.rsplit("=", 1)[1]) for r in results] == [
            ("new_ticket", str(first)),
            ("ignored", str(auto)),
            ("not_fetched", str(flaky)),
        ]
        assert box.unseen() == [flaky]  # left for the next fetch
        box.silent.clear()
        (later,) = fetch_imap(known.db, config)
        assert later.outcome == "new_ticket" and box.unseen() == []
        assert fetch_imap(known.db, config) == []
        assert count(known, Ticket) == 2

        with pytest.raises(MailServerError, match="login .* refused"):
            fetch_imap(known.db, ImapConfig(**{**config.__dict__, "password": "nope"}))


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):

    monkeypatch.setenv("DESKTERM_DATABASE_URL", db_url)
    monkeypatch.setenv("DESKTERM_CONFIG_FILE", "/nonexistent/deskterm.toml")
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("SMTP_HOST", "IMAP_HOST", "SMS_URL", "MAIL_GROUP", "USER"):
        monkeypatch.delenv(f"DESKTERM_{name}", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        return run_deskterm(monkeypatch, capsys, *args)

    assert (
        run("--as", "ada", "analyst", "add", "ada", "--name", "Ada", "-g", "Service Desk")[0] == 0
    )
    return run


def test_mail_commands(cli: Any, tmp_path: Path) -> None:
    code, _out, err = cli("mail", "import", str(MAIL / "01-plain-utf8.eml"), "/no/such/file.eml")
    assert code == 1 and err.count("\n") == 1 and "no such file or folder" in err
    code, out, _err = cli("--as", "ada", "mail", "list", "--outcome", "all")
    assert code == 0 and "No such mail." in out  # the refusal imported nothing

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(MAIL / "04-outlook-inline-image.eml", inbox / "vpn.eml")
    shutil.copy(MAIL / "12-empty.eml", inbox / "empty.eml")
    code, out, err = cli("mail", "import", str(inbox))
    assert code == 0, err
    assert "new ticket DT-000001" in flat(out) and "kept aside" in out
    assert "2 messages: 1 new ticket, 1 kept aside" in flat(out)

    code, out, _err = cli("--as", "ada", "mail", "attachments", "DT-000001", "--json")
    files = json.loads(out)
    assert [f["filename"] for f in files] == ["image001.png", "vpn-log.pdf"]
    code, out, _err = cli("--as", "ada", "mail", "save", str(files[1]["id"]), "--to", str(tmp_path))
    assert code == 0 and (tmp_path / "vpn-log.pdf").read_bytes().startswith(b"%PDF")
    code, _out, err = cli("--as", "ada", "mail", "save", str(files[1]["id"]), "--to", str(tmp_path))
    assert code == 1 and "exists" in err

    code, out, _err = cli("--as", "ada", "mail", "list", "--json")
    (aside,) = json.loads(out)
    assert aside["outcome"] == "kept_aside" and aside["reason"] == "the file is empty"

    code, _out, err = cli("mail", "fetch")
    assert code == 1 and "IMAP is not configured" in err and err.count("\n") == 1


def test_mail_fetch_from_the_command_line(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    box = Mailbox()
    box.add((MAIL / "03-html-only.eml").read_bytes())
    with imap_server(box):
        for key, value in {
            "HOST": "127.0.0.1",
            "PORT": str(box.port),
            "TLS": "none",
            "USER": "desk",
            "PASSWORD": "pw",
        }.items():
            monkeypatch.setenv(f"DESKTERM_IMAP_{key}", value)
        code, out, err = cli("mail", "fetch")
        assert code == 0, err
        assert "new ticket DT-000001" in flat(out) and "1 message: 1 new ticket" in flat(out)
        monkeypatch.setenv("DESKTERM_IMAP_PASSWORD", "wrong")
        code, _out, err = cli("mail", "fetch")
        assert code == 4 and "refused" in err and err.count("\n") == 1


def test_imported_text_is_printed_literally(known: KnownDesk) -> None:
    raw = message(subject="[bold red]boom[/] \x1b[2J", body="[link=http://x]click[/link]")
    result = import_message(known.db, raw, source="markup.eml")
    ticket = known.as_(AGENT).read(get_ticket, ref=result.ref)
    assert ticket.subject == "[bold red]boom[/]" and "\x1b" not in ticket.subject
    assert ticket.description == "[link=http://x]click[/link]"


def test_ticket_show_prints_the_customers_reply_whole(cli: Any, tmp_path: Path) -> None:
    first = tmp_path / "first.eml"
    first.write_bytes(message(subject="Scanner offline", body="It says offline."))
    assert cli("mail", "import", str(first))[0] == 0
    long_reply = " ".join(["The scanner still shows the same message."] * 6) + " ENDMARK"
    reply = tmp_path / "reply.eml"
    reply.write_bytes(message(subject="Re: [DT-000001] We have your request", body=long_reply))
    assert cli("mail", "import", str(reply))[0] == 0

    code, out, err = cli("--as", "ada", "ticket", "show", "DT-000001")

    assert code == 0, err
    assert "the customer wrote:" in out and "ENDMARK" in flat(out)
