"""Telling the customer: queued with the change, delivered by a real SMTP server on loopback
(aiosmtpd) or an HTTP SMS gateway, retried with backoff, given up with the reason, never
lost and never sent twice by two workers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from clirun import run_deskterm
from comms_helpers import (
    FROM,
    SmsGateway,
    SmtpServer,
    email_senders,
    flat,
    free_port,
    sms_gateway,
    smtp_server,
)
from deskterm.db.engine import Database
from deskterm.db.models import Contact, Notification, Ticket
from deskterm.desk import clock
from deskterm.desk.callbacks import schedule_callback
from deskterm.desk.channels import EmailTransport, load_config
from deskterm.desk.contacts import add_contact
from deskterm.desk.outbox import (
    BACKOFF_CAP,
    LEASE,
    Senders,
    _claim,
    _failed,
    _sent,
    backoff,
    deliver_due,
    list_outbox,
    retry,
)
from deskterm.desk.queue import claim_next
from deskterm.desk.tickets import (
    add_note,
    assign,
    change_status,
    create_ticket,
    escalate,
    log_call,
    reopen,
    resolve,
    set_priority,
)
from deskterm.domain.errors import ConflictError, InvalidInput, NotFound, PermissionDenied
from deskterm.domain.refs import format_ref
from factories import ADMIN, AGENT, SUPERVISOR, TECH, KnownDesk

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at

    def advance(self, step: timedelta) -> None:
        self.at += step


@pytest.fixture
def now() -> Iterator[Clock]:
    moving = Clock(T0)
    with clock.use_clock(moving):
        yield moving


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with sms_gateway() as server:
        yield server


def run(db: Database, senders: Senders, **options: Any):
    try:
        return deliver_due(db, senders, **options)
    finally:
        senders.close()


def rows(known: KnownDesk, ticket_id: int | None = None) -> list[Notification]:
    with known.db.read() as session:
        query = select(Notification).order_by(Notification.id)
        if ticket_id is not None:
            query = query.where(Notification.ticket_id == ticket_id)
        found = list(session.scalars(query))
        session.expunge_all()
        return found


def kinds_of_log(known: KnownDesk, ticket_id: int) -> list[str]:
    return [e.kind for e in known.events(ticket_id)]


# --------------------------------------------------------------------------- what is queued


def test_an_escalation_tells_the_customer_in_words_meant_for_them(
    known: KnownDesk, smtp: SmtpServer
) -> None:
    ticket = known.ticket(AGENT)
    assert rows(known) == []  # opened on the phone: the caller heard it
    known.as_(AGENT).write(
        escalate, ref=ticket.id, level=2, reason="vendor contract lapsed, L1 cannot reimage"
    )
    queued = rows(known)
    assert [(n.kind, n.status, n.channel, n.recipient) for n in queued] == [
        ("escalated", "pending", "email", "carol.jones@acme.example")
    ]
    version = known.row(ticket.id).version

    summary = run(known.db, email_senders(smtp))

    assert [d.status for d in summary.deliveries] == ["sent"]
    (mail,) = smtp.arrived
    ref = format_ref(ticket.id)
    assert mail.rcpt_tos == ["carol.jones@acme.example"]
    assert f"[{ref}]" in mail.message["Subject"]
    assert mail.message["Message-ID"].startswith(f"<{ref}.")
    assert mail.message["Message-ID"].endswith("@desk.example>")
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert "Desktop Support" in mail.body and "Carol Jones" in mail.body
    assert "vendor contract" not in mail.body  # the reason was written for colleagues

    events = known.events(ticket.id)
    assert [e.kind for e in events] == ["created", "note", "escalated", "notification_sent"]
    assert events[1].visibility == "internal"  # the reason, for colleagues
    told = events[-1]
    assert told.visibility == "internal" and told.actor_id is None
    assert told.data["to"] == "carol.jones@acme.example"
    # Telling the customer changes nothing an analyst could overwrite: no new version.
    assert told.ticket_version == version == known.row(ticket.id).version
    (sent,) = rows(known)
    assert sent.status == "sent" and sent.message_id == mail.message["Message-ID"]

    again = run(known.db, email_senders(smtp))
    assert again.deliveries == [] and len(smtp.arrived) == 1


def test_a_reason_marked_for_the_customer_reaches_them(known: KnownDesk, smtp: SmtpServer) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(
        escalate,
        ref=ticket.id,
        level=3,
        reason="RAID controller firmware bug, see vendor case 8812",
        public_reason="An engineer will replace a part in your laptop's storage.",
    )
    run(known.db, email_senders(smtp))
    (mail,) = smtp.arrived
    assert "replace a part in your laptop's storage" in mail.body
    assert "vendor case" not in mail.body
    assert "senior engineers" in mail.message["Subject"]


def test_each_step_the_customer_must_know_sends_one_message(
    known: KnownDesk, smtp: SmtpServer
) -> None:
    ticket = known.ticket(AGENT)
    alice = known.as_(AGENT)
    steps: list[tuple[str, Any, dict[str, Any], list[str]]] = [
        ("internal note", add_note, {"text": "probably the SSD"}, []),
        ("public note", add_note, {"text": "We are looking at it", "public": True}, []),
        ("call", log_call, {"duration_seconds": 60}, []),
        ("priority", set_priority, {"urgency": "high"}, []),
        (
            "waiting",
            change_status,
            {"status": "waiting_customer", "reason": "Please send a photo of the error"},
            ["waiting"],
        ),
        ("back to work", change_status, {"status": "in_progress"}, []),
        (
            "callback",
            schedule_callback,
            {"due_at": clock.now() + timedelta(hours=2), "reason": "check the BIOS together"},
            ["callback"],
        ),
        ("handed on", assign, {"to": TECH, "reason": "Tom knows this model"}, ["assigned"]),
    ]
    for label, action, kwargs, expected in steps:
        before = len(rows(known))
        alice.write(action, ref=ticket.id, **kwargs)
        assert [n.kind for n in rows(known)[before:]] == expected, label
    known.as_(TECH).write(resolve, ref=ticket.id, code="fixed", text="Replaced the SSD.")
    known.as_(TECH).write(reopen, ref=ticket.id, reason="it froze again")
    assert [n.kind for n in rows(known)] == ["waiting", "callback", "assigned", "resolved"]

    run(known.db, email_senders(smtp))

    subjects = [m.message["Subject"] for m in smtp.arrived]
    bodies = [m.body for m in smtp.arrived]
    assert len(smtp.arrived) == 4
    assert "need something from you" in subjects[0]
    assert "Please send a photo of the error" in bodies[0]
    assert "We will call you back" in subjects[1] and "check the BIOS together" in bodies[1]
    assert "Tom Technician is now looking after your case" in subjects[2]
    # The reason for handing it on is internal; the customer reads the fixed words.
    assert "Tom knows this model" not in bodies[2]
    assert "A colleague is taking over" in bodies[2]
    assert "resolved" in subjects[3] and "Replaced the SSD." in bodies[3]
    assert all(f"[{format_ref(ticket.id)}]" in s for s in subjects)
    assert kinds_of_log(known, ticket.id).count("notification_sent") == 4


def test_pulling_a_ticket_from_the_queue_tells_who_has_it(
    known: KnownDesk, smtp: SmtpServer
) -> None:
    ticket = known.ticket(AGENT, group="Desktop Support", channel="email")
    assert [n.kind for n in rows(known)] == ["created"]  # by mail: acknowledged

    claimed = known.as_(TECH).write(claim_next)

    assert claimed.ticket is not None and claimed.ticket.id == ticket.id
    assert [n.kind for n in rows(known)] == ["created", "assigned"]
    run(known.db, email_senders(smtp))
    assert [m.message["Subject"].split("] ", 1)[1] for m in smtp.arrived] == [
        "We have your request: Laptop will not boot",
        "Tom Technician is now looking after your case",
    ]


def test_a_change_that_is_refused_queues_nothing(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(add_note, ref=ticket.id, text="bump the version")
    with pytest.raises(ConflictError):
        known.as_(AGENT).write(
            escalate, ref=ticket.id, level=2, reason="needs L2", expected_version=ticket.version
        )
    with pytest.raises(InvalidInput):
        known.as_(AGENT).write(resolve, ref=ticket.id, code="no-such-code", text="done")
    assert rows(known) == []


def test_the_customer_is_written_to_in_their_language(known: KnownDesk, smtp: SmtpServer) -> None:
    contact = known.as_(ADMIN).write(
        add_contact, name="Jürgen Weiß", email="juergen@kunde.example", language="de-AT"
    )
    ticket = known.ticket(AGENT, contact_id=contact.id)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")
    run(known.db, email_senders(smtp))
    (mail,) = smtp.arrived
    assert "Ihr Anliegen liegt jetzt bei unseren Spezialisten" in mail.message["Subject"]
    assert "Guten Tag Jürgen Weiß" in mail.body
    assert mail.message["To"] == "Jürgen Weiß <juergen@kunde.example>"


def test_a_customer_who_prefers_texts_gets_an_sms(known: KnownDesk, gateway: SmsGateway) -> None:
    contact = known.as_(ADMIN).write(
        add_contact,
        name="Sam Text",
        email="sam@kunde.example",
        mobile="+49 170 1234567",
        preferred_channel="sms",
    )
    ticket = known.ticket(AGENT, contact_id=contact.id)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")

    summary = run(known.db, gateway.senders())

    assert [(d.status, d.channel, d.recipient) for d in summary.deliveries] == [
        ("sent", "sms", "+491701234567")
    ]
    (request,) = gateway.requests
    ref = format_ref(ticket.id)
    assert request["query"]["ref"] == [ref]
    assert request["form"]["to"] == ["+491701234567"]
    assert ref in request["form"]["text"][0] and "Desktop Support" in request["form"]["text"][0]
    assert request["headers"]["Authorization"] == "Bearer s3cret"
    assert request["headers"]["Idempotency-Key"].startswith(f"{ref}.")
    assert known.events(ticket.id)[-1].data["channel"] == "sms"


def test_an_sms_gateway_refusal_is_final_and_an_outage_is_retried(
    known: KnownDesk, gateway: SmsGateway, now: Clock
) -> None:
    contact = known.as_(ADMIN).write(
        add_contact, name="Sam Text", mobile="+49 170 1234567", preferred_channel="sms"
    )
    first = known.ticket(AGENT, contact_id=contact.id)
    second = known.ticket(AGENT, contact_id=contact.id)
    for ticket in (first, second):
        known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")
    gateway.answers = [400, 503]

    summary = run(known.db, gateway.senders())

    dead, retrying = summary.deliveries
    assert dead.status == "dead" and "400" in (dead.reason or "")
    assert retrying.status == "retrying" and "503" in (retrying.reason or "")
    assert kinds_of_log(known, first.id)[-1] == "notification_failed"
    assert kinds_of_log(known, second.id)[-1] == "escalated"  # not given up yet

    now.advance(timedelta(minutes=1))
    later = run(known.db, gateway.senders())
    assert [(d.id, d.status) for d in later.deliveries] == [(retrying.id, "sent")]


def test_a_customer_we_cannot_reach_is_reported_not_forgotten(
    known: KnownDesk, smtp: SmtpServer
) -> None:
    contact = known.as_(ADMIN).write(add_contact, name="Phone Only", phone="+44 20 7946 0000")
    ticket = known.ticket(AGENT, contact_id=contact.id)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")

    summary = run(known.db, email_senders(smtp))

    assert [d.status for d in summary.deliveries] == ["dead"]
    failed = known.events(ticket.id)[-1]
    assert failed.kind == "notification_failed"
    assert "no email address or mobile number" in failed.data["reason"]
    (listed,) = known.as_(SUPERVISOR).read(list_outbox)
    assert listed.status == "dead" and "no email address" in (listed.last_error or "")

    # The address is found at last; a retry looks it up again and the message goes out.
    with known.db.write() as session:
        session.execute(
            update(Contact).where(Contact.id == contact.id).values(email="phone.only@x.example")
        )
    known.as_(SUPERVISOR).write(retry, ids=[listed.id])
    run(known.db, email_senders(smtp))
    assert [m.rcpt_tos for m in smtp.arrived] == [["phone.only@x.example"]]


def test_a_refused_address_is_given_up_at_once(known: KnownDesk, smtp: SmtpServer) -> None:
    contact = known.as_(ADMIN).write(add_contact, name="Gone", email="gone@nowhere.example")
    ticket = known.ticket(AGENT, contact_id=contact.id)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")
    (delivery,) = run(known.db, email_senders(smtp)).deliveries
    assert delivery.status == "dead"
    assert "550" in (delivery.reason or "") and "no such user" in (delivery.reason or "")
    assert rows(known)[0].attempts == 1 and smtp.arrived == []


# --------------------------------------------------------------------------- retries


def test_a_mail_server_that_is_down_is_retried_with_backoff_then_given_up(
    known: KnownDesk, now: Clock
) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")
    down = Senders(
        email=EmailTransport(
            load_config(
                {
                    "DESKTERM_SMTP_HOST": "127.0.0.1",
                    "DESKTERM_SMTP_PORT": str(free_port()),
                    "DESKTERM_SMTP_TLS": "none",
                    "DESKTERM_SMTP_FROM": FROM,
                },
                path=Path("/nonexistent"),
            ).smtp,  # type: ignore[arg-type]
            timeout=2,
        ),
        domain="desk.example",
    )
    waits = []
    for attempt in (1, 2, 3):
        (delivery,) = run(known.db, down, max_attempts=3).deliveries
        (row,) = rows(known)
        assert row.attempts == attempt
        assert "cannot reach SMTP server" in (row.last_error or "")
        if attempt < 3:
            assert delivery.status == "retrying" and row.status == "pending"
            waits.append(row.next_attempt_at - now.at)
            # Not due yet: a second run right away leaves it alone.
            assert run(known.db, down, max_attempts=3).deliveries == []
            now.advance(row.next_attempt_at - now.at)
    assert waits == [timedelta(minutes=1), timedelta(minutes=2)]
    assert delivery.status == "dead" and row.status == "dead"
    failed = known.events(ticket.id)[-1]
    assert failed.kind == "notification_failed" and failed.data["attempts"] == 3

    # The server is back; a supervisor retries, and it goes out once.
    with smtp_server() as smtp:
        (again,) = known.as_(SUPERVISOR).write(retry, all_dead=True)
        assert again.status == "pending" and again.attempts == 0
        run(known.db, email_senders(smtp))
        run(known.db, email_senders(smtp))
        assert len(smtp.arrived) == 1


def test_retrying_is_for_supervisors_and_only_for_what_was_not_sent(
    known: KnownDesk, smtp: SmtpServer
) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")
    (note,) = rows(known)
    with pytest.raises(PermissionDenied):
        known.as_(AGENT).write(retry, ids=[note.id])
    run(known.db, email_senders(smtp))
    with pytest.raises(InvalidInput, match="was sent at"):
        known.as_(SUPERVISOR).write(retry, ids=[note.id])
    with pytest.raises(NotFound):
        known.as_(SUPERVISOR).write(retry, ids=[note.id + 99])
    with pytest.raises(InvalidInput):
        known.as_(SUPERVISOR).write(retry)
    assert [n.status for n in rows(known)] == ["sent"] and len(smtp.arrived) == 1


def test_a_broken_admin_template_stops_its_message_with_the_reason(
    known: KnownDesk, smtp: SmtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    mine = tmp_path / "deskterm" / "templates" / "en" / "escalated.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text(
        "{% block subject %}Moved{% endblock %}{% block body %}Hi {{ nmae }}{% endblock %}"
        "{% block sms %}x{% endblock %}"
    )
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")

    (delivery,) = run(known.db, email_senders(smtp)).deliveries

    assert delivery.status == "dead"
    assert "en/escalated.txt" in (delivery.reason or "") and "nmae" in (delivery.reason or "")
    mine.write_text(
        "{% block subject %}Moved to {{ group }}{% endblock %}"
        "{% block body %}Hi {{ name }}, our own words.{% endblock %}{% block sms %}x{% endblock %}"
    )
    known.as_(SUPERVISOR).write(retry, ids=[delivery.id])
    run(known.db, email_senders(smtp))
    (mail,) = smtp.arrived
    assert mail.message["Subject"] == f"[{format_ref(ticket.id)}] Moved to Desktop Support"
    assert mail.body.strip() == "Hi Carol Jones, our own words."


def test_smtp_login(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")
    with smtp_server(password="right") as smtp:
        (wrong,) = run(known.db, email_senders(smtp, user="desk", password="wrong")).deliveries
        assert wrong.status == "retrying" and "login refused" in (wrong.reason or "")
        with known.db.write() as session:
            session.execute(update(Notification).values(next_attempt_at=clock.now()))
        (right,) = run(known.db, email_senders(smtp, user="desk", password="right")).deliveries
        assert right.status == "sent" and smtp.logins == ["desk"] and len(smtp.arrived) == 1


# --------------------------------------------------------------------------- crashes, races


class Killed(BaseException):
    """The worker process dying: no handler of ours may catch it."""


def test_a_crash_after_the_commit_loses_nothing(known: KnownDesk, smtp: SmtpServer) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")
    # The process that made the change is gone before anything was sent; a worker started
    # later, with its own connection, finds the message and sends it once.
    known.db.dispose()
    fresh = Database(known.db.url)
    try:
        run(fresh, email_senders(smtp))
        run(fresh, email_senders(smtp))
    finally:
        fresh.dispose()
    assert len(smtp.arrived) == 1


def test_a_worker_dying_before_it_sends_leaves_the_message_for_the_next(
    known: KnownDesk, smtp: SmtpServer, now: Clock
) -> None:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")
    with known.db.write() as session:
        claimed = _claim(session, "worker-that-dies")
    assert claimed is not None  # claimed, committed, and then the worker died

    assert run(known.db, email_senders(smtp)).deliveries == []  # its claim still holds
    assert rows(known)[0].status == "sending"
    now.advance(LEASE + timedelta(seconds=1))
    (delivery,) = run(known.db, email_senders(smtp)).deliveries

    assert delivery.status == "sent" and len(smtp.arrived) == 1
    assert rows(known)[0].attempts == 2


def test_a_worker_whose_claim_was_taken_over_reports_it_lost_and_logs_nothing(
    known: KnownDesk, now: Clock
) -> None:
    """A slow worker past its lease finds the row claimed by another: what it sent or failed
    to send is not its to record, and the row stays the other worker's."""
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")
    with known.db.write() as session:
        slow = _claim(session, "slow-worker")
    assert slow is not None
    now.advance(LEASE + timedelta(seconds=1))
    with known.db.write() as session:
        taken = _claim(session, "next-worker")
    assert taken is not None and taken.id == slow.id
    logged = kinds_of_log(known, ticket.id)

    sent = _sent(known.db, slow, "slow-worker", "<late@desk.example>", "Subject", "Body")
    failed = _failed(known.db, slow, "slow-worker", "too late", permanent=True, max_attempts=3)

    assert (sent.status, failed.status) == ("lost", "lost")
    (row,) = rows(known)
    assert (row.status, row.claimed_by, row.message_id) == ("sending", "next-worker", None)
    assert kinds_of_log(known, ticket.id) == logged

    done = _sent(known.db, taken, "next-worker", "<on-time@desk.example>", "Subject", "Body")
    assert done.status == "sent" and rows(known)[0].message_id == "<on-time@desk.example>"
    assert kinds_of_log(known, ticket.id) == [*logged, "notification_sent"]


def test_the_wait_between_tries_doubles_up_to_an_hour() -> None:
    waits = [backoff(attempts) for attempts in range(0, 10)]
    assert waits[:8] == [timedelta(minutes=m) for m in (1, 1, 2, 4, 8, 16, 32, 60)]
    assert waits[8:] == [BACKOFF_CAP, BACKOFF_CAP] and BACKOFF_CAP == timedelta(hours=1)


def test_a_worker_dying_between_send_and_commit_resends_with_the_same_message_id(
    known: KnownDesk, smtp: SmtpServer, now: Clock
) -> None:
    """At least once, never lost: the second copy carries the first one's Message-ID, so a
    mail system that drops duplicates by ID shows the customer one message."""
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")

    class DiesAfterSending:
        def __init__(self) -> None:
            self.real = email_senders(smtp).email

        def send(self, message: Any, *, to_addrs: Any) -> None:
            assert self.real is not None
            self.real.send(message, to_addrs=to_addrs)
            raise Killed

        def close(self) -> None:
            assert self.real is not None
            self.real.close()

    with pytest.raises(Killed):
        run(known.db, Senders(email=DiesAfterSending(), domain="desk.example"))
    assert len(smtp.arrived) == 1 and rows(known)[0].status == "sending"

    assert run(known.db, email_senders(smtp)).deliveries == []
    now.advance(LEASE + timedelta(seconds=1))
    run(known.db, email_senders(smtp))

    first, second = smtp.arrived
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert kinds_of_log(known, ticket.id).count("notification_sent") == 1


def test_two_workers_never_send_the_same_message(known: KnownDesk, smtp: SmtpServer) -> None:
    tickets = [known.ticket(AGENT, subject=f"Problem {n}") for n in range(12)]
    for ticket in tickets:
        known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")
    start = threading.Barrier(2)
    done: dict[str, list[int]] = {}

    def work(name: str) -> None:
        start.wait(10)
        summary = run(known.db, email_senders(smtp), worker=name)
        done[name] = [d.id for d in summary.deliveries if d.status == "sent"]

    workers = [threading.Thread(target=work, args=(f"w{n}",)) for n in (1, 2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)

    ids = [m.message["Message-ID"] for m in smtp.arrived]
    assert len(ids) == len(set(ids)) == 12
    assert sorted(done["w1"] + done["w2"]) == sorted(n.id for n in rows(known))
    assert {n.status for n in rows(known)} == {"sent"}


# --------------------------------------------------------------------------- configuration


def test_settings_come_from_the_file_and_the_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "deskterm.toml"
    path.write_text(
        '[smtp]\nhost = "mail.example.com"\nfrom = "Desk <desk@example.com>"\nuser = "desk"\n'
        '[sms]\nurl = "https://sms.example/send"\n[outbox]\nmax_attempts = 7\n'
    )
    config = load_config({"DESKTERM_SMTP_PASSWORD": "from-env", "DESKTERM_SMTP_PORT": "465"}, path)
    assert config.smtp is not None and config.sms is not None
    assert (config.smtp.host, config.smtp.port, config.smtp.tls) == ("mail.example.com", 465, "tls")
    assert (config.smtp.user, config.smtp.password) == ("desk", "from-env")
    assert config.smtp.domain == "example.com" and config.own_addresses == {"desk@example.com"}
    assert config.max_attempts == 7 and config.imap is None
    assert "from-env" not in repr(config)  # secrets stay out of logs and tracebacks
    default = load_config({"DESKTERM_SMTP_HOST": "m", "DESKTERM_SMTP_FROM": "a@b.c"}, path)
    assert default.smtp is not None and (default.smtp.port, default.smtp.tls) == (587, "starttls")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"DESKTERM_SMTP_HOST": "m"}, "DESKTERM_SMTP_FROM"),
        (
            {"DESKTERM_SMTP_HOST": "m", "DESKTERM_SMTP_FROM": "a@b.c", "DESKTERM_SMTP_PORT": "x"},
            "not a number",
        ),
        (
            {
                "DESKTERM_SMTP_HOST": "m",
                "DESKTERM_SMTP_FROM": "a@b.c",
                "DESKTERM_SMTP_TLS": "maybe",
            },
            "starttls, tls, none",
        ),
        ({"DESKTERM_SMS_URL": "ftp://x"}, "http"),
        ({"DESKTERM_IMAP_HOST": "m"}, "DESKTERM_IMAP_USER"),
    ],
)
def test_bad_settings_are_refused_in_one_line(env: dict[str, str], says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as caught:
        load_config(env, Path("/nonexistent"))
    assert "\n" not in str(caught.value)


def test_a_ticket_without_a_contact_tells_nobody(known: KnownDesk) -> None:
    ticket = known.as_(AGENT).write(create_ticket, subject="Walk-in, name unknown", channel="email")
    known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="Hardware")
    assert rows(known) == []
    with known.db.read() as session:
        assert session.get(Ticket, ticket.id) is not None


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli(known: KnownDesk, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):

    monkeypatch.setenv("DESKTERM_DATABASE_URL", known.db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("DESKTERM_CONFIG_FILE", "/nonexistent/deskterm.toml")
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("SMTP_HOST", "SMTP_PORT", "SMTP_TLS", "SMTP_FROM", "SMS_URL", "USER"):
        monkeypatch.delenv(f"DESKTERM_{name}", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        return run_deskterm(monkeypatch, capsys, *args)

    return run


def test_outbox_commands(
    known: KnownDesk, cli: Any, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = known.ticket(AGENT)
    ref = format_ref(ticket.id)
    code, out, err = cli(
        "--as",
        AGENT,
        "ticket",
        "escalate",
        ref,
        "--level",
        "2",
        "--reason",
        "needs hands",
        "--tell-customer",
        "A technician will visit you today.",
    )
    assert code == 0, err
    code, out, _err = cli("--as", AGENT, "outbox", "list", "--json")
    assert code == 0
    assert [(r["ref"], r["kind"], r["status"]) for r in json.loads(out)] == [
        (ref, "escalated", "pending")
    ]

    code, _out, err = cli("outbox", "run")
    assert code == 1 and err.count("\n") == 1 and "DESKTERM_SMTP_HOST" in err
    assert rows(known)[0].status == "pending"  # refused: nothing was tried

    for key, value in {"HOST": "127.0.0.1", "PORT": str(smtp.port), "TLS": "none"}.items():
        monkeypatch.setenv(f"DESKTERM_SMTP_{key}", value)
    monkeypatch.setenv("DESKTERM_SMTP_FROM", FROM)
    code, out, err = cli("outbox", "run")
    assert code == 0, err
    assert "sent" in out and "1 sent, 0 to retry, 0 dead" in flat(out)
    (mail,) = smtp.arrived
    assert "A technician will visit you today." in mail.body

    code, out, _err = cli("--as", AGENT, "outbox", "list")
    assert "Nothing waiting" in out
    code, out, _err = cli("--as", AGENT, "outbox", "list", "--status", "sent", "--json")
    assert [(r["ref"], r["status"]) for r in json.loads(out)] == [(ref, "sent")]
    code, _out, err = cli("--as", SUPERVISOR, "outbox", "retry", "999")
    assert code == 1 and "no outbox message 999" in err
    code, _out, err = cli("--as", AGENT, "outbox", "retry", "--all-dead")
    assert code == 3 and "supervisor" in err
    code, _out, err = cli("--as", AGENT, "outbox", "list", "--status", "lost")
    assert code == 1 and "unknown status" in err


@pytest.mark.slow
def test_the_worker_keeps_running_until_told_to_stop(
    known: KnownDesk, smtp: SmtpServer, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {
        **os.environ,
        "DESKTERM_DATABASE_URL": known.db.url.render_as_string(hide_password=False),
        "DESKTERM_CONFIG_FILE": str(tmp_path / "none.toml"),
        "DESKTERM_SMTP_HOST": "127.0.0.1",
        "DESKTERM_SMTP_PORT": str(smtp.port),
        "DESKTERM_SMTP_TLS": "none",
        "DESKTERM_SMTP_FROM": FROM,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "deskterm", "outbox", "run", "--watch", "--interval", "0.5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ticket = known.ticket(AGENT)
        known.as_(AGENT).write(escalate, ref=ticket.id, level=2, reason="needs hands")
        deadline = time.monotonic() + 30
        while not smtp.arrived and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
        assert len(smtp.arrived) == 1, worker.stderr.read() if worker.poll() is not None else ""
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert f"sent #1 {format_ref(ticket.id)} email carol.jones@acme.example" in flat(out)
