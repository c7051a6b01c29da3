"""Mail replies in the log: the new part shown, quotes and signatures folded, the whole kept.

The mails are in ``tests/reply_mails.py``: Gmail, Outlook, Thunderbird and Apple Mail in
English, German, Portuguese and Czech, top-posted and answered inline, forwarded on purpose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clirun import run_deskterm
from comms_helpers import flat
from deskterm.desk.customer import customer_view
from deskterm.desk.mail import import_message, raw_mail
from deskterm.desk.mailfold import fold_reply
from deskterm.desk.tickets import get_ticket
from deskterm.domain.refs import format_ref
from factories import AGENT, CONTACT_EMAIL, KnownDesk
from reply_mails import (
    CASES,
    GMAIL_PT_BR,
    INLINE_EN,
    OUTLOOK_DE,
    SIGNATURE_ONLY,
    THUNDERBIRD_CS,
    Reply,
    as_mail,
)

# --------------------------------------------------------------------------- the split


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_client_reply_keeps_the_new_words_and_folds_the_rest(case: Reply) -> None:
    folded = fold_reply(case.text, subject=case.subject)

    for words in case.shown:
        assert words in folded.text, f"{words!r} lost from {case.name}"
    for words in case.folded:
        assert words not in folded.text, f"{words!r} still shown in {case.name}"
    assert folded.lines >= case.at_least
    if folded.lines == 0:
        assert folded.text == case.text


def test_inline_answers_keep_every_answer_beside_its_question() -> None:
    folded = fold_reply(INLINE_EN.text, subject=INLINE_EN.subject)

    assert folded.text.splitlines() == [
        "> 1. Which printer is it (the label on its front)?",
        "",
        "HP LaserJet 4000, label PRN-3-07.",
        "",
        "> 2. Since when does it fail?",
        "",
        "Since Monday morning, after the power cut.",
        "",
        "> 3. Do your colleagues on floor 3 have the same problem?",
        "",
        "Yes, all of them.",
    ]


def test_a_separator_in_a_long_text_is_not_a_signature() -> None:
    text = "First part.\n--\n" + "\n".join(f"Step {n}: do this." for n in range(1, 30))

    assert fold_reply(text).text == text


def test_lines_keep_their_indentation() -> None:
    text = "The log says:\n    at Foo.bar(Foo.java:12)\n\n> old question\n"

    assert fold_reply(text).text == "The log says:\n    at Foo.bar(Foo.java:12)"


@given(st.text(alphabet=st.sampled_from("ab >-:\nOnwrote@1"), max_size=200))
def test_folding_never_leaves_a_mail_with_words_empty(text: str) -> None:
    folded = fold_reply(text)

    if text.strip(" >\n"):
        assert folded.text.strip()
    assert (folded.lines == 0) == (folded.text == text)


# --------------------------------------------------------------------------- into the log


def _reply_to(known: KnownDesk, ref: int, case: Reply) -> Any:
    raw = as_mail(
        case.text,
        subject=f"Re: [{format_ref(ref)}] Printer offline",
        sender=f"Carol Jones <{CONTACT_EMAIL}>",
    )
    return import_message(known.db, raw, source=f"{case.name}.eml"), raw


@pytest.mark.parametrize("case", [GMAIL_PT_BR, OUTLOOK_DE, THUNDERBIRD_CS], ids=lambda c: c.name)
def test_a_reply_logs_its_new_part_and_keeps_the_whole_text(known: KnownDesk, case: Reply) -> None:
    ticket = known.ticket(AGENT)

    result, raw = _reply_to(known, ticket.id, case)

    assert result.outcome == "reply"
    said = known.as_(AGENT).read(get_ticket, ref=ticket.id).events[-1]
    assert said.kind == "customer_message"
    for words in case.shown:
        assert words in said.data["text"]
    assert "restarted the print server" not in said.data["text"]
    assert said.data["full_text"].strip() == case.text.strip()
    assert said.data["folded"] >= 6
    _kept, stored = known.as_(AGENT).read(raw_mail, mail_id=result.mail_id)
    assert stored == raw  # the message itself, as it arrived


def test_a_reply_with_nothing_to_fold_is_logged_as_before(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    plain = Reply("plain", "It works now.\nThank you.\n", shown=())

    _reply_to(known, ticket.id, plain)

    said = known.as_(AGENT).read(get_ticket, ref=ticket.id).events[-1]
    assert said.data["text"] == "It works now.\nThank you."
    assert "full_text" not in said.data and "folded" not in said.data


def test_a_new_tickets_mail_folds_its_signature_and_keeps_what_is_forwarded(
    known: KnownDesk,
) -> None:
    signed = import_message(
        known.db,
        as_mail(SIGNATURE_ONLY.text, subject=SIGNATURE_ONLY.subject),
        source="signed.eml",
    )
    forwarded_case = next(c for c in CASES if c.name == "gmail-forwarded-on-purpose")
    forwarded = import_message(
        known.db,
        as_mail(forwarded_case.text, subject=forwarded_case.subject),
        source="forwarded.eml",
    )

    first = known.as_(AGENT).read(get_ticket, ref=signed.ref)
    assert "power light blinks orange" in first.description
    assert "www.acme.example" not in first.description
    (opening,) = [e for e in first.events if e.kind == "customer_message"]
    assert "www.acme.example" in opening.data["full_text"] and opening.data["folded"] == 4
    second = known.as_(AGENT).read(get_ticket, ref=forwarded.ref)
    assert "Your licence server certificate expired" in second.description
    assert "Our licence server stopped answering." in second.description


def test_the_customer_sees_only_the_new_part(known: KnownDesk) -> None:
    ticket = known.ticket(AGENT)
    _reply_to(known, ticket.id, GMAIL_PT_BR)

    view = known.as_(AGENT).read(customer_view, ref=ticket.id)

    (mail,) = [e for e in view.entries if e.kind == "customer_message"]
    assert "a impressora continua offline" in mail.text
    assert "restarted the print server" not in mail.text and "escreveu" not in mail.text


# --------------------------------------------------------------------------- ticket show


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


def test_ticket_show_folds_quotes_and_full_unfolds_them(cli: Any, tmp_path: Path) -> None:
    first = tmp_path / "first.eml"
    first.write_bytes(as_mail(SIGNATURE_ONLY.text, subject=SIGNATURE_ONLY.subject))
    assert cli("mail", "import", str(first))[0] == 0
    reply = tmp_path / "reply.eml"
    reply.write_bytes(as_mail(INLINE_EN.text, subject="Re: [DT-000001] Laptop"))
    assert cli("mail", "import", str(reply))[0] == 0

    code, out, err = cli("--as", "ada", "ticket", "show", "DT-000001")

    assert code == 0, err
    shown = flat(out)
    assert "power light blinks orange" in shown and "www.acme.example" not in shown
    assert "… 4 quoted lines folded (ticket show DT-000001 --full)" in shown
    assert "Since Monday morning, after the power cut." in shown
    assert "a few questions so we can find the fault" not in shown
    assert "… 9 quoted lines folded (ticket show DT-000001 --full)" in shown

    code, out, err = cli("--as", "ada", "ticket", "show", "DT-000001", "--full")

    assert code == 0, err
    shown = flat(out)
    assert "www.acme.example" in shown and "a few questions so we can find the fault" in shown
    assert "folded" not in shown

    code, out, err = cli("--as", "ada", "ticket", "show", "DT-000001", "--customer")

    assert code == 0, err
    shown = flat(out)
    assert "Since Monday morning, after the power cut." in shown
    assert "a few questions so we can find the fault" not in shown and "ACME Ltd." not in shown


def test_an_html_only_outlook_reply_is_folded_too(known: KnownDesk) -> None:
    from email.message import EmailMessage

    ticket = known.ticket(AGENT)
    msg = EmailMessage()
    msg["From"] = f"Carol Jones <{CONTACT_EMAIL}>"
    msg["To"] = "help@desk.example"
    msg["Subject"] = f"RE: [{format_ref(ticket.id)}] Printer offline"
    msg.set_content(
        "<html><body><div>Hi Ana,</div><div>still broken.</div>"
        '<div id="divRplyFwdMsg"><hr><b>From:</b> Service Desk &lt;help@desk.example&gt;<br>'
        "<b>Sent:</b> Tuesday, March 3, 2026 10:02 AM<br><b>To:</b> Carol Jones<br>"
        "<b>Subject:</b> RE: Printer offline</div>"
        "<div>Hello Carol, we have restarted the print server.</div></body></html>",
        subtype="html",
    )

    import_message(known.db, msg.as_bytes(), source="outlook-html.eml")

    said = known.as_(AGENT).read(get_ticket, ref=ticket.id).events[-1]
    assert "still broken." in said.data["text"]
    assert "restarted the print server" not in said.data["text"]
    assert "restarted the print server" in said.data["full_text"]
