"""Trust in mail, in and out (issue 13): who sent a mail is read from its address, never
from a display name; `mail raw` never sends a stranger's bytes to a terminal; nothing of a
mail is lost without a word; a reused Message-ID loses no mail; a contact's address is one
that mail goes to exactly, and the relay is told exactly that address."""

from __future__ import annotations

import io
import smtplib
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, inspect, select, text, update

from clirun import run_deskterm
from comms_helpers import SmtpServer, email_senders, smtp_server
from deskterm.db import migrate
from deskterm.db.engine import Database
from deskterm.db.models import Contact, MailAttachment, MailMessage, Notification, Ticket
from deskterm.desk.contacts import add_contact, checked_email
from deskterm.desk.mail import import_message, raw_mail
from deskterm.desk.mailparse import MAX_DEPTH, MAX_FILES, parse_mail
from deskterm.desk.outbox import deliver_due
from deskterm.desk.tickets import get_ticket
from deskterm.domain.errors import InvalidInput
from deskterm.domain.refs import format_ref
from factories import ADMIN, AGENT, CONTACT_EMAIL, KnownDesk

VICTIM = "victim@customer.example"
MALLORY = "mallory@evil.example"
#: The header of the attack, as it was sent.
SPOOFED_FROM = (
    "=?utf-8?q?Vic_Tim=0D=0A_g=3A_victim=40customer=2Eexample=3B?= <mallory@evil.example>"
)


def mail(
    *from_lines: str,
    subject: str = "Re: [DT-000001] your case",
    body: str = "Please send everything to my new address.",
    message_id: str | None = "<spoof-1@evil.example>",
    extra: str = "",
) -> bytes:
    head = "".join(f"From: {line}\r\n" for line in from_lines)
    head += f"To: help@desk.example\r\nSubject: {subject}\r\n"
    if message_id:
        head += f"Message-ID: {message_id}\r\n"
    head += extra + "Content-Type: text/plain; charset=utf-8\r\n"
    return (head + "\r\n" + body + "\r\n").encode()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def victims_case(known: KnownDesk) -> int:
    """DT-000001, the case of the customer the attacker names (opened on the phone, so it
    sends no mail of its own)."""
    victim = known.as_(ADMIN).write(add_contact, name="Vic Tim", email=VICTIM)
    ticket = known.ticket(AGENT, contact_id=victim.id)
    assert format_ref(ticket.id) == "DT-000001"
    return ticket.id


def customer_messages(known: KnownDesk, ticket_id: int) -> list[Any]:
    return [e for e in known.events(ticket_id) if e.kind == "customer_message"]


def count(known: KnownDesk, model: Any) -> int:
    with known.db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --------------------------------------------------------------------------- 1. the sender


def test_the_sender_is_the_angle_address_not_a_decoded_display_name() -> None:
    parsed = parse_mail(mail(SPOOFED_FROM))
    assert parsed.from_address == MALLORY
    assert parsed.sender_problem is None
    # A display name dressed up as another sender is not kept as a name either.
    assert parsed.from_name is None


def test_a_spoofed_display_name_never_writes_into_another_customers_case(
    known: KnownDesk, victims_case: int, smtp: SmtpServer
) -> None:
    result = import_message(known.db, mail(SPOOFED_FROM), source="spoof.eml")

    assert result.outcome == "new_ticket" and result.from_address == MALLORY
    assert result.ref != format_ref(victims_case)
    assert customer_messages(known, victims_case) == []
    opened = known.as_(AGENT).read(get_ticket, ref=result.ref)
    caller = opened.contact_detail
    assert caller is not None and caller.email == MALLORY and VICTIM not in caller.name

    # The acknowledgement goes to the sender the mail system vouched for, and only there.
    deliver_due(known.db, email_senders(smtp))
    assert [a.rcpt_tos for a in smtp.arrived] == [[MALLORY]]


@pytest.mark.parametrize(
    ("from_lines", "why"),
    [
        # An encoded word inside a group: a group is no sender.
        (
            ("g: =?utf-8?q?Vic_Tim=0D=0A?= <victim@customer.example>, <mallory@evil.example>;",),
            "group",
        ),
        (
            (
                "=?utf-8?q?Vic=0D=0A_g=3A_victim=40customer=2Eexample=3B?= "
                "g2: <mallory@evil.example>;",
            ),
            "group",
        ),
        (("mallory@evil.example, victim@customer.example",), "2 addresses"),
        (("victim@customer.example", "mallory@evil.example"), "2 From lines"),
        (("victim@customer.example)<mallory@evil.example>",), "unambiguously"),
    ],
)
def test_a_from_that_names_no_single_sender_is_kept_aside(
    known: KnownDesk,
    victims_case: int,
    smtp: SmtpServer,
    from_lines: tuple[str, ...],
    why: str,
) -> None:
    result = import_message(known.db, mail(*from_lines), source="many.eml")

    assert result.outcome == "kept_aside" and result.ref is None
    assert result.reason and why in result.reason
    assert customer_messages(known, victims_case) == []
    assert count(known, Ticket) == 1 and count(known, Notification) == 0
    deliver_due(known.db, email_senders(smtp))
    assert smtp.arrived == []
    # Kept whole, for an analyst to read.
    _record, raw = known.as_(AGENT).read(raw_mail, mail_id=result.mail_id)
    assert raw == mail(*from_lines)


def test_the_real_customer_still_replies_by_reference(known: KnownDesk, victims_case: int) -> None:
    sender = "=?utf-8?q?Vic_T=C3=ADm?= <Victim@Customer.example>"
    result = import_message(known.db, mail(sender), source="real.eml")
    assert (result.outcome, result.ref) == ("reply", format_ref(victims_case))
    assert len(customer_messages(known, victims_case)) == 1


def test_a_customers_message_id_threads_only_their_own_replies(known: KnownDesk) -> None:
    # The customer's own Message-ID is seen by everyone on Cc: quoting it in In-Reply-To is
    # no proof of who writes. A stranger gets a ticket of their own, linked; the customer and
    # their colleagues still thread into the case.
    opened = import_message(
        known.db,
        mail(VICTIM, subject="Printer jams", message_id="<victim-1@customer.example>"),
        source="first.eml",
    )
    assert opened.outcome == "new_ticket"
    case = known.as_(AGENT).read(get_ticket, ref=opened.ref)
    said = len(customer_messages(known, case.id))
    reply_to = "In-Reply-To: <victim-1@customer.example>\r\n"

    stranger = import_message(
        known.db,
        mail(MALLORY, subject="Re: Printer jams", message_id="<m-1@evil.example>", extra=reply_to),
        source="stranger.eml",
    )
    assert stranger.outcome == "new_ticket" and stranger.ref != opened.ref
    assert len(customer_messages(known, case.id)) == said
    assert any(e.kind == "linked" for e in known.events(case.id))

    own = import_message(
        known.db,
        mail(
            VICTIM,
            subject="Re: Printer jams",
            message_id="<victim-2@customer.example>",
            extra=reply_to,
        ),
        source="own.eml",
    )
    assert (own.outcome, own.ref) == ("reply", opened.ref)
    assert len(customer_messages(known, case.id)) == said + 1


# --------------------------------------------------------------------------- 5. mail raw


HOSTILE_BYTES = (
    b"\x1b]0;pwned\x07"  # window title
    b"\x1b]52;c;ZWNobyBoaQ==\x07"  # clipboard write
    b"\x1b[2J\x1b[H"  # clear the screen
    + "\u009b31m \u202e reversed".encode()  # C1 CSI, as UTF-8; a bidi override
    + b" \xff\xfe not UTF-8 \x00\x08\x7f"
)


class _Stdout(io.TextIOWrapper):
    """Standard output, a terminal or not, whose bytes a test can read."""

    def __init__(self, tty: bool) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty

    def written(self) -> bytes:
        self.flush()
        assert isinstance(self.buffer, io.BytesIO)
        return self.buffer.getvalue()


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("DESKTERM_DATABASE_URL", db_url)
    monkeypatch.setenv("DESKTERM_CONFIG_FILE", "/nonexistent/deskterm.toml")
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("SMTP_HOST", "IMAP_HOST", "SMS_URL", "MAIL_GROUP", "USER"):
        monkeypatch.delenv(f"DESKTERM_{name}", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        return run_deskterm(monkeypatch, capsys, *args)

    assert run("--as", "ada", "analyst", "add", "ada", "--name", "Ada")[0] == 0
    return run


def _raw_to(
    monkeypatch: pytest.MonkeyPatch, cli: Any, mail_id: int, *, tty: bool
) -> tuple[int, bytes, str]:
    stdout = _Stdout(tty)
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", stdout)
        code, _out, err = cli("--as", "ada", "mail", "raw", str(mail_id))
    return code, stdout.written(), err


def _import(db_url: str, raw: bytes) -> Any:
    db = Database(db_url)
    try:
        return import_message(db, raw, source="hostile.eml")
    finally:
        db.dispose()


def test_mail_raw_never_sends_control_bytes_to_a_terminal(
    cli: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = mail("Eve <eve@evil.example>", subject="x", message_id=None, extra="X: y\r\n")
    raw = raw.replace(b"Please send", HOSTILE_BYTES + b"\r\nPlease send")
    result = _import(db_url, raw)

    code, shown, err = _raw_to(monkeypatch, cli, result.mail_id, tty=True)

    assert code == 0
    for unsafe in (b"\x1b", b"\x07", b"\x00", b"\x08", b"\x7f", "\u009b".encode()):
        assert unsafe not in shown
    assert "\u202e".encode() not in shown
    text = shown.decode()
    # Shown, escaped, so the analyst sees what the stranger tried.
    assert "\\x1b]52;c;ZWNobyBoaQ==\\x07" in text and "\\x9b31m" in text and "\\u202e" in text
    assert "\\xff\\xfe not UTF-8" in text and "Please send" in text
    assert err.count("\n") == 1 and f"deskterm mail raw {result.mail_id} > " in err


def test_mail_raw_to_a_file_or_pipe_writes_the_exact_bytes(
    cli: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = mail("Eve <eve@evil.example>", subject="x").replace(b"Please", HOSTILE_BYTES)
    result = _import(db_url, raw)
    assert result.outcome == "new_ticket"  # in a ticket, and still kept as it arrived

    code, written, err = _raw_to(monkeypatch, cli, result.mail_id, tty=False)

    assert (code, written, err) == (0, raw, "")


def test_mail_raw_says_plainly_when_an_old_message_was_not_kept(
    cli: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _import(db_url, mail("Eve <eve@evil.example>", subject="x"))
    db = Database(db_url)
    try:
        with db.write() as session:  # as mail imported before revision 0009 was stored
            session.execute(update(MailMessage).values(raw=None))
    finally:
        db.dispose()

    code, written, err = _raw_to(monkeypatch, cli, result.mail_id, tty=False)

    assert code == 1 and written == b"" and err.count("\n") == 1
    assert "before deskterm kept every message" in err and "kept there" not in err


def test_escaping_for_a_terminal_leaves_no_control_character() -> None:
    from deskterm.cli.comms import escaped_for_terminal

    every = bytes(range(256)) + "".join(map(chr, range(0x80, 0xA0))).encode()
    shown = escaped_for_terminal(every + "\u2066\u2069\u200f".encode())
    unsafe = [
        ch for ch in shown if ch not in "\n\t" and (ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F)
    ]
    assert unsafe == []
    assert not set(shown) & set("\u202a\u202b\u202c\u202d\u202e\u2066\u2069\u200f")


# --------------------------------------------------------------------------- 6. no silent loss


def _nested(depth: int, leaf: str) -> str:
    part = leaf
    for level in range(depth):
        boundary = f"b{level}"
        part = (
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n{part}\r\n--{boundary}--\r\n"
        )
    return part


def _mime(body: str) -> bytes:
    head = (
        "From: Carol Jones <carol.jones@acme.example>\r\nTo: help@desk.example\r\n"
        "Subject: Deep\r\nMIME-Version: 1.0\r\n"
    )
    return (head + body).encode()


def _notes(known: KnownDesk, ticket_id: int) -> list[str]:
    return [e.data["text"] for e in known.events(ticket_id) if e.kind == "note"]


def test_text_deep_in_a_mail_is_read(known: KnownDesk) -> None:
    leaf = "Content-Type: text/plain\r\n\r\nThe printer on floor 3 jams.\r\n"
    result = import_message(known.db, _mime(_nested(30, leaf)), source="deep.eml")

    ticket = known.as_(AGENT).read(get_ticket, ref=result.ref)
    assert "floor 3 jams" in ticket.description
    assert _notes(known, ticket.id) == []  # all of it shown: nothing to say


def test_parts_too_deep_or_too_many_are_named_in_the_log(known: KnownDesk) -> None:
    files = "".join(
        f"--outer\r\nContent-Type: application/octet-stream\r\n"
        f'Content-Disposition: attachment; filename="f{n}.bin"\r\n\r\nbytes {n}\r\n'
        for n in range(MAX_FILES + 100)
    )
    deep = _nested(MAX_DEPTH + 5, "Content-Type: text/plain\r\n\r\nBuried.\r\n")
    body = (
        'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
        "--outer\r\nContent-Type: text/plain\r\n\r\nSee the files.\r\n"
        f"{files}--outer\r\n{deep}\r\n--outer--\r\n"
    )
    raw = _mime(body)
    result = import_message(known.db, raw, source="many.eml")

    ticket = known.as_(AGENT).read(get_ticket, ref=result.ref)
    assert "See the files." in ticket.description
    with known.db.read() as session:
        stored = session.scalar(select(func.count()).where(MailAttachment.ticket_id == ticket.id))
    assert stored == MAX_FILES
    (note,) = _notes(known, ticket.id)
    assert "100 files past the first 500" in note
    assert f"1 part nested deeper than {MAX_DEPTH} levels" in note
    assert f"deskterm mail raw {result.mail_id}" in note
    # And the message is there whole, for whoever needs the rest.
    _record, kept = known.as_(AGENT).read(raw_mail, mail_id=result.mail_id)
    assert kept == raw


def test_every_message_is_kept_as_it_arrived(known: KnownDesk) -> None:
    raw = mail(f"Carol Jones <{CONTACT_EMAIL}>", subject="Short", body="Hello.")
    result = import_message(known.db, raw, source="short.eml")
    assert result.outcome == "new_ticket"
    record, kept = known.as_(AGENT).read(raw_mail, mail_id=result.mail_id)
    assert kept == raw and record.ref == result.ref


# --------------------------------------------------------------------------- 7. Message-IDs


def test_a_reused_message_id_loses_no_mail(known: KnownDesk) -> None:
    first = mail(f"Carol Jones <{CONTACT_EMAIL}>", subject="Printer", body="It jams.")
    assert import_message(known.db, first, source="a.eml").outcome == "new_ticket"

    # The same mail again, however it came (CRLF from IMAP, LF from an mbox file).
    for again in (first, first.replace(b"\r\n", b"\n")):
        assert import_message(known.db, again, source="again.eml").outcome == "duplicate"

    # The same Message-ID from someone else, or with other words: a mail of its own.
    stranger = mail("Eve <eve@evil.example>", subject="Printer", body="It jams.")
    other = mail(f"Carol Jones <{CONTACT_EMAIL}>", subject="Printer", body="Now it smokes.")
    for raw in (stranger, other):
        assert import_message(known.db, raw, source="b.eml").outcome == "new_ticket"
    assert count(known, Ticket) == 3


def test_mail_imported_before_the_digest_is_still_recognised(known: KnownDesk) -> None:
    raw = mail(f"Carol Jones <{CONTACT_EMAIL}>", subject="Old", message_id="<old-1@acme.example>")
    result = import_message(known.db, raw, source="old.eml")
    with known.db.write() as session:  # as revision 0008 stored it
        session.execute(
            update(MailMessage)
            .where(MailMessage.id == result.mail_id)
            .values(dedup_key="id:<old-1@acme.example>", content_digest=None, raw=None)
        )

    assert import_message(known.db, raw, source="old.eml").outcome == "duplicate"
    stranger = mail("Eve <eve@evil.example>", subject="Old", message_id="<old-1@acme.example>")
    assert import_message(known.db, stranger, source="eve.eml").outcome == "new_ticket"


# --------------------------------------------------------------------------- 8. addresses


@pytest.mark.parametrize(
    "loose",
    [
        '"x"<victim@b.example>',
        "x <victim@b.example>",
        '"x"@b.example',
        "victim@b.example, other@c.example",
        "victim@[127.0.0.1]",
        "victim@b.example\x1b[2J",
        "victim@localhost",
    ],
)
def test_a_loose_contact_address_is_refused(known: KnownDesk, loose: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        known.as_(ADMIN).write(add_contact, name="X", email=loose)
    assert refused.value.field == "email" and "is not an email address" in str(refused.value)
    assert "\n" not in str(refused.value) and "\x1b" not in str(refused.value)


def test_contact_addresses_are_stored_normalised(known: KnownDesk) -> None:
    added = known.as_(ADMIN).write(add_contact, name="Bea", email="  Bea.Schulz@Kunde.EXAMPLE ")
    assert added.email == "bea.schulz@kunde.example"
    assert checked_email("") is None


def test_the_cli_refuses_a_loose_address_in_one_line(cli: Any) -> None:
    code, _out, err = cli(
        "--as", "ada", "contact", "add", "--name", "X", "--email", '"x"<v@b.example>'
    )
    assert code == 1 and err.count("\n") == 1 and "is not an email address" in err


def test_a_stored_loose_address_fails_its_message_instead_of_sending(
    known: KnownDesk, smtp: SmtpServer
) -> None:
    ticket = known.ticket(AGENT, channel="email")
    with known.db.write() as session:  # stored before addresses were checked
        session.execute(
            update(Contact)
            .where(Contact.id == known.contact_id)
            .values(email='"x"<victim@b.example>')
        )

    summary = deliver_due(known.db, email_senders(smtp))

    assert smtp.arrived == []
    (delivery,) = summary.deliveries
    assert delivery.status == "dead" and "cannot be sent to exactly" in (delivery.reason or "")
    failed = [e for e in known.events(ticket.id) if e.kind == "notification_failed"]
    assert len(failed) == 1 and "outbox retry" in failed[0].data["reason"]


def test_the_relay_is_given_exactly_the_address_the_log_names(
    known: KnownDesk, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelopes: list[Any] = []
    real = smtplib.SMTP.send_message

    def recording(self: smtplib.SMTP, msg: Any, *args: Any, **kwargs: Any) -> Any:
        envelopes.append(kwargs.get("to_addrs"))
        return real(self, msg, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "send_message", recording)
    ticket = known.ticket(AGENT, channel="email")

    deliver_due(known.db, email_senders(smtp))

    (sent,) = [e for e in known.events(ticket.id) if e.kind == "notification_sent"]
    assert envelopes == [[CONTACT_EMAIL]] and sent.data["to"] == CONTACT_EMAIL
    assert [a.rcpt_tos for a in smtp.arrived] == [[CONTACT_EMAIL]]


# --------------------------------------------------------------------------- the migration


def _alembic(db: Database, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    url = db.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, action)(config, revision)


def _columns(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns("mail_message")}


def test_migration_0009_upgrades_and_downgrades(db_url: str) -> None:
    db = Database(db_url)
    try:
        migrate.upgrade(db, "0008_ticket_search")
        assert "content_digest" not in _columns(db)
        migrate.upgrade(db)
        assert "content_digest" in _columns(db)
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO mail_message (dedup_key, source, received_at, outcome, size, "
                    "content_digest) VALUES ('k', 's', CURRENT_TIMESTAMP, 'ignored', 0, 'd')"
                )
            )
        _alembic(db, "downgrade", "0008_ticket_search")
        assert "content_digest" not in _columns(db)
        assert migrate.schema_state(db).revision == "0008_ticket_search"
        migrate.upgrade(db)
        assert migrate.schema_state(db).current
    finally:
        db.dispose()
